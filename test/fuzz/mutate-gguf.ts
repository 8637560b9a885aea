// GGUF mutations aimed at the fields a reader must distrust: counts, string and array lengths, value and element
// types, alignment, tensor dims, types and offsets, the metadata values the config and tokenizer read, and truncation
// at field boundaries; plus raw bit flips and insertions. Structural edits that change the header's length can keep
// the tensor data where the (new) header says it starts, so the file stays loadable and the edit is tested for its
// meaning rather than just for breaking the layout.

import { DTYPES } from "../../src/io/dtype.js";
import { GGML_TYPE_ID } from "../../src/io/gguf.js";
import type { Edit } from "./edits.js";
import { hex } from "./edits.js";
import type { Field, FieldKind, GgufLayout, KvSpan } from "./gguf-layout.js";
import type { Rng } from "./rng.js";

export interface BinaryMutation {
  readonly edits: Edit[];
  /** The mutation may have changed tensor data (or where it is read from): NaN logits are then allowed. */
  readonly touchesData: boolean;
  readonly label: string;
}

const le = {
  u32(v: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); return b; },
  i32(v: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v | 0, true); return b; },
  u64(v: bigint): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true); return b; },
  f32(v: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); return b; },
  f64(v: number): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return b; },
};

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const ggufString = (text: string): Uint8Array => { const b = utf8(text); return concat(le.u64(BigInt(b.length)), b); };

export function interesting64(rng: Rng, orig: bigint, fileLength: number, at: number): bigint {
  return rng.pick([
    0n, 1n, 2n, orig - 1n, orig + 1n, orig * 2n, orig / 2n, orig + 8n, orig - 8n, orig + 32n, 0x7fffffffn, 0x80000000n, 0xffffffffn,
    0x100000000n, 0x100000000n + orig, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(fileLength),
    BigInt(Math.max(0, fileLength - at)), BigInt(Math.max(0, fileLength - at - 8)), BigInt(rng.int(65536)),
    BigInt(rng.int(2 ** 32)), (BigInt(rng.int(2 ** 32)) << 32n) | BigInt(rng.int(2 ** 32)), 1n << BigInt(rng.int(64)),
  ]);
}

const VALUE_TYPE_IDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 255, 0xffffffff];
const GGML_TYPE_IDS = [0, 1, 2, 3, 6, 7, 8, 9, 10, 12, 14, 15, 20, 24, 26, 28, 30, 31, 34, 39, 40, 1000, 0xffffffff];

function scalarBytes(rng: Rng, type: number, current: DataView, at: number): Uint8Array {
  switch (type) {
    case 0: case 7: return Uint8Array.of(rng.pick([0, 1, 2, 0x7f, 0x80, 0xff, (current.getUint8(at) + 1) & 0xff]));
    case 1: return Uint8Array.of(rng.pick([0, 1, 0x7f, 0x80, 0xff]));
    case 2: case 3: { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, rng.pick([0, 1, 0x7fff, 0x8000, 0xffff, current.getUint16(at, true) + 1]), true); return b; }
    case 4: case 5: {
      const orig = current.getUint32(at, true);
      return le.u32(rng.pick([0, 1, 2, 3, orig - 1, orig + 1, orig * 2, Math.floor(orig / 2), orig * 1000, 0x7fffffff, 0x80000000, 0xffffffff, 65536, 1 << 20, orig + 32, rng.int(2 ** 32)]));
    }
    case 6: {
      const orig = current.getFloat32(at, true);
      return le.f32(rng.pick([NaN, Infinity, -Infinity, 0, -0, -1, 1, 1e-45, 1.2e-38, 3.4e38, orig * 2, orig / 2, 1e-10, 1e10, -orig, 1e-30, 0.5]));
    }
    case 12: {
      const orig = current.getFloat64(at, true);
      return le.f64(rng.pick([NaN, Infinity, -Infinity, 0, -0, -1, 1, 5e-324, 1e308, orig * 2, -orig, 1e-300, 0.5]));
    }
    default: return le.u64(interesting64(rng, current.getBigUint64(at, true), 0, 0));
  }
}

