// K-quant matrix-vector products and row expansion: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (layouts in src/io/dtype.ts,
// bit positions spelled out in src/reference/quant.ts, which is the twin these are tested against).
//
// Contract (matvec_q*_k): as matvec.ts, with cols a multiple of 256 (whole super-blocks):
//   out  f32[rows] written, never read · w rows x (cols / 256 * blockBytes) row-major · x f32[cols] read only
//   No alignment required (unaligned v128 loads). `out` must not overlap `w` or `x`.
// dequant_row_q*_k (out f32[cols], w one row): the row's values, e.g. a matmul panel (matmul.ts).
//
// Each format is written once, as a walk over its super-block in groups of 16 values that share a scale and a min:
// the walk hands every group (16 quants as one i8x16, the group's scale and min) to group16(), which either adds
// scale * Σ q·x - min * Σ x to the dot product (DOT) or stores scale * q - min (STORE). Activations stay f32 and
// the weights are dequantized in registers: the exact path.

import { f16_to_f32, hsum } from "./common";

const DOT: i32 = 0;
const STORE: i32 = 1;

/** Σ q[j] * x[j] for 16 signed quants (one i8x16) and 16 f32 at xp, as four partial sums. */
// @ts-ignore: decorator
@inline function dot16(q: v128, xp: usize): v128 {
  const a = i16x8.extend_low_i8x16_s(q), b = i16x8.extend_high_i8x16_s(q);
  let s = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), v128.load(xp));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), v128.load(xp, 16)));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), v128.load(xp, 32)));
  return f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), v128.load(xp, 48)));
}

/** Σ x[j] for 16 f32 at xp, as four partial sums. */
// @ts-ignore: decorator
@inline function sum16(xp: usize): v128 {
  return f32x4.add(f32x4.add(v128.load(xp), v128.load(xp, 16)), f32x4.add(v128.load(xp, 32), v128.load(xp, 48)));
}

/**
 * One group of 16 values, scale * q - min. DOT: returns acc + the group's dot with the 16 f32 at p. STORE: writes
 * the 16 values at p and returns acc unchanged. `mode` is a constant at every call, so one branch is compiled away.
 */
// @ts-ignore: decorator
@inline function group16(mode: i32, q: v128, scale: f32, min: f32, p: usize, acc: v128): v128 {
  if (mode == DOT) {
    acc = f32x4.add(acc, f32x4.mul(dot16(q, p), f32x4.splat(scale)));
    return min == 0 ? acc : f32x4.sub(acc, f32x4.mul(sum16(p), f32x4.splat(min)));
  }
  const sv = f32x4.splat(scale), mv = f32x4.splat(min);
  const a = i16x8.extend_low_i8x16_s(q), b = i16x8.extend_high_i8x16_s(q);
  v128.store(p, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), sv), mv));
  v128.store(p, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), sv), mv), 16);
  v128.store(p, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), sv), mv), 32);
  v128.store(p, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), sv), mv), 48);
  return acc;
}

// ---- the super-block walks -------------------------------------------------------------------------------
// w: the super-block's bytes; p: its 256 f32 (x for DOT, out for STORE); value v lives at p + 4 v.

/** Q4_K / Q5_K sub-block j's 6-bit scale (packed at s, llama.cpp get_scale_min_k4). */
// @ts-ignore: decorator
@inline export function k4_scale(s: usize, j: i32): u32 {
  return j < 4 ? <u32>load<u8>(s + j) & 63 : (<u32>load<u8>(s + j + 4) & 0x0f) | ((<u32>load<u8>(s + j - 4) >> 6) << 4);
}

/** Q4_K / Q5_K sub-block j's 6-bit min. */
// @ts-ignore: decorator
@inline export function k4_min(s: usize, j: i32): u32 {
  return j < 4 ? <u32>load<u8>(s + j + 4) & 63 : (<u32>load<u8>(s + j + 4) >> 4) | ((<u32>load<u8>(s + j) >> 6) << 4);
}

