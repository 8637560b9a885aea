// Matrix-matrix products for prefill (several tokens at once): out[t] = W · x[t] for t in [0, n).
//
// Contract (all matmul_*):
//   out      f32[n][outStride]  token-major; columns [0, rows) of each token row written, never read
//   w        rows x rowBytes in the stored format (as for matvec_*)
//   x        f32[n][cols]  token-major, read only
//   scratch  f32[4 * cols] work space for four dequantized rows
//   n >= 1, rows >= 0, outStride >= rows; cols as for the matching matvec_* (whole blocks: 32 values for q8_0/q4_*/q5_*, 256 for K-quants).
//   outStride > rows lets several matrices write side by side into one buffer (e.g. Q, K, V of different formats).
//   No alignment required. out, x, w and scratch must not overlap.
// Each panel of four weight rows is expanded to f32 once and reused for all n tokens, so weights are read once
// per prefill instead of once per token. Results equal matvec_* up to summation order (rounding).

import { hsum } from "./common";
import { dequant_row_q2_k, dequant_row_q3_k, dequant_row_q4_k, dequant_row_q5_k, dequant_row_q6_k } from "./kquant";
import { dot_f32, dequant_row_f32, dequant_row_f16, dequant_row_bf16, dequant_row_q8_0, dequant_row_q4_0, dequant_row_q4_1, dequant_row_q5_0, dequant_row_q5_1 } from "./matvec";

const F32: i32 = 0, F16: i32 = 1, BF16: i32 = 2, Q8_0: i32 = 3, Q4_0: i32 = 4, Q4_1: i32 = 5, Q5_0: i32 = 6, Q5_1: i32 = 7;
const Q2_K: i32 = 8, Q3_K: i32 = 9, Q4_K: i32 = 10, Q5_K: i32 = 11, Q6_K: i32 = 12;

// @ts-ignore: decorator
@inline function row_bytes(format: i32, cols: i32): usize {
  switch (format) {
    case F32: return <usize>cols << 2;
    case F16: case BF16: return <usize>cols << 1;
    case Q8_0: return <usize>(cols >> 5) * 34;
    case Q4_0: return <usize>(cols >> 5) * 18;
    case Q4_1: return <usize>(cols >> 5) * 20;
    case Q5_0: return <usize>(cols >> 5) * 22;
    case Q5_1: return <usize>(cols >> 5) * 24;
    case Q2_K: return <usize>(cols >> 8) * 84;
    case Q3_K: return <usize>(cols >> 8) * 110;
    case Q4_K: return <usize>(cols >> 8) * 144;
    case Q5_K: return <usize>(cols >> 8) * 176;
    default: return <usize>(cols >> 8) * 210;
  }
}

// @ts-ignore: decorator
@inline function dequant_row(format: i32, out: usize, w: usize, cols: i32): void {
  switch (format) {
    case F32: dequant_row_f32(out, w, cols); break;
    case F16: dequant_row_f16(out, w, cols); break;
    case BF16: dequant_row_bf16(out, w, cols); break;
    case Q8_0: dequant_row_q8_0(out, w, cols); break;
    case Q4_0: dequant_row_q4_0(out, w, cols); break;
    case Q4_1: dequant_row_q4_1(out, w, cols); break;
    case Q5_0: dequant_row_q5_0(out, w, cols); break;
    case Q5_1: dequant_row_q5_1(out, w, cols); break;
    case Q2_K: dequant_row_q2_k(out, w, cols); break;
    case Q3_K: dequant_row_q3_k(out, w, cols); break;
    case Q4_K: dequant_row_q4_k(out, w, cols); break;
    case Q5_K: dequant_row_q5_k(out, w, cols); break;
    default: dequant_row_q6_k(out, w, cols);
  }
}

/** Stores one token's four row sums of a panel: the lanes' totals plus the columns past the last whole vector. */
// @ts-ignore: decorator
@inline function panel_finish(op: usize, a0: v128, a1: v128, a2: v128, a3: v128, w0: usize, w1: usize, w2: usize, w3: usize, xp: usize, from: i32, cols: i32): void {
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (let c = from; c < cols; c++) {
    const o = <usize>c << 2;
    const xs = load<f32>(xp + o);
    s0 += load<f32>(w0 + o) * xs;
    s1 += load<f32>(w1 + o) * xs;
    s2 += load<f32>(w2 + o) * xs;
    s3 += load<f32>(w3 + o) * xs;
  }
  store<f32>(op, s0);
  store<f32>(op, s1, 4);
  store<f32>(op, s2, 8);
  store<f32>(op, s3, 12);
}

