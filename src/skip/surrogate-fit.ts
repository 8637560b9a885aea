// Fitting FFN surrogates (model/surrogates.ts holds their file format; transformer.ts applies them): for each layer,
// a rank-r linear map with bias that approximates what the FFN block adds to the residual,
//
//   y = FFN(h) ≈ U (Vᵀ h) + b,   h = RMSNorm(x) ⊙ ffnNorm, the FFN's own input (in state.xb when it runs).
//
// Why h and not the residual x: the FFN is a function of h alone. h has the norm's bounded scale, while |x| grows
// from layer to layer and varies from token to token, so a linear map of x would have to mimic the norm's 1/rms(x).
//
// The method, reduced-rank ridge regression (Mukherjee & Zhu 2011), all in f64:
//  1. Moments over the calibration tokens, each window run through the full model (batched prefill) with the
//     FFN's input and output read at every layer: n, the sums of h and y, Σ h hᵀ, Σ h yᵀ and Σ |y|². Each window's
//     first position is left out: it is always prefilled (never skipped), and as the attention sink it carries
//     outsized activations that would dominate a least-squares fit. Centred: Sxx = Σ (h - h̄)(h - h̄)ᵀ, Sxy likewise.
//  2. The full-rank ridge map B = (Sxx + λI)⁻¹ Sxy (hidden x hidden, Cholesky), with λ = lambda · trace(Sxx) / hidden:
//     `lambda` is relative to the mean input variance, so one default (1e-3) suits any model's scale; it only
//     keeps nearly-constant input directions from blowing up.
//  3. Rank r: with the data augmented by √λ I rows, ridge is plain least squares, and the best rank-r map is B P Pᵀ
//     with P the top r eigenvectors of the augmented fitted outputs' scatter, Bᵀ (Sxx + λI) B = Sxyᵀ B (the output
//     directions the map explains most of). So U = P and Vᵀ = Pᵀ Bᵀ. (Truncating B's SVD instead would not be
//     optimal: it ignores how much each input direction occurs.)
//  4. b = ȳ - U Vᵀ h̄, so the map is exact on average.
// Reported per layer: R² = 1 - (squared error) / Σ |y - ȳ|² on the calibration tokens (from the moments, closed form).

import { InputError, show } from "../errors.js";
import type { FfnGate, Transformer } from "../model/transformer.js";
import type { SurrogateLayer } from "../model/surrogates.js";

export const DEFAULT_SURROGATE_RANK = 64;
export const DEFAULT_SURROGATE_LAMBDA = 1e-3;

/** Sufficient statistics of (h, y) pairs for a least-squares fit, uncentred, in f64. */
export class FfnMoments {
  count = 0;
  readonly sumX: Float64Array;
  readonly sumY: Float64Array;
  /** Σ h hᵀ, upper triangle (row j, columns k >= j) of a row-major d x d. */
  readonly xx: Float64Array;
  /** Σ h yᵀ, row-major d x d (row: input feature, column: output feature). */
  readonly xy: Float64Array;
  sumYY = 0;
  private readonly xt: Float64Array;
  private readonly yt: Float64Array;

  constructor(readonly dim: number, readonly block = 64) {
    this.sumX = new Float64Array(dim);
    this.sumY = new Float64Array(dim);
    this.xx = new Float64Array(dim * dim);
    this.xy = new Float64Array(dim * dim);
    this.xt = new Float64Array(dim * block);
    this.yt = new Float64Array(dim * block);
  }

