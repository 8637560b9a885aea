// Experiment: the fixed policy on an explicit layer set, on the yardstick (the windows `npm run eval -- --task
// wikitext` scores by default offset), e.g. the layers with the lowest measured sensitivity (predictor-analysis.ts)
// against the most-similar layers fixed:R picks.
//   node --import tsx bench/skip/fixed-layers.ts --model weights/SmolLM2-135M-Instruct.Q4_1.gguf --layers 5,12,13,14,15,17,21,26
import { readFileSync } from "node:fs";
import { parseArgs } from "../../src/cli/args.js";
import { MODEL_FLAGS, openModel } from "../../src/cli/model-flags.js";
import { evaluateDivergence } from "../../src/score.js";
import { parseText } from "../eval/data.js";
import { PERPLEXITY_DEFAULTS, perplexityWindows } from "../eval/harness.js";

const { flags } = parseArgs(process.argv.slice(2), {
  model: MODEL_FLAGS.model, threads: MODEL_FLAGS.threads,
  data: { type: "string", help: "WikiText-2 raw test" },
  layers: { type: "list", help: "layers to skip after warm-up" },
  warmup: { type: "int", min: 0, help: "warm-up decode steps (default 6)" },
  tokens: { type: "int", min: 128, help: "tokens scored (default 4096)" },
}, "fixed-layers");
const model = await openModel({ model: flags.model, "max-context": 128, threads: flags.threads ?? 1 });
const text = parseText(readFileSync(flags.data ?? "../shared/data/wikitext2/wiki.test.raw.nonblank_crlf.txt", "utf8"));
const { windows } = perplexityWindows(model, text, { offset: PERPLEXITY_DEFAULTS.offset, tokens: flags.tokens ?? 4096, window: 128 });
const layers = (flags.layers ?? []).map(Number);
const d = await evaluateDivergence(model, windows, { kind: "fixed", warmup: flags.warmup ?? 6, layers });
const r = (v: number, n = 4) => Number(v.toFixed(n));
console.log(JSON.stringify({
  layers, tokens: d.tokens, ratio: r(d.skip.ratio, 5), ratioAfterWarmup: r(d.skip.ratioAfterWarmup, 5), perplexity: r(d.perplexity), perplexityFull: r(d.perplexityFull),
  kl: r(d.kl), klAfterWarmup: r(d.klAfterWarmup), klP99: r(d.klP99), top1: r(d.top1), top1AfterWarmup: r(d.top1AfterWarmup),
}));
await model.close();
