// Decode matrix-vector products of int16-quantized activations with weights in the file's block layout, for the
// formats that are not repacked into tiles (Q5_0 and the K-quants a Q4_K_M / Q5_K_M file uses). The integer dot
// products are those of qmatmul.ts (i32x4.dot_i16x8_s on deinterleaved activations), so a K-quant row streams at
// integer speed instead of converting every weight to f32.
//
// Contract matvec_q16_<fmt>(out, w, qx, dx, px, rows, cols):
//   out   f32[rows] written, never read
//   w     rows x (cols / blockValues * blockBytes), the file's row-major blocks (layouts in src/io/dtype.ts)
//   qx, dx, px  one token's activations from quantize_q16 (qmatmul.ts): i16 per value in deinterleaved 32-blocks,
//         the block's f32 scale and the f32 sum of its quants
//   cols a multiple of the format's block (32 for q5_0, 256 for K-quants). No alignment required; out must not
//   overlap the inputs.
// Per 32-value activation block the sum Σ q_w q_x is exact in i32 (|q_w| <= 63, |q_x| <= 32767, 32 terms); the
// float epilogue multiplies it by the weight scale and dx (and subtracts min * dx * px where the format has mins).
// The twin (src/reference/kernels.ts) computes the same value from dequantized weights and activations.

import { f16_to_f32, hsum } from "./common";
import { k4_min, k4_scale } from "./kquant";
import { fifth_bits } from "./matvec";

// Activation block b of a token: its 32 i16 at qx + 64 b, deinterleaved as [even 0..14 | odd 1..15 | even 16..30 |
// odd 17..31] (four i16x8 vectors at +0, +16, +32, +48).

/** Σ over 16 values of one activation block (half 0: elements 0..15, half 1: 16..31) times 16 i8 weights. */
// @ts-ignore: decorator
@inline function dot16_i8(q: v128, x16: usize): v128 {
  // i16 lane l of q holds elements 2l (low byte) and 2l+1 (high byte): sign-extend each in place.
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(q, 8), 8), v128.load(x16)), i32x4.dot_i16x8_s(i16x8.shr_s(q, 8), v128.load(x16, 16)));
}

/** Sum of the four i32 lanes. */
// @ts-ignore: decorator
@inline function hsum_i32(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

// ---- Q5_0: 22-byte blocks {f16 d, u32 qh, nibbles[16]}, value = d * ((nibble | fifth bit << 4) - 16) ----------

export function matvec_q16_q5_0(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32): void {
  const blocks = <usize>cols >> 5;
  const rowBytes = blocks * 22;
  const mask = i8x16.splat(0x0f), sixteen = i8x16.splat(16);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc: f32 = 0;
    for (let b: usize = 0; b < blocks; b++, p += 22) {
      const qh = load<u32>(p, 2), q = v128.load(p, 6);
      const lo = i8x16.sub(v128.or(v128.and(q, mask), fifth_bits(qh & 0xffff)), sixteen);
      const hi = i8x16.sub(v128.or(i8x16.shr_u(q, 4), fifth_bits(qh >> 16)), sixteen);
      const x16 = qx + (b << 6);
      const isum = hsum_i32(i32x4.add(dot16_i8(lo, x16), dot16_i8(hi, x16 + 32)));
      acc += <f32>isum * (f16_to_f32(load<u16>(p)) * load<f32>(dx + (b << 2)));
    }
    store<f32>(out + (<usize>r << 2), acc);
  }
  px;
}

// ---- Q4_K: 144 bytes {f16 d, f16 dmin, scales[12], qs[128]} per 256 values ----------------------------------
// Sub-block s (32 values, activation block 8 B + s) = low nibbles of qs[32 (s >> 1) ..] for even s, high for odd s.
// Read as i16 lanes, 16 bytes of qs give elements 2l / 2l+1 of one half of a sub-block pair in the low nibbles
// (masks 0x000f and 0x0f00) and of the other sub-block in the high nibbles (0x00f0, 0xf000): the activation order.

