// The fast path: integer dot products between 4-row weight tiles and int8-quantized activations, the way
// llama.cpp's q8 paths work. One kernel per weight format serves decode (n = 1) and prefill (n tokens).
//
// Activations (quantize_q8): x f32[n][cols] -> qx [n][3 * cols] bytes, dx f32[n][cols/32], px f32[n][cols/32]:
//   per 32-value block, d = max|x| / 127, q = round_half_even(x / d) (q in -127..127), dx = d, px = Σ q (exact).
//   Each token's qx row holds q twice: first as i8 in natural order (cols bytes, read by the relaxed-SIMD build),
//   then as i16 with each block "deinterleaved" into four i16x8 vectors [0,2,..,14 | 1,3,..,15 | 16,18,..,30 |
//   17,19,..,31] (2 * cols bytes, read by the plain-SIMD build): that order matches the nibbles and bytes a 16-bit
//   lane of a weight tile holds, so i32x4.dot_i16x8_s can multiply them without unpacking bytes.
//
// Weight tiles (repacked at load from llama.cpp blocks, src/model/repack.ts): rows are grouped by four; a tile row
// of tiles holds, block after block:
//   q4_1x4: nibbles[4 rows][16 bytes] | d[4] f16 | m[4] f16          80 bytes per block (same bytes as 4 Q4_1 blocks)
//   q4_0x4: nibbles[4 rows][16 bytes] | d[4] f16                     72 bytes per block
//   q8_0x4: q[4 rows][32 i8]          | d[4] f16                    136 bytes per block
// so a matvec reads the weights in one sequential stream and each activation block is loaded once per 4 rows.
//
// Contract matmul_<fmt>x4(out, w, qx, dx, px, rows, cols, n, tile0, tile1):
//   out   f32[n][rows]  token-major; rows [4*tile0, 4*tile1) of every token are written, nothing else
//   w     rows/4 tiles of cols/32 blocks each (format above); rows % 4 == 0, cols % 32 == 0
//   qx, dx, px  quantized activations of n tokens (as above), read only
//   Aliasing: out must not overlap any input. No alignment required.
//   Tile ranges let threads split the rows; [0, rows/4) computes everything.
// Per block the integer sum Σ q_w q_x is exact (i32); the float epilogue is
//   q4_1: d_w dx Σ q_w q_x + m_w dx px      q4_0: d_w dx (Σ q_w q_x - 8 px)      q8_0: d_w dx Σ q_w q_x
// With relaxed SIMD the nibble dots use i32x4.relaxed_dot_i8x16_i7x16_add_s, exact here because nibbles are 7-bit
// non-negative and two products never exceed i16 (2 * 15 * 127); integer sums are exact in both builds and the
// float epilogue is the same, so both builds give bit-identical results.

import { f16_to_f32, f16x4_to_f32x4 } from "./common";

// ---- activation quantization -------------------------------------------------------------------------

