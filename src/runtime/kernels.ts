// The kernel table the model graph calls: the WASM SIMD build (kernels/*.ts) or its plain-TS twin
// (src/reference/kernels.ts), both working on byte addresses in one WebAssembly.Memory. Contracts (shapes,
// layouts, aliasing) are in the kernel sources; each entry below names its source file.

import { ResourceError } from "../errors.js";
import { type DType, DTYPES } from "../io/dtype.js";
import * as binaries from "./kernels-wasm.generated.js";

/** A byte address in the kernels' linear memory. */
export type Ptr = number;

type Format = Lowercase<DType>;
type MatvecKernel = (out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number) => void;
type DequantRowKernel = (out: Ptr, w: Ptr, cols: number) => void;
export type MatmulKernel = (out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, scratch: Ptr, outStride: number) => void;

/**
 * Three kernels per stored format (kernels/matvec.ts for floats and 32-value blocks, kernels/kquant.ts for
 * K-quants, kernels/matmul.ts):
 *   matvec_<format>:      out f32[rows] = W[rows x cols] · x f32[cols]
 *   dequant_row_<format>: out f32[cols] = one row expanded
 *   matmul_<format>:      out f32[n][outStride] (first rows columns) = W · x f32[n][cols]; scratch f32[4 * cols]
 */
export type FormatKernels = { [F in Format as `matvec_${F}`]: MatvecKernel } & { [F in Format as `dequant_row_${F}`]: DequantRowKernel } & {
  [F in Format as `matmul_${F}`]: MatmulKernel;
};

/** Each stored format's kernel names, by DType. */
export const FORMAT_KERNELS: Readonly<Record<DType, { readonly matvec: keyof Kernels; readonly dequantRow: keyof Kernels; readonly matmul: keyof Kernels }>> = Object.freeze(
  Object.fromEntries(
    (Object.keys(DTYPES) as DType[]).map((dtype) => {
      const format = dtype.toLowerCase() as Format;
      return [dtype, Object.freeze({ matvec: `matvec_${format}`, dequantRow: `dequant_row_${format}`, matmul: `matmul_${format}` } as const)];
    }),
  ) as Record<DType, { matvec: keyof Kernels; dequantRow: keyof Kernels; matmul: keyof Kernels }>,
);

export interface Kernels extends FormatKernels {
  // kernels/qmatmul.ts: int16 activations x 4-row weight tiles (decode n = 1, prefill n > 1)
  quantize_q16(x: Ptr, qx: Ptr, dx: Ptr, px: Ptr, cols: number, n: number): void;
  matmul_q4_1x4(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, tile0: number, tile1: number, outStride: number): void;
  matmul_q4_0x4(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, tile0: number, tile1: number, outStride: number): void;
  matmul_q8_0x4(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, tile0: number, tile1: number, outStride: number): void;
  dequant_row_q4_1x4(out: Ptr, w: Ptr, row: number, cols: number): void;
  dequant_row_q4_0x4(out: Ptr, w: Ptr, row: number, cols: number): void;
  dequant_row_q8_0x4(out: Ptr, w: Ptr, row: number, cols: number): void;
  // kernels/qmatvec.ts: decode out f32[rows] = W (file layout) · int16 activations from quantize_q16 (n = 1)
  matvec_q16_q5_0(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number): void;
  matvec_q16_q4_k(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number): void;
  matvec_q16_q6_k(out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number): void;
  // kernels/norm.ts
  rmsnorm(out: Ptr, x: Ptr, weight: Ptr, n: number, eps: number): void;
  rmsnorm_heads(x: Ptr, weight: Ptr, nHeads: number, headDim: number, eps: number): void;
  // kernels/rope.ts (half-split pairs)
  rope(x: Ptr, nHeads: number, headDim: number, cos: Ptr, sin: Ptr): void;
  // kernels/attention.ts
  softmax(x: Ptr, n: number): void;
  attention(out: Ptr, q: Ptr, kCache: Ptr, vCache: Ptr, nHeads: number, nKvHeads: number, headDim: number, kvStride: number, seqLen: number, scores: Ptr, h0: number, h1: number): void;
  attention_f16kv(out: Ptr, q: Ptr, kCache: Ptr, vCache: Ptr, nHeads: number, nKvHeads: number, headDim: number, kvStride: number, seqLen: number, scores: Ptr, h0: number, h1: number): void;
  store_f16(dst: Ptr, src: Ptr, n: number): void;
  // kernels/elementwise.ts
  add(out: Ptr, a: Ptr, b: Ptr, n: number): void;
  scale(out: Ptr, x: Ptr, s: number, n: number): void;
  swiglu(out: Ptr, gate: Ptr, up: Ptr, n: number): void;
  geglu(out: Ptr, gate: Ptr, up: Ptr, n: number): void;
  residual_add_cosine(x: Ptr, f: Ptr, n: number): number;
}

/** Formats with an int16-activation decode kernel for the file's row layout (kernels/qmatvec.ts). */
export const Q16_MATVEC: Readonly<Partial<Record<DType, "matvec_q16_q5_0" | "matvec_q16_q4_k" | "matvec_q16_q6_k">>> = Object.freeze({
  Q5_0: "matvec_q16_q5_0", Q4_K: "matvec_q16_q4_k", Q6_K: "matvec_q16_q6_k",
});

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
