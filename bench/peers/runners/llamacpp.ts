// Runner: native llama.cpp through node-llama-cpp (prebuilt CPU binaries), on the same GGUF file, THREADS threads.
//   UV_THREADPOOL_SIZE=1 NODE_LLAMA_CPP_SKIP_DOWNLOAD=true node --import tsx bench/peers/runners/llamacpp.ts MODEL.gguf THREADS
// (bench/peers/run.ts sets both: with two threads in Node, llama.cpp's threads otherwise fight libuv's pool.)
// Timing: wall clock around sequence.evaluate(): prefill = prompt tokens / time to the first generated token;
// decode = (generated - 1) / time from the first to the last generated token. Greedy (temperature 0); EOS does
// not stop evaluate(), so every round generates the same count.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { REPO_ROOT } from "../../speed.js";
import { failStart, ggufFacts, serve } from "../protocol.js";

const [modelPath, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 1);

try {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.warn, maxThreads: threads });
  const model = await llama.loadModel({ modelPath: modelPath! });
  const context = await model.createContext({ contextSize: 512, batchSize: 512, threads: { ideal: threads, min: threads } });
  const sequence = context.getSequence();
  const promptIds = model.tokenize(process.env.BENCH_PROMPT ?? "");
  const pkgPath = join(REPO_ROOT, "node_modules", "node-llama-cpp", "package.json");
  const version = (JSON.parse(readFileSync(pkgPath, "utf8")) as { version: string }).version;
  const release = llama.llamaCppRelease;
  await serve(
    {
      engine: "node-llama-cpp", version: `${version} (llama.cpp ${release.release}, ${llama.buildType} build)`, runtime: `Node ${process.version}, native`,
      threads: context.currentThreads, weights: `GGUF as stored (${(await ggufFacts(modelPath!)).description}); q8 activations`,
      promptIds: [...promptIds], promptTokens: promptIds.length, notes: llama.systemInfo,
    },
    async ({ prompt, generated }) => {
      const tokens = model.tokenize(prompt);
      await sequence.clearHistory();
      const out: Token[] = [];
      const start = performance.now();
      let first = 0;
      for await (const token of sequence.evaluate(tokens, { temperature: 0 })) {
        out.push(token);
        if (out.length === 1) first = performance.now();
        if (out.length >= generated) break;
      }
      const end = performance.now();
      return {
        prefillTokensPerSecond: (tokens.length * 1000) / (first - start),
        decodeTokensPerSecond: ((out.length - 1) * 1000) / (end - first),
        promptTokens: tokens.length, generatedTokens: out.length, timing: "wall clock around evaluate()",
        text: model.detokenize(out), tokens: out,
      };
    },
    async () => {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  );
} catch (error) {
  failStart(error);
}
