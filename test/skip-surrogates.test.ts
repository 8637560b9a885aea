// FFN surrogates (model/surrogates.ts, skip/surrogate-fit.ts, the `else if` of transformer.ts's FFN-skip `if`):
//  - the linear algebra: the symmetric eigen-solver against A v = λ v and orthonormality; the reduced-rank ridge fit
//    recovers a planted rank-r map U Vᵀ + b from noise-free data, and a lower rank cannot (R² below 1);
//  - the forward pass with a surrogate equals the same thing computed in plain f64 TS from the residual before it
//    (decode and batched prefill, F32 and F16 files), and a skip-off run stays bit-identical with surrogates loaded;
//  - the file: round trip, and each validation error (typed, naming the file and field);
//  - on a tiny random model, skipping with fitted surrogates is closer to the full model (teacher-forced KL, top-1)
//    than skipping without them, at the same skip decisions.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { calibrateSurrogates } from "../src/calibrate.js";
import { ConfigError, FormatError, InputError } from "../src/errors.js";
import { Session } from "../src/generate.js";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.js";
import { checkLoadOptionKeys, loadModel } from "../src/load.js";
import { readSurrogates, SURROGATE_FORMAT, type SurrogateFile, writeSurrogates } from "../src/model/surrogates.js";
import type { FfnGate } from "../src/model/transformer.js";
import { f16ToF32, f32ToF16 } from "../src/reference/quant.js";
import { splitWindows, teacherForcedDivergence } from "../src/score.js";
import { SkipController } from "../src/skip/controller.js";
import { FfnMoments, fitReducedRankRidge, symmetricEigen } from "../src/skip/surrogate-fit.js";
import { throwsTyped } from "./helpers/assert-typed.js";
import { mulberry32 } from "./helpers/rng.js";
import { tinyGgufWithTokenizer } from "./fuzz/seeds.js";
import { deepTinyModel } from "./helpers/skip-models.js";

const test = suite("FFN surrogates");

const uniformTokens = (count: number, seed: number) => {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => Math.floor(rand() * 256));
};

test("symmetricEigen: A v = λ v, orthonormal vectors, eigenvalues descending (sizes 1, 2, 7, 60)", () => {
  const rand = mulberry32(3);
  for (const n of [1, 2, 7, 60]) {
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rand() - 0.5;
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 0; i < n; i++) {
      if (i > 0) assert.ok(values[i]! <= values[i - 1]!, "descending");
      for (let r = 0; r < n; r++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[r * n + k]! * vectors[i * n + k]!;
        assert.ok(Math.abs(s - values[i]! * vectors[i * n + r]!) < 1e-12, `n ${n}: residual of vector ${i}`);
      }
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += vectors[i * n + k]! * vectors[j * n + k]!;
        assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-12, `n ${n}: vectors ${i}, ${j} orthonormal`);
      }
    }
  }
});

