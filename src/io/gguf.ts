// GGUF reader (llama.cpp's single-file model format), versions 2 and 3. Bytes in, a table of metadata and
// tensor locations out; it copies nothing and computes nothing. Layout:
//   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x (string key, u32 value_type, value)
//   tensor_count x (string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset)
//   padding to general.alignment (default 32), then tensor data; offsets are relative to that point.
// A string is u64 length + UTF-8 bytes; an array is u32 element type + u64 count + elements (may nest).
// Every count and length is checked against the bytes that remain before anything is allocated.

import { FormatError, UnsupportedError, show } from "../errors.js";
import { ByteReader } from "./byte-reader.js";
import { type DType, DTYPES, rowBytes } from "./dtype.js";

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export const GGUF_VALUE_TYPES = [
  "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64",
  "FLOAT64",
] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** ggml tensor type ids (ggml.h); only the ones we run map to a DType, the rest are named in errors. */
const GGML_TYPES: Readonly<Record<number, string>> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
  12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
  20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
  29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
};
/** The ggml type id of every DType we run. */
export const GGML_TYPE_ID: Readonly<Record<DType, number>> = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30,
};
const SUPPORTED_GGML_TYPES: Readonly<Record<number, DType>> = Object.fromEntries(Object.entries(GGML_TYPE_ID).map(([dtype, id]) => [id, dtype as DType]));

