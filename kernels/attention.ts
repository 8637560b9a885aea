// Softmax and single-query attention over the KV cache (decode, and prefill one query at a time).

import { exp_f32, exp_f32x4, hsum } from "./common";
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
//   kCache  f32[seqLen][kvStride]        position p's keys of kv head g at kCache + (p * kvStride + g * headDim)
//   vCache  f32[seqLen][kvStride]        same layout for values
//   out     f32[nHeads][headDim]         written for heads h0 <= h < h1 only
//   scores  f32[seqLen] per head: scratch of (h1 - h0) * seqLen floats
//   Query head h reads kv head h / (nHeads / nKvHeads) (grouped-query attention). Causal masking is the
//   caller's choice of seqLen (positions 0..seqLen-1 are attended). headDim >= 1, seqLen >= 1.
//   out must not overlap q, the caches or scores. Scores are q·k / sqrt(headDim), softmax, then Σ p·v.
export function attention(out: usize, q: usize, kCache: usize, vCache: usize, nHeads: i32, nKvHeads: i32, headDim: i32, kvStride: i32, seqLen: i32, scores: usize, h0: i32, h1: i32): void {
  const group = nHeads / nKvHeads;
  const scale: f32 = <f32>1.0 / Mathf.sqrt(<f32>headDim);
  const headBytes = <usize>headDim << 2;
  const strideBytes = <usize>kvStride << 2;
  for (let h = h0; h < h1; h++) {
    const g = h / group;
    const qh = q + <usize>h * headBytes;
    const sc = scores + <usize>(h - h0) * (<usize>seqLen << 2);
    const kBase = kCache + <usize>g * headBytes;
    const vBase = vCache + <usize>g * headBytes;
    for (let t = 0; t < seqLen; t++) {
      store<f32>(sc + (<usize>t << 2), dot_f32(qh, kBase + <usize>t * strideBytes, headDim) * scale);
    }
    softmax(sc, seqLen);
    // Σ_t p_t v_t, 16 output values at a time held in registers across all positions (same order of additions
    // as a plain running sum over t, so results do not depend on the blocking).
    const oh = out + <usize>h * headBytes;
    let i = 0;
    for (; i + 16 <= headDim; i += 16) {
      const o = <usize>i << 2;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let vt = vBase + o;
      for (let t = 0; t < seqLen; t++, vt += strideBytes) {
        const pv = f32x4.splat(load<f32>(sc + (<usize>t << 2)));
        a0 = f32x4.add(a0, f32x4.mul(pv, v128.load(vt)));
        a1 = f32x4.add(a1, f32x4.mul(pv, v128.load(vt, 16)));
        a2 = f32x4.add(a2, f32x4.mul(pv, v128.load(vt, 32)));
        a3 = f32x4.add(a3, f32x4.mul(pv, v128.load(vt, 48)));
      }
      v128.store(oh + o, a0);
      v128.store(oh + o, a1, 16);
      v128.store(oh + o, a2, 32);
      v128.store(oh + o, a3, 48);
    }
    for (; i + 4 <= headDim; i += 4) {
      const o = <usize>i << 2;
      let a = f32x4.splat(0);
      for (let t = 0; t < seqLen; t++) a = f32x4.add(a, f32x4.mul(f32x4.splat(load<f32>(sc + (<usize>t << 2))), v128.load(vBase + <usize>t * strideBytes + o)));
      v128.store(oh + o, a);
    }
    for (; i < headDim; i++) {
      const o = <usize>i << 2;
      let a: f32 = 0;
      for (let t = 0; t < seqLen; t++) a += load<f32>(sc + (<usize>t << 2)) * load<f32>(vBase + <usize>t * strideBytes + o);
      store<f32>(oh + o, a);
    }
  }
}
