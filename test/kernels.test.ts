// Every WASM SIMD kernel against its plain-TS twin, at awkward sizes, over several random draws.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type DType, DTYPES } from "../src/io/dtype.js";
import { f32ToBf16, f32ToF16, quantize } from "../src/reference/quant.js";
import { createReferenceKernels } from "../src/reference/kernels.js";
import { Arena, createMemory } from "../src/runtime/arena.js";
import { instantiateKernels, pickVariant, type Kernels } from "../src/runtime/kernels.js";
import { mulberry32, randomF32 } from "./helpers/rng.js";

const variant = pickVariant(false);
if (variant === null) throw new Error("this runtime has no WASM SIMD");
const memory = createMemory(64 << 20, false);
const { kernels: simd, heapBase } = await instantiateKernels(memory, variant);
const twin = createReferenceKernels(memory);
const FLOAT_SIZES = [1, 3, 17, 4096 + 3];
const BLOCK_COLS = [32, 96, 544, 4096 + 32];
const ITERATIONS = 3;

function freshArena(): Arena {
  return new Arena(memory, heapBase);
}

function put(arena: Arena, values: Float32Array | Uint8Array, what: string): number {
  const ptr = arena.alloc(values.byteLength, what);
  new Uint8Array(memory.buffer, ptr, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return ptr;
}

/** Asserts |a - b| <= tol[i] elementwise, with a message naming the case. */
function assertClose(actual: Float32Array, expected: Float32Array, tolerance: (i: number) => number, label: string): void {
  assert.is(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (!(diff <= tolerance(i))) assert.unreachable(`${label}: element ${i}: simd ${actual[i]} vs twin ${expected[i]} (diff ${diff}, tol ${tolerance(i)})`);
  }
}

function encodeWeights(dtype: DType, values: Float32Array): Uint8Array {
  const info = DTYPES[dtype];
  const out = new Uint8Array((values.length / info.blockValues) * info.blockBytes);
  const view = new DataView(out.buffer);
  if (dtype === "F32") new Float32Array(out.buffer).set(values);
  else if (dtype === "F16") values.forEach((v, i) => view.setUint16(2 * i, f32ToF16(v), true));
  else if (dtype === "BF16") values.forEach((v, i) => view.setUint16(2 * i, f32ToBf16(v), true));
  else quantize(dtype, values, out);
  return out;
}

const matvecSuite = suite("matvec / matmul / dequant_row");
const ALL: DType[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1"];
for (const dtype of ALL) {
  const colsList = DTYPES[dtype].blockValues === 1 ? FLOAT_SIZES : BLOCK_COLS;
  const name = dtype.toLowerCase();
  matvecSuite(`${dtype}: SIMD equals the twin`, () => {
    const rand = mulberry32(1234);
    for (let it = 0; it < ITERATIONS; it++) {
      for (const rows of [1, 3, 17]) {
        for (const cols of colsList) {
          const arena = freshArena();
          const wValues = randomF32(rand, rows * cols, 0.5);
          const w = put(arena, encodeWeights(dtype, wValues), "w");
          const xValues = randomF32(rand, cols * 5);
          const x = put(arena, xValues, "x");
          const outA = arena.alloc(Math.max(rows * 5, cols) * 4, "outA");
          const outB = arena.alloc(Math.max(rows * 5, cols) * 4, "outB");
          const scratch = arena.alloc(4 * cols * 4, "scratch");
          // Error bound: the f32 rounding of a dot product grows with Σ|w x|; weights are below 0.5+eps.
          const bound = (t: number) => (r: number) => {
            let s = 0;
            for (let c = 0; c < cols; c++) s += Math.abs(xValues[t * cols + c]!);
            return 1e-6 * s + 1e-6;
          };
          const k = (kernels: Kernels, op: string) => (kernels as unknown as Record<string, (...a: number[]) => void>)[`${op}_${name}`]!;
          k(simd, "matvec")(outA, w, x, rows, cols);
          k(twin, "matvec")(outB, w, x, rows, cols);
          assertClose(arena.f32(outA, rows), arena.f32(outB, rows), bound(0), `matvec_${name} ${rows}x${cols}`);
          k(simd, "matmul")(outA, w, x, rows, cols, 5, scratch);
          k(twin, "matmul")(outB, w, x, rows, cols, 5, scratch);
          for (let t = 0; t < 5; t++) {
            assertClose(arena.f32(outA + t * rows * 4, rows), arena.f32(outB + t * rows * 4, rows), bound(t), `matmul_${name} ${rows}x${cols} token ${t}`);
          }
          const rowBytes = (cols / DTYPES[dtype].blockValues) * DTYPES[dtype].blockBytes;
          k(simd, "dequant_row")(outA, w + (rows - 1) * rowBytes, cols);
          k(twin, "dequant_row")(outB, w + (rows - 1) * rowBytes, cols);
          assertClose(arena.f32(outA, cols), arena.f32(outB, cols), () => 0, `dequant_row_${name} ${cols}`);
        }
      }
    }
  });
}
matvecSuite.run();

const other = suite("norm, rope, softmax, attention, elementwise");

other("rmsnorm (also in place)", () => {
  const rand = mulberry32(7);
  for (let it = 0; it < ITERATIONS; it++) {
    for (const n of FLOAT_SIZES) {
      const arena = freshArena();
      const xv = randomF32(rand, n, 3);
      const x = put(arena, xv, "x");
      const w = put(arena, randomF32(rand, n, 2), "w");
      const a = arena.alloc(n * 4, "a");
      const b = arena.alloc(n * 4, "b");
      simd.rmsnorm(a, x, w, n, 1e-5);
      twin.rmsnorm(b, x, w, n, 1e-5);
      assertClose(arena.f32(a, n), arena.f32(b, n), (i) => 1e-5 * Math.abs(arena.f32(b, n)[i]!) + 1e-6, `rmsnorm ${n}`);
      simd.rmsnorm(x, x, w, n, 1e-5);
      assertClose(arena.f32(x, n), arena.f32(a, n), () => 0, `rmsnorm in place ${n}`);
    }
  }
});

other("rope (half-split pairs)", () => {
  const rand = mulberry32(8);
  for (let it = 0; it < ITERATIONS; it++) {
    for (const headDim of [2, 6, 34, 64, 128]) {
      for (const nHeads of [1, 3, 9]) {
        const arena = freshArena();
        const xv = randomF32(rand, nHeads * headDim, 2);
        const angles = randomF32(rand, headDim / 2, 100);
        const cos = put(arena, angles.map(Math.cos), "cos");
        const sin = put(arena, angles.map(Math.sin), "sin");
        const a = put(arena, xv, "a");
        const b = put(arena, xv, "b");
        simd.rope(a, nHeads, headDim, cos, sin);
        twin.rope(b, nHeads, headDim, cos, sin);
        assertClose(arena.f32(a, xv.length), arena.f32(b, xv.length), () => 2e-6, `rope ${nHeads}x${headDim}`);
        // A rotation keeps each pair's length.
        const out = arena.f32(a, xv.length);
        const half = headDim / 2;
        for (let h = 0; h < nHeads; h++) {
          for (let i = 0; i < half; i++) {
            const p = h * headDim + i;
            const before = Math.hypot(xv[p]!, xv[p + half]!);
            const after = Math.hypot(out[p]!, out[p + half]!);
            assert.ok(Math.abs(before - after) <= 1e-5 * (1 + before), "rotation preserves length");
          }
        }
      }
    }
  }
});

other("softmax (sums to one, matches the twin, handles large and tiny inputs)", () => {
  const rand = mulberry32(9);
  for (let it = 0; it < ITERATIONS; it++) {
    for (const n of FLOAT_SIZES) {
      const arena = freshArena();
      const xv = randomF32(rand, n, it === 2 ? 80 : 10);
      const a = put(arena, xv, "a");
      const b = put(arena, xv, "b");
      simd.softmax(a, n);
      twin.softmax(b, n);
      assertClose(arena.f32(a, n), arena.f32(b, n), (i) => 2e-6 * arena.f32(b, n)[i]! + 1e-9, `softmax ${n}`);
      const sum = arena.f32(a, n).reduce((s, v) => s + v, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `softmax ${n} sums to ${sum}`);
    }
  }
});

other("attention (GQA, several lengths, head ranges)", () => {
  const rand = mulberry32(10);
  const shapes = [
    { nHeads: 1, nKvHeads: 1, headDim: 3 },
    { nHeads: 4, nKvHeads: 2, headDim: 16 },
    { nHeads: 9, nKvHeads: 3, headDim: 64 },
  ];
  for (let it = 0; it < ITERATIONS; it++) {
    for (const { nHeads, nKvHeads, headDim } of shapes) {
      for (const seqLen of [1, 3, 17, 300]) {
        const arena = freshArena();
        const kvStride = nKvHeads * headDim + 5; // a padded row stride must work too
        const q = put(arena, randomF32(rand, nHeads * headDim, 2), "q");
        const k = put(arena, randomF32(rand, seqLen * kvStride, 2), "k");
        const v = put(arena, randomF32(rand, seqLen * kvStride, 1), "v");
        const scores = arena.alloc(nHeads * seqLen * 4, "scores");
        const a = arena.alloc(nHeads * headDim * 4, "a");
        const b = arena.alloc(nHeads * headDim * 4, "b");
        simd.attention(a, q, k, v, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, 0, nHeads);
        twin.attention(b, q, k, v, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, 0, nHeads);
        assertClose(arena.f32(a, nHeads * headDim), arena.f32(b, nHeads * headDim), () => 1e-5, `attention ${nHeads}/${nKvHeads}x${headDim} len ${seqLen}`);
        // Computing heads in two ranges gives the same result as all at once.
        const c = arena.alloc(nHeads * headDim * 4, "c");
        const split = Math.floor(nHeads / 2);
        simd.attention(c, q, k, v, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, 0, split);
        simd.attention(c, q, k, v, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, split, nHeads);
        assertClose(arena.f32(c, nHeads * headDim), arena.f32(a, nHeads * headDim), () => 0, "attention head ranges");
      }
    }
  }
});

other("add, swiglu, residual_add_cosine", () => {
  const rand = mulberry32(11);
  for (let it = 0; it < ITERATIONS; it++) {
    for (const n of FLOAT_SIZES) {
      const arena = freshArena();
      const av = randomF32(rand, n, 4);
      const bv = randomF32(rand, n, it === 1 ? 60 : 4);
      const a = put(arena, av, "a");
      const b = put(arena, bv, "b");
      const outA = arena.alloc(n * 4, "outA");
      const outB = arena.alloc(n * 4, "outB");
      simd.add(outA, a, b, n);
      twin.add(outB, a, b, n);
      assertClose(arena.f32(outA, n), arena.f32(outB, n), () => 0, `add ${n}`);
      simd.swiglu(outA, b, a, n);
      twin.swiglu(outB, b, a, n);
      assertClose(arena.f32(outA, n), arena.f32(outB, n), (i) => 1e-6 * Math.abs(arena.f32(outB, n)[i]!) + 1e-7, `swiglu ${n}`);
      const xa = put(arena, av, "xa");
      const xb = put(arena, av, "xb");
      const cosA = simd.residual_add_cosine(xa, b, n);
      const cosB = twin.residual_add_cosine(xb, b, n);
      assertClose(arena.f32(xa, n), arena.f32(xb, n), () => 0, `residual add ${n}`);
      assert.ok(Math.abs(cosA - cosB) < 1e-5, `cosine ${n}: ${cosA} vs ${cosB}`);
      assert.ok(cosA >= -1 - 1e-6 && cosA <= 1 + 1e-6);
    }
  }
  const arena = freshArena();
  const zeros = put(arena, new Float32Array(5), "zeros");
  const f = put(arena, new Float32Array([1, 2, 3, 4, 5]), "f");
  assert.is(simd.residual_add_cosine(zeros, f, 5), 0, "zero input has no similarity");
  const same = put(arena, new Float32Array([1, -2, 3, 0.5, 7]), "same");
  const none = put(arena, new Float32Array(5), "none");
  assert.ok(Math.abs(simd.residual_add_cosine(same, none, 5) - 1) < 1e-6, "an FFN that adds nothing has similarity 1");
});
other.run();