test("the reduced-rank fit recovers a planted rank-r map with bias from noise-free data", () => {
  const rand = mulberry32(7);
  const [d, r, n] = [40, 5, 600];
  const u = Float64Array.from({ length: d * r }, () => rand() - 0.5);
  const v = Float64Array.from({ length: r * d }, () => rand() - 0.5);
  const b = Float64Array.from({ length: d }, () => rand() - 0.5);
  const planted = (x: Float32Array, out: Float64Array) => {
    for (let j = 0; j < d; j++) {
      let s = b[j]!;
      for (let i = 0; i < r; i++) {
        let z = 0;
        for (let k = 0; k < d; k++) z += v[i * d + k]! * x[k]!;
        s += u[j * r + i]! * z;
      }
      out[j] = s;
    }
  };
  const moments = new FfnMoments(d, 50);
  const y = new Float64Array(d);
  for (let block = 0; block < n / 50; block++) {
    const xs = new Float32Array(50 * d);
    const ys = new Float32Array(50 * d);
    for (let t = 0; t < 50; t++) {
      const x = xs.subarray(t * d, (t + 1) * d);
      for (let k = 0; k < d; k++) x[k] = 2 * rand() - 0.5; // not centred: the bias must absorb the mean
      planted(x, y);
      ys.set(y, t * d);
    }
    moments.add(xs, ys, Array.from({ length: 50 }, (_, t) => t));
  }
  assert.is(moments.count, n);
  const fit = fitReducedRankRidge(moments, r, 1e-10);
  assert.ok(fit.r2 > 1 - 1e-7, `R² ${fit.r2}`);
  // The fitted map on fresh inputs equals the planted one (y is O(1); f32 data limits the agreement to ~1e-5).
  let worst = 0;
  for (let trial = 0; trial < 20; trial++) {
    const x = Float32Array.from({ length: d }, () => 2 * rand() - 0.5);
    planted(x, y);
    for (let j = 0; j < d; j++) {
      let s = fit.bias[j]!;
      for (let i = 0; i < r; i++) {
        let z = 0;
        for (let k = 0; k < d; k++) z += fit.v[i * d + k]! * x[k]!;
        s += fit.u[j * r + i]! * z;
      }
      worst = Math.max(worst, Math.abs(s - y[j]!));
    }
  }
  assert.ok(worst < 1e-4, `largest error ${worst}`);
  const lower = fitReducedRankRidge(moments, r - 1, 1e-10);
  assert.ok(lower.r2 < 0.99 && lower.r2 > 0.3, `rank ${r - 1} explains part: R² ${lower.r2}`);
  assert.throws(() => fitReducedRankRidge(moments, d + 1), /rank/);
});

const tiny = await deepTinyModel(8, { maxContext: 64 });
const H = tiny.config.hiddenSize;
const L = tiny.config.numLayers;
const calibration = splitWindows(uniformTokens(8192, 11), 64);
const fitted = await calibrateSurrogates(tiny, calibration, { rank: 16, data: "uniform random tokens" });

/** The file with random maps for `layers` (any values will do for checking arithmetic). */
function randomFile(layers: readonly number[], dtype: "F32" | "F16", rank = 8, seed = 5): SurrogateFile {
  const rand = mulberry32(seed);
  const values = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() - 0.5) * scale);
  return {
    format: SURROGATE_FORMAT, model: { name: tiny.name, fingerprint: tiny.fingerprint }, hidden: H, layers: L, rank, dtype,
    surrogates: layers.map((layer) => ({ layer, v: values(rank * H, 0.5), u: values(H * rank, 0.5), bias: values(H, 0.2) })),
    fit: { note: "random" },
  };
}

/** x + U (Vᵀ (RMSNorm(x) ⊙ w)) + b in f64, with the model's norm weight `w` and epsilon. */
function plainSurrogate(x: Float32Array, w: Float32Array, s: SurrogateFile["surrogates"][number], rank: number, eps: number): Float64Array {
  let ss = 0;
  for (let j = 0; j < H; j++) ss += x[j]! * x[j]!;
  const scale = 1 / Math.sqrt(ss / H + eps);
  const h = Float64Array.from(x, (v, j) => v * scale * w[j]!);
  const z = new Float64Array(rank);
  for (let i = 0; i < rank; i++) for (let j = 0; j < H; j++) z[i]! += s.v[i * H + j]! * h[j]!;
  const out = Float64Array.from(x, (v, j) => v + s.bias[j]!);
  for (let j = 0; j < H; j++) for (let i = 0; i < rank; i++) out[j]! += s.u[j * rank + i]! * z[i]!;
  return out;
}

