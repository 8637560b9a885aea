// The quality yardstick of src/score.ts: KL(full || skipped) and top-1 agreement, teacher-forced. klDivergence against
// closed forms and a plain f64 softmax; the full model against itself (KL exactly 0, agreement 1); a skipping policy
// on a random 8-layer model against the same decode steps run by hand and scored with a separate log-softmax.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { InputError } from "../src/errors.js";
import { Session } from "../src/generate.js";
import { argmax, klDivergence, splitWindows, teacherForcedDivergence, teacherForcedNll } from "../src/score.js";
import { SkipController } from "../src/skip/controller.js";
import { SKIP_OFF, type SkipPolicy } from "../src/skip/policies.js";
import { quantile } from "../src/skip/similarity.js";
import { deepTinyModel, randomTokens } from "./helpers/skip-models.js";

const test = suite("skip yardstick");
const tiny = await deepTinyModel(8, { maxContext: 64 });
const VOCAB = 256;

/** log softmax in f64, written out plainly (the test's own oracle). */
function logSoftmax(logits: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(logits as ArrayLike<number>);
  const max = Math.max(...out);
  let sum = 0;
  for (const v of out) sum += Math.exp(v - max);
  const log = Math.log(sum);
  return out.map((v) => v - max - log);
}

function plainKl(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const lp = logSoftmax(p);
  const lq = logSoftmax(q);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) kl += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
  return kl;
}

function randomLogits(n: number, seed: number, scale = 4): Float32Array {
  return Float32Array.from(randomTokens(n, 1 << 20, seed), (v) => ((v / (1 << 20)) * 2 - 1) * scale);
}

test("klDivergence: 0 for equal and shifted logits, the closed form for one raised logit, a plain softmax otherwise", () => {
  const a = randomLogits(1000, 1);
  assert.is(klDivergence(a, a), 0);
  assert.ok(klDivergence(a, a.map((v) => v + 3)) < 1e-12, "softmax ignores a constant shift");
  // Q = softmax(a + delta e_j): KL(P || Q) = log(1 - p_j + p_j e^delta) - p_j delta.
  const j = 17;
  const delta = 2.5;
  const raised = Float32Array.from(a);
  raised[j]! += delta;
  const pj = Math.exp(logSoftmax(a)[j]!);
  const delta32 = raised[j]! - a[j]!; // delta as float32 arithmetic left it
  const closed = Math.log(1 - pj + pj * Math.exp(delta32)) - pj * delta32;
  assert.ok(Math.abs(klDivergence(a, raised) - closed) < 1e-12, `${klDivergence(a, raised)} vs ${closed}`);
  for (let seed = 2; seed < 6; seed++) {
    const p = randomLogits(VOCAB, seed);
    const q = randomLogits(VOCAB, seed + 100, 6);
    assert.ok(Math.abs(klDivergence(p, q) - plainKl(p, q)) < 1e-12);
  }
  assert.is(argmax(Float32Array.from([1, 5, 2, 5])), 1, "the first of equal maxima");
  assert.throws(() => klDivergence(a, a.subarray(1)), (e: unknown) => e instanceof InputError);
});

const windows = splitWindows(randomTokens(200, VOCAB, 5), 32);

test("the full model against itself: KL exactly 0, top-1 agreement 1, its perplexity twice", async () => {
  const d = await teacherForcedDivergence(new Session(tiny.transformer), windows, SKIP_OFF);
  const nll = await teacherForcedNll(new Session(tiny.transformer), windows, SKIP_OFF);
  assert.is(d.tokens, 6 * 31);
  assert.is(d.kl, 0);
  assert.is(d.klP99, 0);
  assert.is(d.top1, 1);
  assert.is(d.perplexity, d.perplexityFull);
  assert.ok(Math.abs(d.perplexity / nll.perplexity - 1) < 1e-6, "teacherForcedNll sums f32 NLLs");
  assert.is(d.skip.skipped, 0);
  assert.ok(d.tokenKl.every((v) => v === 0));
});

