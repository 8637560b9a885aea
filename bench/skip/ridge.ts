// Ridge regression for the skip-predictor experiment (predictor-analysis.ts): y ~ w . x + b fitted on calibration
// activations, plain TS, double precision. A skip policy built on it would cost one dot product per layer and token
// (~1/5000 of the FFN's multiply-adds at SmolLM2's sizes); the experiment found it predicts too little to try.

import { InputError, show } from "../../src/errors.js";

export interface LinearPredictor {
  readonly weights: Float32Array;
  readonly bias: number;
}

/**
 * Minimises sum_i (y_i - w . x_i - b)^2 + lambda |w|^2 (the intercept not penalised): the normal equations of the
 * centred data, (Xc^T Xc + lambda I) w = Xc^T yc, solved by Cholesky in f64; b = mean(y) - w . mean(x).
 */
export function fitRidge(xs: readonly Float32Array[], ys: readonly number[], lambda: number): LinearPredictor {
  const n = xs.length;
  if (n === 0 || n !== ys.length) throw new InputError({ file: "fitRidge", field: "samples", expected: "as many inputs as targets, at least one", actual: `${n} inputs, ${ys.length} targets` });
  const d = xs[0]!.length;
  if (!(lambda > 0)) throw new InputError({ file: "fitRidge", field: "lambda", expected: "a positive ridge penalty", actual: show(lambda) });
  const meanX = new Float64Array(d);
  let meanY = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    if (x.length !== d) throw new InputError({ file: "fitRidge", field: `inputs[${i}]`, expected: `${d} values`, actual: `${x.length}` });
    for (let j = 0; j < d; j++) meanX[j]! += x[j]!;
    meanY += ys[i]!;
  }
  for (let j = 0; j < d; j++) meanX[j]! /= n;
  meanY /= n;
  // A = Xc^T Xc + lambda I (upper triangle filled, then mirrored), r = Xc^T yc.
  const a = new Float64Array(d * d);
  const r = new Float64Array(d);
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    for (let j = 0; j < d; j++) c[j] = x[j]! - meanX[j]!;
    const yc = ys[i]! - meanY;
    for (let j = 0; j < d; j++) {
      const cj = c[j]!;
      r[j]! += cj * yc;
      const row = j * d;
      for (let k = j; k < d; k++) a[row + k]! += cj * c[k]!;
    }
  }
  for (let j = 0; j < d; j++) {
    a[j * d + j]! += lambda;
    for (let k = j + 1; k < d; k++) a[k * d + j] = a[j * d + k]!;
  }
  const w = choleskySolve(a, r, d);
  let bias = meanY;
  for (let j = 0; j < d; j++) bias -= w[j]! * meanX[j]!;
  return { weights: Float32Array.from(w), bias };
}

/** w . x + b. */
export function predictRidge(p: LinearPredictor, x: ArrayLike<number>): number {
  const w = p.weights;
  let sum = p.bias;
  for (let j = 0; j < w.length; j++) sum += w[j]! * x[j]!;
  return sum;
}

/** x / rms(x), the RMSNorm without its weight (eps 1e-6): what the predictors of the skip policy read. */
export function rmsNormalized(x: Float32Array): Float32Array {
  let ss = 0;
  for (let j = 0; j < x.length; j++) ss += x[j]! * x[j]!;
  const scale = 1 / Math.sqrt(ss / x.length + 1e-6);
  return x.map((v) => v * scale);
}

/** predictRidge(p, rmsNormalized(x)) in one pass over x, without the copy. */
export function predictNormalized(p: LinearPredictor, x: Float32Array): number {
  const w = p.weights;
  let ss = 0;
  let dot = 0;
  for (let j = 0; j < w.length; j++) {
    const v = x[j]!;
    ss += v * v;
    dot += w[j]! * v;
  }
  return p.bias + dot / Math.sqrt(ss / w.length + 1e-6);
}

/** Solves A z = r for a symmetric positive definite A (row-major d x d, overwritten by its Cholesky factor). */
export function choleskySolve(a: Float64Array, r: Float64Array, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let diag = a[j * d + j]!;
    for (let k = 0; k < j; k++) diag -= a[j * d + k]! ** 2;
    if (!(diag > 0)) throw new InputError({ file: "choleskySolve", field: "matrix", expected: "a positive definite matrix", actual: `pivot ${diag} at ${j}` });
    const l = Math.sqrt(diag);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = s / l;
    }
  }
  const z = Float64Array.from(r);
  for (let i = 0; i < d; i++) {
    let s = z[i]!;
    for (let k = 0; k < i; k++) s -= a[i * d + k]! * z[k]!;
    z[i] = s / a[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < d; k++) s -= a[k * d + i]! * z[k]!;
    z[i] = s / a[i * d + i]!;
  }
  return z;
}
