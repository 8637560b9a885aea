// Experiment: how well does a layer's FFN input predict that FFN's cos(h, h + FFN(norm(h)))? Per layer, a ridge
// regression of log(1 - cos) on the RMS-normalized FFN input, fitted on WikiText-2 tokens 0..2047 and scored (R^2) on
// tokens 4096.. against the paper's proxy (the previous layer's log(1 - cos), linearly fitted). Also each layer's
// sensitivity: mean KL(full || skipped) when that one layer's FFN is skipped for every token (batched prefill).
//   node --import tsx bench/skip/predictor-analysis.ts --model weights/SmolLM2-135M-Instruct.Q4_1.gguf
import { readFileSync } from "node:fs";
import { parseArgs } from "../../src/cli/args.js";
import { MODEL_FLAGS, openModel } from "../../src/cli/model-flags.js";
import type { FfnGate } from "../../src/model/transformer.js";
import { klDivergence } from "../../src/score.js";
import { perplexityWindows } from "../eval/harness.js";
import { parseText } from "../eval/data.js";
import { fitRidge, predictRidge, rmsNormalized } from "./ridge.js";

const { flags } = parseArgs(process.argv.slice(2), {
  model: MODEL_FLAGS.model, threads: MODEL_FLAGS.threads,
  data: { type: "string", help: "WikiText-2 raw test" },
  "held-out": { type: "int", min: 128, help: "held-out tokens (default 1024)" },
  sensitivity: { type: "int", min: 0, help: "windows for the per-layer sensitivity (default 4)" },
  lambda: { type: "list", help: "ridge penalties to try (default 10,100,1000,10000)" },
}, "predictor-analysis");
const model = await openModel({ model: flags.model, "max-context": 128, threads: flags.threads ?? 1 });
const text = parseText(readFileSync(flags.data ?? "../shared/data/wikitext2/wiki.test.raw.nonblank_crlf.txt", "utf8"));
const calib = perplexityWindows(model, text, { offset: 0, tokens: 2048, window: 128 }).windows;
const held = perplexityWindows(model, text, { offset: 4096, tokens: flags["held-out"] ?? 1024, window: 128 }).windows;
const t = model.transformer;
const L = t.config.numLayers;
const H = t.config.hiddenSize;

/** FFN inputs (RMS-normalized) and log(1 - cos) for every layer and token (window position 0 left out). */
function record(windows: number[][]): { u: Float32Array[][]; y: number[][] } {
  const u: Float32Array[][] = Array.from({ length: L }, () => []);
  const y: number[][] = Array.from({ length: L }, () => []);
  for (const w of windows) {
    let n = 0;
    const rows: Float32Array[][] = Array.from({ length: L }, () => []);
    const gate: FfnGate = {
      runFfn(l) {
        const x = t.arena.f32(t.state.x, n * H);
        for (let i = 0; i < n; i++) rows[l]!.push(rmsNormalized(x.subarray(i * H, (i + 1) * H)));
        return true;
      },
      observe(l, i, cos) {
        if (i >= 1) {
          u[l]!.push(rows[l]![i]!);
          y[l]!.push(Math.log(Math.max(1e-6, 1 - cos)));
        }
      },
    };
    n = w.length;
    t.prefill(w, 0, "none", gate);
  }
  return { u, y };
}

function r2(pred: ArrayLike<number>, y: readonly number[]): number {
  const m = y.reduce((a, b) => a + b, 0) / y.length;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < y.length; i++) {
    res += (y[i]! - pred[i]!) ** 2;
    tot += (y[i]! - m) ** 2;
  }
  return 1 - res / tot;
}

const c = record(calib);
const h = record(held);
const lambdas = (flags.lambda ?? ["10", "100", "1000", "10000"]).map(Number);
const rows: string[] = [];
for (let l = 1; l < L; l++) {
  const own = lambdas.map((lambda) => {
    const fit = fitRidge(c.u[l]!, c.y[l]!, lambda);
    return r2(h.u[l]!.map((x) => predictRidge(fit, x)), h.y[l]!);
  });
  // The paper's proxy: the previous layer's log(1 - cos), fitted linearly.
  const fitPrev = fitRidge(c.y[l - 1]!.map((v) => Float32Array.of(v)), c.y[l]!, 1e-6);
  const prev = r2(h.y[l - 1]!.map((v) => predictRidge(fitPrev, Float32Array.of(v))), h.y[l]!);
  rows.push(`| ${l} | ${own.map((v) => v.toFixed(3)).join(" | ")} | ${prev.toFixed(3)} |`);
}
console.log(`| layer | ${lambdas.map((x) => `R^2 own input, lambda ${x}`).join(" | ")} | R^2 previous layer's cos |\n|---${"|---".repeat(lambdas.length)}|---|\n${rows.join("\n")}`);

const sensitivityWindows = held.slice(0, flags.sensitivity ?? 4);
if (sensitivityWindows.length > 0) {
  const V = t.config.vocabSize;
  const fulls = sensitivityWindows.map((w) => new Float32Array(t.prefill(w, 0, "all")));
  const out: string[] = [];
  for (let l = 0; l < L; l++) {
    const gate: FfnGate = { runFfn: (layer) => layer !== l, observe: () => {} };
    let sum = 0;
    let count = 0;
    sensitivityWindows.forEach((w, k) => {
      const skipped = t.prefill(w, 0, "all", gate);
      for (let i = 1; i < w.length; i++) {
        sum += klDivergence(fulls[k]!.subarray(i * V, (i + 1) * V), skipped.subarray(i * V, (i + 1) * V));
        count++;
      }
    });
    out.push(`${l}:${(sum / count).toFixed(4)}`);
  }
  console.log(`sensitivity (mean KL, layer skipped for every token): ${out.join(" ")}`);
}
await model.close();
