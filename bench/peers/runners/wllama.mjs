// Runner: @wllama/wllama (llama.cpp compiled to WASM by emscripten), on the same GGUF file, single thread.
//   deno run -A --location http://localhost/ bench/peers/runners/wllama.mjs MODEL.gguf     (prompt in env BENCH_PROMPT)
//   node bench/peers/runners/wllama.mjs MODEL.gguf      (fails on Node 20; the error says why)
// Plain JavaScript so Deno and Node run the same file. Speaks bench/peers/protocol.ts's line protocol.
//
// wllama targets browsers. Under Deno it runs with four shims, each for a browser API it assumes:
//   1. cacheManager: a stub. Its default CacheManager wants OPFS (navigator.storage) or cross-origin storage and
//      throws "No supported storage backend found"; loadModel(Blob[]) never touches the cache.
//   2. --location http://localhost/: wllama resolves asset paths against self.location.href.
//   3. `delete globalThis.process` at the top of its worker (URL.createObjectURL is wrapped to prepend it): Deno
//      defines `process`, so the emscripten glue takes its Node branch and calls require(), which Deno's module
//      workers do not have ("ReferenceError: require is not defined").
//   4. The .wasm passed as a blob: URL: for file:// URLs the glue uses XMLHttpRequest, which Deno does not have.
// Multi-threading needs crossOriginIsolated (COOP/COEP headers in a browser); wllama reports "Multithread
// enabled: false" under Deno, so this peer is single-threaded.
// Timing: llama.cpp's own timings from the completion (llama-server style): prefill = prompt_n / prompt_ms;
// decode = (predicted_n - 1) / predicted_ms (the first token is sampled at the end of prompt processing).
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const send = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
const isDeno = typeof Deno !== "undefined";
const runtime = isDeno ? `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})` : `Node ${process.version}`;
const [modelPath] = isDeno ? Deno.args : process.argv.slice(2);
const log = (...args) => process.stderr.write(`${args.map(String).join(" ")}\n`);
const logger = { debug: () => {}, log, warn: log, error: log };

function features() {
  const mem64 = (() => {
    try {
      new WebAssembly.Memory({ address: "i64", initial: 1n });
      return true;
    } catch {
      return false;
    }
  })();
  return `navigator: ${typeof navigator !== "undefined"}, Worker: ${typeof Worker !== "undefined"}, WebAssembly memory64 (address "i64"): ${mem64}, JSPI (WebAssembly.Suspending): ${typeof WebAssembly.Suspending === "function"}`;
}

try {
  if (isDeno) {
    const original = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (blob) => blob.type === "text/javascript" ? original(new Blob(["delete globalThis.process;\n", blob], { type: blob.type })) : original(blob);
  }
  const { Wllama } = await import("@wllama/wllama/esm/index.js");
  const wasmFile = new URL("../../../node_modules/@wllama/wllama/esm/wasm/wllama.wasm", import.meta.url);
  const wasmUrl = isDeno ? URL.createObjectURL(new Blob([readFileSync(wasmFile)], { type: "application/wasm" })) : wasmFile.href;
  const pkg = JSON.parse(readFileSync(new URL("../../../node_modules/@wllama/wllama/package.json", import.meta.url), "utf8"));
  const wllama = new Wllama({ default: wasmUrl }, { suppressNativeLog: true, logger, cacheManager: {} });
  await wllama.loadModel([new Blob([readFileSync(modelPath)])], { n_ctx: 512, n_batch: 512, n_threads: 1, n_gpu_layers: 0 });
  const prompt = process.env.BENCH_PROMPT ?? "";
  send({
    type: "ready", engine: "@wllama/wllama", version: `${pkg.version} (llama.cpp ${Wllama.getLibllamaVersion?.() ?? "?"})`, runtime: `${runtime}, WASM (memory64, JSPI)`,
    threads: wllama.getNumThreads(), weights: "GGUF as stored",
    promptTokens: -1, notes: `multithread: ${wllama.isMultithread()}; ${features()}`,
  });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const request = JSON.parse(line);
    if (request.cmd === "quit") break;
    try {
      const start = performance.now();
      const r = await wllama.createCompletion({ prompt: request.prompt, max_tokens: request.generated, temperature: 0, ignore_eos: true, cache_prompt: false });
      const wall = performance.now() - start;
      const t = r.timings;
      if (t === undefined) throw new Error("wllama returned no timings");
      if (t.cache_n !== 0) throw new Error(`wllama reused ${t.cache_n} cached prompt tokens`);
      send({
        type: "result", prefillTokensPerSecond: (t.prompt_n * 1000) / t.prompt_ms, decodeTokensPerSecond: ((t.predicted_n - 1) * 1000) / t.predicted_ms,
        promptTokens: t.prompt_n, generatedTokens: t.predicted_n, timing: `llama.cpp timings (wall ${(wall / 1000).toFixed(2)} s per round)`, text: r.choices[0]?.text,
      });
    } catch (error) {
      send({ type: "error", message: error?.stack ?? String(error) });
    }
  }
  lines.close();
  await wllama.exit();
  if (isDeno) Deno.exit(0);
} catch (error) {
  send({ type: "error", message: `${error?.stack ?? String(error)}\n[${runtime}; ${features()}]` });
  if (isDeno) Deno.exit(1);
  process.exit(1);
}