test("the forward pass with a surrogate equals plain f64 TS from the residual before it (decode and prefill, F32 and F16)", () => {
  const t = tiny.transformer;
  const last = L - 1; // the last layer: the residual after its FFN block is what the forward pass leaves in state.x
  for (const dtype of ["F32", "F16"] as const) {
    const file = readSurrogates(writeSurrogates(randomFile([3, last], dtype)), "random.safetensors", tiny);
    tiny.useSurrogates(file);
    for (const n of [1, 5]) {
      let before = new Float32Array(0);
      const gate: FfnGate = {
        runFfn(layer) {
          if (layer !== last) return true;
          before = Float32Array.from(t.arena.f32(t.state.x, n * H)); // the residual the FFN block would add to
          return false;
        },
        observe() {},
      };
      const tokens = uniformTokens(n, 40 + n);
      if (n === 1) {
        t.prefill(uniformTokens(6, 3), 0, "none");
        t.decode(tokens[0]!, 6, gate);
      } else {
        t.prefill(tokens, 0, "last", gate);
      }
      const after = t.arena.f32(t.state.x, n * H);
      const norm = t.arena.f32(t.weights.layers[last]!.ffnNorm, H);
      let worst = 0;
      let change = 0;
      for (let row = 0; row < n; row++) {
        const expected = plainSurrogate(before.subarray(row * H, (row + 1) * H), norm, file.surrogates[1]!, file.rank, tiny.config.rmsEps);
        for (let j = 0; j < H; j++) {
          worst = Math.max(worst, Math.abs(after[row * H + j]! - expected[j]!));
          change = Math.max(change, Math.abs(expected[j]! - before[row * H + j]!));
        }
      }
      assert.ok(change > 0.1, "the surrogate changes the residual");
      assert.ok(worst < 1e-4, `${dtype}, ${n} token(s): largest difference ${worst}`);
    }
  }
  tiny.useSurrogates(null);
});

test("skip off, and a policy that skips nothing, stay bit-identical with surrogates loaded", () => {
  const t = tiny.transformer;
  const prompt = uniformTokens(9, 1);
  const steps = uniformTokens(12, 2);
  const run = (policy: ConstructorParameters<typeof SkipController>[0]) => {
    const controller = new SkipController(policy, L);
    t.prefill(prompt, 0, "last");
    return steps.map((token, i) => {
      controller.beginToken();
      const logits = Float32Array.from(t.decode(token, prompt.length + i, controller));
      controller.endToken();
      return logits;
    });
  };
  tiny.useSurrogates(null);
  const plain = run({ kind: "off" });
  tiny.useSurrogates(fitted);
  const same = (a: Float32Array[], b: Float32Array[]) => a.every((row, i) => new Uint32Array(row.buffer).every((v, j) => v === new Uint32Array(b[i]!.buffer)[j]));
  assert.ok(same(run({ kind: "off" }), plain), "skip off with surrogates loaded");
  assert.ok(same(run({ kind: "fixed", warmup: 0, layers: [] }), plain), "fixed, no layers");
  assert.not.ok(same(run({ kind: "fixed", warmup: 0, layers: [4] }), plain), "a skipped layer does change the logits");
  tiny.useSurrogates(null);
});

test("file round trip: F32 exactly, F16 as half-precision values; the fit's record comes back", () => {
  const file = randomFile([0, 4, 7], "F32");
  const back = readSurrogates(writeSurrogates(file), "x.safetensors", tiny);
  assert.equal(back.surrogates.map((s) => s.layer), [0, 4, 7]);
  back.surrogates.forEach((s, i) => {
    assert.equal(Array.from(s.v), Array.from(file.surrogates[i]!.v));
    assert.equal(Array.from(s.u), Array.from(file.surrogates[i]!.u));
    assert.equal(Array.from(s.bias), Array.from(file.surrogates[i]!.bias));
  });
  assert.equal(back.fit, { note: "random" });
  assert.equal([back.rank, back.hidden, back.layers, back.dtype, back.model.fingerprint], [8, H, L, "F32", tiny.fingerprint]);
  const half = readSurrogates(writeSurrogates({ ...file, dtype: "F16" }), "x.safetensors", tiny);
  assert.is(half.dtype, "F16");
  const rounded = (x: number) => f16ToF32(f32ToF16(x));
  assert.equal(Array.from(half.surrogates[1]!.v), Array.from(file.surrogates[1]!.v, rounded));
  assert.equal(Array.from(half.surrogates[1]!.bias), Array.from(file.surrogates[1]!.bias), "bias stays F32");
  assert.ok(writeSurrogates({ ...file, dtype: "F16" }).byteLength < 0.6 * writeSurrogates(file).byteLength);
  checkLoadOptionKeys({ surrogates: new Uint8Array(0) }); // a load option
  const fittedBack = readSurrogates(writeSurrogates(fitted), "fitted", tiny);
  assert.equal((fittedBack.fit.r2 as number[]).length, L);
});

