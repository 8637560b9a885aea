// Every WASM SIMD kernel against its plain-TS twin, at awkward sizes, over several random draws.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type DType, DTYPES } from "../src/io/dtype.js";
import { f32ToBf16, f32ToF16, quantize } from "../src/reference/quant.js";
import { type BlockDType, randomBlocks } from "./helpers/quant-blocks.js";
import { createReferenceKernels } from "../src/reference/kernels.js";
import { Arena, createMemory } from "../src/runtime/arena.js";
import { instantiateKernels, pickVariant, type Kernels } from "../src/runtime/kernels.js";
import { repackToTiles, TILE_BLOCK_BYTES, type TiledDType } from "../src/runtime/tiles.js";
import { mulberry32, randomF32 } from "./helpers/rng.js";

const variant = await pickVariant(false);
if (variant === null) throw new Error("this runtime has no WASM SIMD");
const memory = createMemory(64 << 20, false);
const { kernels: simd, heapBase } = await instantiateKernels(memory, variant);
const twin = createReferenceKernels(memory);
const FLOAT_SIZES = [1, 3, 17, 4096 + 3];
const BLOCK_COLS = [32, 96, 544, 4096 + 32];
const SUPER_BLOCK_COLS = [256, 768, 17 * 256, 4096 + 256];
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
  else quantize(dtype as "Q8_0" | "Q4_0" | "Q4_1", values, out);
  return out;
}

