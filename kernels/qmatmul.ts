// The fast path: integer dot products between 4-row weight tiles and int16-quantized activations (llama.cpp's
// q8 paths use int8 activations; int16 costs nothing extra here because the products are taken in 16-bit lanes
// anyway, and it keeps activation rounding ~250 times smaller). One kernel per weight format serves decode (n = 1)
// and prefill (n tokens).
//
// Activations (quantize_q16): x f32[n][cols] -> qx i16[n][cols], dx f32[n][cols/32], px f32[n][cols/32]:
//   per 32-value block, d = max|x| / 32767, q = round_half_even(x / d), dx = d, px = Σ q (exact in f32).
//   Each block's q is stored "deinterleaved" as four i16x8 vectors [0,2,..,14 | 1,3,..,15 | 16,18,..,30 | 17,..,31]:
//   that order matches the nibbles and bytes a 16-bit lane of a weight tile holds, so i32x4.dot_i16x8_s multiplies
//   them without unpacking bytes.
//
// Weight tiles (repacked at load from llama.cpp blocks, src/runtime/tiles.ts): rows are grouped by four; a tile row
// of tiles holds, block after block:
//   q4_1x4: nibbles[4 rows][16 bytes] | d[4] f16 | m[4] f16          80 bytes per block (same bytes as 4 Q4_1 blocks)
//   q4_0x4: nibbles[4 rows][16 bytes] | d[4] f16                     72 bytes per block
//   q8_0x4: q[4 rows][32 i8]          | d[4] f16                    136 bytes per block
// so a matvec reads the weights in one sequential stream and each activation block is loaded once per 4 rows.
//
// Contract matmul_<fmt>x4(out, w, qx, dx, px, rows, cols, n, tile0, tile1, outStride):
//   out   f32[n][outStride]  token-major; columns [4*tile0, 4*tile1) of every token row are written, nothing else
//   w     rows/4 tiles of cols/32 blocks each (format above); rows % 4 == 0, cols % 32 == 0
//   qx, dx, px  quantized activations of n tokens (as above), read only
//   Aliasing: out must not overlap any input. No alignment required.
//   Tile ranges let threads split the rows; [0, rows/4) computes everything.
// Per block the integer sum Σ q_w q_x is exact in i32 (at most 32 * 128 * 32767 < 2^31); the float epilogue is
//   q4_1: d_w dx Σ q_w q_x + m_w dx px      q4_0: d_w dx (Σ q_w q_x - 8 px)      q8_0: d_w dx Σ q_w q_x

import { f16_to_f32, f16x4_to_f32x4 } from "./common";

// ---- activation quantization -------------------------------------------------------------------------

// Contract quantize_q16(x, qx, dx, px, cols, n): x f32[n][cols] read; qx i16[n][cols] (deinterleaved blocks),
// dx f32[n][cols/32], px f32[n][cols/32] written; cols % 32 == 0; no overlap between outputs and x.
export function quantize_q16(x: usize, qx: usize, dx: usize, px: usize, cols: i32, n: i32): void {
  const blocks = (<usize>cols >> 5) * <usize>n;
  for (let b: usize = 0; b < blocks; b++) {
    const xp = x + (b << 7);
    const v0 = v128.load(xp), v1 = v128.load(xp, 16), v2 = v128.load(xp, 32), v3 = v128.load(xp, 48);
    const v4 = v128.load(xp, 64), v5 = v128.load(xp, 80), v6 = v128.load(xp, 96), v7 = v128.load(xp, 112);
    let m = f32x4.max(f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3))),
      f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
    const amax = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    const d: f32 = amax / <f32>32767;
    const id: f32 = amax > 0 ? <f32>32767 / amax : 0;
    const iv = f32x4.splat(id);
    // Natural order, elements 0-7, 8-15, 16-23, 24-31.
    const a = i16x8.narrow_i32x4_s(to_int(v0, iv), to_int(v1, iv));
    const c = i16x8.narrow_i32x4_s(to_int(v2, iv), to_int(v3, iv));
    const e = i16x8.narrow_i32x4_s(to_int(v4, iv), to_int(v5, iv));
    const g = i16x8.narrow_i32x4_s(to_int(v6, iv), to_int(v7, iv));
    // Even elements, then odd ones, of 0..15 and of 16..31.
    const q = qx + (b << 6);
    v128.store(q, i8x16.shuffle(a, c, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29));
    v128.store(q, i8x16.shuffle(a, c, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31), 16);
    v128.store(q, i8x16.shuffle(e, g, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29), 32);
    v128.store(q, i8x16.shuffle(e, g, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31), 48);
    const sums = i32x4.add(i32x4.add(i32x4.extadd_pairwise_i16x8_s(a), i32x4.extadd_pairwise_i16x8_s(c)), i32x4.add(i32x4.extadd_pairwise_i16x8_s(e), i32x4.extadd_pairwise_i16x8_s(g)));
    store<f32>(dx + (b << 2), d);
    store<f32>(px + (b << 2), <f32>(i32x4.extract_lane(sums, 0) + i32x4.extract_lane(sums, 1) + i32x4.extract_lane(sums, 2) + i32x4.extract_lane(sums, 3)));
  }
}

