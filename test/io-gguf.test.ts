import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FormatError, InputError, UnsupportedError } from "../src/errors.js";
import { readGguf, type GgufValue } from "../src/io/gguf.js";
import { ggufArray, type GgufMetadataEntry, writeGguf } from "../src/io/gguf-writer.js";
import { GLOBAL_TENSORS, LAYER_TENSORS, type LayerTensor, ggufLayerName } from "../src/model/tensor-names.js";
import { throwsTyped } from "./helpers/assert-typed.js";

const REAL_MODEL = new URL("../weights/SmolLM2-135M-Instruct.Q4_1.gguf", import.meta.url).pathname;

/** Little-endian bytes assembled field by field, for files written without our writer. */
class Bytes {
  private readonly parts: number[] = [];
  u8(v: number): this { this.parts.push(v & 0xff); return this; }
  u16(v: number): this { return this.u8(v).u8(v >> 8); }
  u32(v: number): this { return this.u16(v & 0xffff).u16(v >>> 16); }
  u64(v: bigint): this { for (let i = 0n; i < 8n; i++) this.u8(Number((v >> (8n * i)) & 0xffn)); return this; }
  str(s: string): this { const b = new TextEncoder().encode(s); this.u64(BigInt(b.length)); b.forEach((x) => this.u8(x)); return this; }
  pad(to: number): this { while (this.parts.length % to !== 0) this.u8(0); return this; }
  fill(count: number, value: (i: number) => number): this { for (let i = 0; i < count; i++) this.u8(value(i)); return this; }
  get length(): number { return this.parts.length; }
  done(): Uint8Array { return Uint8Array.from(this.parts); }
}

function setU64(bytes: Uint8Array, at: number, value: bigint): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setBigUint64(at, value, true);
  return copy;
}
function setU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value, true);
  return copy;
}
function u64At(bytes: Uint8Array, at: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at, true);
}

const f32x8 = (seed: number) => new Uint8Array(new Float32Array(8).map((_, i) => seed + i).buffer);

test("reads a hand-assembled v2 file, and the writer produces exactly those bytes", () => {
  const hand = new Bytes()
    .u32(0x46554747).u32(2).u64(1n).u64(2n)
    .str("general.alignment").u32(4).u32(64)
    .str("x").u32(9).u32(3).u64(2n).u16(0xffff).u16(300)
    .str("w").u32(2).u64(32n).u64(2n).u32(8).u64(0n)
    .pad(64)
    .fill(68, (i) => i)
    .pad(64)
    .done();
  const file = readGguf(hand, "hand.gguf");
  assert.equal([file.file, file.version, file.alignment, file.dataOffset], ["hand.gguf", 2, 64, 128]);
  assert.equal([...file.metadata], [["general.alignment", 64], ["x", [-1, 300]]]);
  assert.equal([...file.metadataTypes], [["general.alignment", "UINT32"], ["x", "ARRAY"]]);
  assert.equal(file.tensors.map((t) => [t.name, t.dtype, [...t.shape], t.offset, t.byteLength]), [["w", "Q8_0", [2, 32], 128, 68]]);

  const written = writeGguf({
    version: 2, alignment: 64,
    metadata: [["x", "ARRAY", ggufArray("INT16", [-1, 300])]],
    tensors: [{ name: "w", dtype: "Q8_0", shape: [2, 32], data: Uint8Array.from({ length: 68 }, (_, i) => i) }],
  });
  // The writer appends general.alignment after the given keys; same file otherwise.
  const again = readGguf(written);
  assert.equal([...again.metadata].sort(), [...file.metadata].sort());
  assert.equal(written.length, hand.length);
  assert.equal([...written.subarray(again.dataOffset)], [...hand.subarray(file.dataOffset)]);
});

