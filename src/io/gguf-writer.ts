// GGUF writer, the mirror of gguf.ts: builds test fixtures (tiny models, fuzz seeds) as real GGUF files, in memory
// (writeGguf) or streamed tensor by tensor to a sink (streamGguf: files larger than memory, e.g. bench/shapes/).
// Layout written, as llama.cpp's gguf_write does: header, metadata, tensor infos, zero padding to the alignment,
// then each tensor's data padded with zeros to the alignment (the last one too).

import { InputError, show } from "../errors.js";
import { type DType, DTYPES } from "./dtype.js";
import { GGML_TYPE_ID, GGUF_VALUE_TYPES, type GgufValueType } from "./gguf.js";

/** An array value: its element type (all elements share one) and the elements, which may be arrays again. */
export interface GgufArray {
  readonly elementType: GgufValueType;
  readonly items: readonly GgufWriteValue[];
}

export type GgufWriteValue = number | bigint | boolean | string | GgufArray;

export type GgufMetadataEntry = readonly [key: string, type: GgufValueType, value: GgufWriteValue];

export interface GgufTensorInfo {
  readonly name: string;
  readonly dtype: DType;
  /** Row-major shape, outermost first (as GgufTensor.shape); written reversed as GGUF's ne[]. */
  readonly shape: readonly number[];
}

export interface GgufWriteTensor extends GgufTensorInfo {
  readonly data: Uint8Array;
}

/** A tensor whose bytes are made only when the stream reaches it (one tensor in memory at a time). */
export interface GgufStreamTensor extends GgufTensorInfo {
  data(): Uint8Array | Promise<Uint8Array>;
}

export interface GgufWriteInput<T extends GgufTensorInfo = GgufWriteTensor> {
  readonly version?: 2 | 3;
  /** Data alignment; when given and general.alignment is not in the metadata, that key is added. */
  readonly alignment?: number;
  readonly metadata: readonly GgufMetadataEntry[];
  readonly tensors: readonly T[];
}

/** Where everything goes: the header (through the padding before the first tensor) and each tensor's data. */
export interface GgufLayout {
  readonly header: Uint8Array;
  readonly alignment: number;
  /** Data bytes of each tensor, in input order (each is followed by zeros up to the alignment). */
  readonly tensorBytes: readonly number[];
  /** The whole file's length. */
  readonly fileLength: number;
}

/** Shorthand for an array value. */
export function ggufArray(elementType: GgufValueType, items: readonly GgufWriteValue[]): GgufArray {
  return { elementType, items };
}

const MAGIC = 0x46554747;
const DEFAULT_ALIGNMENT = 32;
const SOURCE = "GGUF writer input";

