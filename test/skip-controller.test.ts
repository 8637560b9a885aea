// The skip controller's decisions without a model: a fake forward pass drives it with hand-made similarities
// (the paper rule's ran/skipped pattern derived by hand), the random policy's count and seeding, the fixed
// policy's layers, the layerwise policy's per-layer thresholds and skippable layers, warm-up and the ratio
// arithmetic; and the fixed:R / random:R resolution from a profile.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, InputError } from "../src/errors.js";
import { SkipController } from "../src/skip/controller.js";
import { type SkipPolicy, validatePolicy } from "../src/skip/policies.js";
import { parseSkipProfile, PROFILE_FORMAT, type SkipProfile } from "../src/skip/profile.js";
import { fixedPolicyForRatio, isSkipSpec, mostRedundantLayers, randomPolicyForRatio, resolveSkipSpec } from "../src/skip/spec.js";

const test = suite("skip controller");

/** One decode step of a fake model: asks the gate layer by layer and reports `sims[l]` for every FFN that runs. */
function fakeStep(controller: SkipController, sims: readonly number[]): number[] {
  controller.beginToken();
  const ran = sims.map((sim, l) => {
    const run = controller.runFfn(l);
    if (run) controller.observe(l, 0, sim);
    return run ? 1 : 0;
  });
  controller.endToken();
  return ran;
}

const paper = (over: Partial<Extract<SkipPolicy, { kind: "paper" }>> = {}): SkipPolicy => ({ kind: "paper", warmup: 0, coldStart: 2, coldEnd: 8, threshold: 0.9, k: 2, ...over });