const EVERY_TYPE: GgufMetadataEntry[] = [
  ["u8", "UINT8", 255], ["i8", "INT8", -128], ["u16", "UINT16", 65535], ["i16", "INT16", -32768],
  ["u32", "UINT32", 4294967295], ["i32", "INT32", -2147483648], ["f32", "FLOAT32", 1.5], ["f32b", "FLOAT32", 0.1],
  ["yes", "BOOL", true], ["no", "BOOL", false], ["s", "STRING", "héllo ✓ \u0000 end"], ["empty", "STRING", ""],
  ["u64big", "UINT64", 2n ** 64n - 1n], ["u64small", "UINT64", 5], ["i64min", "INT64", -(2n ** 63n)], ["i64small", "INT64", -5n],
  ["f64", "FLOAT64", 0.1],
  ["arr.empty", "ARRAY", ggufArray("UINT8", [])],
  ["arr.str", "ARRAY", ggufArray("STRING", ["a", "", "ü"])],
  ["arr.f32", "ARRAY", ggufArray("FLOAT32", [0.5, -2])],
  ["arr.nested", "ARRAY", ggufArray("ARRAY", [ggufArray("INT32", [1, -2]), ggufArray("INT32", [])])],
  ["arr.deep", "ARRAY", ggufArray("ARRAY", [ggufArray("ARRAY", [ggufArray("BOOL", [true, false])])])],
  ["arr.mixed", "ARRAY", ggufArray("ARRAY", [ggufArray("STRING", ["x"]), ggufArray("UINT64", [2n ** 60n])])],
];
const EXPECTED_VALUES: [string, GgufValue][] = [
  ["u8", 255], ["i8", -128], ["u16", 65535], ["i16", -32768], ["u32", 4294967295], ["i32", -2147483648], ["f32", 1.5],
  ["f32b", Math.fround(0.1)], ["yes", true], ["no", false], ["s", "héllo ✓ \u0000 end"], ["empty", ""],
  ["u64big", 2n ** 64n - 1n], ["u64small", 5], ["i64min", -(2n ** 63n)], ["i64small", -5], ["f64", 0.1],
  ["arr.empty", []], ["arr.str", ["a", "", "ü"]], ["arr.f32", [0.5, -2]], ["arr.nested", [[1, -2], []]],
  ["arr.deep", [[[true, false]]]], ["arr.mixed", [["x"], [2n ** 60n]]],
];

for (const version of [2, 3] as const) {
  test(`version ${version}: every value type, nested arrays and tensors round-trip through the writer`, () => {
    const tensors = [
      { name: "a", dtype: "F32" as const, shape: [8], data: f32x8(1) },
      { name: "q", dtype: "Q4_1" as const, shape: [3, 64], data: Uint8Array.from({ length: 120 }, (_, i) => (i * 7) & 0xff) },
      { name: "h", dtype: "BF16" as const, shape: [2, 2, 1, 3], data: new Uint8Array(24).fill(9) },
    ];
    const bytes = writeGguf({ version, metadata: EVERY_TYPE, tensors });
    const file = readGguf(bytes);
    assert.is(file.version, version);
    assert.is(file.alignment, 32);
    assert.equal([...file.metadata], EXPECTED_VALUES);
    assert.equal([...file.metadataTypes], EVERY_TYPE.map(([key, type]) => [key, type]));
    assert.is(file.dataOffset % 32, 0);
    for (const input of tensors) {
      const t = file.tensors.find((x) => x.name === input.name)!;
      assert.equal([t.dtype, [...t.shape], t.byteLength], [input.dtype, input.shape, input.data.length]);
      assert.is((t.offset - file.dataOffset) % 32, 0);
      assert.equal([...bytes.subarray(t.offset, t.offset + t.byteLength)], [...input.data]);
    }
  });
}

test("alignment: general.alignment moves the data start and tensor offsets; bad values are refused", () => {
  for (const alignment of [1, 8, 64, 4096]) {
    const bytes = writeGguf({ alignment, metadata: [["k", "STRING", "v"]], tensors: [{ name: "a", dtype: "F16", shape: [3], data: new Uint8Array(6) }, { name: "b", dtype: "F32", shape: [8], data: f32x8(0) }] });
    const file = readGguf(bytes);
    assert.is(file.alignment, alignment);
    assert.is(file.metadata.get("general.alignment"), alignment);
    assert.is(file.dataOffset % alignment, 0);
    for (const t of file.tensors) assert.is((t.offset - file.dataOffset) % alignment, 0);
  }
  // Written under another key, then renamed in place, to get values our writer refuses.
  const renamed = (type: "UINT32" | "UINT64" | "STRING", value: number | string) => {
    const bytes = writeGguf({ metadata: [["general.alignmenX", type, value]], tensors: [] });
    const at = bytes.indexOf(0x58); // "X"
    bytes[at] = 0x74; // "t"
    return bytes;
  };
  assert.is(readGguf(renamed("UINT32", 16)).alignment, 16);
  throwsTyped(() => readGguf(renamed("UINT32", 48)), FormatError, /general\.alignment: expected a UINT32 power of two, got 48/);
  throwsTyped(() => readGguf(renamed("UINT32", 0)), FormatError, /general\.alignment/);
  throwsTyped(() => readGguf(renamed("UINT64", 32)), FormatError, /general\.alignment/);
  throwsTyped(() => readGguf(renamed("STRING", "32")), FormatError, /general\.alignment/);
});

