// Plain-TS twins of every WASM kernel, with the same signatures and contracts (see kernels/*.ts). They compute
// in f64 in the obvious order, so they are the oracle the SIMD kernels are tested against, and a fallback
// for runtimes without WASM SIMD. Readability over speed: one loop per definition.

import type { DType } from "../io/dtype.js";
import { DTYPES } from "../io/dtype.js";
import { FORMAT_KERNELS, type FormatKernels, type Kernels, type Ptr } from "../runtime/kernels.js";
import { TILE_BLOCK_BYTES, type TiledDType } from "../runtime/tiles.js";
import { dequantize, f16ToF32, f32ToF16 } from "./quant.js";

/** Element order of a block's i16 activations (kernels/qmatmul.ts): even then odd of 0..15, then of 16..31. */
const DEINTERLEAVED = [0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 16, 18, 20, 22, 24, 26, 28, 30, 17, 19, 21, 23, 25, 27, 29, 31];

/** Round half to even, as f32x4.nearest does. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function createReferenceKernels(memory: WebAssembly.Memory): Kernels {
  const f32 = (ptr: Ptr, n: number) => new Float32Array(memory.buffer, ptr, n);
  const bytes = () => new Uint8Array(memory.buffer);

  function dequantRow(dtype: DType, out: Ptr, w: Ptr, cols: number): void {
    dequantize(dtype, bytes(), w, cols, f32(out, cols));
  }

  function matvec(dtype: DType, out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number): void {
    matvecOf(dtype, out, w, f32(x, cols).slice(), rows, cols);
  }

  /** out f32[rows] = W (stored as dtype at w) · xs, in double precision. */
  function matvecOf(dtype: DType, out: Ptr, w: Ptr, xs: ArrayLike<number>, rows: number, cols: number): void {
    const rowBytes = (cols / DTYPES[dtype].blockValues) * DTYPES[dtype].blockBytes;
    const row = new Float32Array(cols);
    const result = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      dequantize(dtype, bytes(), w + r * rowBytes, cols, row);
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += row[c]! * xs[c]!;
      result[r] = sum;
    }
    f32(out, rows).set(result);
  }

  function matmul(dtype: DType, out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, outStride: number): void {
    for (let t = 0; t < n; t++) matvec(dtype, out + t * outStride * 4, w, x + t * cols * 4, rows, cols);
  }

  const u16 = (ptr: Ptr) => new DataView(memory.buffer).getUint16(ptr, true);

  // matvec_*, dequant_row_* and matmul_* for every stored format, all through dequantize().
  const formatTwins: Record<string, unknown> = {};
  for (const dtype of Object.keys(DTYPES) as DType[]) {
    const names = FORMAT_KERNELS[dtype];
    formatTwins[names.matvec] = (out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number) => matvec(dtype, out, w, x, rows, cols);
    formatTwins[names.dequantRow] = (out: Ptr, w: Ptr, cols: number) => dequantRow(dtype, out, w, cols);
    formatTwins[names.matmul] = (out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, _scratch: Ptr, outStride: number) => matmul(dtype, out, w, x, rows, cols, n, outStride);
  }

  /** Attention with caches read through `cache` (f32 views, or f16 widened to f32). */
  function attention(cache: (ptr: Ptr, n: number) => Float32Array, out: Ptr, q: Ptr, kCache: Ptr, vCache: Ptr, nHeads: number, nKvHeads: number, headDim: number, kvStride: number, seqLen: number, h0: number, h1: number): void {
    const group = nHeads / nKvHeads;
    const qs = f32(q, nHeads * headDim).slice();
    const ks = cache(kCache, seqLen * kvStride);
    const vs = cache(vCache, seqLen * kvStride);
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
  }

  /** Quants (as integers) and scales of row `within` (0..3) of a tile block at p. */
  function tileRow(dtype: TiledDType, p: Ptr, within: number): { q: number[]; d: number; m: number } {
    const mem = new Uint8Array(memory.buffer);
    const q: number[] = [];
    if (dtype === "Q8_0") {
      for (let j = 0; j < 32; j++) q.push((mem[p + within * 32 + j]! << 24) >> 24);
      return { q, d: f16ToF32(u16(p + 128 + 2 * within)), m: 0 };
    }
    for (let j = 0; j < 16; j++) q.push(mem[p + within * 16 + j]! & 15);
    for (let j = 0; j < 16; j++) q.push(mem[p + within * 16 + j]! >> 4);
    if (dtype === "Q4_0") return { q: q.map((v) => v - 8), d: f16ToF32(u16(p + 64 + 2 * within)), m: 0 };
    return { q, d: f16ToF32(u16(p + 64 + 2 * within)), m: f16ToF32(u16(p + 72 + 2 * within)) };
  }

  function tiledMatmul(dtype: TiledDType, out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, cols: number, n: number, tile0: number, tile1: number, outStride: number): void {
    const blocks = cols / 32;
    const stored = new Int16Array(memory.buffer, qx, n * cols);
    const xq = new Int16Array(n * cols); // back in natural order
    for (let i = 0; i < n * cols; i++) xq[Math.floor(i / 32) * 32 + DEINTERLEAVED[i % 32]!] = stored[i]!;
    const xd = f32(dx, n * blocks);
    const xs = f32(px, n * blocks);
    const o = f32(out, n * outStride);
    for (let tile = tile0; tile < tile1; tile++) {
      for (let t = 0; t < n; t++) {
        for (let r = 0; r < 4; r++) {
          let sum = 0;
          for (let b = 0; b < blocks; b++) {
            const { q, d, m } = tileRow(dtype, w + (tile * blocks + b) * TILE_BLOCK_BYTES[dtype], r);
            let isum = 0;
            for (let j = 0; j < 32; j++) isum += q[j]! * xq[t * cols + b * 32 + j]!;
            sum += d * xd[t * blocks + b]! * isum + m * xd[t * blocks + b]! * xs[t * blocks + b]!;
          }
          o[t * outStride + tile * 4 + r] = sum;
        }
      }
    }
  }

  function tiledDequantRow(dtype: TiledDType, out: Ptr, w: Ptr, row: number, cols: number): void {
    const blocks = cols / 32;
    const o = f32(out, cols);
    for (let b = 0; b < blocks; b++) {
      const { q, d, m } = tileRow(dtype, w + (Math.floor(row / 4) * blocks + b) * TILE_BLOCK_BYTES[dtype], row % 4);
      for (let j = 0; j < 32; j++) o[b * 32 + j] = d * q[j]! + m;
    }
  }

  /** matvec_q16_*: the weights dequantized exactly, against the activations the int16 quants stand for (q * d). */
  function q16Matvec(dtype: DType, out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, rows: number, cols: number): void {
    const stored = new Int16Array(memory.buffer, qx, cols);
    const xd = f32(dx, cols / 32);
    const xs = new Float64Array(cols);
    for (let i = 0; i < cols; i++) xs[Math.floor(i / 32) * 32 + DEINTERLEAVED[i % 32]!] = stored[i]! * xd[Math.floor(i / 32)]!;
    matvecOf(dtype, out, w, xs, rows, cols);
  }

  const others: Omit<Kernels, keyof FormatKernels> = {
    matvec_q16_q5_0: (out, w, qx, dx, _px, rows, cols) => q16Matvec("Q5_0", out, w, qx, dx, rows, cols),
    matvec_q16_q4_k: (out, w, qx, dx, _px, rows, cols) => q16Matvec("Q4_K", out, w, qx, dx, rows, cols),
    matvec_q16_q6_k: (out, w, qx, dx, _px, rows, cols) => q16Matvec("Q6_K", out, w, qx, dx, rows, cols),
    quantize_q16(x, qx, dx, px, cols, n) {
      const xs = f32(x, n * cols).slice();
      const q16 = new Int16Array(memory.buffer, qx, n * cols);
      const d = f32(dx, (n * cols) / 32);
      const s = f32(px, (n * cols) / 32);
      for (let b = 0; b < (n * cols) / 32; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(xs[b * 32 + j]!));
        const id = amax > 0 ? Math.fround(32767 / amax) : 0;
        const q = Array.from({ length: 32 }, (_, j) => roundHalfEven(Math.fround(xs[b * 32 + j]! * id)));
        DEINTERLEAVED.forEach((j, i) => (q16[b * 32 + i] = q[j]!));
        d[b] = amax / 32767;
        s[b] = q.reduce((a, v) => a + v, 0);
      }
    },
    matmul_q4_1x4: (out, w, qx, dx, px, _rows, cols, n, t0, t1, outStride) => tiledMatmul("Q4_1", out, w, qx, dx, px, cols, n, t0, t1, outStride),
    matmul_q4_0x4: (out, w, qx, dx, px, _rows, cols, n, t0, t1, outStride) => tiledMatmul("Q4_0", out, w, qx, dx, px, cols, n, t0, t1, outStride),
    matmul_q8_0x4: (out, w, qx, dx, px, _rows, cols, n, t0, t1, outStride) => tiledMatmul("Q8_0", out, w, qx, dx, px, cols, n, t0, t1, outStride),
    dequant_row_q4_1x4: (out, w, row, cols) => tiledDequantRow("Q4_1", out, w, row, cols),
    dequant_row_q4_0x4: (out, w, row, cols) => tiledDequantRow("Q4_0", out, w, row, cols),
    dequant_row_q8_0x4: (out, w, row, cols) => tiledDequantRow("Q8_0", out, w, row, cols),

    rmsnorm(out, x, weight, n, eps) {
      const xs = f32(x, n).slice();
      const ws = f32(weight, n);
      let ss = 0;
      for (const v of xs) ss += v * v;
      const scale = 1 / Math.sqrt(ss / n + eps);
      const o = f32(out, n);
      for (let i = 0; i < n; i++) o[i] = xs[i]! * scale * ws[i]!;
    },

    rmsnorm_heads(x, weight, nHeads, headDim, eps) {
      const ws = f32(weight, headDim);
      for (let h = 0; h < nHeads; h++) {
        const row = f32(x + h * headDim * 4, headDim);
        let ss = 0;
        for (const v of row) ss += v * v;
        const scale = 1 / Math.sqrt(ss / headDim + eps);
        for (let i = 0; i < headDim; i++) row[i] = row[i]! * scale * ws[i]!;
      }
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

    attention: (out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, _scores, h0, h1) => {
      attention((ptr, n) => f32(ptr, n), out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, h0, h1);
    },
    attention_f16kv: (out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, _scores, h0, h1) => {
      const halves = (ptr: Ptr, n: number) => Float32Array.from(new Uint16Array(memory.buffer, ptr, n), f16ToF32);
      attention(halves, out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, h0, h1);
    },
    store_f16(dst, src, n) {
      const values = f32(src, n).slice();
      const out = new Uint16Array(memory.buffer, dst, n);
      for (let i = 0; i < n; i++) out[i] = f32ToF16(values[i]!);
    },

    add(out, a, b, n) {
      const as = f32(a, n).slice();
      const bs = f32(b, n).slice();
      const o = f32(out, n);
      for (let i = 0; i < n; i++) o[i] = as[i]! + bs[i]!;
    },

    scale(out, x, s, n) {
      const xs = f32(x, n).slice();
      const o = f32(out, n);
      for (let i = 0; i < n; i++) o[i] = xs[i]! * Math.fround(s);
    },

    // PyTorch's tanh form of the approximation, in f64 (the WASM kernel uses the equivalent logistic form).
    geglu(out, gate, up, n) {
      const g = f32(gate, n).slice();
      const u = f32(up, n).slice();
      const o = f32(out, n);
      for (let i = 0; i < n; i++) {
        const x = g[i]!;
        o[i] = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))) * u[i]!;
      }
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
  return { ...(formatTwins as FormatKernels), ...others };
}
