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
// One row at a time: sharing activation loads between two rows measured slower from DRAM (the loads fold into
// pmaddwd operands for free; keeping them in registers spills). Per activation
// block the products q_w q_x are summed exactly in i32 lanes of at most 8 products (|q_w| <= 63, |q_x| <= 32767,
// so below 2^24: the conversion to f32 is exact); the float epilogue multiplies the lanes by the weight scale and
// dx (and subtracts min * dx * px where the format has mins; Q5_0 multiplies its stored values 0..31 and subtracts
// 16 px).
// The twin (src/reference/kernels.ts) computes the same value from dequantized weights and activations.

import { f16_to_f32, hsum } from "./common";

// Activation block b of a token: its 32 i16 at qx + 64 b, deinterleaved as [even 0..14 | odd 1..15 | even 16..30 |
// odd 17..31] (four i16x8 vectors at +0, +16, +32, +48).

/** Σ over 16 values of one activation block (half 0: elements 0..15, half 1: 16..31) times 16 i8 weights. */
// @ts-ignore: decorator
@inline function dot16_i8(q: v128, xEven: v128, xOdd: v128): v128 {
  // i16 lane l of q holds elements 2l (low byte) and 2l+1 (high byte): sign-extend each in place.
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(q, 8), 8), xEven), i32x4.dot_i16x8_s(i16x8.shr_s(q, 8), xOdd));
}

// ---- Q5_0: 22-byte blocks {f16 d, u32 qh, nibbles[16]}, value = d * ((nibble | fifth bit << 4) - 16) ----------

// V8 on x64 rebuilds a v128 immediate inside a loop with two or three instructions at every use; masks that the
// loops need often are read from static data instead (one load each). Swizzle indices stay immediates: V8 drops its
// out-of-range fix-up only for constant indices.
const NIBBLE_MASK: usize = memory.data<u8>([15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15], 16);
const BIT_4: usize = memory.data<u8>([16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16], 16);
const BIT_SELECT: usize = memory.data<u8>([1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128], 16);
const LOW_BYTES: usize = memory.data<u8>([255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0], 16);

/**
 * Σ u_w q_x of one Q5_0 block at p against one activation block (its four i16x8 vectors), as i32 lanes, where
 * u_w = nibble | fifth bit << 4 is the stored value before its - 16 (0..31; the caller subtracts 16 Σ q_x).
 */
// @ts-ignore: decorator
@inline function q5_0_block_dot_u(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const qh = i32x4.splat(load<u32>(p, 2)), q = v128.load(p, 6);
  const select = v128.load(BIT_SELECT), bit4 = v128.load(BIT_4), nibble = v128.load(NIBBLE_MASK), lowBytes = v128.load(LOW_BYTES);
  // Byte j of spreadLo holds qh's byte j / 8 (bits of values 0..15), of spreadHi byte 2 + j / 8 (values 16..31).
  const spreadLo = i8x16.swizzle(qh, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const spreadHi = i8x16.swizzle(qh, i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const lo = v128.or(v128.and(q, nibble), v128.and(i8x16.eq(v128.and(spreadLo, select), select), bit4));
  const hi = v128.or(v128.and(i16x8.shr_u(q, 4), nibble), v128.and(i8x16.eq(v128.and(spreadHi, select), select), bit4));
  // i16 lane l of lo holds values 2l (low byte) and 2l + 1 (high byte), unsigned: the activations' even/odd order.
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(lo, lowBytes), x0), i32x4.dot_i16x8_s(i16x8.shr_u(lo, 8), x1)),
    i32x4.add(i32x4.dot_i16x8_s(v128.and(hi, lowBytes), x2), i32x4.dot_i16x8_s(i16x8.shr_u(hi, 8), x3)));
}

export function matvec_q16_q5_0(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32): void {
  const blocks = <usize>cols >> 5;
  const rowBytes = blocks * 22;
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let b: usize = 0; b < blocks; b++, p += 22) {
      const x16 = qx + (b << 6);
      // The - 16 of every weight: 16 Σ q_x, spread as 4 Σ q_x over the four lanes (integers below 2^24: exact in f32).
      const bias = f32x4.splat(load<f32>(px + (b << 2)) * 4);
      const sum = f32x4.sub(f32x4.convert_i32x4_s(q5_0_block_dot_u(p, v128.load(x16), v128.load(x16, 16), v128.load(x16, 32), v128.load(x16, 48))), bias);
      acc = f32x4.add(acc, f32x4.mul(sum, f32x4.splat(f16_to_f32(load<u16>(p)) * load<f32>(dx + (b << 2)))));
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
}