// One tensor "a" (F32, [8]) and one "b" (F32, [8]), no metadata: fixed positions computed by hand.
//   24: a.name (8 + 1) | 33: a.n_dims | 37: a.dims[0] | 45: a.type | 49: a.offset
//   57: b.name | 66: b.n_dims | 70: b.dims[0] | 78: b.type | 82: b.offset | 96: data (a at +0, b at +32)
const TWO = writeGguf({ metadata: [], tensors: [{ name: "a", dtype: "F32", shape: [8], data: f32x8(0) }, { name: "b", dtype: "F32", shape: [8], data: f32x8(8) }] });

test("the hand-computed layout of the two-tensor file holds", () => {
  assert.is(TWO.length, 160);
  assert.equal([u64At(TWO, 37), u64At(TWO, 49), u64At(TWO, 70), u64At(TWO, 82)], [8n, 0n, 8n, 32n]);
  assert.equal(readGguf(TWO).tensors.map((t) => t.offset), [96, 128]);
});

test("header errors: magic, version, value types", () => {
  throwsTyped(() => readGguf(setU32(TWO, 0, 0x46554746), "m.gguf"), FormatError, /m\.gguf: magic: expected the bytes "GGUF", got 0x46554746/);
  throwsTyped(() => readGguf(new TextEncoder().encode("PK\u0003\u0004 not a gguf file at all")), FormatError, /magic/);
  throwsTyped(() => readGguf(setU32(TWO, 4, 1)), UnsupportedError, /version: expected GGUF version 2 or 3, got 1/);
  throwsTyped(() => readGguf(setU32(TWO, 4, 4)), UnsupportedError, /version/);
  const oneKv = writeGguf({ metadata: [["k", "UINT8", 1]], tensors: [] }); // key at 24 (8 + 1), type at 33, value at 37
  throwsTyped(() => readGguf(setU32(oneKv, 33, 13)), FormatError, /k\.type: expected a GGUF value type 0\.\.12, got 13/);
  const oneBool = writeGguf({ metadata: [["k", "BOOL", true]], tensors: [] });
  const badBool = oneBool.slice();
  badBool[37] = 2;
  throwsTyped(() => readGguf(badBool), FormatError, /k: expected a BOOL of 0 or 1, got 2/);
  const badUtf8 = oneKv.slice();
  badUtf8[32] = 0xff; // the key's one byte
  throwsTyped(() => readGguf(badUtf8), FormatError, /UTF-8/);
  const arrayOfBadType = writeGguf({ metadata: [["k", "ARRAY", ggufArray("UINT8", [1])]], tensors: [] });
  throwsTyped(() => readGguf(setU32(arrayOfBadType, 37, 99)), FormatError, /k\.type: expected a GGUF value type/);
});

test("duplicates: metadata keys and tensor names", () => {
  const twoKeys = writeGguf({ metadata: [["ka", "UINT8", 1], ["kb", "UINT8", 2]], tensors: [] });
  const dupKey = twoKeys.slice();
  dupKey[twoKeys.indexOf(0x62, 24)] = 0x61; // "kb" -> "ka"
  throwsTyped(() => readGguf(dupKey), FormatError, /ka: expected each metadata key once/);
  const dupName = TWO.slice();
  dupName[65] = 0x61; // b.name "b" -> "a"
  throwsTyped(() => readGguf(dupName), FormatError, /a: expected each tensor name once/);
});

test("huge counts and lengths (2^40, 2^64-1) are refused fast, before allocating", () => {
  const oneKv = writeGguf({ metadata: [["k", "ARRAY", ggufArray("UINT32", [1, 2])]], tensors: [] }); // count at 41
  assert.is(u64At(oneKv, 41), 2n);
  const cases: [Uint8Array, RegExp][] = [
    [setU64(TWO, 8, 2n ** 40n), /tensor_count/],
    [setU64(TWO, 16, 2n ** 40n), /kv_count/],
    [setU64(oneKv, 24, 2n ** 40n), /metadata\[0\]\.key length/],
    [setU64(oneKv, 24, 2n ** 64n - 1n), /metadata\[0\]\.key length/],
    [setU64(oneKv, 41, 2n ** 40n), /k\.count/],
    [setU64(TWO, 24, 2n ** 40n), /tensor\[0\]\.name length/],
    [setU64(TWO, 37, 2n ** 40n), /a\.dims\[0\]/],
    [setU64(TWO, 49, 2n ** 40n), /a\.offset/],
    [setU32(TWO, 33, 2 ** 31), /a\.n_dims/],
  ];
  for (const [bytes, pattern] of cases) {
    const started = performance.now();
    throwsTyped(() => readGguf(bytes), FormatError, pattern);
    assert.ok(performance.now() - started < 50, `${pattern} took ${performance.now() - started} ms`);
  }
});