export interface GgufTensor {
  readonly name: string;
  readonly dtype: DType;
  /** Row-major shape, outermost first (the reverse of GGUF's ne[] order): a [out, in] matrix is [rows, cols]. */
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufFile {
  readonly file: string;
  readonly version: number;
  readonly alignment: number;
  /** Absolute byte offset where tensor data starts. */
  readonly dataOffset: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly metadataTypes: ReadonlyMap<string, GgufValueType>;
  readonly tensors: readonly GgufTensor[];
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const MAX_ARRAY_NESTING = 8;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MIN_KV_BYTES = 8 + 4 + 1; // empty key, type, smallest value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // empty name, n_dims, one dim, type, offset
const SCALAR_BYTES: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/**
 * Parses a GGUF file held in memory. `file` names it in errors. With `fileLength`, `bytes` may be just a prefix of
 * the file (enough for the header and tensor table: a model being streamed in); tensor data is then checked against
 * `fileLength` (Infinity when the length is not known: the loader checks the data arrives).
 */
export function readGguf(bytes: Uint8Array, file = "model.gguf", fileLength = bytes.byteLength): GgufFile {
  const r = new ByteReader(bytes, file);
  // The tensor table is checked against the whole file's size (Infinity when streaming a file of unknown length:
  // the loader then checks that the data arrives). Whether a model fits WASM memory is the loader's question.
  const limit = fileLength;
  const magic = r.u32("magic");
  if (magic !== MAGIC) {
    throw new FormatError({ file, field: "magic", expected: 'the bytes "GGUF"', actual: `0x${magic.toString(16).padStart(8, "0")}` });
  }
  const version = r.u32("version");
  if (version !== 2 && version !== 3) {
    throw new UnsupportedError({ file, field: "version", expected: "GGUF version 2 or 3", actual: String(version) });
  }
  const tensorCount = r.u64AsNumber("tensor_count", Math.floor(r.remaining / MIN_TENSOR_INFO_BYTES));
  const kvCount = r.u64AsNumber("kv_count", Math.floor(r.remaining / MIN_KV_BYTES));

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueType>();
  for (let i = 0; i < kvCount; i++) {
    const key = readString(r, `metadata[${i}].key`);
    if (metadata.has(key)) throw new FormatError({ file, field: key, expected: "each metadata key once", actual: "a duplicate" });
    const type = r.u32(`${key}.type`);
    metadataTypes.set(key, valueTypeName(type, file, key));
    metadata.set(key, readValue(r, type, key, 0));
  }

  let alignment = 32;
  if (metadata.has("general.alignment")) {
    const value = metadata.get("general.alignment");
    if (metadataTypes.get("general.alignment") !== "UINT32" || typeof value !== "number" || value === 0 || (value & (value - 1)) !== 0) {
      throw new FormatError({ file, field: "general.alignment", expected: "a UINT32 power of two", actual: show(value) });
    }
    alignment = value;
  }

  const infos: { name: string; dtype: DType; shape: number[]; relOffset: number; byteLength: number }[] = [];
  const names = new Set<string>();
  if (tensorCount > Math.floor(r.remaining / MIN_TENSOR_INFO_BYTES)) {
    throw new FormatError({ file, field: "tensor_count", expected: `at most ${Math.floor(r.remaining / MIN_TENSOR_INFO_BYTES)} tensor infos in the bytes left`, actual: String(tensorCount) });
  }
  for (let i = 0; i < tensorCount; i++) {
    const name = readString(r, `tensor[${i}].name`);
    if (names.has(name)) throw new FormatError({ file, field: name, expected: "each tensor name once", actual: "a duplicate" });
    names.add(name);
    const nDims = r.u32(`${name}.n_dims`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new FormatError({ file, field: `${name}.n_dims`, expected: `1..${MAX_DIMS}`, actual: String(nDims) });
    const ne: number[] = [];
    let count = 1;
    for (let d = 0; d < nDims; d++) {
      const dim = r.u64(`${name}.dims[${d}]`);
      if (dim < 1n || dim > BigInt(limit) * 2n) {
        throw new FormatError({ file, field: `${name}.dims[${d}]`, expected: "a size between 1 and what the file can hold", actual: `${dim}` });
      }
      ne.push(Number(dim));
      count *= Number(dim);
    }
    const typeId = r.u32(`${name}.type`);
    const dtype = SUPPORTED_GGML_TYPES[typeId];
    if (dtype === undefined) {
      throw new UnsupportedError({
        file, field: `${name}.type`, expected: `one of ${Object.keys(GGML_TYPE_ID).join(", ")}`,
        actual: GGML_TYPES[typeId] ?? `unknown ggml type id ${typeId}`,
      });
    }
    // Bounded by the file below, in data order: a truncated file is then reported at the tensor it cuts.
    const relOffset = r.u64AsNumber(`${name}.offset`, Number.MAX_SAFE_INTEGER);
    if (relOffset % alignment !== 0) {
      throw new FormatError({ file, field: `${name}.offset`, expected: `a multiple of the alignment ${alignment}`, actual: String(relOffset) });
    }
    const perRow = rowBytes(dtype, ne[0]!);
    if (perRow === undefined) {
      throw new FormatError({ file, field: `${name}.dims[0]`, expected: `a multiple of ${DTYPES[dtype].blockValues} for ${dtype}`, actual: String(ne[0]) });
    }
    const byteLength = perRow * (count / ne[0]!);
    if (!Number.isSafeInteger(byteLength)) {
      throw new FormatError({ file, field: `${name}.dims`, expected: "a tensor no larger than the file", actual: `[${ne.join(", ")}] (${byteLength} bytes)` });
    }
    infos.push({ name, dtype, shape: ne.slice().reverse(), relOffset, byteLength });
  }

  const dataOffset = Math.ceil(r.offset / alignment) * alignment;
  if (dataOffset > limit) {
    throw new FormatError({ file, field: "tensor data", expected: `data to start at offset ${dataOffset}`, actual: `a file of ${fileLength} bytes` });
  }
  const tensors: GgufTensor[] = infos.map((t) => Object.freeze({
    name: t.name, dtype: t.dtype, shape: Object.freeze(t.shape), offset: dataOffset + t.relOffset, byteLength: t.byteLength,
  }));
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (const t of byOffset) {
    if (t.byteLength > limit) {
      throw new FormatError({ file, field: `${t.name}.dims`, expected: "a tensor no larger than the file", actual: `[${[...t.shape].reverse().join(", ")}] (${t.byteLength} bytes)` });
    }
    if (t.offset + t.byteLength > limit) {
      throw new FormatError({
        file, field: `${t.name}.offset`, expected: `${t.byteLength} bytes of data at offset ${t.offset}`,
        actual: `a file of ${fileLength} bytes (truncated?)`,
      });
    }
  }
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!;
    const cur = byOffset[i]!;
    if (cur.offset < prev.offset + prev.byteLength) {
      throw new FormatError({ file, field: cur.name, expected: `data after ${prev.name} ends at ${prev.offset + prev.byteLength}`, actual: `overlapping data at ${cur.offset}` });
    }
  }
  return Object.freeze({ file, version, alignment, dataOffset, metadata, metadataTypes, tensors: Object.freeze(tensors) });
}

function valueTypeName(type: number, file: string, key: string): GgufValueType {
  const name = GGUF_VALUE_TYPES[type];
  if (name === undefined) throw new FormatError({ file, field: `${key}.type`, expected: "a GGUF value type 0..12", actual: String(type) });
  return name;
}

function readString(r: ByteReader, field: string): string {
  const length = r.u64AsNumber(`${field} length`, r.remaining - 8);
  return r.utf8(length, field);
}

function readValue(r: ByteReader, type: number, key: string, depth: number): GgufValue {
  switch (type) {
    case 0: return r.u8(key);
    case 1: return r.i8(key);
    case 2: return r.u16(key);
    case 3: return r.i16(key);
    case 4: return r.u32(key);
    case 5: return r.i32(key);
    case 6: return r.f32(key);
    case 7: {
      const b = r.u8(key);
      if (b > 1) throw new FormatError({ file: r.file, field: key, expected: "a BOOL of 0 or 1", actual: String(b) });
      return b === 1;
    }
    case 8: return readString(r, key);
    case 9: return readArray(r, key, depth + 1);
    case 10: return safeInt(r.u64(key));
    case 11: return safeInt(r.i64(key));
    case 12: return r.f64(key);
    default:
      throw new FormatError({ file: r.file, field: `${key}.type`, expected: "a GGUF value type 0..12", actual: String(type) });
  }
}

function readArray(r: ByteReader, key: string, depth: number): GgufValue[] {
  if (depth > MAX_ARRAY_NESTING) {
    throw new FormatError({ file: r.file, field: key, expected: `arrays nested at most ${MAX_ARRAY_NESTING} deep`, actual: "deeper nesting" });
  }
  const elementType = r.u32(`${key}.element_type`);
  valueTypeName(elementType, r.file, key);
  // The smallest encoding of one element bounds how many elements the remaining bytes can hold.
  const minBytes = elementType === 8 ? 8 : elementType === 9 ? 12 : SCALAR_BYTES[elementType]!;
  const count = r.u64AsNumber(`${key}.count`, Math.floor((r.remaining - 8) / minBytes));
  const out: GgufValue[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = readValue(r, elementType, key, depth);
  return out;
}

/** 64-bit integers become numbers when exact, otherwise stay bigint. */
function safeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
