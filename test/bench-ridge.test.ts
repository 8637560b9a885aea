// The ridge regression of the skip-predictor experiment (bench/skip/ridge.ts): an exact linear relation is recovered,
// the penalty shrinks the weights as the closed form says for one centred feature, and the Cholesky solve is exact.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { choleskySolve, fitRidge, predictNormalized, predictRidge, rmsNormalized } from "../bench/skip/ridge.js";
import { randomTokens } from "./helpers/skip-models.js";

const test = suite("bench ridge");

test("fitRidge recovers y = w . x + b; the penalty shrinks a single weight to sxy / (sxx + lambda)", () => {
  const w = [0.5, -2, 3];
  const raw = randomTokens(300, 1000, 3).map((v) => v / 1000 - 0.5);
  const xs = Array.from({ length: 100 }, (_, i) => Float32Array.from(raw.slice(3 * i, 3 * i + 3)));
  const ys = xs.map((x) => w[0]! * x[0]! + w[1]! * x[1]! + w[2]! * x[2]! + 7);
  const fit = fitRidge(xs, ys, 1e-9);
  fit.weights.forEach((v, j) => assert.ok(Math.abs(v - w[j]!) < 1e-4, `w${j} ${v}`));
  assert.ok(Math.abs(fit.bias - 7) < 1e-4);
  assert.ok(Math.abs(predictRidge(fit, [1, 1, 1]) - 8.5) < 1e-4);
  const one = [1, 2, 3, 4].map((v) => Float32Array.of(v));
  const y = [2, 4, 5, 9];
  // centred: x - 2.5, y - 5: sxy = 1.5*3 + 0.5*1 + 0.5*0 + 1.5*4 = 11, sxx = 5.
  assert.ok(Math.abs(fitRidge(one, y, 5).weights[0]! - 11 / 10) < 1e-6);
});

test("choleskySolve solves a positive definite system; the normalized prediction equals predicting on x / rms(x)", () => {
  const a = Float64Array.of(4, 2, 0, 2, 5, 1, 0, 1, 3);
  const z = choleskySolve(Float64Array.from(a), Float64Array.of(1, 2, 3), 3);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(a[3 * i]! * z[0]! + a[3 * i + 1]! * z[1]! + a[3 * i + 2]! * z[2]! - (i + 1)) < 1e-12);
  const p = { weights: Float32Array.of(1, -1, 2, 0.5), bias: 0.25 };
  const x = Float32Array.of(3, -1, 4, 10);
  assert.ok(Math.abs(predictNormalized(p, x) - predictRidge(p, rmsNormalized(x))) < 1e-5);
});

test.run();