  /** Adds rows[i] of xs and ys (each f32[..][dim], token-major) for i in `rows` (at most `block` of them). */
  add(xs: Float32Array, ys: Float32Array, rows: readonly number[]): void {
    const d = this.dim;
    const b = rows.length;
    if (b > this.block) throw new InputError({ file: "FfnMoments", field: "rows", expected: `at most ${this.block}`, actual: String(b) });
    // Feature-major copies, so the inner loops below run over tokens in contiguous memory.
    const { xt, yt } = this;
    for (let t = 0; t < b; t++) {
      const base = rows[t]! * d;
      for (let j = 0; j < d; j++) {
        const x = xs[base + j]!;
        const y = ys[base + j]!;
        xt[j * b + t] = x;
        yt[j * b + t] = y;
        this.sumX[j]! += x;
        this.sumY[j]! += y;
        this.sumYY += y * y;
      }
    }
    for (let j = 0; j < d; j++) {
      crossRow(xt, j * b, xt, j, d, b, this.xx, j * d); // the upper triangle of Σ h hᵀ: columns j..d-1
      crossRow(xt, j * b, yt, 0, d, b, this.xy, j * d);
    }
    this.count += b;
  }
}

/**
 * out[row + k] += Σ_t a[ao + t] · c[k * b + t] for k in [k0, d): one row of a cross-product of feature-major blocks,
 * four columns at a time so each a[ao + t] is loaded once per four products (the fit's hot loop).
 */
function crossRow(a: Float64Array, ao: number, c: Float64Array, k0: number, d: number, b: number, out: Float64Array, row: number): void {
  let k = k0;
  for (; k + 4 <= d; k += 4) {
    const c0 = k * b;
    const c1 = c0 + b;
    const c2 = c1 + b;
    const c3 = c2 + b;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < b; t++) {
      const x = a[ao + t]!;
      s0 += x * c[c0 + t]!;
      s1 += x * c[c1 + t]!;
      s2 += x * c[c2 + t]!;
      s3 += x * c[c3 + t]!;
    }
    out[row + k]! += s0;
    out[row + k + 1]! += s1;
    out[row + k + 2]! += s2;
    out[row + k + 3]! += s3;
  }
  for (; k < d; k++) {
    const ck = k * b;
    let s = 0;
    for (let t = 0; t < b; t++) s += a[ao + t]! * c[ck + t]!;
    out[row + k]! += s;
  }
}

/**
 * Runs each window through the full model (batched prefill from position 0, chunks of at most maxBatch tokens) and
 * accumulates, for each layer in `layers`, the moments of the FFN's input and output over every token but each
 * window's first. Writes the transformer's KV cache.
 */
export function collectFfnMoments(
  transformer: Transformer, windows: readonly (readonly number[])[], layers: readonly number[], onWindow?: (done: number, total: number) => void,
): Map<number, FfnMoments> {
  const d = transformer.config.hiddenSize;
  const maxBatch = Math.max(1, transformer.state.maxBatch);
  const moments = new Map(layers.map((l) => [l, new FfnMoments(d, maxBatch)]));
  const { state, arena } = transformer;
  let rows: number[] = [];
  let chunkLength = 0;
  // The gate's observe() comes token by token after each FFN (see FfnGate); at the chunk's last token every row of
  // the FFN's input (xb) and output (proj) is in place, so the whole chunk is added at once.
  const gate: FfnGate = {
    runFfn: () => true,
    observe(layer, token) {
      const m = moments.get(layer);
      if (m === undefined || token !== chunkLength - 1 || rows.length === 0) return;
      m.add(arena.f32(state.xb, chunkLength * d), arena.f32(state.proj, chunkLength * d), rows);
    },
  };
  for (const [index, w] of windows.entries()) {
    for (let start = 0; start < w.length; start += maxBatch) {
      const chunk = w.slice(start, start + maxBatch);
      chunkLength = chunk.length;
      rows = [];
      for (let t = 0; t < chunk.length; t++) if (start + t >= 1) rows.push(t);
      transformer.prefill(chunk, start, "none", gate);
    }
    onWindow?.(index + 1, windows.length);
  }
  return moments;
}

export interface FittedMap {
  /** Vᵀ f32[rank][d], U f32[d][rank], b f32[d]. */
  readonly v: Float32Array;
  readonly u: Float32Array;
  readonly bias: Float32Array;
  /** 1 - squared error / total variance of y, on the fitted data. */
  readonly r2: number;
  /** The absolute ridge penalty used (lambda x mean input variance). */
  readonly lambda: number;
}

