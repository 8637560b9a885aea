// Matrix-vector products for one token (decode): out = W · x, weights in their stored format.
//
// Contract (all matvec_*):
//   out  f32[rows]                  written, never read
//   w    rows x rowBytes, row-major  row r starts at w + r * rowBytes (rowBytes from the format, io/dtype.ts)
//   x    f32[cols]                  read only
//   rows >= 0; cols >= 1 for f32/f16/bf16 (any length: a scalar tail handles cols % 16),
//        cols a multiple of 32 for q8_0/q4_0/q4_1/q5_0/q5_1 (whole blocks); K-quants are in kquant.ts.
//   No alignment required (unaligned v128 loads). `out` must not overlap `w` or `x`.
//   Activations stay f32 and weights are dequantized in registers: this is the exact path the oracle tests use.
//   Summation order: per row, four-lane partial sums, then lanes added as ((0+1)+(2+3)); differs from a
//   sequential sum by rounding only.
//
// dequant_row_* (out f32[cols], w one row) expands one row, e.g. an embedding lookup or a matmul panel.

import { f16_to_f32, f16x4_to_f32x4, hsum } from "./common";

// ---- f32 ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline export function dot_f32(a: usize, b: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
    acc2 = f32x4.add(acc2, f32x4.mul(v128.load(a + o, 32), v128.load(b + o, 32)));
    acc3 = f32x4.add(acc3, f32x4.mul(v128.load(a + o, 48), v128.load(b + o, 48)));
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let sum = hsum(f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3)));
  for (; i < n; i++) sum += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return sum;
}

export function matvec_f32(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dot_f32(w + <usize>r * rowBytes, x, cols));
}

export function dequant_row_f32(out: usize, w: usize, cols: i32): void {
  memory.copy(out, w, <usize>cols << 2);
}

// ---- f16 / bf16 --------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function dot_f16(w: usize, x: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const wo = <usize>i << 1, xo = <usize>i << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(f16x4_to_f32x4(v128.load16x4_u(w + wo)), v128.load(x + xo)));
    acc1 = f32x4.add(acc1, f32x4.mul(f16x4_to_f32x4(v128.load16x4_u(w + wo, 8)), v128.load(x + xo, 16)));
  }
  let sum = hsum(f32x4.add(acc0, acc1));
  for (; i < n; i++) sum += f16_to_f32(load<u16>(w + (<usize>i << 1))) * load<f32>(x + (<usize>i << 2));
  return sum;
}

export function matvec_f16(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dot_f16(w + <usize>r * rowBytes, x, cols));
}

export function dequant_row_f16(out: usize, w: usize, cols: i32): void {
  for (let i = 0; i < cols; i++) store<f32>(out + (<usize>i << 2), f16_to_f32(load<u16>(w + (<usize>i << 1))));
}

// @ts-ignore: decorator
@inline function dot_bf16(w: usize, x: usize, n: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const wo = <usize>i << 1, xo = <usize>i << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(i32x4.shl(v128.load16x4_u(w + wo), 16), v128.load(x + xo)));
    acc1 = f32x4.add(acc1, f32x4.mul(i32x4.shl(v128.load16x4_u(w + wo, 8), 16), v128.load(x + xo, 16)));
  }
  let sum = hsum(f32x4.add(acc0, acc1));
  for (; i < n; i++) sum += reinterpret<f32>(<u32>load<u16>(w + (<usize>i << 1)) << 16) * load<f32>(x + (<usize>i << 2));
  return sum;
}

export function matvec_bf16(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dot_bf16(w + <usize>r * rowBytes, x, cols));
}

export function dequant_row_bf16(out: usize, w: usize, cols: i32): void {
  for (let i = 0; i < cols; i++) store<u32>(out + (<usize>i << 2), <u32>load<u16>(w + (<usize>i << 1)) << 16);
}

// ---- 8-bit and 4-bit blocks --------------------------------------------------------------------------
// A block's 32 integer values arrive as two i8x16 (or u8x16) vectors: values 0..15 and 16..31.

/** Σ q[j] * x[j] over one block, q given as two signed i8x16 vectors, x = 32 f32 at xp. */
// @ts-ignore: decorator
@inline function block_dot_i8(q0: v128, q1: v128, xp: usize): v128 {
  const a = i16x8.extend_low_i8x16_s(q0), b = i16x8.extend_high_i8x16_s(q0);
  const c = i16x8.extend_low_i8x16_s(q1), d = i16x8.extend_high_i8x16_s(q1);
  let s = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), v128.load(xp));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), v128.load(xp, 16)));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), v128.load(xp, 32)));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), v128.load(xp, 48)));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(c)), v128.load(xp, 64)));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(c)), v128.load(xp, 80)));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(d)), v128.load(xp, 96)));
  s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(d)), v128.load(xp, 112)));
  return s;
}