const INTEGER_RANGES: Partial<Record<GgufValueType, readonly [bigint, bigint]>> = {
  UINT8: [0n, 0xffn], INT8: [-0x80n, 0x7fn], UINT16: [0n, 0xffffn], INT16: [-0x8000n, 0x7fffn],
  UINT32: [0n, 0xffffffffn], INT32: [-0x80000000n, 0x7fffffffn],
  UINT64: [0n, 0xffffffffffffffffn], INT64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

/** Growable little-endian byte sink. */
class ByteSink {
  private buffer = new Uint8Array(1024);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(count: number): number {
    const at = this.length;
    if (at + count > this.buffer.length) {
      const next = new Uint8Array(Math.max(this.buffer.length * 2, at + count));
      next.set(this.buffer.subarray(0, at));
      this.buffer = next;
      this.view = new DataView(next.buffer);
    }
    this.length += count;
    return at;
  }
  // The offset is reserved before touching buffer or view: reserving may replace both.
  u8(v: number): void { const at = this.reserve(1); this.view.setUint8(at, v); }
  i8(v: number): void { const at = this.reserve(1); this.view.setInt8(at, v); }
  u16(v: number): void { const at = this.reserve(2); this.view.setUint16(at, v, true); }
  i16(v: number): void { const at = this.reserve(2); this.view.setInt16(at, v, true); }
  u32(v: number): void { const at = this.reserve(4); this.view.setUint32(at, v, true); }
  i32(v: number): void { const at = this.reserve(4); this.view.setInt32(at, v, true); }
  f32(v: number): void { const at = this.reserve(4); this.view.setFloat32(at, v, true); }
  f64(v: number): void { const at = this.reserve(8); this.view.setFloat64(at, v, true); }
  u64(v: bigint): void { const at = this.reserve(8); this.view.setBigUint64(at, v, true); }
  i64(v: bigint): void { const at = this.reserve(8); this.view.setBigInt64(at, v, true); }
  bytes(data: Uint8Array): void { const at = this.reserve(data.length); this.buffer.set(data, at); }
  zeros(count: number): void { const at = this.reserve(count); this.buffer.fill(0, at, this.length); }
  string(text: string): void {
    const data = new TextEncoder().encode(text);
    this.u64(BigInt(data.length));
    this.bytes(data);
  }
  result(): Uint8Array { return this.buffer.slice(0, this.length); }
}

/** Serializes metadata and tensors as a GGUF file. Values are checked against their declared types. */
export function writeGguf(input: GgufWriteInput): Uint8Array {
  const layout = ggufLayout(input);
  const out = new Uint8Array(layout.fileLength);
  out.set(layout.header);
  let at = layout.header.length;
  input.tensors.forEach((tensor, i) => {
    checkData(tensor, tensor.data, layout.tensorBytes[i]!);
    out.set(tensor.data, at);
    at += alignUp(tensor.data.length, layout.alignment);
  });
  return out;
}

/**
 * Writes a GGUF file to `write` in order: the header, then each tensor's data (asked for only when its turn comes)
 * and its padding, so at most one tensor is held at a time. Returns the file's length.
 */
export async function streamGguf(input: GgufWriteInput<GgufStreamTensor>, write: (chunk: Uint8Array) => void | Promise<void>): Promise<number> {
  const layout = ggufLayout(input);
  await write(layout.header);
  for (let i = 0; i < input.tensors.length; i++) {
    const tensor = input.tensors[i]!;
    const data = await tensor.data();
    checkData(tensor, data, layout.tensorBytes[i]!);
    await write(data);
    const padding = alignUp(data.length, layout.alignment) - data.length;
    if (padding > 0) await write(new Uint8Array(padding));
  }
  return layout.fileLength;
}

/** The header bytes and tensor sizes of the file `input` describes, without its tensor data. */
export function ggufLayout(input: GgufWriteInput<GgufTensorInfo>): GgufLayout {
  const version = input.version ?? 3;
  if (version !== 2 && version !== 3) throw new InputError({ file: SOURCE, field: "version", expected: "2 or 3", actual: show(version) });
  const metadata = [...input.metadata];
  const declared = metadata.find(([key]) => key === "general.alignment");
  let alignment = input.alignment ?? DEFAULT_ALIGNMENT;
  if (declared !== undefined) {
    if (declared[1] !== "UINT32" || typeof declared[2] !== "number" || (input.alignment !== undefined && declared[2] !== input.alignment)) {
      throw new InputError({ file: SOURCE, field: "general.alignment", expected: `a UINT32 equal to the alignment option (${show(input.alignment)})`, actual: `${declared[1]} ${show(declared[2])}` });
    }
    alignment = declared[2];
  } else if (input.alignment !== undefined) {
    metadata.push(["general.alignment", "UINT32", input.alignment]);
  }
  if (!Number.isSafeInteger(alignment) || alignment < 1 || alignment > 0xffffffff || (alignment & (alignment - 1)) !== 0) {
    throw new InputError({ file: SOURCE, field: "alignment", expected: "a power of two that fits in a UINT32", actual: show(alignment) });
  }

  const sink = new ByteSink();
  sink.u32(MAGIC);
  sink.u32(version);
  sink.u64(BigInt(input.tensors.length));
  sink.u64(BigInt(metadata.length));
  const keys = new Set<string>();
  for (const [key, type, value] of metadata) {
    if (keys.has(key)) throw new InputError({ file: SOURCE, field: key, expected: "each metadata key once", actual: "a duplicate" });
    keys.add(key);
    sink.string(key);
    sink.u32(typeId(type, key));
    writeValue(sink, type, value, key);
  }

  const names = new Set<string>();
  const tensorBytes: number[] = [];
  let relative = 0;
  for (const tensor of input.tensors) {
    if (names.has(tensor.name)) throw new InputError({ file: SOURCE, field: tensor.name, expected: "each tensor name once", actual: "a duplicate" });
    names.add(tensor.name);
    const byteLength = tensorByteLength(tensor);
    tensorBytes.push(byteLength);
    sink.string(tensor.name);
    sink.u32(tensor.shape.length);
    for (let d = tensor.shape.length - 1; d >= 0; d--) sink.u64(BigInt(tensor.shape[d]!));
    sink.u32(GGML_TYPE_ID[tensor.dtype]);
    sink.u64(BigInt(relative));
    relative += alignUp(byteLength, alignment);
  }
  sink.zeros(alignUp(sink.length, alignment) - sink.length);
  const header = sink.result();
  return { header, alignment, tensorBytes, fileLength: header.length + relative };
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function typeId(type: GgufValueType, key: string): number {
  const id = GGUF_VALUE_TYPES.indexOf(type);
  if (id < 0) throw new InputError({ file: SOURCE, field: key, expected: `a value type (${GGUF_VALUE_TYPES.join(", ")})`, actual: show(type) });
  return id;
}

function tensorByteLength(tensor: GgufTensorInfo): number {
  const where = { file: SOURCE, field: tensor.name };
  const { shape, dtype } = tensor;
  if (!(dtype in GGML_TYPE_ID)) throw new InputError({ ...where, expected: `a dtype (${Object.keys(GGML_TYPE_ID).join(", ")})`, actual: show(dtype) });
  if (shape.length < 1 || shape.length > 4 || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new InputError({ ...where, expected: "a shape of 1 to 4 positive integers", actual: `[${shape.join(", ")}]` });
  }
  const { blockValues, blockBytes } = DTYPES[dtype];
  const cols = shape[shape.length - 1]!;
  if (cols % blockValues !== 0) throw new InputError({ ...where, expected: `a last dimension that is a multiple of ${blockValues} for ${dtype}`, actual: String(cols) });
  const count = shape.reduce((a, b) => a * b, 1);
  const byteLength = (count / blockValues) * blockBytes;
  if (!Number.isSafeInteger(byteLength)) throw new InputError({ ...where, expected: "a tensor of at most 2^53 bytes", actual: `shape [${shape.join(", ")}]` });
  return byteLength;
}

function checkData(tensor: GgufTensorInfo, data: Uint8Array, byteLength: number): void {
  if (!(data instanceof Uint8Array) || data.byteLength !== byteLength) {
    const actual = data instanceof Uint8Array ? `${data.byteLength} bytes` : show(data);
    throw new InputError({ file: SOURCE, field: tensor.name, expected: `${byteLength} bytes of ${tensor.dtype} data for shape [${tensor.shape.join(", ")}]`, actual });
  }
}

function writeValue(sink: ByteSink, type: GgufValueType, value: GgufWriteValue, key: string): void {
  const wrong = (expected: string): InputError => new InputError({ file: SOURCE, field: key, expected, actual: show(value) });
  switch (type) {
    case "FLOAT32":
    case "FLOAT64":
      if (typeof value !== "number") throw wrong(`a number for ${type}`);
      if (type === "FLOAT32") sink.f32(value);
      else sink.f64(value);
      return;
    case "BOOL":
      if (typeof value !== "boolean") throw wrong("a boolean");
      sink.u8(value ? 1 : 0);
      return;
    case "STRING":
      if (typeof value !== "string") throw wrong("a string");
      sink.string(value);
      return;
    case "ARRAY": {
      if (typeof value !== "object" || value === null || !Array.isArray(value.items)) throw wrong("an array value { elementType, items }");
      sink.u32(typeId(value.elementType, key));
      sink.u64(BigInt(value.items.length));
      for (const item of value.items) writeValue(sink, value.elementType, item, key);
      return;
    }
    default: {
      const range = INTEGER_RANGES[type];
      if (range === undefined) throw wrong(`a value of a known type, not ${show(type)}`);
      if (!((typeof value === "number" && Number.isSafeInteger(value)) || typeof value === "bigint")) throw wrong(`an integer for ${type}`);
      const big = BigInt(value);
      if (big < range[0] || big > range[1]) throw wrong(`an integer in ${range[0]}..${range[1]} for ${type}`);
      const n = Number(big);
      switch (type) {
        case "UINT8": sink.u8(n); return;
        case "INT8": sink.i8(n); return;
        case "UINT16": sink.u16(n); return;
        case "INT16": sink.i16(n); return;
        case "UINT32": sink.u32(n); return;
        case "INT32": sink.i32(n); return;
        case "UINT64": sink.u64(big); return;
        default: sink.i64(big); return;
      }
    }
  }
}
