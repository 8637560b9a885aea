import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FormatError, InputError, UnsupportedError } from "../src/errors.js";
import { readSafetensors, readSafetensorsIndex, writeSafetensors } from "../src/io/safetensors.js";
import { throwsTyped } from "./helpers/assert-typed.js";

const encoder = new TextEncoder();

/** A safetensors file assembled by hand: u64 header length, the header text as given, then the data bytes. */
function handMade(header: string, data: Uint8Array | number = 0, declaredLength?: bigint): Uint8Array {
  const json = encoder.encode(header);
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return out;
}

test("reads a hand-made file: offsets are absolute, tensors come back in data order, metadata is kept", () => {
  const header = '{"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}}';
  const data = new Uint8Array(12).map((_, i) => i + 1);
  const bytes = handMade(header, data);
  const file = readSafetensors(bytes, "hand.safetensors");
  const start = 8 + encoder.encode(header).length;
  assert.is(file.file, "hand.safetensors");
  assert.is(file.dataOffset, start);
  assert.equal(file.metadata, { format: "pt" });
  assert.equal(file.tensors.map((t) => [t.name, t.dtype, [...t.shape], t.offset, t.byteLength]), [
    ["a", "F32", [2, 1], start, 8],
    ["b", "F16", [2], start + 8, 4],
  ]);
  assert.equal([...bytes.subarray(file.tensors[1]!.offset, file.tensors[1]!.offset + 4)], [9, 10, 11, 12]);
  assert.ok(Object.isFrozen(file) && Object.isFrozen(file.tensors) && Object.isFrozen(file.tensors[0]!.shape) && Object.isFrozen(file.metadata));
});

test("scalars hold one value and zero-size tensors none; an empty header object is a valid empty file", () => {
  const header = '{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"z":{"dtype":"F32","shape":[3,0],"data_offsets":[2,2]},"e":{"dtype":"F16","shape":[0],"data_offsets":[2,2]}}';
  const file = readSafetensors(handMade(header, 2));
  assert.equal(file.tensors.map((t) => [t.name, [...t.shape], t.byteLength]), [["s", [], 2], ["z", [3, 0], 0], ["e", [0], 0]]);
  assert.equal(readSafetensors(handMade("{}")).tensors, []);
  assert.equal(readSafetensors(handMade("{}  ")).metadata, {}); // trailing space padding, as writers add
  assert.equal(readSafetensors(handMade('{"__metadata__":null}')).metadata, {});
});

test("writer round trip: names, dtypes, shapes, exact bytes and metadata survive; header is space-padded to 8", () => {
  const tensors = [
    { name: "w", dtype: "F32" as const, shape: [2, 3], data: f32Bytes([1, -2, 3.5, 1e-30, -0, Infinity]) },
    { name: "h", dtype: "F16" as const, shape: [3], data: new Uint8Array([1, 2, 3, 4, 5, 6]) },
    { name: "scalar", dtype: "BF16" as const, shape: [], data: new Uint8Array([0x80, 0x3f]) },
    { name: "empty", dtype: "F32" as const, shape: [0, 4], data: new Uint8Array(0) },
    { name: "__proto__", dtype: "F16" as const, shape: [1], data: new Uint8Array([7, 8]) },
  ];
  const metadata = { format: "pt", note: "ünïcode ✓", __proto__x: "y" };
  const bytes = writeSafetensors(tensors, metadata);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(headerLength % 8, 0);
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  assert.ok(/^\{.*\} *$/.test(headerText), "JSON followed only by spaces");
  const file = readSafetensors(bytes);
  assert.equal(file.metadata, metadata);
  assert.is(file.tensors.length, tensors.length);
  for (const input of tensors) {
    const t = file.tensors.find((x) => x.name === input.name)!;
    assert.ok(t !== undefined, input.name);
    assert.is(t.dtype, input.dtype);
    assert.equal([...t.shape], input.shape);
    assert.equal([...bytes.subarray(t.offset, t.offset + t.byteLength)], [...input.data]);
  }
  assert.is(Object.getPrototypeOf(file.metadata), Object.prototype);
});

test("metadata key __proto__ stays an own string property", () => {
  const file = readSafetensors(handMade('{"__metadata__":{"__proto__":"x"}}'));
  assert.ok(Object.hasOwn(file.metadata, "__proto__"));
  assert.is(file.metadata["__proto__"], "x");
});

test("header length is checked before anything is decoded", () => {
  throwsTyped(() => readSafetensors(new Uint8Array(5)), FormatError, /header length/);
  throwsTyped(() => readSafetensors(handMade("{}", 0, 3n)), FormatError, /header length: expected at most 2/);
  const started = performance.now();
  throwsTyped(() => readSafetensors(handMade("{}", 0, 2n ** 40n)), FormatError, /header length/);
  throwsTyped(() => readSafetensors(handMade("{}", 0, 2n ** 64n - 1n)), FormatError, /header length/);
  assert.ok(performance.now() - started < 100, "refused without allocating");
  // Within the file but above the reference implementation's 100 MB cap.
  const big = new Uint8Array(8 + 100_000_001);
  new DataView(big.buffer).setBigUint64(0, 100_000_001n, true);
  throwsTyped(() => readSafetensors(big), FormatError, /at most 100000000/);
  throwsTyped(() => readSafetensors(handMade("")), FormatError, /empty header/);
});

