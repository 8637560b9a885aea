// Run under Deno 2 by test/helpers/runtimes.ts: imports the library's portable entry from src/, loads the model
// from bytes Deno read (once per engine setting), runs the given cases with the examples' skip setting and prints
// the results as JSON.
//
//   deno run --sloppy-imports --node-modules-dir=manual --allow-read test/helpers/deno-generate.ts MODEL.gguf '{"cases":[...],"engines":[{...}]}'

import { applyDefaultSkip } from "../../examples/shared/skip.ts";
import { type EngineOptions, loadModel, type ModelGenerateOptions } from "../../src/index.ts";
import { pickVariant } from "../../src/runtime/kernels.ts";

declare const Deno: { args: string[]; readFile(path: string): Promise<Uint8Array>; version: { deno: string; v8: string } };

const [modelPath, input] = Deno.args;
const { cases, engines } = JSON.parse(input!) as { cases: { messages: { role: string; content: string }[]; options: ModelGenerateOptions }[]; engines: EngineOptions[] };
const bytes = await Deno.readFile(modelPath!);
const runs = [];
for (const engine of engines) {
  const model = await loadModel(bytes, engine);
  applyDefaultSkip(model);
  const results = [];
  for (const c of cases) {
    const r = await model.chat(c.messages, c.options);
    results.push({
      tokens: r.tokens, text: r.text, finishReason: r.finishReason, traceRows: r.trace.length,
      skipRatio: r.stats.skip.ratio, skipRatioAfterWarmup: r.stats.skip.ratioAfterWarmup, decodeTokensPerSecond: r.stats.decodeTokensPerSecond,
    });
  }
  runs.push({ variant: engine.variant ?? `${await pickVariant(false)} (default)`, results });
}
console.log(JSON.stringify({ version: `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`, runs }));