export function matvec_q16_q4_k(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32): void {
  const superBlocks = <usize>cols >> 8;
  const rowBytes = superBlocks * 144;
  const m = i16x8.splat(0x0f);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    let mins: f32 = 0;
    for (let sb: usize = 0; sb < superBlocks; sb++, p += 144) {
      const d = f16_to_f32(load<u16>(p)), dmin = f16_to_f32(load<u16>(p, 2));
      for (let j = 0; j < 4; j++) {
        const q0 = v128.load(p + 16 + (<usize>j << 5)), q1 = v128.load(p + 16 + (<usize>j << 5), 16);
        const blockA = (sb << 3) + (<usize>j << 1), blockB = blockA + 1;
        const xa = qx + (blockA << 6), xb = xa + 64;
        const isumA = i32x4.add(
          i32x4.add(i32x4.dot_i16x8_s(v128.and(q0, m), v128.load(xa)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q0, 8), m), v128.load(xa, 16))),
          i32x4.add(i32x4.dot_i16x8_s(v128.and(q1, m), v128.load(xa, 32)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q1, 8), m), v128.load(xa, 48))));
        const isumB = i32x4.add(
          i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q0, 4), m), v128.load(xb)), i32x4.dot_i16x8_s(i16x8.shr_u(q0, 12), v128.load(xb, 16))),
          i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q1, 4), m), v128.load(xb, 32)), i32x4.dot_i16x8_s(i16x8.shr_u(q1, 12), v128.load(xb, 48))));
        const dA = load<f32>(dx + (blockA << 2)), dB = load<f32>(dx + (blockB << 2));
        const sA = j << 1, sBk = sA + 1;
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isumA), f32x4.splat(d * <f32>k4_scale(p + 4, sA) * dA)));
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isumB), f32x4.splat(d * <f32>k4_scale(p + 4, sBk) * dB)));
        mins += dmin * (<f32>k4_min(p + 4, sA) * dA * load<f32>(px + (blockA << 2)) + <f32>k4_min(p + 4, sBk) * dB * load<f32>(px + (blockB << 2)));
      }
    }
    store<f32>(out + (<usize>r << 2), hsum(acc) - mins);
  }
}

// ---- Q6_K: 210 bytes {ql[128], qh[64], i8 scales[16], f16 d} per 256 values ----------------------------------
// Value 128h + 32k + l: low 4 bits from ql[64h + 32 (k & 1) + l] (low nibble for k < 2, high for k >= 2), high 2
// bits at shift 2k of qh[32h + l], minus 32; the 16 values of group 8h + 2k + (l >> 4) share scales[g]. The value
// sits in activation block 8 B + 4h + k, element l.

export function matvec_q16_q6_k(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32): void {
  const superBlocks = <usize>cols >> 8;
  const rowBytes = superBlocks * 210;
  const mask = i8x16.splat(0x0f), three = i8x16.splat(3), bias = i8x16.splat(32);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let sb: usize = 0; sb < superBlocks; sb++, p += 210) {
      const d = f16_to_f32(load<u16>(p, 208));
      for (let h = 0; h < 2; h++) {
        for (let k = 0; k < 4; k++) {
          const block = (sb << 3) + (<usize>h << 2) + <usize>k;
          const x16 = qx + (block << 6);
          const scale = d * load<f32>(dx + (block << 2));
          let isum0 = i32x4.splat(0), isum1 = i32x4.splat(0);
          for (let half = 0; half < 2; half++) {
            const l = <usize>half << 4;
            const lowBytes = v128.load(p + (<usize>h << 6) + (<usize>(k & 1) << 5) + l);
            const low = k < 2 ? v128.and(lowBytes, mask) : i8x16.shr_u(lowBytes, 4);
            const high = v128.and(i8x16.shr_u(v128.load(p + 128 + (<usize>h << 5) + l), 2 * k), three);
            const q = i8x16.sub(v128.or(low, i8x16.shl(high, 4)), bias);
            if (half == 0) isum0 = dot16_i8(q, x16);
            else isum1 = dot16_i8(q, x16 + 32);
          }
          const g = (h << 3) + (k << 1);
          acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum0), f32x4.splat(scale * <f32>load<i8>(p + 192 + g))));
          acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum1), f32x4.splat(scale * <f32>load<i8>(p + 193 + g))));
        }
      }
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
  px;
}