/** round_half_even(v * id) as i32 lanes; in range by construction (|v * id| <= 32767). */
// @ts-ignore: decorator
@inline function to_int(v: v128, id: v128): v128 {
  const rounded = f32x4.nearest(f32x4.mul(v, id));
  // Both truncations agree on in-range values; the relaxed one is a single instruction on x86.
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_trunc_f32x4_s(rounded);
  return i32x4.trunc_sat_f32x4_s(rounded);
}

// ---- integer dot products of one weight row's block with one activation block -------------------------

/**
 * Σ over one block of nibble * x for one weight row, as i32x4 partial sums. q: the row's 16 nibble bytes (element j
 * in the low nibble of byte j, element j + 16 in the high nibble); x0..x3: the block's deinterleaved i16
 * activations (loaded once per block by the caller, shared by the tile's four rows).
 * Read as i16 lanes, lane l holds elements 2l (bits 0-3), 2l+16 (4-7), 2l+1 (8-11), 2l+17 (12-15): four masks and
 * shifts give four i16x8 vectors in the activation order, multiplied pairwise by dot_i16x8_s.
 */
// @ts-ignore: decorator
@inline function dot_nibbles(q: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const m = i16x8.splat(0x0f);
  const a = i32x4.dot_i16x8_s(v128.and(q, m), x0);
  const b = i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q, 8), m), x1);
  const c = i32x4.dot_i16x8_s(v128.and(i16x8.shr_u(q, 4), m), x2);
  const d = i32x4.dot_i16x8_s(i16x8.shr_u(q, 12), x3);
  return i32x4.add(i32x4.add(a, b), i32x4.add(c, d));
}

/** Σ over one block of (pre-extracted i16 weights e0..e3) * (this token's deinterleaved activations at x16). */
// @ts-ignore: decorator
@inline function dot4(e0: v128, e1: v128, e2: v128, e3: v128, x16: usize): v128 {
  return i32x4.add(i32x4.add(i32x4.dot_i16x8_s(e0, v128.load(x16)), i32x4.dot_i16x8_s(e1, v128.load(x16, 16))),
    i32x4.add(i32x4.dot_i16x8_s(e2, v128.load(x16, 32)), i32x4.dot_i16x8_s(e3, v128.load(x16, 48))));
}

/** Σ over one block of w * x for one row of signed 8-bit weights (w0: elements 0..15, w1: 16..31). */
// @ts-ignore: decorator
@inline function dot_i8(w0: v128, w1: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  // i16 lane l of w0 holds elements 2l (low byte) and 2l+1 (high byte): sign-extend each in place.
  const a = i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(w0, 8), 8), x0);
  const b = i32x4.dot_i16x8_s(i16x8.shr_s(w0, 8), x1);
  const c = i32x4.dot_i16x8_s(i16x8.shr_s(i16x8.shl(w1, 8), 8), x2);
  const d = i32x4.dot_i16x8_s(i16x8.shr_s(w1, 8), x3);
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