/** The rank-`rank` ridge fit of the moments (the method in the header). `lambda` is relative (see there). */
export function fitReducedRankRidge(m: FfnMoments, rank: number, lambda = DEFAULT_SURROGATE_LAMBDA): FittedMap {
  const d = m.dim;
  const n = m.count;
  if (!Number.isSafeInteger(rank) || rank < 1 || rank > d) throw new InputError({ file: "surrogate fit", field: "rank", expected: `an integer in 1..${d}`, actual: show(rank) });
  if (!(lambda > 0 && Number.isFinite(lambda))) throw new InputError({ file: "surrogate fit", field: "lambda", expected: "a positive number", actual: show(lambda) });
  if (n < 2) throw new InputError({ file: "surrogate fit", field: "tokens", expected: "at least 2 calibration tokens", actual: String(n) });
  const meanX = Float64Array.from(m.sumX, (s) => s / n);
  const meanY = Float64Array.from(m.sumY, (s) => s / n);
  // Centred moments: Sxx (full, symmetric) and Sxy.
  const sxx = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const v = m.xx[j * d + k]! - n * meanX[j]! * meanX[k]!;
      sxx[j * d + k] = v;
      sxx[k * d + j] = v;
    }
  }
  const sxy = new Float64Array(d * d);
  for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) sxy[j * d + k] = m.xy[j * d + k]! - n * meanX[j]! * meanY[k]!;
  let syy = m.sumYY;
  for (let k = 0; k < d; k++) syy -= n * meanY[k]! * meanY[k]!;
  let traceX = 0;
  for (let j = 0; j < d; j++) traceX += sxx[j * d + j]!;
  const penalty = (lambda * traceX) / d;

  // 2. B = (Sxx + λI)⁻¹ Sxy.
  const a = Float64Array.from(sxx);
  for (let j = 0; j < d; j++) a[j * d + j]! += penalty;
  const chol = cholesky(a, d);
  const bMap = choleskySolveMatrix(chol, sxy, d);
  // 3. P: top eigenvectors of M = Sxyᵀ B (symmetric positive semi-definite; symmetrized against rounding).
  const mm = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const bRow = j * d;
    for (let a1 = 0; a1 < d; a1++) {
      const s = sxy[bRow + a1]!;
      if (s === 0) continue;
      const out = a1 * d;
      for (let b1 = 0; b1 < d; b1++) mm[out + b1]! += s * bMap[bRow + b1]!;
    }
  }
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) mm[i * d + j] = mm[j * d + i] = (mm[i * d + j]! + mm[j * d + i]!) / 2;
  const { vectors } = symmetricEigen(mm, d);
  // vectors: row i is the eigenvector of the i-th largest eigenvalue. U = P (d x r), Vᵀ row i = (B p_i)ᵀ.
  const u = new Float32Array(d * rank);
  const v = new Float32Array(rank * d);
  const w = new Float64Array(rank * d);
  for (let i = 0; i < rank; i++) {
    const p = vectors.subarray(i * d, (i + 1) * d);
    for (let j = 0; j < d; j++) {
      u[j * rank + i] = p[j]!;
      let s = 0;
      const row = j * d;
      for (let k = 0; k < d; k++) s += bMap[row + k]! * p[k]!;
      w[i * d + j] = s;
      v[i * d + j] = s;
    }
  }
  // 4. b = ȳ - U Vᵀ h̄.
  const bias = new Float32Array(d);
  const code = new Float64Array(rank);
  for (let i = 0; i < rank; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += w[i * d + j]! * meanX[j]!;
    code[i] = s;
  }
  for (let j = 0; j < d; j++) {
    let s = meanY[j]!;
    for (let i = 0; i < rank; i++) s -= vectors[i * d + j]! * code[i]!;
    bias[j] = s;
  }
  // R²: squared error = tr(Syy) - 2 Σ_i w_iᵀ Sxy p_i + Σ_i w_iᵀ Sxx w_i (the map is W Pᵀ with W = B P, PᵀP = I).
  let cross = 0;
  let quad = 0;
  const tmp = new Float64Array(d);
  for (let i = 0; i < rank; i++) {
    const wi = w.subarray(i * d, (i + 1) * d);
    const p = vectors.subarray(i * d, (i + 1) * d);
    tmp.fill(0);
    for (let j = 0; j < d; j++) {
      const s = wi[j]!;
      const row = j * d;
      for (let k = 0; k < d; k++) tmp[k]! += s * sxy[row + k]!;
    }
    for (let k = 0; k < d; k++) cross += tmp[k]! * p[k]!;
    for (let j = 0; j < d; j++) {
      let s = 0;
      const row = j * d;
      for (let k = 0; k < d; k++) s += sxx[row + k]! * wi[k]!;
      quad += wi[j]! * s;
    }
  }
  const r2 = syy > 0 ? 1 - (syy - 2 * cross + quad) / syy : 0;
  return { v, u, bias, r2, lambda: penalty };
}

