// Softmax and single-query attention over the KV cache (decode, and prefill one query at a time).

import { exp_f32, exp_f32x4, f16_to_f32, f16x4_to_f32x4, f32_to_f16, hsum } from "./common";
import { dot_f32 } from "./matvec";

// Contract softmax(x, n): x f32[n] replaced by exp(x - max) / Σ exp(x - max); n >= 1; any length.
export function softmax(x: usize, n: i32): void {
  let mv = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) mv = f32x4.max(mv, v128.load(x + (<usize>i << 2)));
  let max = Mathf.max(Mathf.max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), Mathf.max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; i < n; i++) max = Mathf.max(max, load<f32>(x + (<usize>i << 2)));
  const maxv = f32x4.splat(max);
  let acc = f32x4.splat(0);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const e = exp_f32x4(f32x4.sub(v128.load(x + o), maxv));
    v128.store(x + o, e);
    acc = f32x4.add(acc, e);
  }
  let sum = hsum(acc);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const e = exp_f32(load<f32>(x + o) - max);
    store<f32>(x + o, e);
    sum += e;
  }
  const sv = f32x4.splat(sum);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.div(v128.load(x + o), sv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) / sum);
  }
}

// Contract attention(out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, h0, h1):
//   q       f32[nHeads][headDim]         this token's (rotated) queries
//   kCache  f32[seqLen][kvStride]        position p's keys of kv head g at element p * kvStride + g * headDim
//   vCache  f32[seqLen][kvStride]        same layout for values
//   out     f32[nHeads][headDim]         written for heads h0 <= h < h1 only
//   scores  f32[seqLen] per head: scratch of (h1 - h0) * seqLen floats
//   Query head h reads kv head h / (nHeads / nKvHeads) (grouped-query attention). Causal masking is the
//   caller's choice of seqLen (positions 0..seqLen-1 are attended). headDim >= 1, seqLen >= 1.
//   out must not overlap q, the caches or scores. Scores are q·k / sqrt(headDim), softmax, then Σ p·v.
// attention_f16kv: the same with both caches holding IEEE half floats (u16 elements, same element layout).
export function attention(out: usize, q: usize, kCache: usize, vCache: usize, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32, seqLen: i32, scores: usize, h0: i32, h1: i32): void {
  attend(false, out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, h0, h1);
}

export function attention_f16kv(out: usize, q: usize, kCache: usize, vCache: usize, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32, seqLen: i32, scores: usize, h0: i32, h1: i32): void {
  attend(true, out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, seqLen, scores, h0, h1);
}

// Contract store_f16(dst, src, n): dst u16[n] = src f32[n] as IEEE half (round to nearest even); no overlap.
export function store_f16(dst: usize, src: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>f32_to_f16(load<f32>(src + (<usize>i << 2))));
}

/** Four cache values at element address e (f32, or f16 widened). */
// @ts-ignore: decorator
@inline function load4(f16: bool, base: usize, element: usize): v128 {
  return f16 ? f16x4_to_f32x4(v128.load16x4_u(base + (element << 1))) : v128.load(base + (element << 2));
}

// @ts-ignore: decorator
@inline function load1(f16: bool, base: usize, element: usize): f32 {
  return f16 ? f16_to_f32(load<u16>(base + (element << 1))) : load<f32>(base + (element << 2));
}

// @ts-ignore: decorator
@inline function attend(f16: bool, out: usize, q: usize, kCache: usize, vCache: usize, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32, seqLen: i32, scores: usize, h0: i32, h1: i32): void {
  const group = nHeads / nKvHeads;
  const scale: f32 = <f32>1.0 / Mathf.sqrt(<f32>headDim);
  const headBytes = <usize>headDim << 2;
  for (let h = h0; h < h1; h++) {
    const g = h / group;
    const qh = q + <usize>h * headBytes;
    const sc = scores + <usize>(h - h0) * (<usize>seqLen << 2);
    const head0 = <usize>g * <usize>headDim; // element offset of this kv head within a cache row
    for (let t = 0; t < seqLen; t++) {
      const row = <usize>t * <usize>kvStride + head0;
      let score: f32;
      if (f16) {
        let acc = f32x4.splat(0);
        let i = 0;
        for (; i + 4 <= headDim; i += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(qh + (<usize>i << 2)), load4(true, kCache, row + <usize>i)));
        score = hsum(acc);
        for (; i < headDim; i++) score += load<f32>(qh + (<usize>i << 2)) * load1(true, kCache, row + <usize>i);
      } else {
        score = dot_f32(qh, kCache + (row << 2), headDim);
      }
      store<f32>(sc + (<usize>t << 2), score * scale);
    }
    softmax(sc, seqLen);
    // Σ_t p_t v_t, 16 output values at a time held in registers across all positions (same order of additions
    // as a plain running sum over t, so results do not depend on the blocking).
    const oh = out + <usize>h * headBytes;
    let i = 0;
    for (; i + 16 <= headDim; i += 16) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let t = 0; t < seqLen; t++) {
        const pv = f32x4.splat(load<f32>(sc + (<usize>t << 2)));
        const e = <usize>t * <usize>kvStride + head0 + <usize>i;
        a0 = f32x4.add(a0, f32x4.mul(pv, load4(f16, vCache, e)));
        a1 = f32x4.add(a1, f32x4.mul(pv, load4(f16, vCache, e + 4)));
        a2 = f32x4.add(a2, f32x4.mul(pv, load4(f16, vCache, e + 8)));
        a3 = f32x4.add(a3, f32x4.mul(pv, load4(f16, vCache, e + 12)));
      }
      const o = oh + (<usize>i << 2);
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
    for (; i + 4 <= headDim; i += 4) {
      let a = f32x4.splat(0);
      for (let t = 0; t < seqLen; t++) a = f32x4.add(a, f32x4.mul(f32x4.splat(load<f32>(sc + (<usize>t << 2))), load4(f16, vCache, <usize>t * <usize>kvStride + head0 + <usize>i)));
      v128.store(oh + (<usize>i << 2), a);
    }
    for (; i < headDim; i++) {
      let a: f32 = 0;
      for (let t = 0; t < seqLen; t++) a += load<f32>(sc + (<usize>t << 2)) * load1(f16, vCache, <usize>t * <usize>kvStride + head0 + <usize>i);
      store<f32>(oh + (<usize>i << 2), a);
    }
  }
}