/** Stores the 32 values q * scale + offset of one block (q as two signed i8x16) at out. */
// @ts-ignore: decorator
@inline function block_store_i8(q0: v128, q1: v128, scale: f32, offset: f32, out: usize): void {
  const sv = f32x4.splat(scale), ov = f32x4.splat(offset);
  const a = i16x8.extend_low_i8x16_s(q0), b = i16x8.extend_high_i8x16_s(q0);
  const c = i16x8.extend_low_i8x16_s(q1), d = i16x8.extend_high_i8x16_s(q1);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), sv), ov));
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), sv), ov), 16);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), sv), ov), 32);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), sv), ov), 48);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(c)), sv), ov), 64);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(c)), sv), ov), 80);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(d)), sv), ov), 96);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(d)), sv), ov), 112);
}

/** Σ x[j] over 32 f32 at xp, as a vector of four partial sums. */
// @ts-ignore: decorator
@inline function block_sum_f32(xp: usize): v128 {
  const s0 = f32x4.add(v128.load(xp), v128.load(xp, 16));
  const s1 = f32x4.add(v128.load(xp, 32), v128.load(xp, 48));
  const s2 = f32x4.add(v128.load(xp, 64), v128.load(xp, 80));
  const s3 = f32x4.add(v128.load(xp, 96), v128.load(xp, 112));
  return f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
}

// Q8_0: 34-byte blocks {f16 d, i8 q[32]}.
export function matvec_q8_0(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const blocks = cols >> 5;
  const rowBytes = <usize>blocks * 34;
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < blocks; b++, p += 34) {
      const s = block_dot_i8(v128.load(p, 2), v128.load(p, 18), x + (<usize>b << 7));
      acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(f16_to_f32(load<u16>(p)))));
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
}

export function dequant_row_q8_0(out: usize, w: usize, cols: i32): void {
  const blocks = cols >> 5;
  for (let b = 0; b < blocks; b++) {
    const p = w + <usize>b * 34;
    block_store_i8(v128.load(p, 2), v128.load(p, 18), f16_to_f32(load<u16>(p)), 0, out + (<usize>b << 7));
  }
}

// Q4_0: 18-byte blocks {f16 d, u8 nibbles[16]}, value = d * (nibble - 8).
export function matvec_q4_0(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const blocks = cols >> 5;
  const rowBytes = <usize>blocks * 18;
  const mask = i8x16.splat(0x0f), eight = i8x16.splat(8);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < blocks; b++, p += 18) {
      const q = v128.load(p, 2);
      const lo = i8x16.sub(v128.and(q, mask), eight);
      const hi = i8x16.sub(i8x16.shr_u(q, 4), eight);
      const s = block_dot_i8(lo, hi, x + (<usize>b << 7));
      acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(f16_to_f32(load<u16>(p)))));
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
}

export function dequant_row_q4_0(out: usize, w: usize, cols: i32): void {
  const blocks = cols >> 5;
  const mask = i8x16.splat(0x0f), eight = i8x16.splat(8);
  for (let b = 0; b < blocks; b++) {
    const p = w + <usize>b * 18;
    const q = v128.load(p, 2);
    const lo = i8x16.sub(v128.and(q, mask), eight);
    const hi = i8x16.sub(i8x16.shr_u(q, 4), eight);
    block_store_i8(lo, hi, f16_to_f32(load<u16>(p)), 0, out + (<usize>b << 7));
  }
}

// Q4_1: 20-byte blocks {f16 d, f16 m, u8 nibbles[16]}, value = d * nibble + m,
// so a block's dot is d * Σ(nibble * x) + m * Σ x. Nibbles (0..15) fit i8 unchanged.
export function matvec_q4_1(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const blocks = cols >> 5;
  const rowBytes = <usize>blocks * 20;
  const mask = i8x16.splat(0x0f);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < blocks; b++, p += 20) {
      const xp = x + (<usize>b << 7);
      const q = v128.load(p, 4);
      const s = block_dot_i8(v128.and(q, mask), i8x16.shr_u(q, 4), xp);
      acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(f16_to_f32(load<u16>(p)))));
      acc = f32x4.add(acc, f32x4.mul(block_sum_f32(xp), f32x4.splat(f16_to_f32(load<u16>(p, 2)))));
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
}

