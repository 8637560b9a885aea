// FFN skipping inside the real forward pass (tiny random Llamas, the same restated as qwen3 / llama3 / mistral, a
// tiny random Gemma 3 whose skipped FFN includes its pre- and post-norms, and SmolLM2 when pulled):
//  - "off", and policies that decide to skip nothing, give logits bit-identical to the plain forward pass;
//  - with aggressive skipping, attention still writes every layer's KV cache row for every position;
//  - the reported skip count equals the FFN blocks whose weights the kernels never touched (kernel calls counted
//    through a Proxy around the kernel table), step by step and in total, also through LanguageModel.generate.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../src/errors.js";
import { LanguageModel } from "../src/language-model.js";
import { type FfnGate, RUN_ALL_FFNS, Transformer } from "../src/model/transformer.js";
import type { Kernels } from "../src/runtime/kernels.js";
import { SkipController } from "../src/skip/controller.js";
import { defaultProfileFor } from "../src/skip/default-profiles.js";
import type { SkipPolicy } from "../src/skip/policies.js";
import { paperPolicy } from "../src/skip/profile.js";
import { deepTinyModel, randomTokens, smolLM2, tinyFamilyModel, tinyGemma3Model } from "./helpers/skip-models.js";

const test = suite("FFN skipping in the forward pass");

interface Subject {
  readonly name: string;
  readonly model: LanguageModel;
  readonly prompt: number[];
  readonly steps: number;
  /** A paper policy that really skips (calibrated-looking for SmolLM2, permissive for the random tiny models). */
  readonly paper: SkipPolicy;
}

const subjects: Subject[] = [];
const tiny2 = await deepTinyModel(2, { maxContext: 64 });
subjects.push({ name: "tiny 2 layers", model: tiny2, prompt: randomTokens(9, 256, 1), steps: 20, paper: { kind: "paper", warmup: 2, coldStart: 0, coldEnd: 2, threshold: 0.5, k: 1 } });
const tiny8 = await deepTinyModel(8, { maxContext: 128 });
subjects.push({ name: "tiny 8 layers", model: tiny8, prompt: randomTokens(70, 256, 2), steps: 24, paper: { kind: "paper", warmup: 3, coldStart: 1, coldEnd: 7, threshold: 0.93, k: 2 } });
// Each family's deltas (Qwen3's Q/K norms, Llama 3 scaling, Mistral's window shorter than the 70-token prompt).
for (const family of ["qwen3", "llama3", "mistral"] as const) {
  const model = await tinyFamilyModel(family, 6, { maxContext: 128 });
  const expected = { qwen3: ["qwen3", null, null], llama3: ["llama", null, "llama3"], mistral: ["llama", 16, null] }[family];
  assert.equal([model.config.architecture, model.config.slidingWindow?.size ?? null, model.config.ropeScaling?.type ?? null], expected, `tiny ${family} is what it says`);
  subjects.push({ name: `tiny ${family} 6 layers`, model, prompt: randomTokens(70, 256, 4), steps: 20, paper: { kind: "paper", warmup: 2, coldStart: 1, coldEnd: 5, threshold: 0.5, k: 1 } });
}
const gemma3 = await tinyGemma3Model({ maxContext: 64 });
subjects.push({ name: "tiny Gemma 3", model: gemma3, prompt: randomTokens(20, 256, 4), steps: 16, paper: { kind: "paper", warmup: 2, coldStart: 1, coldEnd: 5, threshold: 0.9, k: 1 } });
const smol = await smolLM2("skip-model");
if (smol !== undefined) {
  const shipped = defaultProfileFor(smol.fingerprint);
  const paper: SkipPolicy = shipped !== undefined ? paperPolicy(shipped) : { kind: "paper", warmup: 4, coldStart: 1, coldEnd: 29, threshold: 0.975, k: 2 };
  subjects.push({ name: "SmolLM2", model: smol, prompt: smol.encode("The tower is 324 metres tall, about the same height as"), steps: 16, paper });
}

/** Prefill `prompt`, then decode `steps` teacher-forced tokens under `gate`; copies of every decode step's logits. */
function decodeRun(t: Transformer, prompt: readonly number[], continuation: readonly number[], gate: FfnGate | null, controller?: SkipController): Float32Array[] {
  t.prefill(prompt, 0, "last");
  controller?.reset();
  return continuation.map((token, i) => {
    controller?.beginToken();
    const logits = gate === null ? t.decode(token, prompt.length + i) : t.decode(token, prompt.length + i, gate);
    controller?.endToken();
    return new Float32Array(logits);
  });
}

