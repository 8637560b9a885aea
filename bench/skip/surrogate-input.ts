// Experiment: which input should an FFN surrogate read? The FFN's own input h = RMSNorm(x) ⊙ ffnNorm (what
// skip/surrogate-fit.ts uses) against the raw residual x before the FFN. For a few layers, both maps are fitted the
// same way (rank r, reduced-rank ridge) on calibration windows and scored on held-out windows by the relative squared
// error |FFN(h) - map(input)|² / |FFN(h)|² (0: perfect; 1: no better than adding nothing), every position but each
// window's first.
//   node --import tsx bench/skip/surrogate-input.ts --model weights/SmolLM2-135M-Instruct.Q4_1.gguf --layers 3,12,20,27
import { readFileSync } from "node:fs";
import { parseArgs } from "../../src/cli/args.js";
import { MODEL_FLAGS, openModel } from "../../src/cli/model-flags.js";
import type { FfnGate } from "../../src/model/transformer.js";
import { FfnMoments, fitReducedRankRidge, type FittedMap } from "../../src/skip/surrogate-fit.js";
import { parseText } from "../eval/data.js";
import { perplexityWindows } from "../eval/harness.js";

const { flags } = parseArgs(process.argv.slice(2), {
  model: MODEL_FLAGS.model, threads: MODEL_FLAGS.threads,
  data: { type: "string", help: "WikiText-2 raw test" },
  layers: { type: "list", help: "layers to fit (default 3,12,20,27)" },
  rank: { type: "int", min: 1, help: "rank (default 64)" },
  "fit-offset": { type: "int", min: 0, help: "first calibration token (default 160000)" },
  "fit-tokens": { type: "int", min: 128, help: "calibration tokens (default 4096)" },
  "test-tokens": { type: "int", min: 128, help: "held-out tokens from 4096 (default 1024)" },
}, "surrogate-input");
const model = await openModel({ model: flags.model, "max-context": 128, threads: flags.threads ?? 1 });
const t = model.transformer;
const d = model.config.hiddenSize;
const layers = (flags.layers ?? ["3", "12", "20", "27"]).map(Number);
const rank = flags.rank ?? 64;
const text = parseText(readFileSync(flags.data ?? "../shared/data/wikitext2/wiki.test.raw.nonblank_crlf.txt", "utf8"));
const fitWindows = perplexityWindows(model, text, { offset: flags["fit-offset"] ?? 160000, tokens: flags["fit-tokens"] ?? 4096, window: 128 }).windows;
const testWindows = perplexityWindows(model, text, { offset: 4096, tokens: flags["test-tokens"] ?? 1024, window: 128 }).windows;
type Input = "h" | "x";

/** Runs windows through the full model (prefill chunks of maxBatch); for each layer and token but each window's first, hands (h, x, y) rows to `visit`. */
function run(windows: readonly (readonly number[])[], visit: (layer: number, h: Float32Array, x: Float32Array, y: Float32Array) => void): void {
  let start = 0;
  const row = (buffer: number, token: number) => t.arena.f32(buffer + token * d * 4, d);
  const gate: FfnGate = {
    runFfn: () => true,
    observe(layer, token) {
      if (!layers.includes(layer) || start + token === 0) return;
      const y = row(t.state.proj, token);
      visit(layer, row(t.state.xb, token), Float32Array.from(row(t.state.x, token), (v, j) => v - y[j]!), y); // x before the residual add
    },
  };
  for (const w of windows) {
    for (start = 0; start < w.length; start += t.state.maxBatch) t.prefill(w.slice(start, start + t.state.maxBatch), start, "none", gate);
  }
}

const moments = new Map<string, FfnMoments>();
for (const l of layers) for (const input of ["h", "x"] as Input[]) moments.set(`${l}${input}`, new FfnMoments(d, 1));
run(fitWindows, (l, h, x, y) => {
  moments.get(`${l}h`)!.add(h, y, [0]);
  moments.get(`${l}x`)!.add(x, y, [0]);
});
const maps = new Map<string, FittedMap>();
for (const [key, m] of moments) maps.set(key, fitReducedRankRidge(m, rank));
const apply = (map: FittedMap, input: Float32Array): Float64Array => {
  const z = new Float64Array(rank);
  for (let i = 0; i < rank; i++) for (let j = 0; j < d; j++) z[i]! += map.v[i * d + j]! * input[j]!;
  const out = Float64Array.from(map.bias);
  for (let j = 0; j < d; j++) for (let i = 0; i < rank; i++) out[j]! += map.u[j * rank + i]! * z[i]!;
  return out;
};
const error = new Map<string, number>();
const energy = new Map<number, number>();
run(testWindows, (l, h, x, y) => {
  let e = 0;
  for (let j = 0; j < d; j++) e += y[j]! * y[j]!;
  energy.set(l, (energy.get(l) ?? 0) + e);
  for (const [input, vector] of [["h", h], ["x", x]] as const) {
    const p = apply(maps.get(`${l}${input}`)!, vector);
    let s = 0;
    for (let j = 0; j < d; j++) s += (y[j]! - p[j]!) ** 2;
    error.set(`${l}${input}`, (error.get(`${l}${input}`) ?? 0) + s);
  }
});
console.log(`| layer | R² on calibration, input h | input x | held-out relative error, input h | input x |`);
console.log("|---|---|---|---|---|");
for (const l of layers) {
  const rel = (input: Input) => (error.get(`${l}${input}`)! / energy.get(l)!).toFixed(3);
  console.log(`| ${l} | ${maps.get(`${l}h`)!.r2.toFixed(3)} | ${maps.get(`${l}x`)!.r2.toFixed(3)} | ${rel("h")} | ${rel("x")} |`);
}
await model.close();
