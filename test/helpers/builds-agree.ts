// Runs every tiled kernel in two builds of the kernel module on the same random inputs and prints whether all
// outputs are bit-identical. test/kernels.test.ts bundles this and runs it under Deno, whose V8 has relaxed SIMD.
import { DTYPES } from "../../src/io/dtype.js";
import { repackToTiles, TILE_BLOCK_BYTES, type TiledDType } from "../../src/runtime/tiles.js";
import { quantize } from "../../src/reference/quant.js";
import { Arena, createMemory } from "../../src/runtime/arena.js";
import { instantiateKernels, type KernelVariant, pickVariant } from "../../src/runtime/kernels.js";
import { mulberry32, randomF32 } from "./rng.js";

export async function buildsAgree(a: KernelVariant, b: KernelVariant): Promise<string[]> {
  const memory = createMemory(64 << 20, false);
  const ka = await instantiateKernels(memory, a);
  const kb = await instantiateKernels(memory, b);
  const arena = new Arena(memory, Math.max(ka.heapBase, kb.heapBase));
  const rand = mulberry32(99);
  const problems: string[] = [];
  for (const dtype of ["Q4_1", "Q4_0", "Q8_0"] as TiledDType[]) {
    const rows = 68, cols = 544, n = 3;
    const stored = new Uint8Array((rows * cols / 32) * DTYPES[dtype].blockBytes);
    quantize(dtype, randomF32(rand, rows * cols, 0.5), stored);
    const tiles = new Uint8Array((rows / 4) * (cols / 32) * TILE_BLOCK_BYTES[dtype]);
    repackToTiles(dtype, stored, rows, cols, tiles);
    const w = arena.alloc(tiles.length, "w");
    arena.u8(w, tiles.length).set(tiles);
    const x = arena.alloc(n * cols * 4, "x");
    arena.f32(x, n * cols).set(randomF32(rand, n * cols, 3));
    const outs: Float32Array[] = [];
    for (const k of [ka.kernels, kb.kernels]) {
      const qx = arena.alloc(2 * n * cols, "qx"), dx = arena.alloc(n * cols / 8, "dx"), px = arena.alloc(n * cols / 8, "px");
      k.quantize_q16(x, qx, dx, px, cols, n);
      const out = arena.alloc(n * rows * 4, "out");
      (k as unknown as Record<string, (...args: number[]) => void>)[`matmul_${dtype.toLowerCase()}x4`]!(out, w, qx, dx, px, rows, cols, n, 0, rows / 4, rows);
      outs.push(arena.f32(out, n * rows).slice());
    }
    const differ = outs[0]!.findIndex((v, i) => !Object.is(v, outs[1]![i]));
    if (differ !== -1) problems.push(`${dtype}: element ${differ}: ${a} ${outs[0]![differ]} vs ${b} ${outs[1]![differ]}`);
  }
  return problems;
}

const relaxedRuns = (await pickVariant(false)) === "relaxed";
console.log(JSON.stringify({ relaxedRuns, problems: relaxedRuns ? await buildsAgree("simd", "relaxed") : [] }));
