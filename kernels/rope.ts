// Rotary position embedding, HF "half-split" pairing: within each head the pair (i, i + headDim/2) is rotated
// by angle theta_i * pos. (GGUF files store Q/K rows permuted for interleaved pairs; the loader undoes that,
// see src/model/tensor-names.ts.)
//
// Contract rope(x, nHeads, headDim, cos, sin):
//   x    f32[nHeads][headDim], rotated in place
//   cos  f32[headDim/2], sin f32[headDim/2]: cos/sin of the angles for this position (host-computed)
//   headDim even, >= 2; any half length (scalar tail); no alignment required.
//   out[i]        = x[i] * cos[i] - x[i + h] * sin[i]
//   out[i + h]    = x[i + h] * cos[i] + x[i] * sin[i]        (h = headDim / 2)

export function rope(x: usize, nHeads: i32, headDim: i32, cos: usize, sin: usize): void {
  const half = headDim >> 1;
  const halfBytes = <usize>half << 2;
  for (let head = 0; head < nHeads; head++) {
    const a = x + <usize>head * (<usize>headDim << 2);
    const b = a + halfBytes;
    let i = 0;
    for (; i + 4 <= half; i += 4) {
      const o = <usize>i << 2;
      const x0 = v128.load(a + o), x1 = v128.load(b + o);
      const c = v128.load(cos + o), s = v128.load(sin + o);
      v128.store(a + o, f32x4.sub(f32x4.mul(x0, c), f32x4.mul(x1, s)));
      v128.store(b + o, f32x4.add(f32x4.mul(x1, c), f32x4.mul(x0, s)));
    }
    for (; i < half; i++) {
      const o = <usize>i << 2;
      const x0 = load<f32>(a + o), x1 = load<f32>(b + o);
      const c = load<f32>(cos + o), s = load<f32>(sin + o);
      store<f32>(a + o, x0 * c - x1 * s);
      store<f32>(b + o, x1 * c + x0 * s);
    }
  }
}
