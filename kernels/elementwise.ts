// Element-wise kernels: residual add, scaling, SwiGLU, GeGLU, and the residual add that also measures the FFN-skip
// similarity.
// All take f32 arrays of length n >= 1 (any length, scalar tail), need no alignment, and allow `out` to alias
// an input (each element is read before it is written).

import { exp_f32, exp_f32x4, hsum } from "./common";

// Contract add(out, a, b, n): out[i] = a[i] + b[i].
export function add(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

// Contract scale(out, x, s, n): out[i] = x[i] * s.
export function scale(out: usize, x: usize, s: f32, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * s);
  }
}

// Contract swiglu(out, gate, up, n): out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
export function swiglu(out: usize, gate: usize, up: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    const silu = f32x4.div(g, f32x4.add(one, exp_f32x4(f32x4.neg(g))));
    v128.store(out + o, f32x4.mul(silu, v128.load(up + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    store<f32>(out + o, g / (<f32>1 + exp_f32(-g)) * load<f32>(up + o));
  }
}

// Contract residual_add_cosine(x, f, n) -> f32:
//   x f32[n] updated in place to x + f; f f32[n] read; x and f must not overlap.
//   Returns cos(x_before, x_after) = x·(x+f) / (|x| |x+f|), the FFN-SkipLLM similarity between a sublayer's
//   input and output (residual included), measured in the same pass as the add. Returns 0 when either
//   vector is all zeros (no evidence of redundancy).
export function residual_add_cosine(x: usize, f: usize, n: i32): f32 {
  let dot = f32x4.splat(0), before = f32x4.splat(0), after = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const a = v128.load(x + o);
    const b = f32x4.add(a, v128.load(f + o));
    v128.store(x + o, b);
    dot = f32x4.add(dot, f32x4.mul(a, b));
    before = f32x4.add(before, f32x4.mul(a, a));
    after = f32x4.add(after, f32x4.mul(b, b));
  }
  let d = hsum(dot), na = hsum(before), nb = hsum(after);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const a = load<f32>(x + o);
    const b = a + load<f32>(f + o);
    store<f32>(x + o, b);
    d += a * b;
    na += a * a;
    nb += b * b;
  }
  if (na == 0 || nb == 0) return 0;
  return d / (Mathf.sqrt(na) * Mathf.sqrt(nb));
}

// Contract geglu(out, gate, up, n): out[i] = gelu_tanh(gate[i]) * up[i], with PyTorch's tanh approximation
//   gelu_tanh(g) = 0.5 g (1 + tanh(u)), u = sqrt(2/pi) (g + 0.044715 g^3),
// computed as g / (1 + exp(-2u)) (the same function: 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u))), which has no
// cancellation near 0 and gives exactly 0 * up for g far below 0 (exp overflows to inf) and g * up far above.
export function geglu(out: usize, gate: usize, up: usize, n: i32): void {
  const one = f32x4.splat(1);
  const c = f32x4.splat(GELU_2_SQRT_2_OVER_PI);
  const c3 = f32x4.splat(GELU_2_SQRT_2_OVER_PI * <f32>0.044715);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    const twoU = f32x4.add(f32x4.mul(c, g), f32x4.mul(c3, f32x4.mul(g, f32x4.mul(g, g))));
    const gelu = f32x4.div(g, f32x4.add(one, exp_f32x4(f32x4.neg(twoU))));
    v128.store(out + o, f32x4.mul(gelu, v128.load(up + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gate + o);
    const twoU = GELU_2_SQRT_2_OVER_PI * g + GELU_2_SQRT_2_OVER_PI * <f32>0.044715 * (g * (g * g));
    store<f32>(out + o, g / (<f32>1 + exp_f32(-twoU)) * load<f32>(up + o));
  }
}

/** 2 sqrt(2 / pi). */
const GELU_2_SQRT_2_OVER_PI: f32 = 1.5957691216057308;