// Q2_K: 84 bytes {scales[16], qs[64], f16 d, f16 dmin}; value 128h + 32k + l = bits 2k..2k+1 of qs[32h + l],
// group (v >> 4) scaled by d * (scales[g] & 15), min dmin * (scales[g] >> 4).
// @ts-ignore: decorator
@inline function block_q2_k(mode: i32, w: usize, p: usize, acc: v128): v128 {
  const d = f16_to_f32(load<u16>(w, 80)), dmin = f16_to_f32(load<u16>(w, 82));
  const three = i8x16.splat(3);
  for (let h = 0; h < 2; h++) {
    for (let k = 0; k < 4; k++) {
      for (let half = 0; half < 2; half++) {
        const l = half << 4;
        const q = v128.and(i8x16.shr_u(v128.load(w + 16 + (h << 5) + l), 2 * k), three);
        const sc = <u32>load<u8>(w + (h << 3) + (k << 1) + half);
        acc = group16(mode, q, d * <f32>(sc & 15), dmin * <f32>(sc >> 4), p + ((<usize>((h << 7) + (k << 5) + l)) << 2), acc);
      }
    }
  }
  return acc;
}

// Q3_K: 110 bytes {hmask[32], qs[64], scales[12], f16 d}; as Q2_K for the low 2 bits, the third bit is bit
// 4h + k of hmask[l] and a clear bit subtracts 4; group g's scale is 6 bits (low 4 from scales[g % 8] >> 4 (g / 8),
// high 2 from scales[8 + g % 4] >> 2 (g / 4)) minus 32, times d.
// @ts-ignore: decorator
@inline function block_q3_k(mode: i32, w: usize, p: usize, acc: v128): v128 {
  const d = f16_to_f32(load<u16>(w, 108));
  const three = i8x16.splat(3), one = i8x16.splat(1), four = i8x16.splat(4);
  for (let h = 0; h < 2; h++) {
    for (let k = 0; k < 4; k++) {
      for (let half = 0; half < 2; half++) {
        const l = half << 4;
        const low = v128.and(i8x16.shr_u(v128.load(w + 32 + (h << 5) + l), 2 * k), three);
        const high = v128.and(i8x16.shr_u(v128.load(w + l), (h << 2) + k), one);
        const q = i8x16.sub(v128.or(low, i8x16.shl(high, 2)), four);
        const g = (h << 3) + (k << 1) + half;
        const lowScale = g < 8 ? <u32>load<u8>(w + 96 + g) & 0x0f : <u32>load<u8>(w + 96 + g - 8) >> 4;
        const highScale = (<u32>load<u8>(w + 104 + (g & 3)) >> (2 * (g >> 2))) & 3;
        acc = group16(mode, q, d * <f32>(<i32>(lowScale | (highScale << 4)) - 32), 0, p + ((<usize>((h << 7) + (k << 5) + l)) << 2), acc);
      }
    }
  }
  return acc;
}

// Q4_K: 144 bytes {f16 d, f16 dmin, scales[12], qs[128]}; sub-block s (32 values) = the low nibbles of
// qs[32 (s >> 1) ..] for even s, the high nibbles for odd s; scale d * sc(s), min dmin * m(s).
// @ts-ignore: decorator
@inline function block_q4_k(mode: i32, w: usize, p: usize, acc: v128): v128 {
  const d = f16_to_f32(load<u16>(w)), dmin = f16_to_f32(load<u16>(w, 2));
  const mask = i8x16.splat(0x0f);
  for (let s = 0; s < 8; s++) {
    const scale = d * <f32>k4_scale(w + 4, s), min = dmin * <f32>k4_min(w + 4, s);
    for (let half = 0; half < 2; half++) {
      const bytes = v128.load(w + 16 + ((s >> 1) << 5) + (half << 4));
      const q = (s & 1) == 0 ? v128.and(bytes, mask) : i8x16.shr_u(bytes, 4);
      acc = group16(mode, q, scale, min, p + ((<usize>((s << 5) + (half << 4))) << 2), acc);
    }
  }
  return acc;
}

// Q5_K: 176 bytes {f16 d, f16 dmin, scales[12], qh[32], qs[128]}; as Q4_K plus a fifth bit: bit s of qh[l].
// @ts-ignore: decorator
@inline function block_q5_k(mode: i32, w: usize, p: usize, acc: v128): v128 {
  const d = f16_to_f32(load<u16>(w)), dmin = f16_to_f32(load<u16>(w, 2));
  const mask = i8x16.splat(0x0f), one = i8x16.splat(1);
  for (let s = 0; s < 8; s++) {
    const scale = d * <f32>k4_scale(w + 4, s), min = dmin * <f32>k4_min(w + 4, s);
    for (let half = 0; half < 2; half++) {
      const bytes = v128.load(w + 48 + ((s >> 1) << 5) + (half << 4));
      const low = (s & 1) == 0 ? v128.and(bytes, mask) : i8x16.shr_u(bytes, 4);
      const high = v128.and(i8x16.shr_u(v128.load(w + 16 + (half << 4)), s), one);
      acc = group16(mode, v128.or(low, i8x16.shl(high, 4)), scale, min, p + ((<usize>((s << 5) + (half << 4))) << 2), acc);
    }
  }
  return acc;
}