const KEY_NAMES = [
  "general.alignment", "general.architecture", "llama.block_count", "llama.context_length", "llama.embedding_length",
  "llama.feed_forward_length", "llama.attention.head_count", "llama.attention.head_count_kv", "llama.attention.key_length",
  "llama.attention.value_length", "llama.rope.dimension_count", "llama.rope.freq_base", "llama.rope.scaling.type",
  "llama.rope.scaling.factor", "llama.rope.scaling.original_context_length", "llama.attention.layer_norm_rms_epsilon",
  "llama.vocab_size", "llama.expert_count", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
  "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.scores", "tokenizer.ggml.bos_token_id",
  "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
  "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
  "tokenizer.ggml.add_space_prefix", "tokenizer.chat_template", "", "\u00ff", "general.name",
];

const STRING_VALUES: Readonly<Record<string, readonly string[]>> = {
  "general.architecture": ["llama", "mistral", "gemma", "qwen2", "", "LLAMA", "llama\u0000", "phi3"],
  "tokenizer.ggml.model": ["gpt2", "llama", "bert", "", "t5", "rwkv"],
  "tokenizer.ggml.pre": ["default", "smollm", "llama3", "llama-bpe", "qwen2", "gpt-4o", "tekken", "dbrx", "unknown", "", "__proto__", "constructor", "toString"],
  "llama.rope.scaling.type": ["none", "linear", "yarn", "llama3", ""],
  "tokenizer.chat_template": [
    "", "{{ messages }}", "{% for m in messages %}{{ m.content }}{% endfor %}", "{{ raise_exception('no') }}", "{% if %}",
    "{{ messages.constructor.constructor('return process')() }}", "{{ ''.__class__.__mro__ }}", "{% for i in range(100000000) %}x{% endfor %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ bos_token }}{{ eos_token }}", "{{ messages[0]['content'] | upper }}",
  ],
};

/** A new value for a metadata key: [type id, encoded value]. */
function newValue(rng: Rng, key: string, depth = 0): [number, Uint8Array] {
  const choice = rng.weighted<string>([[30, "u32"], [8, "i32"], [8, "u64"], [10, "f32"], [4, "f64"], [5, "bool"], [15, "string"], [10, "array"], [3, "u8"], [2, "nested"]]);
  switch (choice) {
    case "u32": return [4, le.u32(rng.pick([0, 1, 2, 3, 4, 8, 16, 32, 64, 128, 160, 256, 1000, 65536, 0x7fffffff, 0xffffffff, rng.int(2 ** 32)]))];
    case "i32": return [5, le.i32(rng.pick([-1, 0, 1, 64, -(2 ** 31), 2 ** 31 - 1]))];
    case "u64": return [10, le.u64(rng.pick([0n, 1n, 64n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 63n]))];
    case "f32": return [6, le.f32(rng.pick([NaN, Infinity, 0, -1, 1, 1e-5, 10000, 1e30, 1e-30]))];
    case "f64": return [12, le.f64(rng.pick([NaN, 1e308, 0, 1, 1e-6, 5e-324]))];
    case "bool": return [7, Uint8Array.of(rng.pick([0, 1, 2, 255]))];
    case "u8": return [0, Uint8Array.of(rng.pick([0, 1, 255]))];
    case "string": {
      const pool = STRING_VALUES[key] ?? ["", "llama", "x", "\u0000", "<|im_end|>", "a b", "h e"];
      if (rng.chance(0.1)) return [8, concat(le.u64(2n), Uint8Array.of(0xc3, 0x28))]; // invalid UTF-8
      return [8, ggufString(rng.pick(pool))];
    }
    case "nested": {
      // Arrays of arrays, deeper than the reader allows at the extreme.
      let [type, bytes] = [4, le.u32(7)];
      const levels = rng.pick([2, 8, 9, 20]);
      for (let i = 0; i < levels; i++) {
        bytes = concat(le.u32(type), le.u64(1n), bytes);
        type = 9;
      }
      return [9, bytes];
    }
    default: {
      if (depth > 2) return [4, le.u32(0)];
      const elementType = rng.pick([4, 5, 6, 8, 0, 7, 10]);
      const count = rng.pick([0, 1, 2, 3, 256]);
      const items: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        if (elementType === 8) items.push(ggufString(rng.pick(["a", "b", "a b", "", "<|im_end|>"])));
        else if (elementType === 6) items.push(le.f32(rng.pick([0, -1, 1, NaN])));
        else if (elementType === 10) items.push(le.u64(BigInt(rng.int(300))));
        else if (elementType === 0 || elementType === 7) items.push(Uint8Array.of(rng.int(3)));
        else items.push(le.u32(rng.pick([0, 1, 2, 3, 4, 5, 6, 255, -1 >>> 0])));
      }
      return [9, concat(le.u32(elementType), le.u64(BigInt(count)), ...items)];
    }
  }
}

