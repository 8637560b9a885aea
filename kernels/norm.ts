// RMSNorm: out = x / sqrt(mean(x^2) + eps) * weight, computed in f32 in HF's order: (x * inv_rms) * weight.
//
// Contract rmsnorm(out, x, weight, n, eps):
//   out f32[n] written; x f32[n] read; weight f32[n] read; n >= 1 (any length, scalar tail).
//   out may alias x (each element is read before it is written); no alignment required.
//
// Contract rmsnorm_heads(x, weight, nHeads, headDim, eps):
//   x f32[nHeads][headDim] normalized in place, each head (row) by its own RMS, every head with the one weight
//   f32[headDim] (Qwen3's Q and K norms); nHeads >= 0, headDim >= 1 (any length); no alignment required.

import { hsum } from "./common";

export function rmsnorm(out: usize, x: usize, weight: usize, n: i32, eps: f32): void {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    acc = f32x4.add(acc, f32x4.mul(v, v));
  }
  let ss = hsum(acc);
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    ss += v * v;
  }
  const scale: f32 = <f32>1.0 / Mathf.sqrt(ss / <f32>n + eps);
  const sv = f32x4.splat(scale);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(x + o), sv), v128.load(weight + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * scale * load<f32>(weight + o));
  }
}

export function rmsnorm_heads(x: usize, weight: usize, nHeads: i32, headDim: i32, eps: f32): void {
  const rowBytes = <usize>headDim << 2;
  for (let h = 0; h < nHeads; h++) {
    const row = x + <usize>h * rowBytes;
    rmsnorm(row, row, weight, headDim, eps);
  }
}