// Contract quantize_q8(x, qx, dx, px, cols, n): x f32[n][cols] read; qx [n][3 * cols] bytes, dx f32[n][cols/32],
// px f32[n][cols/32] written; cols % 32 == 0; no overlap between outputs and x.
export function quantize_q8(x: usize, qx: usize, dx: usize, px: usize, cols: i32, n: i32): void {
  const perToken = <usize>cols >> 5;
  const blocks = perToken * <usize>n;
  for (let b: usize = 0; b < blocks; b++) {
    const xp = x + (b << 7);
    const v0 = v128.load(xp), v1 = v128.load(xp, 16), v2 = v128.load(xp, 32), v3 = v128.load(xp, 48);
    const v4 = v128.load(xp, 64), v5 = v128.load(xp, 80), v6 = v128.load(xp, 96), v7 = v128.load(xp, 112);
    let m = f32x4.max(f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3))),
      f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
    const amax = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    const d: f32 = amax / <f32>127;
    const id: f32 = amax > 0 ? <f32>127 / amax : 0;
    const iv = f32x4.splat(id);
    const a = i16x8.narrow_i32x4_s(to_int(v0, iv), to_int(v1, iv));
    const c = i16x8.narrow_i32x4_s(to_int(v2, iv), to_int(v3, iv));
    const e = i16x8.narrow_i32x4_s(to_int(v4, iv), to_int(v5, iv));
    const g = i16x8.narrow_i32x4_s(to_int(v6, iv), to_int(v7, iv));
    const t = b / perToken, within = b % perToken;
    const row = qx + t * 3 * <usize>cols;
    const q8 = row + (within << 5);
    const q0 = i8x16.narrow_i16x8_s(a, c), q1 = i8x16.narrow_i16x8_s(e, g);
    v128.store(q8, q0);
    v128.store(q8, q1, 16);
    // Even elements then odd ones, each sign-extended to i16: [0,2,..,14 | 1,3,..,15], then the same for 16..31.
    const q16 = row + <usize>cols + (within << 6);
    const s0 = i8x16.shuffle(q0, q0, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const s1 = i8x16.shuffle(q1, q1, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    v128.store(q16, i16x8.extend_low_i8x16_s(s0));
    v128.store(q16, i16x8.extend_high_i8x16_s(s0), 16);
    v128.store(q16, i16x8.extend_low_i8x16_s(s1), 32);
    v128.store(q16, i16x8.extend_high_i8x16_s(s1), 48);
    const sums = i32x4.add(i32x4.add(i32x4.extadd_pairwise_i16x8_s(a), i32x4.extadd_pairwise_i16x8_s(c)), i32x4.add(i32x4.extadd_pairwise_i16x8_s(e), i32x4.extadd_pairwise_i16x8_s(g)));
    store<f32>(dx + (b << 2), d);
    store<f32>(px + (b << 2), <f32>(i32x4.extract_lane(sums, 0) + i32x4.extract_lane(sums, 1) + i32x4.extract_lane(sums, 2) + i32x4.extract_lane(sums, 3)));
  }
}

// @ts-ignore: decorator
@inline function to_int(v: v128, id: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, id)));
}

// ---- integer dot products of one weight row's block with one activation block -------------------------

/**
 * Σ over one block of nibble * x for one weight row, as i32x4 partial sums. q: the row's 16 nibble bytes (element j
 * in the low nibble of byte j, element j + 16 in the high nibble). x8 / x16: this block's activations as i8 / deinterleaved i16 (layout above).
 */
// @ts-ignore: decorator
@inline function dot_nibbles(q: v128, x8: usize, x16: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    // 7-bit non-negative nibbles times i8 activations: exact, and one instruction where the CPU has a dot product.
    const lo = v128.and(q, i8x16.splat(0x0f));
    const hi = i8x16.shr_u(q, 4);
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x8, 16), hi, i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x8), lo, i32x4.splat(0)));
  }
  // Read as i16 lanes, lane l holds elements 2l (bits 0-3), 2l+16 (4-7), 2l+1 (8-11), 2l+17 (12-15): four masks and
  // shifts give four i16x8 vectors in the deinterleaved activation order, multiplied pairwise by dot_i16x8_s.
  const m = i16x8.splat(0x0f);
  const a = i32x4.dot_i16x8_s(v128.and(q, m), v128.load(x16));
  const b = i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q, 8), m), v128.load(x16, 16));
  const c = i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q, 4), m), v128.load(x16, 32));
  const d = i32x4.dot_i16x8_s(i16x8.shr_u(q, 12), v128.load(x16, 48));
  return i32x4.add(i32x4.add(a, b), i32x4.add(c, d));
}

/** Σ over one block of w * x for one row of signed 8-bit weights (w0: elements 0..15, w1: 16..31). */
// @ts-ignore: decorator
@inline function dot_i8(w0: v128, w1: v128, x16: usize): v128 {
  // i16 lane l of w0 holds elements 2l (low byte) and 2l+1 (high byte): sign-extend each in place.
  const a = i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(w0, 8), 8), v128.load(x16));
  const b = i32x4.dot_i16x8_s(i16x8.shr_s(w0, 8), v128.load(x16, 16));
  const c = i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(w1, 8), 8), v128.load(x16, 32));
  const d = i32x4.dot_i16x8_s(i16x8.shr_s(w1, 8), v128.load(x16, 48));
  return i32x4.add(i32x4.add(a, b), i32x4.add(c, d));
}

/** [Σ lanes of s0, Σ lanes of s1, Σ lanes of s2, Σ lanes of s3]: one total per tile row. */
// @ts-ignore: decorator
@inline function reduce4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const t01 = i32x4.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const t23 = i32x4.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t01, t23, 0, 1, 4, 5), i32x4.shuffle(t01, t23, 2, 3, 6, 7));
}

// ---- the kernels ----------------------------------------------------------------------------------------