/** Cholesky factor L (lower triangle, row-major) of a symmetric positive definite d x d matrix, in place. */
export function cholesky(a: Float64Array, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    const rj = j * d;
    let diag = a[rj + j]!;
    for (let k = 0; k < j; k++) diag -= a[rj + k]! * a[rj + k]!;
    if (!(diag > 0)) throw new InputError({ file: "surrogate fit", field: "normal equations", expected: "a positive definite matrix", actual: `pivot ${diag} at ${j}` });
    const l = Math.sqrt(diag);
    a[rj + j] = l;
    for (let i = j + 1; i < d; i++) {
      const ri = i * d;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s / l;
    }
  }
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) a[i * d + j] = 0;
  return a;
}

/** Solves L Lᵀ X = R for X (R row-major d x c, c = R.length / d), returning X. */
export function choleskySolveMatrix(l: Float64Array, r: Float64Array, d: number): Float64Array {
  const c = r.length / d;
  const x = Float64Array.from(r);
  for (let i = 0; i < d; i++) {
    const row = i * c;
    for (let k = 0; k < i; k++) {
      const f = l[i * d + k]!;
      if (f === 0) continue;
      const other = k * c;
      for (let j = 0; j < c; j++) x[row + j]! -= f * x[other + j]!;
    }
    const inv = 1 / l[i * d + i]!;
    for (let j = 0; j < c; j++) x[row + j]! *= inv;
  }
  for (let i = d - 1; i >= 0; i--) {
    const row = i * c;
    for (let k = i + 1; k < d; k++) {
      const f = l[k * d + i]!;
      if (f === 0) continue;
      const other = k * c;
      for (let j = 0; j < c; j++) x[row + j]! -= f * x[other + j]!;
    }
    const inv = 1 / l[i * d + i]!;
    for (let j = 0; j < c; j++) x[row + j]! *= inv;
  }
  return x;
}

