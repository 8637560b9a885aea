// Plain-TS twins of every WASM kernel, with the same signatures and contracts (see kernels/*.ts). They compute
// in f64 in the obvious order, so they are the oracle the SIMD kernels are tested against, and a fallback
// for runtimes without WASM SIMD. Readability over speed: one loop per definition.

import type { DType } from "../io/dtype.js";
import { DTYPES } from "../io/dtype.js";
import type { Kernels, Ptr } from "../runtime/kernels.js";
import { dequantize } from "./quant.js";

export function createReferenceKernels(memory: WebAssembly.Memory): Kernels {
  const f32 = (ptr: Ptr, n: number) => new Float32Array(memory.buffer, ptr, n);
  const bytes = () => new Uint8Array(memory.buffer);

  function dequantRow(dtype: DType, out: Ptr, w: Ptr, cols: number): void {
    dequantize(dtype, bytes(), w, cols, f32(out, cols));
  }

  function matvec(dtype: DType, out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void {
    const rowBytes = (cols / DTYPES[dtype].blockValues) * DTYPES[dtype].blockBytes;
    const row = new Float32Array(cols);
    const xs = f32(x, cols).slice();
    const result = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      dequantize(dtype, bytes(), w + r * rowBytes, cols, row);
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += row[c]! * xs[c]!;
      result[r] = sum;
    }
    f32(out, rows).set(result);
  }

  function matmul(dtype: DType, out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number): void {
    for (let t = 0; t < n; t++) matvec(dtype, out + t * rows * 4, w, x + t * cols * 4, rows, cols);
  }

  return {
    matvec_f32: (out, w, x, rows, cols) => matvec("F32", out, w, x, rows, cols),
    matvec_f16: (out, w, x, rows, cols) => matvec("F16", out, w, x, rows, cols),
    matvec_bf16: (out, w, x, rows, cols) => matvec("BF16", out, w, x, rows, cols),
    matvec_q8_0: (out, w, x, rows, cols) => matvec("Q8_0", out, w, x, rows, cols),
    matvec_q4_0: (out, w, x, rows, cols) => matvec("Q4_0", out, w, x, rows, cols),
    matvec_q4_1: (out, w, x, rows, cols) => matvec("Q4_1", out, w, x, rows, cols),
    dequant_row_f32: (out, w, cols) => dequantRow("F32", out, w, cols),
    dequant_row_f16: (out, w, cols) => dequantRow("F16", out, w, cols),
    dequant_row_bf16: (out, w, cols) => dequantRow("BF16", out, w, cols),
    dequant_row_q8_0: (out, w, cols) => dequantRow("Q8_0", out, w, cols),
    dequant_row_q4_0: (out, w, cols) => dequantRow("Q4_0", out, w, cols),
    dequant_row_q4_1: (out, w, cols) => dequantRow("Q4_1", out, w, cols),
    matmul_f32: (out, w, x, rows, cols, n) => matmul("F32", out, w, x, rows, cols, n),
    matmul_f16: (out, w, x, rows, cols, n) => matmul("F16", out, w, x, rows, cols, n),
    matmul_bf16: (out, w, x, rows, cols, n) => matmul("BF16", out, w, x, rows, cols, n),
    matmul_q8_0: (out, w, x, rows, cols, n) => matmul("Q8_0", out, w, x, rows, cols, n),
    matmul_q4_0: (out, w, x, rows, cols, n) => matmul("Q4_0", out, w, x, rows, cols, n),
    matmul_q4_1: (out, w, x, rows, cols, n) => matmul("Q4_1", out, w, x, rows, cols, n),

    rmsnorm(out, x, weight, n, eps) {
      const xs = f32(x, n).slice();
      const ws = f32(weight, n);
      let ss = 0;
      for (const v of xs) ss += v * v;
      const scale = 1 / Math.sqrt(ss / n + eps);
      const o = f32(out, n);
      for (let i = 0; i < n; i++) o[i] = xs[i]! * scale * ws[i]!;
    },

    rope(x, nHeads, headDim, cos, sin) {
      const half = headDim / 2;
      const v = f32(x, nHeads * headDim);
      const c = f32(cos, half);
      const s = f32(sin, half);
      for (let h = 0; h < nHeads; h++) {
        const base = h * headDim;
        for (let i = 0; i < half; i++) {
          const x0 = v[base + i]!;
          const x1 = v[base + i + half]!;
          v[base + i] = x0 * c[i]! - x1 * s[i]!;
          v[base + i + half] = x1 * c[i]! + x0 * s[i]!;
        }
      }
    },

    softmax(x, n) {
      const v = f32(x, n);
      let max = -Infinity;
      for (const e of v) max = Math.max(max, e);
      const exps = Array.from(v, (e) => Math.exp(e - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      for (let i = 0; i < n; i++) v[i] = exps[i]! / sum;
    },

    attention(out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, _scores, h0, h1) {
      const group = nHeads / nKvHeads;
      const qs = f32(q, nHeads * headDim);
      const ks = f32(kCache, seqLen * kvStride);
      const vs = f32(vCache, seqLen * kvStride);
      const o = f32(out, nHeads * headDim);
      for (let h = h0; h < h1; h++) {
        const g = Math.floor(h / group);
        const scores: number[] = [];
        for (let t = 0; t < seqLen; t++) {
          let dot = 0;
          for (let i = 0; i < headDim; i++) dot += qs[h * headDim + i]! * ks[t * kvStride + g * headDim + i]!;
          scores.push(dot / Math.sqrt(headDim));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        for (let i = 0; i < headDim; i++) {
          let acc = 0;
          for (let t = 0; t < seqLen; t++) acc += (exps[t]! / sum) * vs[t * kvStride + g * headDim + i]!;
          o[h * headDim + i] = acc;
        }
      }
    },

    add(out, a, b, n) {
      const as = f32(a, n).slice();
      const bs = f32(b, n).slice();
      const o = f32(out, n);
      for (let i = 0; i < n; i++) o[i] = as[i]! + bs[i]!;
    },

    swiglu(out, gate, up, n) {
      const g = f32(gate, n).slice();
      const u = f32(up, n).slice();
      const o = f32(out, n);
      for (let i = 0; i < n; i++) o[i] = (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!;
    },

    residual_add_cosine(x, f, n) {
      const xs = f32(x, n);
      const fs = f32(f, n);
      let dot = 0;
      let before = 0;
      let after = 0;
      for (let i = 0; i < n; i++) {
        const a = xs[i]!;
        const b = Math.fround(a + fs[i]!);
        xs[i] = b;
        dot += a * b;
        before += a * a;
        after += b * b;
      }
      if (before === 0 || after === 0) return 0;
      return dot / (Math.sqrt(before) * Math.sqrt(after));
    },
  };
}