// Q6_K: 210 bytes {ql[128], qh[64], i8 scales[16], f16 d}; value 128h + 32k + l = low 4 bits from
// ql[64h + 32 (k & 1) + l] (low nibble for k < 2, high for k >= 2) | bits 2k..2k+1 of qh[32h + l] << 4, minus 32;
// group (v >> 4) scaled by d * scales[g].
// @ts-ignore: decorator
@inline function block_q6_k(mode: i32, w: usize, p: usize, acc: v128): v128 {
  const d = f16_to_f32(load<u16>(w, 208));
  const mask = i8x16.splat(0x0f), three = i8x16.splat(3), bias = i8x16.splat(32);
  for (let h = 0; h < 2; h++) {
    for (let k = 0; k < 4; k++) {
      for (let half = 0; half < 2; half++) {
        const l = half << 4;
        const lowBytes = v128.load(w + (h << 6) + ((k & 1) << 5) + l);
        const low = k < 2 ? v128.and(lowBytes, mask) : i8x16.shr_u(lowBytes, 4);
        const high = v128.and(i8x16.shr_u(v128.load(w + 128 + (h << 5) + l), 2 * k), three);
        const q = i8x16.sub(v128.or(low, i8x16.shl(high, 4)), bias);
        const g = (h << 3) + (k << 1) + half;
        acc = group16(mode, q, d * <f32>load<i8>(w + 192 + g), 0, p + ((<usize>((h << 7) + (k << 5) + l)) << 2), acc);
      }
    }
  }
  return acc;
}

// ---- exports: one walk per format, for the dot (matvec) and the row (dequant_row) ---------------------------

// @ts-ignore: decorator
@inline function block(format: i32, mode: i32, w: usize, p: usize, acc: v128): v128 {
  switch (format) {
    case 2: return block_q2_k(mode, w, p, acc);
    case 3: return block_q3_k(mode, w, p, acc);
    case 4: return block_q4_k(mode, w, p, acc);
    case 5: return block_q5_k(mode, w, p, acc);
    default: return block_q6_k(mode, w, p, acc);
  }
}

// @ts-ignore: decorator
@inline function block_bytes(format: i32): usize {
  switch (format) {
    case 2: return 84;
    case 3: return 110;
    case 4: return 144;
    case 5: return 176;
    default: return 210;
  }
}

// @ts-ignore: decorator
@inline function matvec_k(format: i32, out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const blocks = cols >> 8;
  const bytes = block_bytes(format);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * <usize>blocks * bytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < blocks; b++, p += bytes) acc = block(format, DOT, p, x + (<usize>b << 10), acc);
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
}

// @ts-ignore: decorator
@inline function dequant_row_k(format: i32, out: usize, w: usize, cols: i32): void {
  const blocks = cols >> 8;
  const bytes = block_bytes(format);
  for (let b = 0; b < blocks; b++) block(format, STORE, w + <usize>b * bytes, out + (<usize>b << 10), f32x4.splat(0));
}

export function matvec_q2_k(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvec_k(2, out, w, x, rows, cols); }
export function matvec_q3_k(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvec_k(3, out, w, x, rows, cols); }
export function matvec_q4_k(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvec_k(4, out, w, x, rows, cols); }
export function matvec_q5_k(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvec_k(5, out, w, x, rows, cols); }
export function matvec_q6_k(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvec_k(6, out, w, x, rows, cols); }

export function dequant_row_q2_k(out: usize, w: usize, cols: i32): void { dequant_row_k(2, out, w, cols); }
export function dequant_row_q3_k(out: usize, w: usize, cols: i32): void { dequant_row_k(3, out, w, cols); }
export function dequant_row_q4_k(out: usize, w: usize, cols: i32): void { dequant_row_k(4, out, w, cols); }
export function dequant_row_q5_k(out: usize, w: usize, cols: i32): void { dequant_row_k(5, out, w, cols); }
export function dequant_row_q6_k(out: usize, w: usize, cols: i32): void { dequant_row_k(6, out, w, cols); }