test("header must be UTF-8 JSON object text starting with {", () => {
  const bad = handMade("{}");
  bad[9] = 0xff;
  throwsTyped(() => readSafetensors(bad, "x.safetensors"), FormatError, /x\.safetensors.*UTF-8/);
  throwsTyped(() => readSafetensors(handMade(" {}")), FormatError, /starting with "\{"/);
  throwsTyped(() => readSafetensors(handMade("{not json")), FormatError, /valid JSON/);
  throwsTyped(() => readSafetensors(handMade("[]")), FormatError, /starting with/);
  throwsTyped(() => readSafetensors(handMade('{"a":1')), FormatError, /valid JSON/);
});

test("entry fields are validated and named", () => {
  const cases: [string, number, RegExp][] = [
    ['{"a":5}', 0, /a: expected an object/],
    ['{"a":{"shape":[1],"data_offsets":[0,4]}}', 4, /a\.dtype: expected a dtype string, got undefined/],
    ['{"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}', 4, /a\.dtype/],
    ['{"a":{"dtype":"F32","data_offsets":[0,4]}}', 4, /a\.shape: expected an array/],
    ['{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4, /a\.shape\[0\]: expected a non-negative integer, got -1/],
    ['{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', 4, /a\.shape\[0\]/],
    ['{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', 4, /a\.shape\[0\]/],
    ['{"a":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,4]}}', 4, /a\.shape\[0\]/],
    ['{"a":{"dtype":"F32","shape":[1099511627776, 1099511627776],"data_offsets":[0,4]}}', 4, /a\.shape: expected a tensor that fits/],
    ['{"a":{"dtype":"F32","shape":[1]}}', 4, /a\.data_offsets: expected \[begin, end\]/],
    ['{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', 4, /a\.data_offsets/],
    ['{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', 4, /begin <= end/],
    ['{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}', 4, /end between 0 and the data length 4/],
    ['{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}', 4, /begin between/],
    ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 8, /a\.data_offsets: expected 8 bytes for shape \[2\] of F32, got 4 bytes/],
    ['{"__metadata__":{"k":1}}', 0, /__metadata__\.k: expected a string/],
    ['{"__metadata__":[]}', 0, /__metadata__: expected an object/],
  ];
  for (const [header, dataBytes, pattern] of cases) throwsTyped(() => readSafetensors(handMade(header, dataBytes)), FormatError, pattern);
});

test("unsupported dtypes are UnsupportedError naming the dtype and the tensor", () => {
  for (const dtype of ["I64", "F8_E4M3", "BOOL", "F64", "U8"]) {
    const header = `{"ids":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,8]}}`;
    throwsTyped(() => readSafetensors(handMade(header, 8), "m.safetensors"), UnsupportedError, new RegExp(`m\\.safetensors: ids\\.dtype: expected F32, F16 or BF16, got "${dtype}"`));
  }
  throwsTyped(() => readSafetensors(handMade('{"x":{"dtype":"F17","shape":[1],"data_offsets":[0,2]}}', 2)), UnsupportedError, /not a dtype the safetensors format defines/);
});

test("data must be covered exactly: overlaps, holes and trailing bytes are refused", () => {
  const overlap = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  throwsTyped(() => readSafetensors(handMade(overlap, 8)), FormatError, /b\.data_offsets: .*an overlap/);
  const duplicateRange = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  throwsTyped(() => readSafetensors(handMade(duplicateRange, 4)), FormatError, /overlap/);
  const hole = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
  throwsTyped(() => readSafetensors(handMade(hole, 12)), FormatError, /b\.data_offsets: .*a hole: begin 8/);
  const leadingHole = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  throwsTyped(() => readSafetensors(handMade(leadingHole, 8)), FormatError, /a hole/);
  const trailing = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  throwsTyped(() => readSafetensors(handMade(trailing, 6)), FormatError, /2 bytes after a that no tensor owns/);
  const zeroInside = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}';
  throwsTyped(() => readSafetensors(handMade(zeroInside, 8)), FormatError, /z\.data_offsets/);
  // A JSON key given twice: JSON.parse keeps the last entry, so the first one's bytes become a hole.
  const duplicateKey = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  throwsTyped(() => readSafetensors(handMade(duplicateKey, 8)), FormatError, /hole/);
});

test("every truncation of a valid file is a FormatError, never a RangeError", () => {
  const bytes = writeSafetensors([
    { name: "a", dtype: "F32", shape: [3], data: f32Bytes([1, 2, 3]) },
    { name: "b", dtype: "BF16", shape: [2], data: new Uint8Array(4) },
  ]);
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(() => readSafetensors(bytes.subarray(0, length)), (e: unknown) => e instanceof FormatError, `length ${length}`);
  }
});

