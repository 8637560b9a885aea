// Safetensors reader and writer (Hugging Face's tensor file format). Bytes in, a table of tensor locations out;
// the reader copies nothing and computes nothing. Layout:
//   u64 LE header length N | N bytes of UTF-8 JSON (may be padded with trailing spaces) | data
// The header maps tensor names to { dtype, shape, data_offsets: [begin, end] } (relative to the data start) and may
// hold "__metadata__": { string: string }.
//
// Like the reference implementation (huggingface/safetensors), the data must be covered exactly: tensors laid
// end to end with no holes, no overlaps and no trailing bytes. That makes every accepted file one the reference
// also accepts, and rules out polyglot files hiding bytes between tensors (or behind a duplicated JSON key).
// Unknown fields inside a tensor entry are ignored, as the reference does.

import { FormatError, InputError, UnsupportedError, show } from "../errors.js";
import { ByteReader, decodeUtf8, parseJson } from "./byte-reader.js";
import type { DType } from "./dtype.js";

export type SafetensorsDType = Extract<DType, "F32" | "F16" | "BF16">;

export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  /** Row-major shape; [] is a scalar (one value), a 0 anywhere means no values. */
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly file: string;
  /** Absolute byte offset where tensor data starts (8 + header length). */
  readonly dataOffset: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** In data order (by offset). */
  readonly tensors: readonly SafetensorsTensor[];
}

export interface SafetensorsInput {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

const METADATA_KEY = "__metadata__";
/** The reference implementation refuses headers above 100 MB; so do we, before decoding anything. */
export const MAX_HEADER_BYTES = 100_000_000;
const ELEMENT_BYTES: Readonly<Record<SafetensorsDType, number>> = { F32: 4, F16: 2, BF16: 2 };
/** Every dtype the format defines, so that a valid but unsupported one is reported as such, not as corruption. */
const KNOWN_DTYPES = new Set([
  "BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "E8M0",
  "F4", "F6_E2M3", "F6_E3M2", "C64",
]);

/** Parses a safetensors file held in memory. `file` names it in errors. */
export function readSafetensors(bytes: Uint8Array, file = "model.safetensors"): SafetensorsFile {
  const r = new ByteReader(bytes, file);
  const headerLength = r.u64AsNumber("header length", Math.min(MAX_HEADER_BYTES, Math.max(0, bytes.byteLength - 8)));
  const dataOffset = 8 + headerLength;
  const dataLength = bytes.byteLength - dataOffset;
  const headerBytes = bytes.subarray(8, dataOffset);
  if (headerBytes[0] !== 0x7b) {
    throw new FormatError({ file, field: "header", expected: 'JSON starting with "{"', actual: headerBytes.length === 0 ? "an empty header" : `byte 0x${headerBytes[0]!.toString(16)}` });
  }
  const header = parseJson(decodeUtf8(headerBytes, file), file, "header");
  if (!isPlainObject(header)) throw new FormatError({ file, field: "header", expected: "a JSON object", actual: show(header) });

  let metadata: Readonly<Record<string, string>> = Object.freeze({});
  const tensors: SafetensorsTensor[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = readMetadata(entry, file);
      continue;
    }
    tensors.push(readEntry(name, entry, dataOffset, dataLength, file));
  }

  tensors.sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let expectedOffset = dataOffset;
  let previous = "the start of the data";
  for (const tensor of tensors) {
    if (tensor.offset !== expectedOffset) {
      throw new FormatError({
        file, field: `${tensor.name}.data_offsets`,
        expected: `data starting right after ${previous} (offset ${expectedOffset - dataOffset})`,
        actual: `${tensor.offset < expectedOffset ? "an overlap" : "a hole"}: begin ${tensor.offset - dataOffset}`,
      });
    }
    expectedOffset += tensor.byteLength;
    previous = tensor.name;
  }
  if (expectedOffset !== bytes.byteLength) {
    throw new FormatError({
      file, field: "data", expected: `tensors covering all ${dataLength} data bytes`,
      actual: `${bytes.byteLength - expectedOffset} bytes after ${previous} that no tensor owns`,
    });
  }
  return Object.freeze({ file, dataOffset, metadata, tensors: Object.freeze(tensors) });
}