/** Same-length replacement of a string's bytes: invalid UTF-8, NUL, another character, a case change. */
function stringBytes(rng: Rng, original: Uint8Array): Uint8Array {
  const out = original.slice();
  if (out.length === 0) return out;
  const i = rng.int(out.length);
  switch (rng.int(6)) {
    case 0: out[i] = 0xff; break;
    case 1: out[i] = 0xc3; break;
    case 2: out[i] = 0; break;
    case 3: out[i] = 0x20 + rng.int(95); break;
    case 4: for (let j = 0; j < out.length; j++) if (out[j]! >= 0x61 && out[j]! <= 0x7a) out[j]! -= 0x20; break;
    default: out[i] = 0x80 + rng.int(64); break;
  }
  return out;
}

const KIND_WEIGHTS: readonly (readonly [number, FieldKind])[] = [
  [1, "magic"], [3, "version"], [4, "tensor_count"], [4, "kv_count"], [4, "key_len"], [4, "key"], [6, "value_type"], [14, "scalar"],
  [5, "str_len"], [4, "str"], [4, "array_type"], [5, "array_count"], [3, "tensor_name_len"], [3, "tensor_name"], [4, "n_dims"],
  [8, "dim"], [6, "ggml_type"], [6, "tensor_offset"], [1, "padding"],
];

/** Picks a field of a kind chosen by weight; for scalars, metadata scalars outside arrays are preferred. */
function pickField(rng: Rng, layout: GgufLayout): Field {
  for (;;) {
    const kind = rng.weighted(KIND_WEIGHTS);
    const fields = layout.byKind.get(kind);
    if (fields === undefined || fields.length === 0) continue;
    if ((kind === "scalar" || kind === "str" || kind === "str_len") && rng.chance(0.8)) {
      const outside = fields.filter((f) => f.index === undefined);
      if (outside.length > 0) return rng.pick(outside);
    }
    return rng.pick(fields);
  }
}

function setFieldEdit(rng: Rng, seed: Uint8Array, layout: GgufLayout, f: Field): Edit {
  const view = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
  let bytes: Uint8Array;
  switch (f.kind) {
    case "magic": bytes = rng.pick([utf8("GGUF").reverse(), utf8("GGML"), le.u32(0), utf8("ggjt")]); break;
    case "version": bytes = le.u32(rng.pick([0, 1, 2, 3, 4, 0xffffffff, 0x03000000])); break;
    case "value_type": case "array_type": bytes = le.u32(rng.pick(VALUE_TYPE_IDS)); break;
    case "ggml_type": bytes = le.u32(rng.pick(GGML_TYPE_IDS)); break;
    case "n_dims": bytes = le.u32(rng.pick([0, 1, 2, 3, 4, 5, 8, 0xffffffff])); break;
    case "scalar": bytes = scalarBytes(rng, f.valueType!, view, f.at); break;
    case "key": case "str": case "tensor_name": bytes = stringBytes(rng, seed.subarray(f.at, f.at + f.size)); break;
    case "padding": bytes = rng.bytes(f.size); break;
    default: {
      const orig = view.getBigUint64(f.at, true);
      if (f.kind === "tensor_offset" && rng.chance(0.5)) {
        bytes = le.u64(orig + BigInt(rng.pick([-layout.alignment, layout.alignment, 1, -1, 2 * layout.alignment])));
      } else {
        bytes = le.u64(interesting64(rng, orig, seed.length, f.at));
      }
    }
  }
  return { at: f.at, del: bytes.length, ins: hex(bytes) };
}