test("tensor infos: dims, types, block sizes", () => {
  throwsTyped(() => readGguf(setU32(TWO, 33, 0)), FormatError, /a\.n_dims: expected 1\.\.4, got 0/);
  throwsTyped(() => readGguf(setU32(TWO, 33, 5)), FormatError, /a\.n_dims: expected 1\.\.4, got 5/);
  throwsTyped(() => readGguf(setU64(TWO, 37, 0n)), FormatError, /a\.dims\[0\]/);
  throwsTyped(() => readGguf(setU32(TWO, 45, 16), "m.gguf"), UnsupportedError, /m\.gguf: a\.type: expected one of F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, BF16, got IQ2_XXS/);
  throwsTyped(() => readGguf(setU32(TWO, 45, 19)), UnsupportedError, /got IQ1_S/);
  // A K-quant row must hold whole 256-value super-blocks (this tensor has 8 columns).
  throwsTyped(() => readGguf(setU32(TWO, 45, 12)), FormatError, /a\.dims\[0\]: expected a multiple of 256 for Q4_K, got 8/);
  throwsTyped(() => readGguf(setU32(TWO, 45, 99)), UnsupportedError, /unknown ggml type id 99/);
  throwsTyped(() => readGguf(setU32(TWO, 45, 8)), FormatError, /a\.dims\[0\]: expected a multiple of 32 for Q8_0, got 8/);
});

test("tensor offsets: unaligned, overlapping, out of range", () => {
  throwsTyped(() => readGguf(setU64(TWO, 82, 8n)), FormatError, /b\.offset: expected a multiple of the alignment 32, got 8/);
  throwsTyped(() => readGguf(setU64(TWO, 82, 0n)), FormatError, /overlapping data/);
  throwsTyped(() => readGguf(setU64(TWO, 49, 32n)), FormatError, /overlapping data/);
  throwsTyped(() => readGguf(setU64(TWO, 82, 64n)), FormatError, /b\.offset: expected 32 bytes of data at offset 160/);
  throwsTyped(() => readGguf(setU64(TWO, 82, 2n ** 32n)), FormatError, /b\.offset/);
  // Larger than the file in total, though every dimension alone is plausible.
  throwsTyped(() => readGguf(setU64(TWO, 70, 64n)), FormatError, /b\.dims: expected a tensor no larger than the file/);
});

test("every truncation is a FormatError; only the final padding may be cut", () => {
  const bytes = writeGguf({
    metadata: EVERY_TYPE,
    tensors: [{ name: "w", dtype: "Q8_0", shape: [1, 32], data: new Uint8Array(34).fill(1) }, { name: "n", dtype: "F32", shape: [5], data: f32x8(2).subarray(0, 20) }],
  });
  const file = readGguf(bytes);
  const end = Math.max(...file.tensors.map((t) => t.offset + t.byteLength));
  assert.ok(end < bytes.length, "the writer pads after the last tensor");
  for (let length = 0; length < end; length++) {
    assert.throws(() => readGguf(bytes.subarray(0, length)), (e: unknown) => e instanceof FormatError, `prefix of ${length} bytes`);
  }
  for (let length = end; length <= bytes.length; length++) assert.is(readGguf(bytes.subarray(0, length)).tensors.length, 2);
});

test("arrays nested deeper than 8 are refused", () => {
  let value = ggufArray("UINT8", [1]);
  for (let depth = 1; depth < 8; depth++) value = ggufArray("ARRAY", [value]);
  assert.ok(readGguf(writeGguf({ metadata: [["k", "ARRAY", value]], tensors: [] })).metadata.has("k"));
  throwsTyped(() => readGguf(writeGguf({ metadata: [["k", "ARRAY", ggufArray("ARRAY", [value])]], tensors: [] })), FormatError, /nested at most 8 deep/);
});