function readMetadata(entry: unknown, file: string): Readonly<Record<string, string>> {
  // The reference reads "__metadata__" as an optional map, so an explicit null means "none".
  if (entry === null) return Object.freeze({});
  if (!isPlainObject(entry)) throw new FormatError({ file, field: METADATA_KEY, expected: "an object of strings", actual: show(entry) });
  const pairs = Object.entries(entry);
  for (const [key, value] of pairs) {
    if (typeof value !== "string") throw new FormatError({ file, field: `${METADATA_KEY}.${key}`, expected: "a string", actual: show(value) });
  }
  // fromEntries defines own properties, so a key like "__proto__" stays data instead of reaching the prototype.
  return Object.freeze(Object.fromEntries(pairs) as Record<string, string>);
}

function readEntry(name: string, entry: unknown, dataOffset: number, dataLength: number, file: string): SafetensorsTensor {
  if (!isPlainObject(entry)) throw new FormatError({ file, field: name, expected: "an object with dtype, shape and data_offsets", actual: show(entry) });
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string") throw new FormatError({ file, field: `${name}.dtype`, expected: "a dtype string", actual: show(dtype) });
  if (!(dtype in ELEMENT_BYTES)) {
    const known = KNOWN_DTYPES.has(dtype);
    throw new UnsupportedError({
      file, field: `${name}.dtype`, expected: "F32, F16 or BF16", actual: show(dtype),
      detail: known ? undefined : "not a dtype the safetensors format defines",
    });
  }
  const elementBytes = ELEMENT_BYTES[dtype as SafetensorsDType];
  if (!Array.isArray(shape)) throw new FormatError({ file, field: `${name}.shape`, expected: "an array of sizes", actual: show(shape) });
  for (let d = 0; d < shape.length; d++) {
    const dim: unknown = shape[d];
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
      throw new FormatError({ file, field: `${name}.shape[${d}]`, expected: "a non-negative integer", actual: show(dim) });
    }
  }
  // Multiply while checking, so huge dimensions are refused before the product loses precision. A zero anywhere
  // makes an empty tensor whatever the other dimensions are.
  let byteLength = (shape as number[]).includes(0) ? 0 : elementBytes;
  for (const dim of shape as number[]) {
    byteLength *= dim;
    if (byteLength > dataLength) {
      throw new FormatError({ file, field: `${name}.shape`, expected: `a tensor that fits in the ${dataLength} data bytes`, actual: `[${shape.join(", ")}] of ${dtype}` });
    }
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw new FormatError({ file, field: `${name}.data_offsets`, expected: "[begin, end]", actual: show(offsets) });
  }
  const [begin, end] = offsets as unknown[];
  for (const [label, value] of [["begin", begin], ["end", end]] as const) {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > dataLength) {
      throw new FormatError({ file, field: `${name}.data_offsets`, expected: `${label} between 0 and the data length ${dataLength}`, actual: show(value) });
    }
  }
  const b = begin as number;
  const e = end as number;
  if (e < b) throw new FormatError({ file, field: `${name}.data_offsets`, expected: "begin <= end", actual: `[${b}, ${e}]` });
  if (e - b !== byteLength) {
    throw new FormatError({
      file, field: `${name}.data_offsets`, expected: `${byteLength} bytes for shape [${shape.join(", ")}] of ${dtype}`,
      actual: `${e - b} bytes ([${b}, ${e}])`,
    });
  }
  return Object.freeze({ name, dtype: dtype as SafetensorsDType, shape: Object.freeze((shape as number[]).slice()), offset: dataOffset + b, byteLength });
}