/**
 * One nibble tile block's contribution to four rows. Q4_1 (hasMin): d_w dx Σ q_w q_x + m_w dx px; Q4_0: nibbles
 * are stored as q + 8, so 8 Σ q_x is subtracted once per block instead of 8 from every nibble.
 */
// @ts-ignore: decorator
@inline function nibble_epilogue(hasMin: bool, isum: v128, d4: v128, m4: v128, dx: f32, px: f32): v128 {
  if (hasMin) return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(d4, f32x4.splat(dx))), f32x4.mul(m4, f32x4.splat(dx * px)));
  const corrected = i32x4.sub(isum, i32x4.splat(<i32>px * 8));
  return f32x4.mul(f32x4.convert_i32x4_s(corrected), f32x4.mul(d4, f32x4.splat(dx)));
}

/** matmul_q4_1x4 (hasMin: 80-byte tile blocks with m scales) and matmul_q4_0x4 (72 bytes), as one body. */
// @ts-ignore: decorator
@inline function matmul_nibble_tiles(hasMin: bool, out: usize, w: usize, qx: usize, dx: usize, px: usize, cols: i32, n: i32, tile0: i32, tile1: i32, outStride: i32): void {
  const blockBytes: usize = hasMin ? 80 : 72;
  const blocks = <usize>cols >> 5;
  const tileBytes = blocks * blockBytes;
  for (let tile = tile0; tile < tile1; tile++) {
    const wt = w + <usize>tile * tileBytes;
    let t = 0;
    // Prefill: two tokens per pass share each unpacked weight vector (the unpacking is a third of the work).
    for (; t + 2 <= n; t += 2) {
      const xA = qx + ((<usize>t * <usize>cols) << 1), xB = xA + (<usize>cols << 1);
      const dA = dx + ((<usize>t * blocks) << 2), dB = dA + (blocks << 2);
      const sA = px + ((<usize>t * blocks) << 2), sB = sA + (blocks << 2);
      let accA = f32x4.splat(0), accB = f32x4.splat(0);
      let p = wt;
      for (let b: usize = 0; b < blocks; b++, p += blockBytes) {
        const xa = xA + (b << 6), xb = xB + (b << 6);
        const m = i16x8.splat(0x0f);
        let q = v128.load(p);
        let e0 = v128.and(q, m), e1 = v128.and(i16x8.shr_u(q, 8), m), e2 = v128.and(i16x8.shr_u(q, 4), m), e3 = i16x8.shr_u(q, 12);
        const a0 = dot4(e0, e1, e2, e3, xa), b0 = dot4(e0, e1, e2, e3, xb);
        q = v128.load(p, 16);
        e0 = v128.and(q, m); e1 = v128.and(i16x8.shr_u(q, 8), m); e2 = v128.and(i16x8.shr_u(q, 4), m); e3 = i16x8.shr_u(q, 12);
        const a1 = dot4(e0, e1, e2, e3, xa), b1 = dot4(e0, e1, e2, e3, xb);
        q = v128.load(p, 32);
        e0 = v128.and(q, m); e1 = v128.and(i16x8.shr_u(q, 8), m); e2 = v128.and(i16x8.shr_u(q, 4), m); e3 = i16x8.shr_u(q, 12);
        const a2 = dot4(e0, e1, e2, e3, xa), b2 = dot4(e0, e1, e2, e3, xb);
        q = v128.load(p, 48);
        e0 = v128.and(q, m); e1 = v128.and(i16x8.shr_u(q, 8), m); e2 = v128.and(i16x8.shr_u(q, 4), m); e3 = i16x8.shr_u(q, 12);
        const a3 = dot4(e0, e1, e2, e3, xa), b3 = dot4(e0, e1, e2, e3, xb);
        const d4 = f16x4_to_f32x4(v128.load16x4_u(p, 64));
        const m4 = hasMin ? f16x4_to_f32x4(v128.load16x4_u(p, 72)) : d4;
        accA = f32x4.add(accA, nibble_epilogue(hasMin, reduce4(a0, a1, a2, a3), d4, m4, load<f32>(dA + (b << 2)), load<f32>(sA + (b << 2))));
        accB = f32x4.add(accB, nibble_epilogue(hasMin, reduce4(b0, b1, b2, b3), d4, m4, load<f32>(dB + (b << 2)), load<f32>(sB + (b << 2))));
      }
      v128.store(out + ((<usize>t * <usize>outStride + (<usize>tile << 2)) << 2), accA);
      v128.store(out + ((<usize>(t + 1) * <usize>outStride + (<usize>tile << 2)) << 2), accB);
    }
    for (; t < n; t++) {
      const x16 = qx + ((<usize>t * <usize>cols) << 1);
      const xd = dx + ((<usize>t * blocks) << 2);
      const xs = px + ((<usize>t * blocks) << 2);
      let acc = f32x4.splat(0);
      let p = wt;
      for (let b: usize = 0; b < blocks; b++, p += blockBytes) {
        const xb = x16 + (b << 6);
        const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
        const isum = reduce4(dot_nibbles(v128.load(p), x0, x1, x2, x3), dot_nibbles(v128.load(p, 16), x0, x1, x2, x3),
          dot_nibbles(v128.load(p, 32), x0, x1, x2, x3), dot_nibbles(v128.load(p, 48), x0, x1, x2, x3));
        const d4 = f16x4_to_f32x4(v128.load16x4_u(p, 64));
        const m4 = hasMin ? f16x4_to_f32x4(v128.load16x4_u(p, 72)) : d4;
        acc = f32x4.add(acc, nibble_epilogue(hasMin, isum, d4, m4, load<f32>(xd + (b << 2)), load<f32>(xs + (b << 2))));
      }
      v128.store(out + ((<usize>t * <usize>outStride + (<usize>tile << 2)) << 2), acc);
    }
  }
}