export function dequant_row_q4_1(out: usize, w: usize, cols: i32): void {
  const blocks = cols >> 5;
  const mask = i8x16.splat(0x0f);
  for (let b = 0; b < blocks; b++) {
    const p = w + <usize>b * 20;
    const q = v128.load(p, 4);
    block_store_i8(v128.and(q, mask), i8x16.shr_u(q, 4), f16_to_f32(load<u16>(p)), f16_to_f32(load<u16>(p, 2)), out + (<usize>b << 7));
  }
}

// Q5_0: 22-byte blocks {f16 d, u32 qh, u8 nibbles[16]}, value j = d * ((nibble | bit j of qh << 4) - 16);
// Q5_1: 24-byte blocks {f16 d, f16 m, u32 qh, u8 nibbles[16]}, value j = d * (nibble | bit j of qh << 4) + m.

/** 0x10 in byte j where bit j of the 16-bit `bits` is set, else 0: the fifth bits of 16 values. */
// @ts-ignore: decorator
@inline export function fifth_bits(bits: u32): v128 {
  const spread = i8x16.swizzle(i32x4.splat(bits), i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const select = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(spread, select), select), i8x16.splat(0x10));
}

export function matvec_q5_0(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const blocks = cols >> 5;
  const rowBytes = <usize>blocks * 22;
  const mask = i8x16.splat(0x0f), sixteen = i8x16.splat(16);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < blocks; b++, p += 22) {
      const qh = load<u32>(p, 2), q = v128.load(p, 6);
      const lo = i8x16.sub(v128.or(v128.and(q, mask), fifth_bits(qh & 0xffff)), sixteen);
      const hi = i8x16.sub(v128.or(i8x16.shr_u(q, 4), fifth_bits(qh >> 16)), sixteen);
      acc = f32x4.add(acc, f32x4.mul(block_dot_i8(lo, hi, x + (<usize>b << 7)), f32x4.splat(f16_to_f32(load<u16>(p)))));
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
}

export function dequant_row_q5_0(out: usize, w: usize, cols: i32): void {
  const blocks = cols >> 5;
  const mask = i8x16.splat(0x0f), sixteen = i8x16.splat(16);
  for (let b = 0; b < blocks; b++) {
    const p = w + <usize>b * 22;
    const qh = load<u32>(p, 2), q = v128.load(p, 6);
    const lo = i8x16.sub(v128.or(v128.and(q, mask), fifth_bits(qh & 0xffff)), sixteen);
    const hi = i8x16.sub(v128.or(i8x16.shr_u(q, 4), fifth_bits(qh >> 16)), sixteen);
    block_store_i8(lo, hi, f16_to_f32(load<u16>(p)), 0, out + (<usize>b << 7));
  }
}

export function matvec_q5_1(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const blocks = cols >> 5;
  const rowBytes = <usize>blocks * 24;
  const mask = i8x16.splat(0x0f);
  for (let r = 0; r < rows; r++) {
    let p = w + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < blocks; b++, p += 24) {
      const xp = x + (<usize>b << 7);
      const qh = load<u32>(p, 4), q = v128.load(p, 8);
      const lo = v128.or(v128.and(q, mask), fifth_bits(qh & 0xffff));
      const hi = v128.or(i8x16.shr_u(q, 4), fifth_bits(qh >> 16));
      acc = f32x4.add(acc, f32x4.mul(block_dot_i8(lo, hi, xp), f32x4.splat(f16_to_f32(load<u16>(p)))));
      acc = f32x4.add(acc, f32x4.mul(block_sum_f32(xp), f32x4.splat(f16_to_f32(load<u16>(p, 2)))));
    }
    store<f32>(out + (<usize>r << 2), hsum(acc));
  }
}

export function dequant_row_q5_1(out: usize, w: usize, cols: i32): void {
  const blocks = cols >> 5;
  const mask = i8x16.splat(0x0f);
  for (let b = 0; b < blocks; b++) {
    const p = w + <usize>b * 24;
    const qh = load<u32>(p, 4), q = v128.load(p, 8);
    const lo = v128.or(v128.and(q, mask), fifth_bits(qh & 0xffff));
    const hi = v128.or(i8x16.shr_u(q, 4), fifth_bits(qh >> 16));
    block_store_i8(lo, hi, f16_to_f32(load<u16>(p)), f16_to_f32(load<u16>(p, 2)), out + (<usize>b << 7));
  }
}