/** The file's tensors and metadata, for building damaged variants. */
function parts(bytes: Uint8Array): { tensors: { name: string; dtype: "F32" | "F16" | "BF16"; shape: number[]; data: Uint8Array }[]; metadata: Record<string, string> } {
  const parsed = readSafetensors(bytes);
  return {
    tensors: parsed.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: bytes.slice(t.offset, t.offset + t.byteLength) })),
    metadata: { ...parsed.metadata },
  };
}

test("validation: every damage is a typed error naming the file and the field", () => {
  const good = writeSurrogates(randomFile([2, 5], "F32"));
  const read = (bytes: Uint8Array) => () => readSurrogates(bytes, "s.safetensors", tiny);
  const variant = (change: (p: ReturnType<typeof parts>) => void) => {
    const p = parts(good);
    change(p);
    return writeSafetensors(p.tensors, p.metadata);
  };
  const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
  throwsTyped(read(good.subarray(0, good.byteLength - 10)), FormatError, /^s\.safetensors/);
  throwsTyped(read(good.subarray(0, 4)), FormatError, /^s\.safetensors: header length/);
  throwsTyped(() => readSurrogates(good, "s.safetensors", { fingerprint: "0".repeat(64), config: tiny.config }), ConfigError, /^s\.safetensors: __metadata__\.fingerprint: expected 0{64} \(this model\)/);
  throwsTyped(() => readSurrogates(good, "s.safetensors", { fingerprint: tiny.fingerprint, config: { ...tiny.config, hiddenSize: 32 } }), ConfigError, /__metadata__\.hidden: expected 32/);
  throwsTyped(() => readSurrogates(good, "s.safetensors", { fingerprint: tiny.fingerprint, config: { ...tiny.config, numLayers: 4 } }), ConfigError, /__metadata__\.layers: expected 4/);
  throwsTyped(read(variant((p) => void (p.metadata.format = "ffnskip-skip-profile/1"))), FormatError, /__metadata__\.format: expected "ffnskip-ffn-surrogates\/1"/);
  throwsTyped(read(variant((p) => void delete p.metadata.fingerprint)), FormatError, /__metadata__\.fingerprint: expected a model fingerprint/);
  throwsTyped(read(variant((p) => void (p.metadata.rank = "0"))), FormatError, /__metadata__\.rank: expected an integer in 1\.\.64/);
  throwsTyped(read(variant((p) => void (p.metadata.rank = "8.5"))), FormatError, /__metadata__\.rank/);
  throwsTyped(read(variant((p) => void (p.metadata.fit = "[1]"))), FormatError, /__metadata__\.fit: expected a JSON object/);
  throwsTyped(read(variant((p) => void (p.tensors[0]!.shape = [H, 8]))), FormatError, /layers\.2\.v\.shape: expected \[8, 64\], got "\[64, 8\]"/);
  throwsTyped(read(variant((p) => void p.tensors.splice(1, 1))), FormatError, /layers\.2\.u: expected a tensor of shape \[64, 8\].*missing/);
  throwsTyped(read(variant((p) => p.tensors.push({ name: "layers.2.extra", dtype: "F32", shape: [1], data: f32([0]) }))), FormatError, /layers\.2\.extra: expected only tensors/);
  throwsTyped(read(variant((p) => void (p.tensors[3]!.name = "layers.8.v"))), FormatError, /layers\.8\.v: expected a layer index below 8/);
  throwsTyped(read(variant((p) => void (p.tensors[3]!.name = "layers.05.v"))), FormatError, /layers\.05\.v: expected only tensors/);
  throwsTyped(read(variant((p) => {
    const t = p.tensors[0]!;
    t.dtype = "F16";
    t.data = t.data.subarray(0, t.data.byteLength / 2);
  })), FormatError, /layers\.\d\.(u|v)\.dtype: expected F(16|32), as the other matrices/);
  throwsTyped(read(variant((p) => {
    const t = p.tensors[2]!;
    t.dtype = "BF16";
    t.data = t.data.subarray(0, t.data.byteLength / 2);
  })), FormatError, /layers\.2\.bias\.dtype: expected F32/);
  throwsTyped(read(variant((p) => void new Float32Array(p.tensors[1]!.data.buffer, p.tensors[1]!.data.byteOffset, 4).set([0, 0, NaN, 0]))), FormatError, /layers\.2\.u\[2\]: expected finite values/);
  throwsTyped(read(variant((p) => void (p.tensors.length = 0))), FormatError, /tensors: expected at least one layer's surrogate/);
  // Through the model: another model's file is refused before anything is placed.
  const other = writeSurrogates({ ...randomFile([1], "F32"), model: { name: "other", fingerprint: "ab".repeat(32) } });
  throwsTyped(() => tiny.useSurrogates(other, "other.safetensors"), ConfigError, /^other\.safetensors: __metadata__\.fingerprint: .*\(other\)/);
  throwsTyped(() => tiny.useSurrogates({ ...randomFile([1], "F32"), model: { name: "other", fingerprint: "ab".repeat(32) } }), ConfigError, /model\.fingerprint/);
  assert.is(tiny.transformer.surrogates, null);
});

test("loadModel's surrogates option: a fitted file is placed, another model's or a wrong value is a typed error", async () => {
  const bytes = tinyGgufWithTokenizer("F32");
  const plain = await loadModel(bytes, { maxContext: 32 });
  assert.is(plain.transformer.surrogates, null);
  const file = writeSurrogates({ ...randomFile([0, 1], "F32"), hidden: plain.config.hiddenSize, layers: plain.config.numLayers, model: { name: "tiny gguf", fingerprint: plain.fingerprint } });
  const withSurrogates = await loadModel(bytes, { maxContext: 32, surrogates: file });
  assert.equal(withSurrogates.transformer.surrogates?.map((s) => s?.rank ?? null), [8, 8]);
  // Skipping both layers: the placed maps run (the logits move), and with skip off nothing changes.
  const last = (model: typeof plain, skip: { kind: "off" } | { kind: "fixed"; warmup: number; layers: number[] }) => {
    const controller = new SkipController(skip, model.config.numLayers);
    model.transformer.prefill([1, 5, 9], 0, "none");
    controller.beginToken();
    return Float32Array.from(model.transformer.decode(12, 3, controller));
  };
  const skipBoth = { kind: "fixed", warmup: 0, layers: [0, 1] } as const;
  assert.equal(Array.from(last(withSurrogates, { kind: "off" })), Array.from(last(plain, { kind: "off" })));
  assert.not.equal(Array.from(last(withSurrogates, { ...skipBoth, layers: [0, 1] })), Array.from(last(plain, { ...skipBoth, layers: [0, 1] })));
  for (const [value, type, pattern] of [
    [writeSurrogates(randomFile([0], "F32")), ConfigError, /__metadata__\.fingerprint/],
    ["weights/x.safetensors", InputError, /surrogates: expected a surrogate file's bytes/],
  ] as const) {
    await loadModel(bytes, { maxContext: 32, surrogates: value as Uint8Array }).then(
      () => assert.unreachable("refused"),
      (error) => {
        assert.instance(error, type, String(error));
        assert.match(String(error), pattern);
      },
    );
  }
});

test("a tiny model: skipping with fitted surrogates is closer to the full model than skipping without, same decisions", async () => {
  const r2 = fitted.fit.r2 as number[];
  assert.ok(r2.every((v) => v > 0.05 && v < 1), `R² per layer ${r2.join(", ")}`);
  const heldOut = splitWindows(uniformTokens(640, 12), 32);
  for (const layers of [[2, 3, 5], [1, 2, 3, 4, 5, 6]]) {
    const policy = { kind: "fixed", warmup: 2, layers } as const;
    tiny.useSurrogates(null);
    const plain = await teacherForcedDivergence(new Session(tiny.transformer), heldOut, policy);
    tiny.useSurrogates(fitted);
    const surrogate = await teacherForcedDivergence(new Session(tiny.transformer), heldOut, policy);
    tiny.useSurrogates(null);
    assert.is(surrogate.skip.skipped, plain.skip.skipped, "the same skip decisions");
    assert.ok(surrogate.kl < 0.92 * plain.kl, `layers ${layers}: KL ${surrogate.kl} with surrogates, ${plain.kl} without`);
    assert.ok(surrogate.top1 > plain.top1, `layers ${layers}: top-1 ${surrogate.top1} with surrogates, ${plain.top1} without`);
  }
});

test.run();
