// Experiment: the layerwise policy (src/skip/policies.ts) calibrated on WikiText-2 tokens 0..2047 and scored on the
// yardstick (tokens 4096.., as `npm run eval -- --task wikitext`). Calibration, on the calibration windows only:
//  - skippable: the middle region of the cold-layer rule (src/calibrate.ts coldRegions) minus the layers whose
//    sensitivity (mean KL with that FFN skipped for every token, batched prefill) exceeds 3x the median's;
//  - thresholds, "uniform": one threshold for every layer of the middle region; "quantile": per triggering layer its
//    own similarity quantile 1 - q (the same share of tokens triggers at every layer); threshold or q set by bisection
//    so that the rule replayed on the recorded full-model similarities skips `target` after warm-up.
//   node --import tsx bench/skip/layerwise.ts --model weights/SmolLM2-135M-Instruct.Q4_1.gguf --variant quantile
import { readFileSync } from "node:fs";
import { parseArgs } from "../../src/cli/args.js";
import { MODEL_FLAGS, openModel } from "../../src/cli/model-flags.js";
import { coldRegions } from "../../src/calibrate.js";
import type { FfnGate } from "../../src/model/transformer.js";
import { evaluateDivergence, klDivergence } from "../../src/score.js";
import type { SkipPolicy } from "../../src/skip/policies.js";
import { decodeStepsAfterWarmup, quantile, recordSimilarities, type SimilarityRecord, similarityCurve } from "../../src/skip/similarity.js";
import { parseText } from "../eval/data.js";
import { PERPLEXITY_DEFAULTS, perplexityWindows } from "../eval/harness.js";

const { flags } = parseArgs(process.argv.slice(2), {
  model: MODEL_FLAGS.model, threads: MODEL_FLAGS.threads,
  data: { type: "string", help: "WikiText-2 raw test" },
  variant: { type: "string", help: "uniform or quantile" },
  target: { type: "number", min: 0, help: "skip ratio after warm-up (default 0.25)" },
  k: { type: "int", min: 1, help: "layers skipped per trigger (default 1)" },
  tokens: { type: "int", min: 128, help: "tokens scored (default 4096)" },
}, "layerwise");
const target = flags.target ?? 0.25;
const k = flags.k ?? 1;
const warmup = 6;
const model = await openModel({ model: flags.model, "max-context": 128, threads: flags.threads ?? 1 });
const text = parseText(readFileSync(flags.data ?? "../shared/data/wikitext2/wiki.test.raw.nonblank_crlf.txt", "utf8"));
const calib = perplexityWindows(model, text, { offset: 0, tokens: 2048, window: 128 }).windows;
const held = perplexityWindows(model, text, { offset: PERPLEXITY_DEFAULTS.offset, tokens: flags.tokens ?? 4096, window: 128 }).windows;
const t = model.transformer;
const L = t.config.numLayers;
const V = t.config.vocabSize;

const record = recordSimilarities(t, calib);
const curve = similarityCurve(record, (i) => record.position[i]! >= 1);
const { coldStart, coldEnd } = coldRegions(curve);
const sensitivity = new Array<number>(L).fill(0);
const probe = calib.slice(0, 4);
for (const w of probe) {
  const full = new Float32Array(t.prefill(w, 0, "all"));
  for (let l = coldStart; l < coldEnd; l++) {
    const skipped = t.prefill(w, 0, "all", { runFfn: (layer) => layer !== l, observe: () => {} } satisfies FfnGate);
    for (let i = 1; i < w.length; i++) sensitivity[l]! += klDivergence(full.subarray(i * V, (i + 1) * V), skipped.subarray(i * V, (i + 1) * V)) / (probe.length * (w.length - 1));
  }
}
model.session.forget();
const middle = Array.from({ length: coldEnd - coldStart }, (_, i) => coldStart + i);
const median = [...middle.map((l) => sensitivity[l]!)].sort((a, b) => a - b)[middle.length >> 1]!;
const skippable = middle.filter((l) => sensitivity[l]! <= 3 * median);
const steps = decodeStepsAfterWarmup(record, warmup);

/** The layerwise rule replayed on the recorded similarities: the ratio it skips of layers x steps. */
function simulate(r: SimilarityRecord, thresholds: readonly (number | null)[]): number {
  const can = new Set(skippable);
  let skipped = 0;
  for (const i of steps) {
    let remaining = 0;
    for (let l = 0; l < L; l++) {
      if (remaining > 0 && can.has(l)) {
        remaining--;
        skipped++;
        continue;
      }
      const th = thresholds[l];
      remaining = th !== null && th !== undefined && r.similarity[l * r.count + i]! >= th ? k : 0;
    }
  }
  return skipped / (L * steps.length);
}

const sorted = Array.from({ length: L }, (_, l) => Float64Array.from(steps, (i) => record.similarity[l * record.count + i]!).sort());
const thresholdsFor = (x: number): (number | null)[] => Array.from({ length: L }, (_, l) => {
  if (l < coldStart || l >= coldEnd - 1) return null;
  return flags.variant === "quantile" ? quantile(sorted[l]!, 1 - x) : x;
});
// The ratio rises with q (quantile) and falls with the threshold (uniform).
let lo = flags.variant === "quantile" ? 0 : -1;
let hi = 1;
for (let iter = 0; iter < 40; iter++) {
  const mid = (lo + hi) / 2;
  const more = flags.variant === "quantile" ? simulate(record, thresholdsFor(mid)) < target : simulate(record, thresholdsFor(mid)) > target;
  if (more) lo = mid;
  else hi = mid;
}
const x = (lo + hi) / 2;
const policy: SkipPolicy = { kind: "layerwise", warmup, k, thresholds: thresholdsFor(x).map((v) => (v === null ? null : Number(v.toFixed(5)))), skippable };
console.error(`middle ${coldStart}..${coldEnd - 1}, sensitivity median ${median.toFixed(4)}, not skippable: ${middle.filter((l) => !skippable.includes(l)).join(",")}; ${flags.variant} ${x.toFixed(5)} -> simulated ratio ${simulate(record, policy.thresholds).toFixed(4)}`);
const d = await evaluateDivergence(model, held, policy);
const r = (v: number, n = 4) => Number(v.toFixed(n));
console.log(JSON.stringify({
  variant: flags.variant, parameter: r(x, 5), k, skippable, tokens: d.tokens, ratio: r(d.skip.ratio, 5), ratioAfterWarmup: r(d.skip.ratioAfterWarmup, 5),
  perplexity: r(d.perplexity), perplexityFull: r(d.perplexityFull), kl: r(d.kl), klAfterWarmup: r(d.klAfterWarmup), klP99: r(d.klP99),
  top1: r(d.top1), top1AfterWarmup: r(d.top1AfterWarmup), sensitivity: sensitivity.map((v) => r(v)), policy,
}));
await model.close();