test("writer refuses values that do not fit their declared type", () => {
  const meta = (entry: GgufMetadataEntry) => () => writeGguf({ metadata: [entry], tensors: [] });
  throwsTyped(meta(["k", "UINT8", 256]), InputError, /k: expected an integer in 0\.\.255 for UINT8, got 256/);
  throwsTyped(meta(["k", "INT8", 1.5]), InputError, /integer for INT8/);
  throwsTyped(meta(["k", "UINT64", -1]), InputError, /UINT64/);
  throwsTyped(meta(["k", "INT64", 2n ** 63n]), InputError, /INT64/);
  throwsTyped(meta(["k", "STRING", 3]), InputError, /expected a string/);
  throwsTyped(meta(["k", "BOOL", 1]), InputError, /boolean/);
  throwsTyped(meta(["k", "FLOAT32", "1"]), InputError, /number/);
  throwsTyped(meta(["k", "ARRAY", 3]), InputError, /array value/);
  throwsTyped(meta(["k", "ARRAY", ggufArray("INT8", [1, 300])]), InputError, /INT8/);
  throwsTyped(meta(["k", "NOPE" as "UINT8", 1]), InputError, /value type/);
  throwsTyped(() => writeGguf({ metadata: [["k", "UINT8", 1], ["k", "UINT8", 2]], tensors: [] }), InputError, /each metadata key once/);
  throwsTyped(() => writeGguf({ alignment: 48, metadata: [], tensors: [] }), InputError, /power of two/);
  throwsTyped(() => writeGguf({ alignment: 64, metadata: [["general.alignment", "UINT32", 32]], tensors: [] }), InputError, /general\.alignment/);
  const tensor = (shape: number[], bytes: number, dtype: "F32" | "Q4_0" = "F32") => () => writeGguf({ metadata: [], tensors: [{ name: "t", dtype, shape, data: new Uint8Array(bytes) }] });
  throwsTyped(tensor([2], 4), InputError, /t: expected 8 bytes of F32 data/);
  throwsTyped(tensor([], 4), InputError, /1 to 4 positive integers/);
  throwsTyped(tensor([1, 1, 1, 1, 1], 4), InputError, /1 to 4/);
  throwsTyped(tensor([0], 0), InputError, /positive integers/);
  throwsTyped(tensor([2, 16], 18, "Q4_0"), InputError, /multiple of 32 for Q4_0/);
  throwsTyped(() => writeGguf({ metadata: [], tensors: [{ name: "t", dtype: "F32", shape: [1], data: new Uint8Array(4) }, { name: "t", dtype: "F32", shape: [1], data: new Uint8Array(4) }] }), InputError, /each tensor name once/);
});

const gguf_py = spawnSync("python3", ["-c", "import gguf, numpy"], { encoding: "utf8" });
const ggufPyMissing = gguf_py.error !== undefined ? "python3 is not on PATH" : gguf_py.status !== 0 ? `python3 cannot import gguf (llama.cpp's gguf-py) and numpy: ${gguf_py.stderr.trim().split("\n").at(-1)}` : undefined;