/**
 * Edits replacing bytes [from, to) of the header with `insert`, then (when `keepData`) re-padding after the tensor
 * infos so that tensor data sits where the new header says it starts: the file stays consistent.
 */
function headerSplice(layout: GgufLayout, from: number, to: number, insert: Uint8Array, keepData: boolean, countEdit?: Edit): { edits: Edit[]; touchesData: boolean } {
  const edits: Edit[] = [];
  if (countEdit !== undefined) edits.push(countEdit);
  edits.push({ at: from, del: to - from, ins: hex(insert) });
  const delta = insert.length - (to - from);
  const newHeaderEnd = layout.headerEnd + delta;
  const newDataStart = Math.ceil(newHeaderEnd / layout.alignment) * layout.alignment;
  const adjust = newDataStart - (layout.dataStart + delta);
  if (keepData && adjust > 0) edits.push({ at: newHeaderEnd, del: 0, ins: "00".repeat(adjust) });
  if (keepData && adjust < 0) edits.push({ at: newHeaderEnd, del: -adjust, ins: "" });
  // Without re-padding, the data start moves unless the padding absorbed the change: tensors then read other bytes.
  return { edits, touchesData: !keepData && adjust !== 0 };
}

function countEdit(seed: Uint8Array, at: number, delta: number): Edit {
  const orig = new DataView(seed.buffer, seed.byteOffset, seed.byteLength).getBigUint64(at, true);
  return { at, del: 8, ins: hex(le.u64(orig + BigInt(delta))) };
}

