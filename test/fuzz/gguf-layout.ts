// Where every field of a (valid) GGUF file sits, so mutations can aim at counts, string lengths, array lengths,
// value types, dims, tensor types and offsets instead of at random bytes. Written independently of src/io/gguf.ts
// (it only has to walk the seeds, which are valid).

export type FieldKind =
  | "magic" | "version" | "tensor_count" | "kv_count"
  | "key_len" | "key" | "value_type" | "scalar" | "str_len" | "str" | "array_type" | "array_count"
  | "tensor_name_len" | "tensor_name" | "n_dims" | "dim" | "ggml_type" | "tensor_offset"
  | "padding";

export interface Field {
  readonly kind: FieldKind;
  readonly at: number;
  readonly size: number;
  /** The metadata key or tensor name the field belongs to. */
  readonly owner: string;
  /** For scalars: the GGUF value type id. */
  readonly valueType?: number;
  /** Index inside an array, or dimension index. */
  readonly index?: number;
}

export interface KvSpan {
  readonly key: string;
  readonly type: number;
  readonly at: number;
  readonly end: number;
  /** For arrays: element type and count. */
  readonly elementType?: number;
  readonly count?: number;
}

export interface TensorSpan {
  readonly name: string;
  readonly at: number;
  readonly end: number;
  readonly nDims: number;
  readonly type: number;
  readonly offset: bigint;
}

export interface GgufLayout {
  readonly fields: readonly Field[];
  /** Fields by kind, so a mutation can pick a kind first (the tokens array must not drown the header). */
  readonly byKind: ReadonlyMap<FieldKind, readonly Field[]>;
  readonly kvs: readonly KvSpan[];
  readonly tensors: readonly TensorSpan[];
  readonly kvStart: number;
  readonly tensorInfoStart: number;
  readonly headerEnd: number;
  readonly dataStart: number;
  readonly alignment: number;
}

const SCALAR_SIZE: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

export function ggufLayout(bytes: Uint8Array): GgufLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  let at = 0;
  const field = (kind: FieldKind, size: number, owner: string, extra: Partial<Field> = {}): number => {
    fields.push({ kind, at, size, owner, ...extra });
    const start = at;
    at += size;
    return start;
  };
  const u32 = (): number => view.getUint32(at, true);
  const u64 = (): bigint => view.getBigUint64(at, true);
  const text = (start: number, length: number): string => new TextDecoder().decode(bytes.subarray(start, start + length));

  field("magic", 4, "header");
  field("version", 4, "header");
  const tensorCount = Number(u64());
  field("tensor_count", 8, "header");
  const kvCount = Number(u64());
  field("kv_count", 8, "header");

  const kvStart = at;
  const kvs: KvSpan[] = [];
  let alignment = 32;
  const value = (type: number, owner: string, index?: number): void => {
    if (type === 8) {
      const length = Number(u64());
      field("str_len", 8, owner, { index });
      field("str", length, owner, { index });
    } else if (type === 9) {
      const elementType = u32();
      field("array_type", 4, owner);
      const count = Number(u64());
      field("array_count", 8, owner);
      for (let i = 0; i < count; i++) value(elementType, owner, i);
    } else {
      field("scalar", SCALAR_SIZE[type]!, owner, { valueType: type, index });
    }
  };
  for (let i = 0; i < kvCount; i++) {
    const start = at;
    const keyLength = Number(u64());
    field("key_len", 8, `kv${i}`);
    const key = text(at, keyLength);
    field("key", keyLength, key);
    const type = u32();
    field("value_type", 4, key);
    let elementType: number | undefined;
    let count: number | undefined;
    if (type === 9) {
      elementType = view.getUint32(at, true);
      count = Number(view.getBigUint64(at + 4, true));
    }
    if (key === "general.alignment") alignment = view.getUint32(at, true);
    value(type, key);
    kvs.push({ key, type, at: start, end: at, elementType, count });
  }

  const tensorInfoStart = at;
  const tensors: TensorSpan[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const start = at;
    const nameLength = Number(u64());
    field("tensor_name_len", 8, `tensor${i}`);
    const name = text(at, nameLength);
    field("tensor_name", nameLength, name);
    const nDims = u32();
    field("n_dims", 4, name);
    for (let d = 0; d < nDims; d++) field("dim", 8, name, { index: d });
    const type = u32();
    field("ggml_type", 4, name);
    const offset = u64();
    field("tensor_offset", 8, name);
    tensors.push({ name, at: start, end: at, nDims, type, offset });
  }
  const headerEnd = at;
  const dataStart = Math.ceil(headerEnd / alignment) * alignment;
  if (dataStart > headerEnd) field("padding", dataStart - headerEnd, "padding");

  const byKind = new Map<FieldKind, Field[]>();
  for (const f of fields) {
    let list = byKind.get(f.kind);
    if (list === undefined) byKind.set(f.kind, (list = []));
    list.push(f);
  }
  return { fields, byKind, kvs, tensors, kvStart, tensorInfoStart, headerEnd, dataStart, alignment };
}