export function matmul_q4_1x4(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32, n: i32, tile0: i32, tile1: i32): void {
  const blocks = <usize>cols >> 5;
  const tileBytes = blocks * 80;
  for (let tile = tile0; tile < tile1; tile++) {
    const wt = w + <usize>tile * tileBytes;
    for (let t = 0; t < n; t++) {
      const x8 = qx + <usize>t * 3 * <usize>cols;
      const x16 = x8 + <usize>cols;
      const xd = dx + ((<usize>t * blocks) << 2);
      const xs = px + ((<usize>t * blocks) << 2);
      let acc = f32x4.splat(0);
      let p = wt;
      for (let b: usize = 0; b < blocks; b++, p += 80) {
        const xa = x8 + (b << 5), xb = x16 + (b << 6);
        const isum = reduce4(dot_nibbles(v128.load(p), xa, xb), dot_nibbles(v128.load(p, 16), xa, xb),
          dot_nibbles(v128.load(p, 32), xa, xb), dot_nibbles(v128.load(p, 48), xa, xb));
        const d = load<f32>(xd + (b << 2));
        const scale = f32x4.mul(f16x4_to_f32x4(v128.load16x4_u(p, 64)), f32x4.splat(d));
        const offset = f32x4.mul(f16x4_to_f32x4(v128.load16x4_u(p, 72)), f32x4.splat(d * load<f32>(xs + (b << 2))));
        acc = f32x4.add(acc, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(isum), scale), offset));
      }
      v128.store(out + ((<usize>t * <usize>rows + (<usize>tile << 2)) << 2), acc);
    }
  }
}

export function matmul_q4_0x4(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32, n: i32, tile0: i32, tile1: i32): void {
  const blocks = <usize>cols >> 5;
  const tileBytes = blocks * 72;
  for (let tile = tile0; tile < tile1; tile++) {
    const wt = w + <usize>tile * tileBytes;
    for (let t = 0; t < n; t++) {
      const x8 = qx + <usize>t * 3 * <usize>cols;
      const x16 = x8 + <usize>cols;
      const xd = dx + ((<usize>t * blocks) << 2);
      const xs = px + ((<usize>t * blocks) << 2);
      let acc = f32x4.splat(0);
      let p = wt;
      for (let b: usize = 0; b < blocks; b++, p += 72) {
        const xa = x8 + (b << 5), xb = x16 + (b << 6);
        const isum = reduce4(dot_nibbles(v128.load(p), xa, xb), dot_nibbles(v128.load(p, 16), xa, xb),
          dot_nibbles(v128.load(p, 32), xa, xb), dot_nibbles(v128.load(p, 48), xa, xb));
        // Nibbles are stored as q + 8: subtract 8 * Σ q_x once per block instead of 8 from every nibble.
        const corrected = i32x4.sub(isum, i32x4.splat(<i32>load<f32>(xs + (b << 2)) * 8));
        const scale = f32x4.mul(f16x4_to_f32x4(v128.load16x4_u(p, 64)), f32x4.splat(load<f32>(xd + (b << 2))));
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(corrected), scale));
      }
      v128.store(out + ((<usize>t * <usize>rows + (<usize>tile << 2)) << 2), acc);
    }
  }
}

export function matmul_q8_0x4(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32, n: i32, tile0: i32, tile1: i32): void {
  const blocks = <usize>cols >> 5;
  const tileBytes = blocks * 136;
  for (let tile = tile0; tile < tile1; tile++) {
    const wt = w + <usize>tile * tileBytes;
    for (let t = 0; t < n; t++) {
      const x8 = qx + <usize>t * 3 * <usize>cols;
      const x16 = x8 + <usize>cols;
      const xd = dx + ((<usize>t * blocks) << 2);
      let acc = f32x4.splat(0);
      let p = wt;
      for (let b: usize = 0; b < blocks; b++, p += 136) {
        const xb = x16 + (b << 6);
        const isum = reduce4(dot_i8(v128.load(p), v128.load(p, 16), xb), dot_i8(v128.load(p, 32), v128.load(p, 48), xb),
          dot_i8(v128.load(p, 64), v128.load(p, 80), xb), dot_i8(v128.load(p, 96), v128.load(p, 112), xb));
        const scale = f32x4.mul(f16x4_to_f32x4(v128.load16x4_u(p, 128)), f32x4.splat(load<f32>(xd + (b << 2))));
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), scale));
      }
      v128.store(out + ((<usize>t * <usize>rows + (<usize>tile << 2)) << 2), acc);
    }
  }
  // px is unused for q8_0 (no offset term); it is in the signature so all tiled kernels look alike.
  px;
}