/** One GGUF mutation (1-3 same-length field edits, or one structural edit). */
export function mutateGguf(rng: Rng, seed: Uint8Array, layout: GgufLayout): BinaryMutation {
  const op = rng.weighted<string>([
    [40, "fields"], [10, "flip-header"], [3, "flip-data"], [3, "nan-data"], [10, "truncate"], [8, "replace-value"],
    [4, "rename-key"], [3, "insert-kv"], [3, "delete-kv"], [2, "duplicate-kv"], [2, "swap-kvs"], [3, "rename-tensor"],
    [2, "delete-tensor"], [2, "insert-bytes"], [2, "delete-bytes"], [2, "alignment"], [4, "block-damage"],
  ]);
  const keepData = rng.chance(0.75);
  switch (op) {
    case "fields": {
      const count = rng.weighted([[70, 1], [20, 2], [10, 3]] as const);
      const edits: Edit[] = [];
      const labels: string[] = [];
      const owners: string[] = [];
      for (let i = 0; i < count; i++) {
        const f = pickField(rng, layout);
        edits.push(setFieldEdit(rng, seed, layout, f));
        labels.push(f.kind);
        owners.push(f.owner);
      }
      // Besides edits in the data itself: fields that say where tensors are or how long the header is move the data
      // start (and the alignment moves it too), so tensors may then read other bytes.
      const layoutKinds = new Set(["tensor_offset", "dim", "ggml_type", "n_dims", "tensor_count", "kv_count", "key_len", "str_len", "value_type", "array_type", "array_count", "tensor_name_len", "magic", "version"]);
      const touchesData = edits.some((e) => e.at >= layout.headerEnd) || labels.some((k) => layoutKinds.has(k)) || owners.includes("general.alignment");
      return { edits, touchesData, label: `field:${labels.join("+")}` };
    }
    case "flip-header": {
      const at = rng.int(layout.dataStart);
      const byte = seed[at]! ^ (1 << rng.int(8));
      return { edits: [{ at, del: 1, ins: hex(Uint8Array.of(byte)) }], touchesData: true, label: "flip-header" };
    }
    case "flip-data": {
      const at = layout.dataStart + rng.int(Math.max(1, seed.length - layout.dataStart));
      return { edits: [{ at, del: 1, ins: hex(Uint8Array.of(rng.int(256))) }], touchesData: true, label: "flip-data" };
    }
    case "nan-data": {
      // NaN/Inf where a float or a block scale sits: the kernels must not trap and generation must not emit garbage.
      const at = layout.dataStart + 2 * rng.int(Math.max(1, (seed.length - layout.dataStart) >> 1));
      const bits = rng.pick([Uint8Array.of(0x00, 0x7e), Uint8Array.of(0x00, 0x7c), Uint8Array.of(0xff, 0xff), Uint8Array.of(0, 0, 0xc0, 0x7f)]);
      return { edits: [{ at, del: bits.length, ins: hex(bits) }], touchesData: true, label: "nan-data" };
    }
    case "block-damage": return blockDamage(rng, seed, layout);
    case "truncate": {
      const f = rng.pick(layout.fields);
      const at = rng.pick([f.at, f.at + f.size, f.at + (f.size >> 1), f.at + 1, layout.headerEnd, layout.dataStart, seed.length - 1, rng.int(seed.length)]);
      return { edits: [{ at, del: seed.length - at, ins: "" }], touchesData: true, label: "truncate" };
    }
    case "replace-value": {
      const kv = rng.pick(layout.kvs);
      const keyEnd = kv.at + 8 + new TextEncoder().encode(kv.key).length;
      const [type, value] = kv.type === 9 && rng.chance(0.5) ? arrayVariant(rng, seed, kv, keyEnd) : newValue(rng, kv.key);
      const s = headerSplice(layout, keyEnd, kv.end, concat(le.u32(type), value), keepData);
      return { ...s, touchesData: s.touchesData || kv.key === "general.alignment", label: `replace-value:${kv.key}` };
    }
    case "rename-key": {
      const kv = rng.pick(layout.kvs);
      const keyLength = new TextEncoder().encode(kv.key).length;
      const other = rng.chance(0.3) ? rng.pick(layout.kvs).key : rng.pick(KEY_NAMES);
      const s = headerSplice(layout, kv.at, kv.at + 8 + keyLength, ggufString(other), keepData);
      return { ...s, touchesData: s.touchesData || other === "general.alignment" || kv.key === "general.alignment", label: `rename-key:${kv.key}->${other}` };
    }
    case "insert-kv": {
      const key = rng.pick(KEY_NAMES);
      const [type, value] = newValue(rng, key);
      const bytes = concat(ggufString(key), le.u32(type), value);
      const at = rng.chance(0.5) ? layout.tensorInfoStart : rng.pick(layout.kvs).at;
      const counted = rng.chance(0.9);
      const s = headerSplice(layout, at, at, bytes, keepData, counted ? countEdit(seed, 16, 1) : undefined);
      return { ...s, touchesData: s.touchesData || !counted || key === "general.alignment", label: `insert-kv:${key}` };
    }
    case "delete-kv": {
      const kv = rng.pick(layout.kvs);
      const counted = rng.chance(0.9);
      const s = headerSplice(layout, kv.at, kv.end, new Uint8Array(0), keepData, counted ? countEdit(seed, 16, -1) : undefined);
      return { ...s, touchesData: s.touchesData || !counted || kv.key === "general.alignment", label: `delete-kv:${kv.key}` };
    }
    case "duplicate-kv": {
      const kv = rng.pick(layout.kvs);
      const counted = rng.chance(0.9);
      const s = headerSplice(layout, kv.end, kv.end, seed.slice(kv.at, kv.end), keepData, counted ? countEdit(seed, 16, 1) : undefined);
      return { ...s, touchesData: s.touchesData || !counted, label: `duplicate-kv:${kv.key}` };
    }
    case "swap-kvs": {
      // Reordering metadata changes nothing a reader may depend on: the file must load exactly as before.
      const i = rng.int(layout.kvs.length);
      const j = rng.int(layout.kvs.length);
      const [a, b] = i < j ? [layout.kvs[i]!, layout.kvs[j]!] : [layout.kvs[j]!, layout.kvs[i]!];
      if (a === b) return { edits: [], touchesData: false, label: "swap-kvs:none" };
      const swapped = concat(seed.subarray(b.at, b.end), seed.subarray(a.end, b.at), seed.subarray(a.at, a.end));
      return { edits: [{ at: a.at, del: b.end - a.at, ins: hex(swapped) }], touchesData: false, label: "swap-kvs" };
    }
    case "rename-tensor": {
      const t = rng.pick(layout.tensors);
      const nameLength = new TextEncoder().encode(t.name).length;
      const other = rng.pick([
        "output.weight", "rope_freqs.weight", "token_embd.weight", "blk.99.attn_q.weight", "blk.0.attn_q.weight", "", "x",
        t.name.replace(/\d+/, (d) => String(Number(d) + 1)), `${t.name}.bias`,
      ]);
      const s = headerSplice(layout, t.at, t.at + 8 + nameLength, ggufString(other), keepData);
      return { ...s, touchesData: true, label: `rename-tensor:${other}` };
    }
    case "delete-tensor": {
      const t = rng.pick(layout.tensors);
      const s = headerSplice(layout, t.at, t.end, new Uint8Array(0), keepData, rng.chance(0.9) ? countEdit(seed, 8, -1) : undefined);
      return { ...s, touchesData: true, label: `delete-tensor:${t.name}` };
    }
    case "insert-bytes": {
      const f = rng.pick(layout.fields);
      return { edits: [{ at: f.at, del: 0, ins: hex(rng.bytes(rng.range(1, 16))) }], touchesData: true, label: "insert-bytes" };
    }
    case "delete-bytes": {
      const f = rng.pick(layout.fields);
      return { edits: [{ at: f.at, del: rng.range(1, 16), ins: "" }], touchesData: true, label: "delete-bytes" };
    }
    default: {
      // general.alignment: insert it (or overwrite it) with a power of two or an invalid value.
      const value = rng.pick([1, 2, 8, 16, 32, 64, 4096, 0, 3, 48, 0x80000000, 0xffffffff]);
      const type = rng.chance(0.85) ? 4 : rng.pick([5, 10, 6]);
      const encoded = type === 10 ? le.u64(BigInt(value)) : type === 6 ? le.f32(value) : le.u32(value);
      const bytes = concat(ggufString("general.alignment"), le.u32(type), encoded);
      const s = headerSplice(layout, layout.tensorInfoStart, layout.tensorInfoStart, bytes, keepData, countEdit(seed, 16, 1));
      return { ...s, touchesData: true, label: `alignment:${value}` };
    }
  }
}