/**
 * Eigen-decomposition of a symmetric d x d matrix (row-major, not modified): Householder reduction to tridiagonal
 * form, then the implicit QL method (tred2 and tql2 of EISPACK, as in JAMA). Returns the eigenvalues in descending
 * order and the matching unit eigenvectors as the rows of `vectors`.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const v = Float64Array.from(matrix); // V[i][j] = v[i * n + j]; ends as the eigenvectors in its columns
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const at = (i: number, j: number) => i * n + j;
  // tred2: Householder reduction to tridiagonal form.
  for (let j = 0; j < n; j++) d[j] = v[at(n - 1, j)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = v[at(i - 1, j)]!;
        v[at(i, j)] = 0;
        v[at(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        v[at(j, i)] = f;
        g = e[j]! + v[at(j, j)]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += v[at(k, j)]! * d[k]!;
          e[k]! += v[at(k, j)]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) v[at(k, j)]! -= f * e[k]! + g * d[k]!;
        d[j] = v[at(i - 1, j)]!;
        v[at(i, j)] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    v[at(n - 1, i)] = v[at(i, i)]!;
    v[at(i, i)] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[at(k, i + 1)]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[at(k, i + 1)]! * v[at(k, j)]!;
        for (let k = 0; k <= i; k++) v[at(k, j)]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) v[at(k, i + 1)] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[at(n - 1, j)]!;
    v[at(n - 1, j)] = 0;
  }
  v[at(n - 1, n - 1)] = 1;
  e[0] = 0;

  // tql2 on the transpose (z row i = column i of V), so each rotation updates two contiguous rows.
  const z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) z[i * n + k] = v[at(k, i)]!;
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > 100) throw new InputError({ file: "surrogate fit", field: "eigenvalues", expected: "convergence of the QL iteration", actual: `no convergence at ${l}` });
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          const zi = i * n;
          const zi1 = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = z[zi1 + k]!;
            z[zi1 + k] = s * z[zi + k]! + c * hk;
            z[zi + k] = c * z[zi + k]! - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[b]! - d[a]!);
  const values = Float64Array.from(order, (i) => d[i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => vectors.set(z.subarray(from * n, (from + 1) * n), to * n));
  return { values, vectors };
}

export interface SurrogateFitOptions {
  /** Rank r of each map (default 64). */
  readonly rank?: number;
  /** Ridge penalty relative to the mean input variance (default 1e-3; see the header). */
  readonly lambda?: number;
  /** Layers to fit (default all). */
  readonly layers?: readonly number[];
  /** Progress messages (one line each). */
  readonly onProgress?: (message: string) => void;
}

/** Collects the moments over `windows` and fits each layer (the whole method in the header). */
export function fitSurrogates(transformer: Transformer, windows: readonly (readonly number[])[], options: SurrogateFitOptions = {}): { surrogates: SurrogateLayer[]; r2: number[]; lambda: number[]; tokens: number } {
  const L = transformer.config.numLayers;
  const rank = options.rank ?? DEFAULT_SURROGATE_RANK;
  const lambda = options.lambda ?? DEFAULT_SURROGATE_LAMBDA;
  const layers = options.layers ?? Array.from({ length: L }, (_, l) => l);
  if (layers.length === 0 || !layers.every((l) => Number.isSafeInteger(l) && l >= 0 && l < L) || new Set(layers).size !== layers.length) {
    throw new InputError({ file: "surrogate fit", field: "layers", expected: `distinct layer indices in 0..${L - 1}`, actual: show(layers) });
  }
  const say = options.onProgress ?? (() => {});
  const t0 = performance.now();
  const every = Math.max(1, Math.round(windows.length / 10));
  const moments = collectFfnMoments(transformer, windows, layers, (done, total) => {
    if (done % every === 0 || done === total) say(`collecting FFN inputs and outputs: window ${done} of ${total}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  });
  const tokens = moments.get(layers[0]!)!.count;
  say(`collected FFN inputs and outputs of ${layers.length} layers over ${tokens} tokens, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const surrogates: SurrogateLayer[] = [];
  const r2: number[] = [];
  const penalties: number[] = [];
  for (const layer of [...layers].sort((a, b) => a - b)) {
    const t1 = performance.now();
    const fit = fitReducedRankRidge(moments.get(layer)!, rank, lambda);
    moments.delete(layer);
    surrogates.push({ layer, v: fit.v, u: fit.u, bias: fit.bias });
    r2.push(fit.r2);
    penalties.push(fit.lambda);
    say(`layer ${layer}: rank ${rank}, R² ${fit.r2.toFixed(4)} on the calibration tokens, ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  }
  return { surrogates, r2, lambda: penalties, tokens };
}