// @ts-ignore: decorator
@inline function matmul(format: i32, out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  const rowBytes = row_bytes(format, cols);
  const colBytes = <usize>cols << 2;
  const r1 = scratch + colBytes, r2 = r1 + colBytes, r3 = r2 + colBytes;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const wr = w + <usize>r * rowBytes;
    dequant_row(format, scratch, wr, cols);
    dequant_row(format, r1, wr + rowBytes, cols);
    dequant_row(format, r2, wr + 2 * rowBytes, cols);
    dequant_row(format, r3, wr + 3 * rowBytes, cols);
    let t = 0;
    // Two tokens per pass share each weight load (eight independent sums); a token's arithmetic is the same
    // whether it is paired or not, so results do not depend on the batch.
    for (; t + 2 <= n; t += 2) {
      const xp = x + <usize>t * colBytes, xq = xp + colBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
      let c = 0;
      for (; c + 4 <= cols; c += 4) {
        const o = <usize>c << 2;
        const xa = v128.load(xp + o), xb = v128.load(xq + o);
        const w0 = v128.load(scratch + o), w1 = v128.load(r1 + o), w2 = v128.load(r2 + o), w3 = v128.load(r3 + o);
        a0 = f32x4.add(a0, f32x4.mul(w0, xa));
        a1 = f32x4.add(a1, f32x4.mul(w1, xa));
        a2 = f32x4.add(a2, f32x4.mul(w2, xa));
        a3 = f32x4.add(a3, f32x4.mul(w3, xa));
        b0 = f32x4.add(b0, f32x4.mul(w0, xb));
        b1 = f32x4.add(b1, f32x4.mul(w1, xb));
        b2 = f32x4.add(b2, f32x4.mul(w2, xb));
        b3 = f32x4.add(b3, f32x4.mul(w3, xb));
      }
      panel_finish(out + ((<usize>t * <usize>outStride + <usize>r) << 2), a0, a1, a2, a3, scratch, r1, r2, r3, xp, c, cols);
      panel_finish(out + ((<usize>(t + 1) * <usize>outStride + <usize>r) << 2), b0, b1, b2, b3, scratch, r1, r2, r3, xq, c, cols);
    }
    for (; t < n; t++) {
      const xp = x + <usize>t * colBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let c = 0;
      for (; c + 4 <= cols; c += 4) {
        const o = <usize>c << 2;
        const xv = v128.load(xp + o);
        a0 = f32x4.add(a0, f32x4.mul(v128.load(scratch + o), xv));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(r1 + o), xv));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(r2 + o), xv));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(r3 + o), xv));
      }
      panel_finish(out + ((<usize>t * <usize>outStride + <usize>r) << 2), a0, a1, a2, a3, scratch, r1, r2, r3, xp, c, cols);
    }
  }
  for (; r < rows; r++) {
    dequant_row(format, scratch, w + <usize>r * rowBytes, cols);
    for (let t = 0; t < n; t++) {
      store<f32>(out + ((<usize>t * <usize>outStride + <usize>r) << 2), dot_f32(scratch, x + <usize>t * colBytes, cols));
    }
  }
}

export function matmul_f32(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(F32, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_f16(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(F16, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_bf16(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(BF16, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q8_0(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q8_0, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q4_0(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q4_0, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q4_1(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q4_1, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q5_0(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q5_0, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q5_1(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q5_1, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q2_k(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q2_K, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q3_k(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q3_K, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q4_k(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q4_K, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q5_k(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q5_K, out, w, x, rows, cols, n, scratch, outStride);
}
export function matmul_q6_k(out: usize, w: usize, x: usize, rows: i32, cols: i32, n: i32, scratch: usize, outStride: i32): void {
  matmul(Q6_K, out, w, x, rows, cols, n, scratch, outStride);
}