const BLOCK_TYPES = Object.entries(GGML_TYPE_ID).filter(([dtype]) => DTYPES[dtype as keyof typeof DTYPES].blockValues > 1);
const DTYPE_OF_ID = new Map(Object.entries(GGML_TYPE_ID).map(([dtype, id]) => [id, dtype as keyof typeof DTYPES]));

/**
 * Damage to one quantized tensor's blocks: an Inf/NaN f16 scale (d, dmin or m) in a random block, the file cut
 * inside a block (a truncated super-block), a row length that is not whole blocks or makes the data overlap the next
 * tensor's, or another block type for the same bytes.
 */
function blockDamage(rng: Rng, seed: Uint8Array, layout: GgufLayout): BinaryMutation {
  const view = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
  const quantized = layout.tensors.filter((t) => (DTYPES[DTYPE_OF_ID.get(t.type) ?? "F32"].blockValues > 1));
  const t = rng.pick(quantized.length > 0 ? quantized : layout.tensors);
  const info = DTYPES[DTYPE_OF_ID.get(t.type) ?? "F32"];
  const dims = layout.fields.filter((f) => f.kind === "dim" && f.owner === t.name);
  const count = dims.reduce((n, f) => n * Number(view.getBigUint64(f.at, true)), 1);
  const blocks = Math.max(1, count / info.blockValues);
  const start = layout.dataStart + Number(t.offset);
  const kind = rng.pick(info.halfScales.length > 0 ? ["scale", "scale", "truncate", "cols", "type"] : ["truncate", "cols", "type"]);
  switch (kind) {
    case "scale": {
      const [name, offset] = rng.pick(info.halfScales);
      const bits = rng.pick([0x7c00, 0xfc00, 0x7e00, 0xffff, 0x7c01]);
      const at = start + rng.int(blocks) * info.blockBytes + offset;
      return { edits: [{ at, del: 2, ins: hex(Uint8Array.of(bits & 0xff, bits >> 8)) }], touchesData: true, label: `block-damage:${t.name}:${name}=${bits.toString(16)}` };
    }
    case "truncate": {
      const block = rng.chance(0.5) ? blocks - 1 : rng.int(blocks);
      const at = Math.min(seed.length - 1, start + block * info.blockBytes + rng.range(1, info.blockBytes - 1));
      return { edits: [{ at, del: seed.length - at, ins: "" }], touchesData: true, label: `block-damage:${t.name}:truncate` };
    }
    case "cols": {
      const f = dims[0]!;
      const orig = Number(view.getBigUint64(f.at, true));
      const cols = rng.pick([300, info.blockValues + 44, 2 * info.blockValues - 1, info.blockValues / 2, orig + info.blockValues, orig - info.blockValues, orig * 2]);
      return { edits: [{ at: f.at, del: 8, ins: hex(le.u64(BigInt(Math.max(1, Math.floor(cols))))) }], touchesData: true, label: `block-damage:${t.name}:cols=${cols}` };
    }
    default: {
      const f = layout.fields.find((x) => x.kind === "ggml_type" && x.owner === t.name)!;
      const [dtype, id] = rng.pick(BLOCK_TYPES);
      return { edits: [{ at: f.at, del: 4, ins: hex(le.u32(id)) }], touchesData: true, label: `block-damage:${t.name}:type=${dtype}` };
    }
  }
}