export function matmul_q4_1x4(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32, n: i32, tile0: i32, tile1: i32, outStride: i32): void {
  matmul_nibble_tiles(true, out, w, qx, dx, px, cols, n, tile0, tile1, outStride);
}

export function matmul_q4_0x4(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32, n: i32, tile0: i32, tile1: i32, outStride: i32): void {
  matmul_nibble_tiles(false, out, w, qx, dx, px, cols, n, tile0, tile1, outStride);
}

export function matmul_q8_0x4(out: usize, w: usize, qx: usize, dx: usize, px: usize, rows: i32, cols: i32, n: i32, tile0: i32, tile1: i32, outStride: i32): void {
  const blocks = <usize>cols >> 5;
  const tileBytes = blocks * 136;
  for (let tile = tile0; tile < tile1; tile++) {
    const wt = w + <usize>tile * tileBytes;
    let t = 0;
    // Prefill: two tokens per pass share each sign-extended weight vector.
    for (; t + 2 <= n; t += 2) {
      const xA = qx + ((<usize>t * <usize>cols) << 1), xB = xA + (<usize>cols << 1);
      const dA = dx + ((<usize>t * blocks) << 2), dB = dA + (blocks << 2);
      let accA = f32x4.splat(0), accB = f32x4.splat(0);
      let p = wt;
      for (let b: usize = 0; b < blocks; b++, p += 136) {
        const xa = xA + (b << 6), xb = xB + (b << 6);
        let w0 = v128.load(p), w1 = v128.load(p, 16);
        let e0 = i16x8.shr_s(i16x8.shl(w0, 8), 8), e1 = i16x8.shr_s(w0, 8), e2 = i16x8.shr_s(i16x8.shl(w1, 8), 8), e3 = i16x8.shr_s(w1, 8);
        const a0 = dot4(e0, e1, e2, e3, xa), b0 = dot4(e0, e1, e2, e3, xb);
        w0 = v128.load(p, 32); w1 = v128.load(p, 48);
        e0 = i16x8.shr_s(i16x8.shl(w0, 8), 8); e1 = i16x8.shr_s(w0, 8); e2 = i16x8.shr_s(i16x8.shl(w1, 8), 8); e3 = i16x8.shr_s(w1, 8);
        const a1 = dot4(e0, e1, e2, e3, xa), b1 = dot4(e0, e1, e2, e3, xb);
        w0 = v128.load(p, 64); w1 = v128.load(p, 80);
        e0 = i16x8.shr_s(i16x8.shl(w0, 8), 8); e1 = i16x8.shr_s(w0, 8); e2 = i16x8.shr_s(i16x8.shl(w1, 8), 8); e3 = i16x8.shr_s(w1, 8);
        const a2 = dot4(e0, e1, e2, e3, xa), b2 = dot4(e0, e1, e2, e3, xb);
        w0 = v128.load(p, 96); w1 = v128.load(p, 112);
        e0 = i16x8.shr_s(i16x8.shl(w0, 8), 8); e1 = i16x8.shr_s(w0, 8); e2 = i16x8.shr_s(i16x8.shl(w1, 8), 8); e3 = i16x8.shr_s(w1, 8);
        const a3 = dot4(e0, e1, e2, e3, xa), b3 = dot4(e0, e1, e2, e3, xb);
        const d4 = f16x4_to_f32x4(v128.load16x4_u(p, 128));
        const isumA = reduce4(a0, a1, a2, a3), isumB = reduce4(b0, b1, b2, b3);
        accA = f32x4.add(accA, f32x4.mul(f32x4.convert_i32x4_s(isumA), f32x4.mul(d4, f32x4.splat(load<f32>(dA + (b << 2))))));
        accB = f32x4.add(accB, f32x4.mul(f32x4.convert_i32x4_s(isumB), f32x4.mul(d4, f32x4.splat(load<f32>(dB + (b << 2))))));
      }
      v128.store(out + ((<usize>t * <usize>outStride + (<usize>tile << 2)) << 2), accA);
      v128.store(out + ((<usize>(t + 1) * <usize>outStride + (<usize>tile << 2)) << 2), accB);
    }
    for (; t < n; t++) {
      const x16 = qx + ((<usize>t * <usize>cols) << 1);
      const xd = dx + ((<usize>t * blocks) << 2);
      let acc = f32x4.splat(0);
      let p = wt;
      for (let b: usize = 0; b < blocks; b++, p += 136) {
        const xb = x16 + (b << 6);
        const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
        const isum = reduce4(dot_i8(v128.load(p), v128.load(p, 16), x0, x1, x2, x3), dot_i8(v128.load(p, 32), v128.load(p, 48), x0, x1, x2, x3),
          dot_i8(v128.load(p, 64), v128.load(p, 80), x0, x1, x2, x3), dot_i8(v128.load(p, 96), v128.load(p, 112), x0, x1, x2, x3));
        const scale = f32x4.mul(f16x4_to_f32x4(v128.load16x4_u(p, 128)), f32x4.splat(load<f32>(xd + (b << 2))));
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), scale));
      }
      v128.store(out + ((<usize>t * <usize>outStride + (<usize>tile << 2)) << 2), acc);
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

// Contract kernel_selftest() -> i32: a fixed nibble dot product and a quantization of fixed values (no memory
// access), for the host to check a build before trusting it: engines have shipped SIMD (and relaxed SIMD) with
// wrong results, e.g. Node 20's flag-gated relaxed SIMD. A build is used only when this returns 440769.
export function kernel_selftest(): i32 {
  // bytes 0x10 0x32 0x54 0x76 0x98 0xba 0xdc 0xfe 0x01 0x23 0x45 0x67 0x89 0xab 0xcd 0xef, written as i8
  const q = i8x16(0x10, 0x32, 0x54, 0x76, -104, -70, -36, -2, 0x01, 0x23, 0x45, 0x67, -119, -85, -51, -17);
  const x = i16x8(-1000, 2000, -3000, 4000, -5000, 6000, -7000, 8000);
  const sum = dot_nibbles(q, x, x, x, x);
  const r = to_int(f32x4(-2.5, 3.5, 32766.6, -0.5), f32x4.splat(1));
  return i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) + i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3)
    + i32x4.extract_lane(r, 0) + i32x4.extract_lane(r, 1) + i32x4.extract_lane(r, 2) + i32x4.extract_lane(r, 3);
}