const matvecSuite = suite("matvec / matmul / dequant_row");
const ALL = Object.keys(DTYPES) as DType[];
/** Formats our quantizer writes from values; the others get random blocks (test/helpers/quant-blocks.ts). */
const QUANTIZED_FROM_VALUES: readonly DType[] = ["Q8_0", "Q4_0", "Q4_1"];
for (const dtype of ALL) {
  const blockValues = DTYPES[dtype].blockValues;
  const colsList = blockValues === 1 ? FLOAT_SIZES : blockValues === 32 ? BLOCK_COLS : SUPER_BLOCK_COLS;
  const name = dtype.toLowerCase();
  matvecSuite(`${dtype}: SIMD equals the twin`, () => {
    const rand = mulberry32(1234);
    for (let it = 0; it < ITERATIONS; it++) {
      for (const rows of [1, 3, 17]) {
        for (const cols of colsList) {
          const arena = freshArena();
          const stored = blockValues === 1 || QUANTIZED_FROM_VALUES.includes(dtype)
            ? encodeWeights(dtype, randomF32(rand, rows * cols, 0.5))
            : randomBlocks(dtype as BlockDType, (rows * cols) / blockValues, rand, 0.5);
          const w = put(arena, stored, "w");
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
          const stride = rows + 3; // a wider output row: only the first `rows` columns are written
          const outC = arena.alloc(5 * stride * 4, "outC"), outD = arena.alloc(5 * stride * 4, "outD");
          k(simd, "matmul")(outC, w, x, rows, cols, 5, scratch, stride);
          k(twin, "matmul")(outD, w, x, rows, cols, 5, scratch, stride);
          for (let t = 0; t < 5; t++) {
            assertClose(arena.f32(outC + t * stride * 4, rows), arena.f32(outD + t * stride * 4, rows), bound(t), `matmul_${name} ${rows}x${cols} token ${t}`);
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

const tiled = suite("int16 activations x 4-row tiles");

tiled("quantize_q16: identical to the twin (values, scales, sums), |q| <= 32767, and q * d approximates x", () => {
  const rand = mulberry32(31);
  const ORDER = [0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 16, 18, 20, 22, 24, 26, 28, 30, 17, 19, 21, 23, 25, 27, 29, 31];
  for (let it = 0; it < ITERATIONS; it++) {
    for (const cols of BLOCK_COLS) {
      for (const n of [1, 3]) {
        const arena = freshArena();
        const xv = randomF32(rand, n * cols, it === 2 ? 1e-3 : 5);
        if (it === 1) xv.fill(0, 0, 32); // an all-zero block
        const x = put(arena, xv, "x");
        const blocks = (n * cols) / 32;
        const qa = arena.alloc(2 * n * cols, "qa"), qb = arena.alloc(2 * n * cols, "qb");
        const da = arena.alloc(blocks * 4, "da"), db = arena.alloc(blocks * 4, "db");
        const pa = arena.alloc(blocks * 4, "pa"), pb = arena.alloc(blocks * 4, "pb");
        simd.quantize_q16(x, qa, da, pa, cols, n);
        twin.quantize_q16(x, qb, db, pb, cols, n);
        assert.equal(Array.from(new Int16Array(memory.buffer, qa, n * cols)), Array.from(new Int16Array(memory.buffer, qb, n * cols)), `qx ${cols}x${n}`);
        assert.equal(Array.from(arena.f32(da, blocks)), Array.from(arena.f32(db, blocks)), "dx");
        assert.equal(Array.from(arena.f32(pa, blocks)), Array.from(arena.f32(pb, blocks)), "px");
        const q = new Int16Array(memory.buffer, qa, n * cols);
        const d = arena.f32(da, blocks);
        for (let i = 0; i < n * cols; i++) {
          const b = Math.floor(i / 32);
          const v = q[b * 32 + ORDER.indexOf(i % 32)]!; // element i of x, from the deinterleaved block
          assert.ok(Math.abs(v) <= 32767);
          // Half a step, plus the f32 rounding of 1/d scaled by |q| <= 32767 (32767 * 2^-23 < 0.004 steps).
          assert.ok(Math.abs(v * d[b]! - xv[i]!) <= d[b]! * 0.504 + 1e-12, `quantization error within half a step: x ${xv[i]} q ${v} d ${d[b]}`);
        }
      }
    }
  }
});

for (const dtype of ["Q4_1", "Q4_0", "Q8_0"] as TiledDType[]) {
  const name = dtype.toLowerCase();
  tiled(`${dtype} tiles: matmul equals the twin, tile ranges compose, dequant_row matches the row layout`, () => {
    const rand = mulberry32(77);
    for (let it = 0; it < ITERATIONS; it++) {
      for (const rows of [4, 12, 68]) {
        for (const cols of BLOCK_COLS) {
          for (const n of [1, 3, 4]) {
            const arena = freshArena();
            const stored = encodeWeights(dtype, randomF32(rand, rows * cols, 0.5));
            const tiles = new Uint8Array((rows / 4) * (cols / 32) * TILE_BLOCK_BYTES[dtype]);
            repackToTiles(dtype, stored, rows, cols, tiles);
            const wRows = put(arena, stored, "rows");
            const w = put(arena, tiles, "tiles");
            const x = put(arena, randomF32(rand, n * cols, 3), "x");
            const blocks = (n * cols) / 32;
            const qx = arena.alloc(2 * n * cols, "qx"), dx = arena.alloc(blocks * 4, "dx"), px = arena.alloc(blocks * 4, "px");
            simd.quantize_q16(x, qx, dx, px, cols, n);
            const outA = arena.alloc(Math.max(n * rows, cols) * 4, "outA"), outB = arena.alloc(Math.max(n * rows, cols) * 4, "outB");
            const k = (kernels: Kernels, op: string) => (kernels as unknown as Record<string, (...a: number[]) => void>)[op]!;
            k(simd, `matmul_${name}x4`)(outA, w, qx, dx, px, rows, cols, n, 0, rows / 4, rows);
            k(twin, `matmul_${name}x4`)(outB, w, qx, dx, px, rows, cols, n, 0, rows / 4, rows);
            const expected = arena.f32(outB, n * rows);
            assertClose(arena.f32(outA, n * rows), expected, (i) => 2e-6 * Math.abs(expected[i]!) + 2e-5 * Math.sqrt(cols / 32), `matmul_${name}x4 ${rows}x${cols} n=${n}`);
            // Each token's row is bit-identical whether computed alone (decode) or in a batch (prefill pairs tokens).
            const single = arena.alloc(rows * 4, "single");
            for (let t = 0; t < n; t++) {
              k(simd, `matmul_${name}x4`)(single, w, qx + t * cols * 2, dx + t * (cols / 32) * 4, px + t * (cols / 32) * 4, rows, cols, 1, 0, rows / 4, rows);
              assertClose(arena.f32(single, rows), arena.f32(outA + t * rows * 4, rows), () => 0, `token ${t} alone vs in a batch of ${n}`);
            }
            // Two tile ranges into a wider output row give the same columns as one call.
            const stride = rows + 8;
            const outC = arena.alloc(n * stride * 4, "outC");
            const split = Math.floor(rows / 8);
            k(simd, `matmul_${name}x4`)(outC, w, qx, dx, px, rows, cols, n, 0, split, stride);
            k(simd, `matmul_${name}x4`)(outC, w, qx, dx, px, rows, cols, n, split, rows / 4, stride);
            for (let t = 0; t < n; t++) assertClose(arena.f32(outC + t * stride * 4, rows), arena.f32(outA + t * rows * 4, rows), () => 0, "tile ranges");
            const row = rows - 3;
            const rowBytes = (cols / 32) * DTYPES[dtype].blockBytes;
            k(simd, `dequant_row_${name}x4`)(outA, w, row, cols);
            k(simd, `dequant_row_${name}`)(outB, wRows + row * rowBytes, cols);
            assertClose(arena.f32(outA, cols), arena.f32(outB, cols), () => 0, `dequant_row_${name}x4`);
            k(twin, `dequant_row_${name}x4`)(outA, w, row, cols);
            assertClose(arena.f32(outA, cols), arena.f32(outB, cols), () => 0, `twin dequant_row_${name}x4`);
          }
        }
      }
    }
  });
}
for (const dtype of ["Q5_0", "Q4_K", "Q6_K"] as const) {
  const name = dtype.toLowerCase();
  tiled(`${dtype} rows x int16 activations (matvec_q16_${name}): equals the twin on the same quantized activations`, () => {
    const rand = mulberry32(4321);
    const blockValues = DTYPES[dtype].blockValues;
    for (let it = 0; it < ITERATIONS; it++) {
      for (const rows of [1, 3, 17]) {
        for (const cols of blockValues === 32 ? BLOCK_COLS : SUPER_BLOCK_COLS) {
          const arena = freshArena();
          const stored = randomBlocks(dtype, (rows * cols) / blockValues, rand, 0.5);
          const w = put(arena, stored, "w");
          const x = put(arena, randomF32(rand, cols, 3), "x");
          const qx = arena.alloc(2 * cols, "qx"), dx = arena.alloc(cols / 8, "dx"), px = arena.alloc(cols / 8, "px");
          simd.quantize_q16(x, qx, dx, px, cols, 1);
          const outA = arena.alloc(rows * 4, "outA"), outB = arena.alloc(rows * 4, "outB");
          const k = (kernels: Kernels) => (kernels as unknown as Record<string, (...a: number[]) => void>)[`matvec_q16_${name}`]!;
          k(simd)(outA, w, qx, dx, px, rows, cols);
          k(twin)(outB, w, qx, dx, px, rows, cols);
          // The integer sums are exact; only the f32 epilogue rounds: bounded by Σ |w x| (weights below 0.5).
          let l1 = 0;
          for (const v of arena.f32(x, cols)) l1 += 0.5 * Math.abs(v);
          assertClose(arena.f32(outA, rows), arena.f32(outB, rows), () => 2e-6 * l1 + 1e-6, `matvec_q16_${name} ${rows}x${cols}`);
        }
      }
    }
  });
}
tiled("the relaxed-SIMD build gives bit-identical results to the plain SIMD build", async () => {
  // Node 20 has relaxed SIMD only behind a flag, and its dot-add is wrong there (the self-test refuses it), so the
  // builds are compared under Deno's newer V8, on a bundle of the comparison script.
  const { execFileSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { build } = await import("esbuild");
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-builds-"));
  try {
    const bundle = join(dir, "builds-agree.mjs");
    await build({ entryPoints: [fileURLToPath(new URL("./helpers/builds-agree.ts", import.meta.url))], bundle: true, format: "esm", platform: "neutral", outfile: bundle, logLevel: "silent" });
    const deno = fileURLToPath(new URL("../node_modules/.bin/deno", import.meta.url));
    const output = execFileSync(deno, ["run", "--quiet", bundle], { encoding: "utf8" });
    const result = JSON.parse(output) as { relaxedRuns: boolean; problems: string[] };
    assert.ok(result.relaxedRuns, "Deno runs the relaxed build and it passes the self-test");
    assert.equal(result.problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
tiled.run();

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

other("rmsnorm_heads: each head normalized in place by its own RMS, one weight for all (awkward sizes)", () => {
  const rand = mulberry32(71);
  for (let it = 0; it < ITERATIONS; it++) {
    for (const headDim of [1, 3, 17, 24, 128, 130]) {
      for (const nHeads of [0, 1, 5, 16]) {
        const arena = freshArena();
        const n = nHeads * headDim;
        // The heads, then four sentinels the kernel must leave alone.
        const values = new Float32Array([...randomF32(rand, n, 3), 7, 7, 7, 7]);
        for (let h = 0; h < nHeads; h++) values[h * headDim] = (h + 1) * 10; // heads of very different scales
        const a = put(arena, values, "a");
        const b = put(arena, values, "b");
        const w = put(arena, randomF32(rand, headDim, 2), "w");
        simd.rmsnorm_heads(a, w, nHeads, headDim, 1e-6);
        twin.rmsnorm_heads(b, w, nHeads, headDim, 1e-6);
        assertClose(arena.f32(a, n), arena.f32(b, n), (i) => 1e-5 * Math.abs(arena.f32(b, n)[i]!) + 1e-6, `rmsnorm_heads ${nHeads}x${headDim}`);
        // Each head on its own through the one-row kernel gives the same values exactly.
        const rows = put(arena, values, "rows");
        for (let h = 0; h < nHeads; h++) simd.rmsnorm(rows + h * headDim * 4, rows + h * headDim * 4, w, headDim, 1e-6);
        assertClose(arena.f32(a, n), arena.f32(rows, n), () => 0, `rmsnorm_heads ${nHeads}x${headDim} vs rmsnorm per head`);
        assert.equal(Array.from(arena.f32(a + n * 4, 4)), [7, 7, 7, 7], "nothing written past the heads");
      }
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

other("store_f16 rounds like the reference (incl. subnormals, overflow, signed zero); attention_f16kv equals its twin", () => {
  const rand = mulberry32(12);
  const arena = freshArena();
  const special = new Float32Array([0, -0, 1, -1, 65504, 65520, 1e6, -1e6, 6.1e-5, 5.96e-8, 2.98e-8, 3e-8, 1e-9, 0.333333, Infinity, -Infinity, NaN]);
  const values = new Float32Array(special.length + 4096 + 3);
  values.set(special);
  values.set(randomF32(rand, 4096 + 3, 100), special.length);
  const src = put(arena, values, "src");
  const a = arena.alloc(values.length * 2, "a"), b = arena.alloc(values.length * 2, "b");
  simd.store_f16(a, src, values.length);
  twin.store_f16(b, src, values.length);
  assert.equal(Array.from(new Uint16Array(memory.buffer, a, values.length)), Array.from(new Uint16Array(memory.buffer, b, values.length)));
  for (let it = 0; it < ITERATIONS; it++) {
    for (const { nHeads, nKvHeads, headDim } of [{ nHeads: 4, nKvHeads: 2, headDim: 18 }, { nHeads: 9, nKvHeads: 3, headDim: 64 }]) {
      for (const seqLen of [1, 17, 300]) {
        const ar = freshArena();
        const kvStride = nKvHeads * headDim;
        const q = put(ar, randomF32(rand, nHeads * headDim, 2), "q");
        const k32 = put(ar, randomF32(rand, seqLen * kvStride, 2), "k32");
        const v32 = put(ar, randomF32(rand, seqLen * kvStride, 1), "v32");
        const k = ar.alloc(seqLen * kvStride * 2, "k"), v = ar.alloc(seqLen * kvStride * 2, "v");
        simd.store_f16(k, k32, seqLen * kvStride);
        simd.store_f16(v, v32, seqLen * kvStride);
        const scores = ar.alloc(nHeads * seqLen * 4, "scores");
        const outA = ar.alloc(nHeads * headDim * 4, "outA"), outB = ar.alloc(nHeads * headDim * 4, "outB");
        simd.attention_f16kv(outA, q, k, v, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, 0, nHeads);
        twin.attention_f16kv(outB, q, k, v, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, 0, nHeads);
        assertClose(ar.f32(outA, nHeads * headDim), ar.f32(outB, nHeads * headDim), () => 1e-5, `attention_f16kv ${nHeads}/${nKvHeads}x${headDim} len ${seqLen}`);
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
other("scale, geglu (GELU tanh approximation)", () => {
  const rand = mulberry32(12);
  for (let it = 0; it < ITERATIONS; it++) {
    for (const n of FLOAT_SIZES) {
      const arena = freshArena();
      // Gates up to +-60 on one draw: exp(-2u) over- and underflows there.
      const gate = put(arena, randomF32(rand, n, it === 1 ? 60 : 4), "gate");
      const up = put(arena, randomF32(rand, n, 4), "up");
      const outA = arena.alloc(n * 4, "outA");
      const outB = arena.alloc(n * 4, "outB");
      simd.geglu(outA, gate, up, n);
      twin.geglu(outB, gate, up, n);
      assertClose(arena.f32(outA, n), arena.f32(outB, n), (i) => 2e-6 * Math.abs(arena.f32(outB, n)[i]!) + 1e-7, `geglu ${n}`);
      const s = 25.298221281347036;
      simd.scale(outA, gate, s, n);
      twin.scale(outB, gate, s, n);
      assertClose(arena.f32(outA, n), arena.f32(outB, n), () => 0, `scale ${n}`);
      simd.scale(gate, gate, s, n);
      assertClose(arena.f32(gate, n), arena.f32(outB, n), () => 0, `scale in place ${n}`);
    }
  }
  // torch.nn.functional.gelu(x, approximate="tanh") in float32 at these points (an independent oracle for both).
  // Torch's 1 + tanh(u) cancels for negative x (at -3 it is off by 1e-5 relative, 4e-8 absolute), hence the absolute term.
  const xs = new Float32Array([-10, -3, -0.5, 1e-3, 1, 2.5, 10]);
  const torchValues = [-0, -0.0036374330520629883, -0.1542859971523285, 0.0005003989790566266, 0.8411920070648193, 2.4849157333374023, 10];
  const arena = freshArena();
  const x = put(arena, xs, "x");
  const ones = put(arena, new Float32Array(xs.length).fill(1), "ones");
  const out = arena.alloc(xs.length * 4, "out");
  for (const [name, kernels] of [["simd", simd], ["twin", twin]] as const) {
    kernels.geglu(out, x, ones, xs.length);
    assertClose(arena.f32(out, xs.length), new Float32Array(torchValues), (i) => 2e-6 * Math.abs(torchValues[i]!) + 1e-7, `${name} geglu vs torch`);
  }
});
other.run();