/** A variant of an existing array value: fewer or more elements, a changed element, a different element type. */
function arrayVariant(rng: Rng, seed: Uint8Array, kv: KvSpan, keyEnd: number): [number, Uint8Array] {
  const view = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
  const elementType = view.getUint32(keyEnd + 4, true);
  const count = Number(view.getBigUint64(keyEnd + 8, true));
  const bodyStart = keyEnd + 16;
  // Element boundaries (strings have variable length).
  const bounds: number[] = [bodyStart];
  let at = bodyStart;
  const scalar: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  for (let i = 0; i < count; i++) {
    if (elementType === 8) at += 8 + Number(view.getBigUint64(at, true));
    else if (scalar[elementType] !== undefined) at += scalar[elementType]!;
    else return newValue(rng, kv.key);
    bounds.push(at);
  }
  const element = (i: number): Uint8Array => seed.subarray(bounds[i]!, bounds[i + 1]!);
  const kept = rng.pick([count - 1, count - rng.int(8) - 1, count + 1, Math.floor(count / 2), 0, 1]);
  const parts: Uint8Array[] = [];
  const n = Math.max(0, kept);
  for (let i = 0; i < n; i++) parts.push(element(Math.min(i, count - 1)));
  if (rng.chance(0.3) && n > 0) {
    const i = rng.int(n);
    parts[i] = elementType === 8 ? ggufString(rng.pick(["", "<|im_end|>", "Ġ", "a", "\u00ff"])) : parts[i]!.slice().fill(0xff);
  }
  return [9, concat(le.u32(elementType), le.u64(BigInt(n)), ...parts)];
}
