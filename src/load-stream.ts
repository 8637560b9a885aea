// Loading a GGUF model from a stream of bytes (a fetch() body, an R2 object, a file read in chunks) without ever
// holding the whole file: the header and tensor table are read first, WASM memory is planned and allocated once,
// and every chunk after that is copied straight to the tensor it belongs to. Peak memory is the model's WASM
// memory plus one chunk, which is what lets a 98 MB model load inside a 128 MB edge isolate.

import { FormatError, InputError, ResourceError, show } from "./errors.js";
import { configFromGguf } from "./model/config.js";
import { type GgufFile, type GgufTensor, readGguf } from "./io/gguf.js";
import { checkLoadOptionKeys, type LoadOptions } from "./load.js";
import { LanguageModel } from "./language-model.js";
import { fingerprintFromSamples, FINGERPRINT_SAMPLE, type TensorSample } from "./model/fingerprint.js";
import { beginTransformer } from "./model/load.js";
import type { Placement, TensorTable } from "./model/weights.js";
import { chatTemplateFromGguf } from "./text/chat-template.js";
import { tokenizerFromGguf } from "./text/tokenizer-gguf.js";

export interface StreamLoadOptions extends LoadOptions {
  /** Names the model in errors. */
  readonly name?: string;
  /** The file's total size when known (Content-Length, an R2 object's size): checked, and used to size buffers. */
  readonly byteLength?: number;
}

/** Largest header (metadata + tensor table) we buffer before giving up on a stream. */
const MAX_HEADER_BYTES = 256 << 20;
const FIRST_PARSE_ATTEMPT = 1 << 20;

/** Loads a GGUF model from a ReadableStream or any async iterable of byte chunks. */
export async function loadModelFromStream(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, options: StreamLoadOptions = {}): Promise<LanguageModel> {
  checkLoadOptionKeys(options);
  const name = options.name ?? "model.gguf";
  const fileLength = options.byteLength ?? Infinity;
  if (options.byteLength !== undefined && !(Number.isSafeInteger(options.byteLength) && options.byteLength > 0)) {
    throw new InputError({ file: name, field: "byteLength", expected: "a positive integer", actual: show(options.byteLength) });
  }
  const chunks = iterate(source, name);

  // 1. Buffer until the header and tensor table parse (retrying as the buffer doubles).
  let buffered: Uint8Array[] = [];
  let bufferedBytes = 0;
  let nextAttempt = FIRST_PARSE_ATTEMPT;
  let ended = false;
  let gguf: GgufFile | null = null;
  while (gguf === null) {
    const next = await chunks.next();
    if (next.done) ended = true;
    else {
      buffered.push(next.value);
      bufferedBytes += next.value.byteLength;
    }
    if (!ended && bufferedBytes < nextAttempt) continue;
    const prefix = concat(buffered, bufferedBytes);
    buffered = [prefix];
    try {
      gguf = readGguf(prefix, name, ended ? bufferedBytes : fileLength);
    } catch (error) {
      // A header cut off by the end of the buffer looks like a format error: only final once the data has ended.
      if (ended || bufferedBytes > MAX_HEADER_BYTES) throw error;
      nextAttempt = bufferedBytes * 2;
    }
  }

  // 2. Config, tokenizer and chat template from the metadata; memory planned from the tensor table.
  const config = configFromGguf(gguf);
  const tokenizer = tokenizerFromGguf(gguf);
  const chatTemplate = chatTemplateFromGguf(gguf);
  const byName = new Map(gguf.tensors.map((t) => [t.name, t]));
  const table: TensorTable = { file: name, naming: "gguf", info: (tensorName) => byName.get(tensorName) };
  const pending = await beginTransformer(config, table, options);

  // 3. Every byte from the data section on goes to the tensor it belongs to, in file order.
  const placements = new Map(pending.placements.map((p) => [p.name, p]));
  const wanted = gguf.tensors.filter((t) => placements.has(t.name)).sort((a, b) => a.offset - b.offset);
  const filled = new Map<string, number>();
  const samples = new Map<string, TensorSample>();
  let first = 0; // wanted[first] is the earliest tensor not yet complete
  const feed = (chunk: Uint8Array, start: number) => {
    const end = start + chunk.byteLength;
    for (let i = first; i < wanted.length && wanted[i]!.offset < end; i++) {
      const tensor = wanted[i]!;
      const from = Math.max(start, tensor.offset);
      const to = Math.min(end, tensor.offset + tensor.byteLength);
      if (from >= to) continue;
      const placement = placements.get(tensor.name)!;
      pending.fill(placement, chunk.subarray(from - start, to - start), from - tensor.offset);
      const done = (filled.get(tensor.name) ?? 0) + (to - from);
      filled.set(tensor.name, done);
      if (done === tensor.byteLength) complete(tensor, placement);
    }
    while (first < wanted.length && filled.get(wanted[first]!.name) === wanted[first]!.byteLength) first++;
  };
  const complete = (tensor: GgufTensor, placement: Placement) => {
    // The fingerprint samples the bytes as stored, before finish() reorders or tiles them.
    const head = pending.raw(placement, 0, Math.min(FINGERPRINT_SAMPLE, tensor.byteLength)).slice();
    const tailStart = Math.max(0, tensor.byteLength - FINGERPRINT_SAMPLE);
    samples.set(tensor.name, { head, tail: pending.raw(placement, tailStart, tensor.byteLength - tailStart).slice() });
    pending.finish(placement);
  };
  let position = 0;
  for (const chunk of buffered) {
    feed(chunk, position);
    position += chunk.byteLength;
  }
  buffered = [];
  while (!ended) {
    const next = await chunks.next();
    if (next.done) break;
    feed(next.value, position);
    position += next.value.byteLength;
    if (position > fileLength) throw new FormatError({ file: name, field: "byteLength", expected: `${fileLength} bytes`, actual: "more data than that" });
  }
  if (options.byteLength !== undefined && position !== options.byteLength) {
    throw new FormatError({ file: name, field: "byteLength", expected: `${options.byteLength} bytes`, actual: `${position} bytes` });
  }
  const transformer = await pending.complete(); // refuses if a tensor's bytes never arrived
  const fingerprint = await fingerprintFromSamples(config, table, (tensorName) => samples.get(tensorName));
  return new LanguageModel(name, config, transformer, tokenizer, chatTemplate, fingerprint, options.skip, options.surrogates);
}

/** Chunks from a ReadableStream or an async iterable, each checked to be bytes. */
async function* iterate(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, name: string): AsyncGenerator<Uint8Array> {
  if (typeof (source as ReadableStream<Uint8Array>).getReader === "function") {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) return;
        yield checkChunk(value, name);
      }
    } finally {
      reader.releaseLock();
    }
  }
  if (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== "function") {
    throw new InputError({ file: name, field: "source", expected: "a ReadableStream or an async iterable of Uint8Array chunks", actual: show(source) });
  }
  for await (const chunk of source as AsyncIterable<Uint8Array>) yield checkChunk(chunk, name);
}

function checkChunk(chunk: unknown, name: string): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new InputError({ file: name, field: "chunk", expected: "Uint8Array chunks", actual: show(chunk) });
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let out: Uint8Array;
  try {
    out = new Uint8Array(total);
  } catch {
    throw new ResourceError({ field: "stream buffer", expected: `${total} bytes for the GGUF header`, actual: "allocation failed" });
  }
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