test("writer refuses inconsistent input with InputError", () => {
  const t = (name: string, shape: number[], bytes: number, dtype = "F32") => ({ name, dtype: dtype as "F32", shape, data: new Uint8Array(bytes) });
  throwsTyped(() => writeSafetensors([t("a", [2], 4)]), InputError, /a\.data: expected 8 bytes/);
  throwsTyped(() => writeSafetensors([t("a", [1], 4), t("a", [1], 4)]), InputError, /unique tensor name/);
  throwsTyped(() => writeSafetensors([t("__metadata__", [1], 4)]), InputError, /__metadata__/);
  throwsTyped(() => writeSafetensors([t("a", [1], 8, "I64")]), InputError, /dtype F32, F16 or BF16/);
  throwsTyped(() => writeSafetensors([t("a", [-1], 0)]), InputError, /non-negative integers/);
});

test("index: tensor to shard map; shards must be plain file names", () => {
  const text = JSON.stringify({ metadata: { total_size: 10 }, weight_map: { "a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors" } });
  const map = readSafetensorsIndex(text);
  assert.equal([...map], [["a.weight", "model-00001-of-00002.safetensors"], ["b.weight", "model-00002-of-00002.safetensors"]]);
  for (const shard of ["../x.safetensors", "sub/x.safetensors", "sub\\x.safetensors", "", "..", ".", "/etc/passwd"]) {
    throwsTyped(() => readSafetensorsIndex(JSON.stringify({ weight_map: { w: shard } }), "idx.json"), FormatError, /idx\.json: weight_map\.w: expected a plain file name/);
  }
  throwsTyped(() => readSafetensorsIndex(JSON.stringify({ weight_map: { w: 3 } })), FormatError, /weight_map\.w: expected a shard file name/);
  throwsTyped(() => readSafetensorsIndex(JSON.stringify({ metadata: {} })), FormatError, /weight_map: expected an object/);
  throwsTyped(() => readSafetensorsIndex("[1]"), FormatError, /expected a JSON object/);
  throwsTyped(() => readSafetensorsIndex("{"), FormatError, /model\.safetensors\.index\.json: JSON: expected valid JSON/);
});

// The reference implementation (Python safetensors package) as an independent oracle, when installed.
const python = spawnSync("python3", ["-c", "import safetensors.numpy, numpy"], { encoding: "utf8" });
const pythonMissing = python.error !== undefined ? "python3 is not on PATH" : python.status !== 0 ? `python3 cannot import safetensors and numpy (${python.stderr.trim().split("\n").at(-1)})` : undefined;

test("cross-check with the reference safetensors implementation", () => {
  if (pythonMissing !== undefined) {
    console.log(`  skip: reference safetensors cross-check: ${pythonMissing}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-st-"));
  try {
    const ours = join(dir, "ours.safetensors");
    const theirs = join(dir, "theirs.safetensors");
    writeFileSync(ours, writeSafetensors(
      [
        { name: "w", dtype: "F32", shape: [2, 3], data: f32Bytes([1, -2, 3.5, 0.25, -0.125, 6]) },
        { name: "s", dtype: "F16", shape: [], data: new Uint8Array([0x00, 0x3c]) },
        { name: "z", dtype: "F32", shape: [0, 5], data: new Uint8Array(0) },
      ],
      { format: "pt", who: "ffnskip" },
    ));
    const script = `
import json, sys, numpy as np
from safetensors.numpy import load_file, save_file
from safetensors import safe_open
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], "np") as f:
    meta = f.metadata()
print(json.dumps({k: {"shape": list(v.shape), "dtype": str(v.dtype), "values": v.astype(np.float64).ravel().tolist()} for k, v in t.items()} | {"__metadata__": meta}))
save_file({"big": np.arange(12, dtype=np.float32).reshape(3, 4), "half": np.array([0.5, -2], dtype=np.float16), "one": np.array(7, dtype=np.float32)}, sys.argv[2], metadata={"format": "np"})
`;
    const run = spawnSync("python3", ["-c", script, ours, theirs], { encoding: "utf8" });
    assert.is(run.status, 0, run.stderr);
    const seen = JSON.parse(run.stdout);
    assert.equal(seen.w, { shape: [2, 3], dtype: "float32", values: [1, -2, 3.5, 0.25, -0.125, 6] });
    assert.equal(seen.s, { shape: [], dtype: "float16", values: [1] });
    assert.equal(seen.z, { shape: [0, 5], dtype: "float32", values: [] });
    assert.equal(seen.__metadata__, { format: "pt", who: "ffnskip" });

    const bytes = new Uint8Array(readFileSync(theirs));
    const file = readSafetensors(bytes, theirs);
    assert.equal(file.metadata, { format: "np" });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const get = (name: string) => file.tensors.find((t) => t.name === name)!;
    const big = get("big");
    assert.equal([big.dtype, [...big.shape]], ["F32", [3, 4]]);
    assert.equal(Array.from({ length: 12 }, (_, i) => view.getFloat32(big.offset + 4 * i, true)), Array.from({ length: 12 }, (_, i) => i));
    assert.equal([get("half").dtype, [...get("half").shape], view.getUint16(get("half").offset, true)], ["F16", [2], 0x3800]);
    assert.equal([[...get("one").shape], view.getFloat32(get("one").offset, true)], [[], 7]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