/** Parses model.safetensors.index.json into tensor name → shard file name. */
export function readSafetensorsIndex(text: string, file = "model.safetensors.index.json"): ReadonlyMap<string, string> {
  const json = parseJson(text, file);
  if (!isPlainObject(json)) throw new FormatError({ file, expected: "a JSON object", actual: show(json) });
  const weightMap = json.weight_map;
  if (!isPlainObject(weightMap)) throw new FormatError({ file, field: "weight_map", expected: "an object of tensor name to shard file", actual: show(weightMap) });
  const shards = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== "string") throw new FormatError({ file, field: `weight_map.${name}`, expected: "a shard file name", actual: show(shard) });
    // Shards must sit next to the index: a path could make a loader read any file on disk.
    if (shard === "" || shard === "." || shard === ".." || /[/\\\0]/.test(shard)) {
      throw new FormatError({ file, field: `weight_map.${name}`, expected: "a plain file name in the same folder", actual: show(shard) });
    }
    shards.set(name, shard);
  }
  return shards;
}

export interface SafetensorsLayout {
  /** The 8-byte length prefix and the padded JSON header: the first `header.length` bytes of the file. */
  readonly header: Uint8Array;
  /** Absolute offset of each input tensor's data, in input order. */
  readonly offsets: readonly number[];
  readonly totalBytes: number;
}

/**
 * Plans a safetensors file without its data, so a caller can allocate the file once and fill tensors in place
 * (the converter does, to avoid holding every tensor twice). Data is laid out in input order.
 */
export function planSafetensors(
  tensors: readonly Omit<SafetensorsInput, "data">[],
  metadata: Readonly<Record<string, string>> = {},
): SafetensorsLayout {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") throw new InputError({ file: "safetensors metadata", field: key, expected: "a string", actual: show(value) });
    }
    header[METADATA_KEY] = metadata;
  }
  const relative: number[] = [];
  let position = 0;
  for (const tensor of tensors) {
    const where = { file: "safetensors tensors", field: tensor.name };
    if (tensor.name === METADATA_KEY || Object.hasOwn(header, tensor.name)) {
      throw new InputError({ ...where, expected: "a unique tensor name other than __metadata__", actual: show(tensor.name) });
    }
    const elementBytes = ELEMENT_BYTES[tensor.dtype];
    if (elementBytes === undefined) throw new InputError({ ...where, expected: "dtype F32, F16 or BF16", actual: show(tensor.dtype) });
    let byteLength = elementBytes;
    for (const dim of tensor.shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) throw new InputError({ ...where, expected: "a shape of non-negative integers", actual: `[${tensor.shape.join(", ")}]` });
      byteLength *= dim;
    }
    if (!Number.isSafeInteger(byteLength)) throw new InputError({ ...where, expected: "a tensor size below 2^53 bytes", actual: `[${tensor.shape.join(", ")}]` });
    Object.defineProperty(header, tensor.name, {
      value: { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [position, position + byteLength] },
      enumerable: true, writable: true, configurable: true,
    });
    relative.push(position);
    position += byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces to a multiple of 8 so the data (and every F32 tensor in an all-F32 file) is aligned.
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const prefix = new Uint8Array(8 + paddedLength).fill(0x20, 8 + json.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(paddedLength), true);
  prefix.set(json, 8);
  const totalBytes = prefix.length + position;
  if (!Number.isSafeInteger(totalBytes)) throw new InputError({ file: "safetensors tensors", expected: "a file below 2^53 bytes", actual: `${totalBytes} bytes` });
  return Object.freeze({ header: prefix, offsets: Object.freeze(relative.map((o) => o + prefix.length)), totalBytes });
}

/** Serializes tensors (raw little-endian bytes each) and optional string metadata as a safetensors file. */
export function writeSafetensors(tensors: readonly SafetensorsInput[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const layout = planSafetensors(tensors, metadata);
  for (let i = 0; i < tensors.length; i++) {
    const tensor = tensors[i]!;
    const expected = (layout.offsets[i + 1] ?? layout.totalBytes) - layout.offsets[i]!;
    if (tensor.data.byteLength !== expected) {
      throw new InputError({ file: "safetensors tensors", field: `${tensor.name}.data`, expected: `${expected} bytes for shape [${tensor.shape.join(", ")}] of ${tensor.dtype}`, actual: `${tensor.data.byteLength} bytes` });
    }
  }
  const out = new Uint8Array(layout.totalBytes);
  out.set(layout.header, 0);
  for (let i = 0; i < tensors.length; i++) out.set(tensors[i]!.data, layout.offsets[i]!);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