test("paper rule: a redundant FFN in the middle skips the next k, then the next FFN that runs decides again", () => {
  const c = new SkipController(paper(), 10);
  // l0, l1 cold: run (their 0.99 does not trigger). l2 runs, 0.95 >= 0.9: skip l3, l4. l5 runs, 0.95: skip l6, l7.
  // l8, l9 cold: run.
  assert.equal(fakeStep(c, [0.99, 0.99, 0.95, 0.5, 0.5, 0.95, 0.5, 0.99, 0.99, 0.99]), [1, 1, 1, 0, 0, 1, 0, 0, 1, 1]);
  // Low similarities never trigger: everything runs.
  assert.equal(fakeStep(c, [0.99, 0.99, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.99, 0.99]), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  // A trigger in the middle after low ones: l4 runs at 0.91, skip l5, l6; l7 runs (0.2).
  assert.equal(fakeStep(c, [0, 0, 0.2, 0.3, 0.91, 0.99, 0.99, 0.2, 0, 0]), [1, 1, 1, 1, 1, 0, 0, 1, 1, 1]);
  const s = c.stats();
  assert.is(s.tokens, 3);
  assert.is(s.skipped, 6);
  assert.is(s.ratio, 6 / 30);
  assert.is(s.ratioAfterWarmup, 6 / 30);
});

test("paper rule: skipping never reaches past coldEnd, and the threshold is inclusive", () => {
  const c = new SkipController(paper({ k: 3 }), 10);
  // l2 triggers: skip 3, 4, 5; l6 runs and triggers: skip l7 only (l8 is cold and runs).
  assert.equal(fakeStep(c, Array(10).fill(0.99)), [1, 1, 1, 0, 0, 0, 1, 0, 1, 1]);
  const d = new SkipController(paper({ k: 1 }), 10);
  assert.equal(fakeStep(d, [0, 0, 0.9, 0, 0.8999, 0, 0, 0, 0, 0]), [1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
  // The last middle layer triggering leaves pending skips that must not leak into the next token.
  const e = new SkipController(paper({ k: 3 }), 10);
  assert.equal(fakeStep(e, [0, 0, 0, 0, 0, 0, 0, 0.99, 0, 0]), Array(10).fill(1));
  assert.equal(fakeStep(e, Array(10).fill(0)), Array(10).fill(1));
});

test("paper rule: cold layers do not trigger, and an empty middle region skips nothing", () => {
  const c = new SkipController(paper({ coldStart: 3, coldEnd: 7, k: 1 }), 10);
  assert.equal(fakeStep(c, [1, 1, 1, 0, 0, 0, 0, 1, 1, 1]), Array(10).fill(1));
  const empty = new SkipController(paper({ coldStart: 5, coldEnd: 5, threshold: -1 }), 10);
  for (let t = 0; t < 5; t++) assert.equal(fakeStep(empty, Array(10).fill(1)), Array(10).fill(1));
  assert.is(empty.stats().skipped, 0);
});

test("warm-up: the first `warmup` decode steps run in full; ratios with and without them", () => {
  const c = new SkipController(paper({ warmup: 2, k: 1 }), 10);
  const all = Array(10).fill(0.99);
  const rows = Array.from({ length: 5 }, () => fakeStep(c, all));
  // After warm-up: l2 runs, skip 3; l4 runs, skip 5; l6 runs, skip 7: 3 of 10 per token.
  assert.equal(rows[0], Array(10).fill(1));
  assert.equal(rows[1], Array(10).fill(1));
  for (const row of rows.slice(2)) assert.equal(row, [1, 1, 1, 0, 1, 0, 1, 0, 1, 1]);
  const s = c.stats();
  assert.equal(s, { tokens: 5, warmupTokens: 2, skipped: 9, ratio: 9 / 50, ratioAfterWarmup: 9 / 30 });
  assert.equal(c.trace.map((r) => r.warmup), [true, true, false, false, false]);
  // The trace: ran as decided, similarity where the FFN ran, NaN where skipped.
  const row = c.trace[2]!;
  assert.equal(Array.from(row.ran), [1, 1, 1, 0, 1, 0, 1, 0, 1, 1]);
  assert.ok(Number.isNaN(row.similarity[3]!) && Math.abs(row.similarity[2]! - 0.99) < 1e-6);
  // reset() starts a new sequence: warm-up again, counters cleared.
  c.reset();
  assert.equal(fakeStep(c, all), Array(10).fill(1));
  assert.equal(c.stats(), { tokens: 1, warmupTokens: 1, skipped: 0, ratio: 0, ratioAfterWarmup: 0 });
});

test("prefill (no beginToken): every FFN runs and nothing is counted, whatever was observed", () => {
  const c = new SkipController(paper({ threshold: -1 }), 10);
  for (let l = 0; l < 10; l++) {
    assert.ok(c.runFfn(l));
    c.observe(l, 0, 1);
    c.observe(l, 1, 1);
  }
  assert.equal(c.stats(), { tokens: 0, warmupTokens: 0, skipped: 0, ratio: 0, ratioAfterWarmup: 0 });
  assert.is(c.trace.length, 0);
});

test("off runs everything; fixed skips exactly its layers after warm-up", () => {
  const off = new SkipController({ kind: "off" }, 6);
  assert.equal(fakeStep(off, Array(6).fill(1)), Array(6).fill(1));
  assert.equal(off.stats().warmupTokens, 0);
  const fixed = new SkipController({ kind: "fixed", warmup: 1, layers: [4, 1, 2] }, 6);
  assert.equal(fakeStep(fixed, Array(6).fill(0)), Array(6).fill(1));
  for (let t = 0; t < 4; t++) assert.equal(fakeStep(fixed, Array(6).fill(t / 4)), [1, 0, 0, 1, 0, 1]);
  assert.equal(fixed.stats(), { tokens: 5, warmupTokens: 1, skipped: 12, ratio: 12 / 30, ratioAfterWarmup: 12 / 24 });
  const none = new SkipController({ kind: "fixed", warmup: 0, layers: [] }, 6);
  assert.equal(fakeStep(none, Array(6).fill(1)), Array(6).fill(1));
});

test("layerwise: per-layer thresholds trigger, only skippable layers are skipped, a layer outside ends the run", () => {
  const thresholds = [null, 0.9, 0.9, 0.5, 0.99, 0.9, 0.9, null, null, null];
  const c = new SkipController({ kind: "layerwise", warmup: 1, k: 2, thresholds, skippable: [2, 3, 5, 6, 8] }, 10);
  // Warm-up: everything runs whatever the similarities.
  assert.equal(fakeStep(c, Array(10).fill(1)), Array(10).fill(1));
  // l0 never triggers (null). l1 0.95 >= 0.9: skip l2, l3. l4 runs (0.95 < its 0.99). l5 runs 0.2. l6 runs 0.95: skip
  // the next 2 skippable: l7 is not skippable, so it runs (and its null threshold ends the run); l8 runs (0).
  assert.equal(fakeStep(c, [0.99, 0.95, 0.1, 0.1, 0.95, 0.2, 0.95, 0.3, 0, 0]), [1, 1, 0, 0, 1, 1, 1, 1, 1, 1]);
  // l2 triggers (0.9): l3 skipped, l4 (not skippable) runs and reaches its own 0.99: l5, l6 skipped.
  assert.equal(fakeStep(c, [0, 0, 0.9, 0, 0.995, 0, 0, 0, 0, 0]), [1, 1, 1, 0, 1, 0, 0, 1, 1, 1]);
  assert.equal(c.stats(), { tokens: 3, warmupTokens: 1, skipped: 5, ratio: 5 / 30, ratioAfterWarmup: 5 / 20 });
  const p = validatePolicy({ kind: "layerwise", warmup: 0, k: 1, thresholds, skippable: [5, 2] }, 10);
  assert.equal(p.kind === "layerwise" && p.skippable, [2, 5]);
});

test("random: exactly `count` middle layers per token, reproducible by seed, different across seeds", () => {
  const policy: SkipPolicy = { kind: "random", warmup: 2, coldStart: 1, coldEnd: 29, count: 7, seed: 42 };
  const run = (p: SkipPolicy) => {
    const c = new SkipController(p, 30);
    return { rows: Array.from({ length: 200 }, () => fakeStep(c, Array(30).fill(0.5))), stats: c.stats(), controller: c };
  };
  const a = run(policy);
  const everSkipped = new Set<number>();
  a.rows.forEach((row, t) => {
    const skipped = row.flatMap((r, l) => (r === 0 ? [l] : []));
    assert.is(skipped.length, t < 2 ? 0 : 7);
    for (const l of skipped) {
      assert.ok(l >= 1 && l < 29, `layer ${l} outside the middle region`);
      everSkipped.add(l);
    }
  });
  assert.is(everSkipped.size, 28, "every middle layer gets drawn sometimes");
  assert.is(a.stats.ratioAfterWarmup, 7 / 30);
  assert.equal(run(policy).rows, a.rows);
  assert.not.equal(run({ ...policy, seed: 43 }).rows, a.rows);
  // reset() restarts the seeded sequence.
  a.controller.reset();
  assert.equal(Array.from({ length: 200 }, () => fakeStep(a.controller, Array(30).fill(0.5))), a.rows);
});

test("validatePolicy rejects bad policies with ConfigError", () => {
  const bad: unknown[] = [
    { kind: "paper", warmup: 0, coldStart: 2, coldEnd: 1, threshold: 0.9, k: 1 },
    { kind: "paper", warmup: 0, coldStart: 0, coldEnd: 4, threshold: 1.5, k: 1 },
    { kind: "paper", warmup: 0, coldStart: 0, coldEnd: 4, threshold: 0.9, k: 0 },
    { kind: "fixed", warmup: 0, layers: [1, 1] },
    { kind: "fixed", warmup: 0, layers: [4] },
    { kind: "random", warmup: 0, coldStart: 1, coldEnd: 3, count: 3, seed: 0 },
    { kind: "layerwise", warmup: 0, k: 1, thresholds: [null, 0.9, 0.9], skippable: [1] },
    { kind: "layerwise", warmup: 0, k: 1, thresholds: [null, 0.9, 1.5, null], skippable: [1] },
    { kind: "layerwise", warmup: 0, k: 1, thresholds: [null, 0.9, 0.9, null], skippable: [4] },
    { kind: "layerwise", warmup: 0, k: 0, thresholds: [null, 0.9, 0.9, null], skippable: [1] },
    { kind: "sometimes" },
  ];
  for (const p of bad) assert.throws(() => validatePolicy(p as SkipPolicy, 4), (e: unknown) => e instanceof ConfigError, JSON.stringify(p));
});

function profile(over: Partial<SkipProfile> = {}): SkipProfile {
  const mean = [0.1, 0.95, 0.97, 0.93, 0.99, 0.97, 0.96, 0.98, 0.9, 0.6];
  return parseSkipProfile({
    format: PROFILE_FORMAT,
    model: { name: "test", fingerprint: "f".repeat(64), layers: 10 },
    warmup: 4, coldStart: 1, coldEnd: 9, threshold: 0.97, k: 2, fixedLayers: [4, 7],
    target: 0.2,
    measured: { ratio: 0.19, ratioAfterWarmup: 0.2, tokens: 100, data: "test" },
    similarity: { mean, p10: mean.map((m) => m - 0.05), p90: mean.map((m) => Math.min(1, m + 0.02)) },
    ...over,
  });
}

test("fixed:R and random:R come from the profile: the most redundant middle layers, round(R x L) of them", () => {
  const p = profile();
  // Middle layers 1..8 by mean: 4 (0.99), 7 (0.98), 2 and 5 (0.97: the tie goes to the lower layer), 6, ...
  assert.equal(mostRedundantLayers(p.similarity.mean, 1, 9, 3), [2, 4, 7]);
  assert.equal(mostRedundantLayers(p.similarity.mean, 1, 9, 4), [2, 4, 5, 7]);
  assert.equal(fixedPolicyForRatio(p, 0.3), { kind: "fixed", warmup: 4, layers: [2, 4, 7] });
  assert.equal(resolveSkipSpec("fixed:0.2", p), { kind: "fixed", warmup: 4, layers: p.fixedLayers });
  assert.equal(resolveSkipSpec("random:0.25", p), { kind: "random", warmup: 4, coldStart: 1, coldEnd: 9, count: 3, seed: 0 });
  assert.equal(resolveSkipSpec("random:0.3:7", p, { warmup: 0 }), { kind: "random", warmup: 0, coldStart: 1, coldEnd: 9, count: 3, seed: 7 });
  assert.equal(randomPolicyForRatio(p, 0.5, 3), { kind: "random", warmup: 4, coldStart: 1, coldEnd: 9, count: 5, seed: 3 });
  assert.equal(resolveSkipSpec("on", p), { kind: "paper", warmup: 4, coldStart: 1, coldEnd: 9, threshold: 0.97, k: 2 });
  assert.equal(resolveSkipSpec("paper", p, { warmup: 1 }), { kind: "paper", warmup: 1, coldStart: 1, coldEnd: 9, threshold: 0.97, k: 2 });
  assert.equal(resolveSkipSpec("off", undefined), { kind: "off" });
  for (const spec of ["off", "on", "paper", "fixed:0.25", "random:0.1", "random:0.1:3"]) assert.ok(isSkipSpec(spec), spec);
  for (const spec of ["fixed", "random:", "fixed:0.1:2", "profile.json", "ON"]) assert.not.ok(isSkipSpec(spec), spec);
});

test("spec errors: bad ratio or seed (InputError), too many layers or no profile (ConfigError)", () => {
  const p = profile();
  for (const spec of ["fixed:abc", "fixed:1.5", "fixed:-0.1", "random:0.2:x", "random:0.2:-1", "bogus"]) {
    assert.throws(() => resolveSkipSpec(spec, p), (e: unknown) => e instanceof InputError, spec);
  }
  assert.throws(() => resolveSkipSpec("fixed:0.9", p), (e: unknown) => e instanceof ConfigError);
  assert.throws(() => resolveSkipSpec("random:0.9", p), (e: unknown) => e instanceof ConfigError);
  assert.throws(() => resolveSkipSpec("on", undefined), (e: unknown) => e instanceof ConfigError);
});

test("parseSkipProfile rejects malformed profiles", () => {
  const good = JSON.parse(JSON.stringify(profile())) as Record<string, unknown>;
  assert.ok(parseSkipProfile(JSON.stringify(good)));
  const broken: Record<string, unknown>[] = [
    { ...good, format: "other" },
    { ...good, coldEnd: 11 },
    { ...good, fixedLayers: [12] },
    { ...good, target: 1 },
    { ...good, similarity: { mean: [1], p10: [1], p90: [1] } },
    { ...good, measured: { ratio: 0.2 } },
  ];
  for (const b of broken) assert.throws(() => parseSkipProfile(JSON.stringify(b)), (e: unknown) => e instanceof ConfigError);
});

test.run();
