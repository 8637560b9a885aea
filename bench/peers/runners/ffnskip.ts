// Runner: our engine (src/node.ts), fast path, THREADS threads. Rates are the library's own stats.
//   node --import tsx bench/peers/runners/ffnskip.ts MODEL.gguf THREADS [MAX_CONTEXT [KV_CACHE]]   (prompt in env BENCH_PROMPT)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BENCH_MAX_CONTEXT, modelBytesPerToken, REPO_ROOT, runOurRound } from "../../speed.js";
import { kvCacheFlag } from "../../../src/cli/model-flags.js";
import { loadModelFromPath } from "../../../src/node.js";
import { pickVariant } from "../../../src/runtime/kernels.js";
import { failStart, serve } from "../protocol.js";

const [modelPath, threadsArg, maxContextArg, kvCacheArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 1);

try {
  const model = await loadModelFromPath(modelPath!, { threads, maxContext: Number(maxContextArg ?? BENCH_MAX_CONTEXT), kvCache: kvCacheFlag(kvCacheArg) });
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
  const variant = (await pickVariant(threads > 1)) ?? "reference";
  const promptIds = model.encode(process.env.BENCH_PROMPT ?? "");
  await serve(
    {
      engine: "ffnskip", version: `${pkg.version} (working tree)`, runtime: `Node ${process.version}`, threads,
      weights: `${modelBytesPerToken(model, 0).formats}; int16 activations; kernels ${variant}; KV cache ${model.maxContext} positions, ${kvCacheFlag(kvCacheArg)}`,
      promptIds, promptTokens: promptIds.length,
    },
    async ({ prompt, generated }) => ({ ...(await runOurRound(model, prompt, generated)), timing: "library stats (prefill call; decode calls, sampling excluded)" }),
    () => model.close(),
  );
} catch (error) {
  failStart(error);
}