test("a skipping policy: per-token KL and agreement equal the same decode steps run by hand, scored in plain f64", async () => {
  const policy: SkipPolicy = { kind: "fixed", warmup: 3, layers: [2, 3, 5] };
  const prefix = 2;
  const session = new Session(tiny.transformer);
  const d = await teacherForcedDivergence(session, windows, policy, { prefix });
  // By hand: per window, the full model's logits and the policy's, for every scored token.
  const kls: number[] = [];
  let agree = 0;
  let nll = 0;
  let nllFull = 0;
  const run = (w: readonly number[], controller: SkipController): Float32Array[] => {
    controller.reset();
    const rows = [new Float32Array(tiny.transformer.prefill(w.slice(0, prefix), 0, "last"))];
    for (let i = prefix; i < w.length - 1; i++) {
      controller.beginToken();
      rows.push(new Float32Array(tiny.transformer.decode(w[i]!, i, controller)));
      controller.endToken();
    }
    return rows;
  };
  const L = tiny.config.numLayers;
  for (const w of windows) {
    const full = run(w, new SkipController(SKIP_OFF, L));
    const skipped = run(w, new SkipController(policy, L));
    for (let r = 0; r < full.length; r++) {
      kls.push(plainKl(full[r]!, skipped[r]!));
      const target = w[prefix + r]!;
      nll -= logSoftmax(skipped[r]!)[target]!;
      nllFull -= logSoftmax(full[r]!)[target]!;
      const best = (x: Float32Array) => x.indexOf(Math.max(...x));
      agree += best(full[r]!) === best(skipped[r]!) ? 1 : 0;
    }
  }
  assert.is(d.tokens, kls.length);
  for (let i = 0; i < kls.length; i++) assert.ok(Math.abs(d.tokenKl[i]! - kls[i]!) < 1e-6, `token ${i}: ${d.tokenKl[i]} vs ${kls[i]}`);
  const mean = kls.reduce((a, b) => a + b, 0) / kls.length;
  assert.ok(Math.abs(d.kl - mean) < 1e-9 && d.kl > 0.01, `mean KL ${d.kl} vs ${mean}`);
  assert.ok(Math.abs(d.klP99 - quantile(Float64Array.from(d.tokenKl).sort(), 0.99)) < 1e-12);
  assert.is(d.top1, agree / kls.length);
  assert.ok(d.top1 < 1);
  assert.ok(Math.abs(d.nll - nll / kls.length) < 1e-6 && Math.abs(d.nllFull - nllFull / kls.length) < 1e-6);
  // The prefill's token and the 3 warm-up steps' tokens per window ran every FFN: KL exactly 0 there.
  const per = 32 - prefix;
  for (let i = 0; i < d.tokens; i++) {
    if (i % per < 1 + 3) assert.is(d.tokenKl[i], 0, `token ${i} of the warm-up`);
  }
  assert.is(d.tokensAfterWarmup, windows.length * (per - 4));
  const after = Array.from(d.tokenKl).filter((_, i) => i % per >= 4);
  assert.ok(Math.abs(d.klAfterWarmup - after.reduce((a, b) => a + b, 0) / after.length) < 1e-9);
  assert.ok(d.klAfterWarmup > d.kl);
  // The skip ratio is skipStats(), the same as perplexity scoring reports for the policy.
  const same = await teacherForcedNll(new Session(tiny.transformer), windows, policy, { prefix });
  assert.equal(d.skip, same.skip);
  assert.is(d.skip.ratioAfterWarmup, 3 / L);
  assert.ok(Math.abs(d.perplexity / same.perplexity - 1) < 1e-6, "its NLLs summed in f32 there");
  assert.ok(d.decodeMs > 0 && d.decodeMsFull > 0);
});

test.run();
