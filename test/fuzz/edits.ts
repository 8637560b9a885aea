// A mutated input is stored as its seed's name plus a list of edits, so a failing case is a few bytes of JSON
// however large the seed (the SmolLM2 file is 98 MB). An edit replaces `del` units at `at` with `ins`; for bytes,
// `ins` is hex. Edits apply one after the other, each to the result of the previous one.

export interface Edit {
  readonly at: number;
  readonly del: number;
  readonly ins: string;
}

export function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function unhex(text: string): Uint8Array {
  const out = new Uint8Array(text.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function applyBytes(seed: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let current = seed;
  for (const edit of edits) {
    const ins = unhex(edit.ins);
    const at = Math.min(edit.at, current.length);
    const del = Math.min(edit.del, current.length - at);
    const out = new Uint8Array(current.length - del + ins.length);
    out.set(current.subarray(0, at), 0);
    out.set(ins, at);
    out.set(current.subarray(at + del), at + ins.length);
    current = out;
  }
  return current === seed ? seed.slice() : current;
}

export function applyText(seed: string, edits: readonly Edit[]): string {
  let current = seed;
  for (const edit of edits) {
    const at = Math.min(edit.at, current.length);
    current = current.slice(0, at) + edit.ins + current.slice(at + edit.del);
  }
  return current;
}

/** The one edit that turns `a` into `b` (common prefix and suffix kept). */
export function diffBytes(a: Uint8Array, b: Uint8Array): Edit[] {
  let start = 0;
  const min = Math.min(a.length, b.length);
  while (start < min && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  if (start === a.length && start === b.length) return [];
  return [{ at: start, del: endA - start, ins: hex(b.subarray(start, endB)) }];
}

export function diffText(a: string, b: string): Edit[] {
  let start = 0;
  const min = Math.min(a.length, b.length);
  while (start < min && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--;
    endB--;
  }
  if (start === a.length && start === b.length) return [];
  return [{ at: start, del: endA - start, ins: b.slice(start, endB) }];
}

/**
 * Applies same-length edits (and a final truncation) to a private working copy of a large seed in place, and undoes
 * them afterwards, so a case on the 98 MB SmolLM2 file costs no 98 MB copy. Other edits fall back to a copy.
 */
export class InPlaceBytes {
  private readonly work: Uint8Array;
  private undo: { at: number; bytes: Uint8Array }[] = [];

  constructor(readonly seed: Uint8Array) {
    this.work = seed.slice();
  }

  apply(edits: readonly Edit[]): Uint8Array {
    this.restore();
    let length = this.work.length;
    const inPlace = edits.every((e, i) => {
      const sameLength = e.ins.length === 2 * e.del && e.at + e.del <= length;
      const truncation = i === edits.length - 1 && e.ins === "" && e.at + e.del >= length;
      return sameLength || truncation;
    });
    if (!inPlace) return applyBytes(this.seed, edits);
    for (const e of edits) {
      if (e.ins === "" && e.at + e.del >= length) {
        length = Math.min(length, e.at);
        continue;
      }
      this.undo.push({ at: e.at, bytes: this.work.slice(e.at, e.at + e.del) });
      this.work.set(unhex(e.ins), e.at);
    }
    return this.work.subarray(0, length);
  }

  restore(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.work.set(this.undo[i]!.bytes, this.undo[i]!.at);
    this.undo = [];
  }
}
