// The kernel table the model graph calls: the WASM SIMD build (kernels/*.ts) or its plain-TS twin
// (src/reference/kernels.ts), both working on byte addresses in one WebAssembly.Memory. Contracts (shapes,
// layouts, aliasing) are in the kernel sources; each entry below names its source file.

import { ResourceError } from "../errors.js";
import * as binaries from "./kernels-wasm.generated.js";

/** A byte address in the kernels' linear memory. */
export type Ptr = number;

export interface Kernels {
  // kernels/matvec.ts: out f32[rows] = W[rows x cols] · x f32[cols]
  matvec_f32(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void;
  matvec_f16(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void;
  matvec_bf16(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void;
  matvec_q8_0(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void;
  matvec_q4_0(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void;
  matvec_q4_1(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void;
  // kernels/matvec.ts: out f32[cols] = one row expanded
  dequant_row_f32(out: Ptr, w: Ptr, cols: number): void;
  dequant_row_f16(out: Ptr, w: Ptr, cols: number): void;
  dequant_row_bf16(out: Ptr, w: Ptr, cols: number): void;
  dequant_row_q8_0(out: Ptr, w: Ptr, cols: number): void;
  dequant_row_q4_0(out: Ptr, w: Ptr, cols: number): void;
  dequant_row_q4_1(out: Ptr, w: Ptr, cols: number): void;
  // kernels/matmul.ts: out f32[n][outStride] (first rows columns) = W · x f32[n][cols]; scratch f32[4 * cols]
  matmul_f32(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, scratch: Ptr, outStride: number): void;
  matmul_f16(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, scratch: Ptr, outStride: number): void;
  matmul_bf16(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, scratch: Ptr, outStride: number): void;
  matmul_q8_0(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, scratch: Ptr, outStride: number): void;
  matmul_q4_0(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, scratch: Ptr, outStride: number): void;
  matmul_q4_1(out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, scratch: Ptr, outStride: number): void;
  // kernels/qmatmul.ts: int16 activations x 4-row weight tiles (decode n = 1, prefill n > 1)
  quantize_q16(x: Ptr, qx: Ptr, dx: Ptr, px: Ptr, cols: number, n: number): void;
  matmul_q4_1x4(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, tile0: number, tile1: number, outStride: number): void;
  matmul_q4_0x4(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, tile0: number, tile1: number, outStride: number): void;
  matmul_q8_0x4(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, tile0: number, tile1: number, outStride: number): void;
  dequant_row_q4_1x4(out: Ptr, w: Ptr, row: number, cols: number): void;
  dequant_row_q4_0x4(out: Ptr, w: Ptr, row: number, cols: number): void;
  dequant_row_q8_0x4(out: Ptr, w: Ptr, row: number, cols: number): void;
  // kernels/norm.ts
  rmsnorm(out: Ptr, x: Ptr, weight: Ptr, n: number, eps: number): void;
  // kernels/rope.ts (half-split pairs)
  rope(x: Ptr, nHeads: number, headDim: number, cos: Ptr, sin: Ptr): void;
  // kernels/attention.ts
  softmax(x: Ptr, n: number): void;
  attention(out: Ptr, q: Ptr, kCache: Ptr, vCache: Ptr, nHeads: number, nKvHeads: number, headDim: number, kvStride: number, seqLen: number, scores: Ptr, h0: number, h1: number): void;
  attention_f16kv(out: Ptr, q: Ptr, kCache: Ptr, vCache: Ptr, nHeads: number, nKvHeads: number, headDim: number, kvStride: number, seqLen: number, scores: Ptr, h0: number, h1: number): void;
  store_f16(dst: Ptr, src: Ptr, n: number): void;
  // kernels/elementwise.ts
  add(out: Ptr, a: Ptr, b: Ptr, n: number): void;
  swiglu(out: Ptr, gate: Ptr, up: Ptr, n: number): void;
  residual_add_cosine(x: Ptr, f: Ptr, n: number): number;
}

/** Build variants of the kernel module: plain SIMD or relaxed SIMD, unshared or shared (threads) memory. */
export type KernelVariant = "simd" | "relaxed" | "simd-threads" | "relaxed-threads";

const VARIANT_BASE64: Readonly<Record<KernelVariant, string>> = {
  simd: binaries.simd,
  relaxed: binaries.relaxed,
  "simd-threads": binaries.simdThreads,
  "relaxed-threads": binaries.relaxedThreads,
};

export function variantBytes(variant: KernelVariant): Uint8Array<ArrayBuffer> {
  const text = atob(VARIANT_BASE64[variant]);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** What kernels/qmatmul.ts kernel_selftest() returns on a correct engine. */
const SELFTEST_ANSWER = 440769;

/**
 * The best variant this runtime runs correctly: relaxed SIMD when it validates and passes the dot-product self-test
 * (some engines shipped a wrong relaxed dot), else plain SIMD; null without SIMD.
 */
export async function pickVariant(threads: boolean): Promise<KernelVariant | null> {
  const candidates: KernelVariant[] = threads ? ["relaxed-threads", "simd-threads"] : ["relaxed", "simd"];
  for (const variant of candidates) {
    const bytes = variantBytes(variant);
    if (!WebAssembly.validate(bytes)) continue;
    try {
      const memory = threads ? new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }) : new WebAssembly.Memory({ initial: 1 });
      const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
      if ((instance.exports as { kernel_selftest(): number }).kernel_selftest() === SELFTEST_ANSWER) return variant;
    } catch {
      // Compiling from bytes may be forbidden (Workers): such hosts pass their own module and variant.
    }
  }
  return null;
}

export interface KernelInstance {
  readonly kernels: Kernels;
  /** First address the host may allocate from. */
  readonly heapBase: number;
}

/**
 * Instantiates the kernel module on `memory`. `module` lets hosts that forbid compiling bytes at run time
 * (Cloudflare Workers) pass a module compiled at deploy time.
 */
export async function instantiateKernels(memory: WebAssembly.Memory, variant: KernelVariant, module?: WebAssembly.Module): Promise<KernelInstance> {
  let compiled = module;
  if (compiled === undefined) {
    try {
      compiled = await WebAssembly.compile(variantBytes(variant));
    } catch (error) {
      throw new ResourceError({
        file: `kernels.${variant}.wasm`, field: "WebAssembly.compile", expected: "a runtime that compiles WASM SIMD",
        actual: error instanceof Error ? error.message : String(error),
        detail: "hosts that forbid run-time compilation must pass a precompiled module",
      });
    }
  }
  const instance = await WebAssembly.instantiate(compiled, { env: { memory } });
  const exports = instance.exports as unknown as Kernels & { heap_base(): number; kernel_selftest?: () => number };
  if (typeof exports.kernel_selftest !== "function" || exports.kernel_selftest() !== SELFTEST_ANSWER) {
    throw new ResourceError({ file: `kernels.${variant}.wasm`, field: "kernel_selftest", expected: String(SELFTEST_ANSWER), actual: typeof exports.kernel_selftest === "function" ? String(exports.kernel_selftest()) : "missing", detail: "this engine computes the kernel's integer dot product wrongly, or the module is not ffnskip's" });
  }
  return { kernels: exports, heapBase: exports.heap_base() };
}