test("cross-check with llama.cpp's gguf-py reader and writer", () => {
  if (ggufPyMissing !== undefined) {
    console.log(`  skip: gguf-py cross-check: ${ggufPyMissing}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-gguf-"));
  try {
    const ours = join(dir, "ours.gguf");
    const theirs = join(dir, "theirs.gguf");
    const q8 = Uint8Array.from({ length: 68 }, (_, i) => (i * 13) & 0xff);
    writeFileSync(ours, writeGguf({
      version: 3, alignment: 64,
      metadata: [
        ["general.architecture", "STRING", "llama"], ["u32", "UINT32", 4000000000], ["i64", "INT64", -(2n ** 40n)],
        ["f32", "FLOAT32", 0.25], ["b", "BOOL", true], ["strs", "ARRAY", ggufArray("STRING", ["x", "yy", "ü"])],
        ["ints", "ARRAY", ggufArray("INT32", [-1, 2, 3])],
      ],
      tensors: [{ name: "w", dtype: "Q8_0", shape: [2, 32], data: q8 }, { name: "v", dtype: "F32", shape: [8], data: f32x8(3) }],
    }));
    const script = `
import json, sys, numpy as np
from gguf import GGUFReader, GGUFWriter, GGMLQuantizationType
r = GGUFReader(sys.argv[1])
fields = {k: r.fields[k].contents() for k in ["general.architecture", "u32", "i64", "f32", "b", "strs", "ints", "general.alignment"]}
tensors = [{"name": t.name, "type": t.tensor_type.name, "ne": [int(x) for x in t.shape], "offset": int(t.data_offset), "bytes": t.data.tobytes().hex()} for t in r.tensors]
print(json.dumps({"fields": fields, "tensors": tensors}))
w = GGUFWriter(sys.argv[2], "llama")
w.add_uint32("llama.block_count", 3)
w.add_float32("llama.rope.freq_base", 100000.0)
w.add_array("names", ["a", "bc"])
w.add_array("nums", [5, 6, 7])
w.add_bool("flag", False)
w.add_tensor("m", np.arange(64, dtype=np.float32).reshape(2, 32))
w.add_tensor("h", np.array([1.5, -2.0], dtype=np.float16))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
`;
    const run = spawnSync("python3", ["-c", script, ours, theirs], { encoding: "utf8" });
    assert.is(run.status, 0, run.stderr);
    const seen = JSON.parse(run.stdout);
    assert.equal(seen.fields, { "general.architecture": "llama", u32: 4000000000, i64: -(2 ** 40), f32: 0.25, b: true, strs: ["x", "yy", "ü"], ints: [-1, 2, 3], "general.alignment": 64 });
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    assert.equal(seen.tensors.map((t: { name: string; type: string; ne: number[]; bytes: string }) => [t.name, t.type, t.ne, t.bytes]), [
      ["w", "Q8_0", [32, 2], hex(q8)],
      ["v", "F32", [8], hex(f32x8(3))],
    ]);

    const bytes = new Uint8Array(readFileSync(theirs));
    const file = readGguf(bytes, theirs);
    assert.is(file.metadata.get("general.architecture"), "llama");
    assert.is(file.metadata.get("llama.block_count"), 3);
    assert.equal([file.metadataTypes.get("llama.rope.freq_base"), file.metadata.get("llama.rope.freq_base")], ["FLOAT32", 100000]);
    assert.equal(file.metadata.get("names"), ["a", "bc"]);
    assert.equal(file.metadata.get("nums"), [5, 6, 7]);
    assert.is(file.metadata.get("flag"), false);
    const m = file.tensors.find((t) => t.name === "m")!;
    assert.equal([m.dtype, [...m.shape], m.byteLength], ["F32", [2, 32], 256]);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    assert.equal(Array.from({ length: 64 }, (_, i) => view.getFloat32(m.offset + 4 * i, true)), Array.from({ length: 64 }, (_, i) => i));
    const h = file.tensors.find((t) => t.name === "h")!;
    assert.equal([h.dtype, [...h.shape], view.getUint16(h.offset, true), view.getUint16(h.offset + 2, true)], ["F16", [2], 0x3e00, 0xc000]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the real SmolLM2-135M-Instruct Q4_1 file", () => {
  if (!existsSync(REAL_MODEL)) {
    console.log(`  skip: real model test: ${REAL_MODEL} is absent`);
    return;
  }
  const buffer = readFileSync(REAL_MODEL);
  const file = readGguf(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), REAL_MODEL);
  const types = new Map<string, number>();
  for (const t of file.tensors) types.set(t.dtype, (types.get(t.dtype) ?? 0) + 1);
  console.log(`  SmolLM2 GGUF v${file.version}: ${file.tensors.length} tensors, ${[...types].map(([k, v]) => `${k} x${v}`).join(", ")}`);
  assert.is(file.version, 3);
  assert.is(file.metadata.get("general.architecture"), "llama");
  assert.is(file.metadata.get("llama.block_count"), 30);
  assert.equal(Object.fromEntries(types), { Q8_0: 1, F32: 61, Q4_1: 210 });
  assert.equal(file.tensors.find((t) => t.name === GLOBAL_TENSORS.embed.gguf)?.shape, [49152, 576]);
  assert.ok(!file.tensors.some((t) => t.name === GLOBAL_TENSORS.lmHead.gguf), "tied: no output.weight");
  for (let layer = 0; layer < 30; layer++) {
    for (const role of Object.keys(LAYER_TENSORS) as LayerTensor[]) assert.ok(file.tensors.some((t) => t.name === ggufLayerName(layer, role)), ggufLayerName(layer, role));
  }
  assert.equal(file.tensors.find((t) => t.name === "blk.0.attn_k.weight")?.shape, [192, 576]);
  const tokens = file.metadata.get("tokenizer.ggml.tokens");
  assert.ok(Array.isArray(tokens) && tokens.length === 49152);
  const end = Math.max(...file.tensors.map((t) => t.offset + t.byteLength));
  assert.ok(end <= buffer.byteLength && buffer.byteLength - end < file.alignment, "tensors reach the end of the file");
});

test.run();