// Contract dequant_row_<fmt>x4(out, w, row, cols): out f32[cols] = row `row` of a tiled matrix (e.g. an embedding
// lookup in a tiled table); cols % 32 == 0.
export function dequant_row_q8_0x4(out: usize, w: usize, row: i32, cols: i32): void {
  const blocks = <usize>cols >> 5;
  const within = <usize>(row & 3);
  let p = w + <usize>(row >> 2) * blocks * 136;
  for (let b: usize = 0; b < blocks; b++, p += 136) {
    const q = p + (within << 5);
    const d = f16x4_lane(p + 128, within);
    for (let j: usize = 0; j < 32; j++) store<f32>(out + ((b << 5) + j << 2), <f32>load<i8>(q + j) * d);
  }
}

export function dequant_row_q4_1x4(out: usize, w: usize, row: i32, cols: i32): void {
  const blocks = <usize>cols >> 5;
  const within = <usize>(row & 3);
  let p = w + <usize>(row >> 2) * blocks * 80;
  for (let b: usize = 0; b < blocks; b++, p += 80) {
    const q = p + (within << 4);
    const d = f16x4_lane(p + 64, within), m = f16x4_lane(p + 72, within);
    for (let j: usize = 0; j < 16; j++) {
      const byte = <u32>load<u8>(q + j);
      store<f32>(out + ((b << 5) + j << 2), <f32>(byte & 15) * d + m);
      store<f32>(out + ((b << 5) + j + 16 << 2), <f32>(byte >> 4) * d + m);
    }
  }
}

export function dequant_row_q4_0x4(out: usize, w: usize, row: i32, cols: i32): void {
  const blocks = <usize>cols >> 5;
  const within = <usize>(row & 3);
  let p = w + <usize>(row >> 2) * blocks * 72;
  for (let b: usize = 0; b < blocks; b++, p += 72) {
    const q = p + (within << 4);
    const d = f16x4_lane(p + 64, within);
    for (let j: usize = 0; j < 16; j++) {
      const byte = <i32>load<u8>(q + j);
      store<f32>(out + ((b << 5) + j << 2), <f32>((byte & 15) - 8) * d);
      store<f32>(out + ((b << 5) + j + 16 << 2), <f32>((byte >> 4) - 8) * d);
    }
  }
}

// @ts-ignore: decorator
@inline function f16x4_lane(p: usize, lane: usize): f32 {
  return f16_to_f32(load<u16>(p + (lane << 1)));
}

// Contract dot_selftest() -> i32: the nibble dot product of a fixed block (no memory access), for the host to
// check a build before trusting it. Some engines shipped relaxed SIMD with a wrong dot-add (Node 20's
// flag-gated implementation doubles the result), so a build is only used when this returns the exact answer, -256.
export function dot_selftest(): i32 {
  // bytes 0x10 0x32 0x54 0x76 0x98 0xba 0xdc 0xfe 0x01 0x23 0x45 0x67 0x89 0xab 0xcd 0xef, written as i8
  const q = i8x16(0x10, 0x32, 0x54, 0x76, -104, -70, -36, -2, 0x01, 0x23, 0x45, 0x67, -119, -85, -51, -17);
  const x0 = i8x16(-1, 2, -3, 4, -5, 6, -7, 8, -9, 10, -11, 12, -13, 14, -15, 16);
  const x1 = i8x16(17, -18, 19, -20, 21, -22, 23, -24, 25, -26, 27, -28, 29, -30, 31, -32);
  const lo = v128.and(q, i8x16.splat(0x0f));
  const hi = i8x16.shr_u(q, 4);
  let sum: v128;
  if (ASC_FEATURE_RELAXED_SIMD) {
    sum = i32x4.relaxed_dot_i8x16_i7x16_add_s(x1, hi, i32x4.relaxed_dot_i8x16_i7x16_add_s(x0, lo, i32x4.splat(0)));
  } else {
    sum = i32x4.add(i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(lo, x0), i16x8.extmul_high_i8x16_s(lo, x0))),
      i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(hi, x1), i16x8.extmul_high_i8x16_s(hi, x1))));
  }
  return i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) + i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3);
}