function identical(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

test("off, and policies that skip nothing, are bit-identical to the plain forward pass", () => {
  for (const s of subjects) {
    const L = s.model.config.numLayers;
    const continuation = randomTokens(s.steps, s.model.config.vocabSize, 99);
    const t = s.model.transformer;
    const plain = decodeRun(t, s.prompt, continuation, null);
    const runAll = decodeRun(t, s.prompt, continuation, RUN_ALL_FFNS);
    const policies: SkipPolicy[] = [
      { kind: "off" },
      { kind: "paper", warmup: 0, coldStart: 3 % L, coldEnd: 3 % L, threshold: -1, k: 1 },
      { kind: "fixed", warmup: 0, layers: [] },
      { kind: "random", warmup: 0, coldStart: 0, coldEnd: L, count: 0, seed: 5 },
      { kind: "fixed", warmup: s.steps, layers: Array.from({ length: L }, (_, l) => l) }, // warm-up covers every step
    ];
    for (const policy of policies) {
      const controller = new SkipController(policy, L);
      const logits = decodeRun(t, s.prompt, continuation, controller, controller);
      assert.is(controller.stats().skipped, 0, `${s.name} ${policy.kind}`);
      logits.forEach((row, i) => {
        assert.ok(identical(row, plain[i]!), `${s.name}: ${JSON.stringify(policy)} step ${i} differs from the plain forward pass`);
        assert.ok(identical(row, runAll[i]!), `${s.name}: RUN_ALL_FFNS step ${i}`);
      });
    }
    // And skipping does change the logits (the check above can fail).
    const skipAll = new SkipController({ kind: "fixed", warmup: 0, layers: [L - 1] }, L);
    const changed = decodeRun(t, s.prompt, continuation, skipAll, skipAll);
    assert.not.ok(identical(changed[0]!, plain[0]!), `${s.name}: skipping the last FFN changes the logits`);
  }
});

test("with every FFN (or most) skipped, every layer's KV cache row is written for every position", () => {
  for (const s of subjects) {
    const { config } = s.model;
    const L = config.numLayers;
    const t = s.model.transformer;
    const kvDim = config.numKvHeads * config.headDim;
    const rows = t.state.maxContext;
    const policies: SkipPolicy[] = [
      { kind: "fixed", warmup: 0, layers: Array.from({ length: L }, (_, l) => l) },
      { kind: "paper", warmup: 1, coldStart: 0, coldEnd: L, threshold: -1, k: L },
    ];
    for (const policy of policies) {
      for (let l = 0; l < L; l++) {
        t.arena.f32(t.state.kCache[l]!, rows * kvDim).fill(NaN);
        t.arena.f32(t.state.vCache[l]!, rows * kvDim).fill(NaN);
      }
      const continuation = randomTokens(s.steps, config.vocabSize, 7);
      const controller = new SkipController(policy, L);
      decodeRun(t, s.prompt, continuation, controller, controller);
      const written = s.prompt.length + continuation.length;
      assert.ok(controller.stats().ratioAfterWarmup > (policy.kind === "fixed" ? 0.99 : (L - 1) / L - 1e-9), `${s.name}: the policy skips (${controller.stats().ratioAfterWarmup})`);
      for (let l = 0; l < L; l++) {
        for (const [name, cache] of [["K", t.state.kCache[l]!], ["V", t.state.vCache[l]!]] as const) {
          const values = t.arena.f32(cache, rows * kvDim);
          for (let p = 0; p < rows; p++) {
            const row = values.subarray(p * kvDim, (p + 1) * kvDim);
            if (p < written) assert.ok(row.every(Number.isFinite), `${s.name} ${policy.kind}: layer ${l} ${name} row ${p} not written`);
            else assert.ok(row.every(Number.isNaN), `${s.name}: layer ${l} ${name} row ${p} written past the sequence`);
          }
        }
      }
    }
  }
});

/**
 * A Transformer over the same weights and state whose kernel table records which layers' FFN weight matrices
 * (gate, up, down) each decode step touched.
 */
function countingTransformer(t: Transformer): { transformer: Transformer; steps: Set<number>[] } {
  // The FFN's weight matrices, whatever the weights table calls and groups them (wGate/wUp/wDown, a fused gateUp
  // projection, ...): every matrix-valued field named like gate, up or down.
  const ffnLayer = new Map<number, number>();
  t.weights.layers.forEach((layer, l) => {
    for (const [name, value] of Object.entries(layer)) {
      if (!/gate|up|down/i.test(name) || /norm/i.test(name)) continue;
      for (const m of (Array.isArray(value) ? value : [value]) as { ptr?: unknown }[]) if (typeof m?.ptr === "number") ffnLayer.set(m.ptr, l);
    }
  });
  assert.ok(ffnLayer.size >= 2 * t.weights.layers.length, "found the FFN weight matrices");
  const steps: Set<number>[] = [];
  let current: Set<number> | null = null;
  // The WASM exports object is frozen, so the Proxy's target is an empty object and every read goes to the kernels.
  const kernels = new Proxy({}, {
    get(_, prop) {
      const value = Reflect.get(t.kernels, prop) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (current !== null) for (const a of args) if (typeof a === "number" && ffnLayer.has(a)) current.add(ffnLayer.get(a)!);
        return (value as (...a: unknown[]) => unknown).apply(t.kernels, args);
      };
    },
  }) as Kernels;
  class Counting extends Transformer {
    override decode(token: number, position: number, gate?: FfnGate): Float32Array {
      current = new Set();
      try {
        return super.decode(token, position, gate);
      } finally {
        steps.push(current);
        current = null;
      }
    }
  }
  return { transformer: new Counting(t.config, t.weights, t.state, kernels, t.arena), steps };
}