// Lane masks for unpacking the eight 6-bit scales and mins of a Q4_K super-block (llama.cpp get_scale_min_k4):
// sub-blocks 0-3 keep the low 6 bits of their byte, sub-blocks 4-7 join a nibble with the top 2 bits of another byte.
const K4_LOW_PART: usize = memory.data<u8>([63, 63, 63, 63, 15, 15, 15, 15, 0, 0, 0, 0, 0, 0, 0, 0], 16);
const K4_HIGH_PART: usize = memory.data<u8>([0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30, 0, 0, 0, 0, 0, 0, 0, 0], 16);

/** u8 lanes 0-7 of v as f32: lanes 0-3 (lo = true) or 4-7. */
// @ts-ignore: decorator
@inline function u8_lanes_f32(v: v128, lo: bool): v128 {
  const halves = i16x8.extend_low_i8x16_u(v);
  return f32x4.convert_i32x4_u(lo ? i32x4.extend_low_i16x8_u(halves) : i32x4.extend_high_i16x8_u(halves));
}

/**
 * The eight 6-bit scales (mins = false) or mins (true) of the Q4_K super-block whose scale bytes start at s, as u8
 * lanes 0-7. scale j = s[j] & 63 (j < 4), (s[j + 4] & 15) | (s[j - 4] >> 6) << 4 (j >= 4); min j = s[j + 4] & 63
 * (j < 4), (s[j + 4] >> 4) | (s[j] >> 6) << 4 (j >= 4). Reads 16 bytes (the 12 scale bytes and 4 of qs).
 */
// @ts-ignore: decorator
@inline function k4_unpack(s: usize, mins: bool): v128 {
  const v = v128.load(s), nibbles = i16x8.shr_u(v, 4), top2 = i16x8.shr_u(v, 2);
  const low = mins ? i8x16.shuffle(v, nibbles, 4, 5, 6, 7, 24, 25, 26, 27, 0, 0, 0, 0, 0, 0, 0, 0)
    : i8x16.shuffle(v, v, 0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0);
  const high = mins ? i8x16.shuffle(top2, top2, 0, 0, 0, 0, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0)
    : i8x16.shuffle(top2, top2, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0);
  return v128.or(v128.and(low, v128.load(K4_LOW_PART)), v128.and(high, v128.load(K4_HIGH_PART)));
}

/**
 * One row's Σ over sub-block pair j (sub-blocks 2j and 2j+1, activations at xa: two consecutive blocks) of the
 * Q4_K super-block at p, as f32 lanes: the integer dots times the pair's multipliers d * scale_s * dx_s, which
 * are lanes `lane` and `lane + 1` of `mult`. j and lane are literals at every call (shuffle lanes are immediates).
 */
// @ts-ignore: decorator
@inline function q4_k_pair(p: usize, j: i32, xa: usize, mult: v128, lane: i32): v128 {
  const m = i16x8.splat(0x0f);
  const q0 = v128.load(p + 16 + (<usize>j << 5)), q1 = v128.load(p + 16 + (<usize>j << 5), 16);
  const isumA = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(q0, m), v128.load(xa)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q0, 8), m), v128.load(xa, 16))),
    i32x4.add(i32x4.dot_i16x8_s(v128.and(q1, m), v128.load(xa, 32)), i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q1, 8), m), v128.load(xa, 48))));
  const isumB = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q0, 4), m), v128.load(xa, 64)), i32x4.dot_i16x8_s(i16x8.shr_u(q0, 12), v128.load(xa, 80))),
    i32x4.add(i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q1, 4), m), v128.load(xa, 96)), i32x4.dot_i16x8_s(i16x8.shr_u(q1, 12), v128.load(xa, 112))));
  const multA = lane == 0 ? i32x4.shuffle(mult, mult, 0, 0, 0, 0) : i32x4.shuffle(mult, mult, 2, 2, 2, 2);
  const multB = lane == 0 ? i32x4.shuffle(mult, mult, 1, 1, 1, 1) : i32x4.shuffle(mult, mult, 3, 3, 3, 3);
  return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(isumA), multA), f32x4.mul(f32x4.convert_i32x4_s(isumB), multB));
}

