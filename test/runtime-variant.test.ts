// Which kernel build runs: relaxed SIMD exactly when the engine validates relaxed-SIMD code (by default from
// Node 22 / V8 11.4 on), plain SIMD otherwise, for the unshared and the threaded builds alike.

import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type KernelVariant, pickVariant, variantBytes } from "../src/runtime/kernels.js";

/** (func (param v128) (result v128) local.get 0 local.get 0 <opcode>), opcode a 0xfd-prefixed SIMD instruction. */
function probe(opcode: readonly number[]): Uint8Array<ArrayBuffer> {
  const body = [0x00, 0x20, 0x00, 0x20, 0x00, 0xfd, ...opcode, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7b, 0x01, 0x7b, // type: (v128) -> v128
    0x03, 0x02, 0x01, 0x00, // one function of that type
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
}
const SIMD_PROBE = probe([0x0e]); // i8x16.swizzle
const RELAXED_PROBE = probe([0x80, 0x02]); // i8x16.relaxed_swizzle (0x100)

const variant = suite("kernel build pick");

variant("the probes are well-formed: the plain-SIMD one validates wherever the kernels run", () => {
  assert.ok(WebAssembly.validate(SIMD_PROBE));
  assert.not.ok(WebAssembly.validate(probe([0xff, 0x7f]))); // no such SIMD opcode
});

variant("relaxed SIMD is picked exactly when the engine validates relaxed-SIMD code", async () => {
  const relaxed = WebAssembly.validate(RELAXED_PROBE);
  console.log(`  node ${process.version}: relaxed SIMD ${relaxed ? "validates" : "does not validate"}`);
  assert.is(await pickVariant(false), relaxed ? "relaxed" : "simd");
  assert.is(await pickVariant(true), relaxed ? "relaxed-threads" : "simd-threads");
});

variant("from Node 22 on, relaxed SIMD validates without flags, so the relaxed build is the default", () => {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 22) {
    console.log(`  (skipped: node ${process.version} is older than 22)`);
    return;
  }
  assert.ok(WebAssembly.validate(RELAXED_PROBE), `node ${process.version} rejects relaxed SIMD`);
});

/** The raw payload of section `id` (11 = data) of a wasm binary; empty when absent. */
function section(bytes: Uint8Array, id: number): Uint8Array {
  let p = 8;
  const leb = (): number => {
    let value = 0, shift = 0, byte: number;
    do {
      byte = bytes[p++]!;
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value >>> 0;
  };
  while (p < bytes.length) {
    const sectionId = bytes[p++]!;
    const size = leb();
    if (sectionId === id) return bytes.subarray(p, p + size);
    p += size;
  }
  return new Uint8Array(0);
}

variant("every build carries the same static data (kernel masks), so builds may share one memory", () => {
  // The bench and the build-agreement test instantiate several builds on one memory; each writes its data segments
  // at instantiation, and a build with other bytes at those addresses would corrupt the others' constants.
  const variants: KernelVariant[] = ["simd", "relaxed", "simd-threads", "relaxed-threads"];
  const data = variants.map((v) => section(variantBytes(v), 11));
  assert.ok(data[0]!.length > 0, "the kernels keep some masks in static data");
  for (let i = 1; i < variants.length; i++) assert.equal(data[i], data[0], `${variants[i]} vs simd`);
});

variant.run();