test("the reported skip count equals the FFN blocks whose kernels never ran", () => {
  for (const s of subjects) {
    const L = s.model.config.numLayers;
    const { transformer, steps } = countingTransformer(s.model.transformer);
    const policies: SkipPolicy[] = [
      s.paper,
      { kind: "random", warmup: 2, coldStart: 1 % L, coldEnd: L, count: Math.max(1, Math.floor(L / 3)), seed: 11 },
      { kind: "fixed", warmup: 0, layers: [L - 1] },
      { kind: "off" },
    ];
    for (const policy of policies) {
      steps.length = 0;
      const controller = new SkipController(policy, L);
      decodeRun(transformer, s.prompt, randomTokens(s.steps, s.model.config.vocabSize, 3), controller, controller);
      assert.is(steps.length, s.steps);
      const avoided = steps.reduce((sum, touched) => sum + (L - touched.size), 0);
      const stats = controller.stats();
      assert.is(stats.skipped, avoided, `${s.name} ${policy.kind}: reported ${stats.skipped}, kernels avoided ${avoided}`);
      assert.is(stats.ratio, avoided / (L * s.steps));
      steps.forEach((touched, i) => {
        const ran = Array.from(controller.trace[i]!.ran);
        assert.equal(ran, Array.from({ length: L }, (_, l) => (touched.has(l) ? 1 : 0)), `${s.name} ${policy.kind} step ${i}`);
      });
      if (policy.kind === "paper") assert.ok(stats.skipped > 0, `${s.name}: the paper policy skipped something`);
      if (policy.kind === "fixed") assert.is(stats.ratio, 1 / L, `${s.name}: one fixed layer of ${L} skipped at every step`);
      if (policy.kind === "off") assert.is(stats.skipped, 0);
    }
  }
});

test("LanguageModel.generate reports the skips the kernels avoided", async () => {
  const s = subjects.find((x) => x.name === "SmolLM2");
  if (s === undefined) return;
  const m = s.model;
  const { transformer, steps } = countingTransformer(m.transformer);
  const counted = new LanguageModel(m.name, m.config, transformer, m.tokenizer, m.chatTemplate, m.fingerprint, defaultProfileFor(m.fingerprint) ? "on" : s.paper);
  const result = await counted.generate("Write one sentence about the sea.", { chat: true, maxTokens: 20, stopOnEos: false }).result;
  const L = m.config.numLayers;
  assert.is(steps.length, result.stats.skip.tokens);
  assert.is(result.stats.skip.skipped, steps.reduce((sum, touched) => sum + (L - touched.size), 0));
  assert.ok(result.stats.skip.skipped > 0);
  assert.is(result.trace.length, result.stats.skip.tokens);
});

test('skip: "on" needs a shipped profile for the model (ConfigError otherwise)', async () => {
  assert.throws(() => {
    tiny8.skip = "on";
  }, (e: unknown) => e instanceof ConfigError);
  assert.throws(() => {
    tiny8.skip = "fixed:0.25";
  }, (e: unknown) => e instanceof ConfigError);
  const s = subjects.find((x) => x.name === "SmolLM2");
  if (s === undefined || defaultProfileFor(s.model.fingerprint) === undefined) return;
  const profile = defaultProfileFor(s.model.fingerprint)!;
  s.model.skip = "on";
  assert.equal(s.model.skip, paperPolicy(profile));
  s.model.skip = "fixed:0.25";
  assert.equal(s.model.skip, { kind: "fixed", warmup: profile.warmup, layers: profile.fixedLayers }); // the shipped profile's target is 0.25
  s.model.skip = "random:0.2:9";
  assert.equal(s.model.skip, { kind: "random", warmup: profile.warmup, coldStart: profile.coldStart, coldEnd: profile.coldEnd, count: 6, seed: 9 });
  s.model.skip = "off";
});

test.run();