export function matvec_q16_q4_k(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32): void {
  const superBlocks = <usize>cols >> 8;
  const rowBytes = superBlocks * 144;
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0), mins = f32x4.splat(0);
    for (let sb: usize = 0; sb < superBlocks; sb++, p += 144) {
      const d = f16_to_f32(load<u16>(p)), dmin = f16_to_f32(load<u16>(p, 2));
      // Per sub-block multipliers d * scale * dx (lanes 0-3: sub-blocks 0-3, then 4-7) and the min term's dx * px.
      const dx8 = dx + (sb << 5), px8 = px + (sb << 5);
      const dx03 = v128.load(dx8), dx47 = v128.load(dx8, 16);
      const scales = k4_unpack(p + 4, false), minima = k4_unpack(p + 4, true);
      const mult03 = f32x4.mul(f32x4.mul(u8_lanes_f32(scales, true), dx03), f32x4.splat(d));
      const mult47 = f32x4.mul(f32x4.mul(u8_lanes_f32(scales, false), dx47), f32x4.splat(d));
      // Two passes of two sub-block pairs each: a loop, not four inlined copies, keeps V8 from hoisting every
      // activation load to the top of the body (and spilling them).
      for (let half: usize = 0; half < 2; half++) {
        const mult = half == 0 ? mult03 : mult47;
        const q = p + (half << 6), xs = qx + (sb << 9) + (half << 8);
        acc = f32x4.add(acc, q4_k_pair(q, 0, xs, mult, 0));
        acc = f32x4.add(acc, q4_k_pair(q, 1, xs + 128, mult, 2));
      }
      const minTerms = f32x4.add(
        f32x4.mul(u8_lanes_f32(minima, true), f32x4.mul(dx03, v128.load(px8))),
        f32x4.mul(u8_lanes_f32(minima, false), f32x4.mul(dx47, v128.load(px8, 16))));
      mins = f32x4.add(mins, f32x4.mul(minTerms, f32x4.splat(dmin)));
    }
    store<f32>(out + (<usize>r << 2), hsum(acc) - hsum(mins));
  }
}

// ---- Q6_K: 210 bytes {ql[128], qh[64], i8 scales[16], f16 d} per 256 values ----------------------------------
// Value 128h + 32k + l: low 4 bits from ql[64h + 32 (k & 1) + l] (low nibble for k < 2, high for k >= 2), high 2
// bits at shift 2k of qh[32h + l], minus 32; the 16 values of group 8h + 2k + (l >> 4) share scales[g]. The value
// sits in activation block 8 B + 4h + k, element l.

const THREE: usize = memory.data<u8>([3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], 16);
const THIRTY_TWO: usize = memory.data<u8>([32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32], 16);

/**
 * One row's share of activation block 8 B + 4h + k (at x16) for the Q6_K super-block at p, as f32 lanes:
 * scale * Σ over both 16-value groups of scales[g] * Σ q_w q_x (scale = d * dx of the block). Callers pass k as a
 * literal so that the shifts by 2k are immediates after inlining.
 */
// @ts-ignore: decorator
@inline function q6_k_block(p: usize, h: usize, k: i32, x16: usize, scale: f32): v128 {
  const nibble = v128.load(NIBBLE_MASK), three = v128.load(THREE), bias = v128.load(THIRTY_TWO);
  const ql = p + (h << 6) + (<usize>(k & 1) << 5), qh = p + 128 + (h << 5);
  // i16 shifts then a byte mask: no bits cross into a byte that is kept.
  const low0 = k < 2 ? v128.and(v128.load(ql), nibble) : v128.and(i16x8.shr_u(v128.load(ql), 4), nibble);
  const low1 = k < 2 ? v128.and(v128.load(ql, 16), nibble) : v128.and(i16x8.shr_u(v128.load(ql, 16), 4), nibble);
  const high0 = v128.and(i16x8.shr_u(v128.load(qh), 2 * k), three), high1 = v128.and(i16x8.shr_u(v128.load(qh, 16), 2 * k), three);
  const q0 = i8x16.sub(v128.or(low0, i16x8.shl(high0, 4)), bias);
  const q1 = i8x16.sub(v128.or(low1, i16x8.shl(high1, 4)), bias);
  const g = p + 192 + (h << 3) + (<usize>k << 1);
  return f32x4.add(
    f32x4.mul(f32x4.convert_i32x4_s(dot16_i8(q0, v128.load(x16), v128.load(x16, 16))), f32x4.splat(scale * <f32>load<i8>(g))),
    f32x4.mul(f32x4.convert_i32x4_s(dot16_i8(q1, v128.load(x16, 32), v128.load(x16, 48))), f32x4.splat(scale * <f32>load<i8>(g, 1))));
}

export function matvec_q16_q6_k(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32): void {
  const superBlocks = <usize>cols >> 8;
  const rowBytes = superBlocks * 210;
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let sb: usize = 0; sb < superBlocks; sb++, p += 210) {
      const d = f16_to_f32(load<u16>(p, 208));
      for (let h: usize = 0; h < 2; h++) {
        const block = (sb << 3) + (h << 2);
        const x16 = qx + (block << 6), dxh = dx + (block << 2);
        acc = f32x4.add(acc, q6_k_block(p, h, 0, x16, d * load<f32>(dxh)));
        acc = f32x4.add(acc, q6_k_block(p, h, 1, x16 + 64, d * load<f32>(dxh, 4)));
        acc = f32x4.add(acc, q6_k_block(p, h, 2, x16 + 128, d * load<f32>(dxh, 8)));
        acc = f32x4.add(acc, q6_k_block(p, h, 3, x16 + 192, d * load<f32>(dxh, 12)));
      }
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
  px;
}
