// Latency through `ffnskip serve`: N streaming requests sent at once (one runs, the rest wait their turn), each's
// time to first byte and to the end; then one request's decode speed through the server next to `ffnskip generate`.
//   node --import tsx bench/serve-latency.ts [N=4] [MAX_TOKENS=32]

import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const MODEL = join(ROOT, "weights", "SmolLM2-135M-Instruct.Q4_1.gguf");
const N = Number(process.argv[2] ?? 4);
const MAX_TOKENS = Number(process.argv[3] ?? 32);
const PORT = 18000 + Math.floor(Math.random() * 1000);
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
const PROMPT = "Tell me a story about a lighthouse keeper.";

const server = spawn(process.execPath, [...CLI, "serve", "--model", MODEL, "--max-context", "1024", "--port", String(PORT), "--max-queue", String(N)], { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
server.stderr.on("data", (d: Buffer) => (log += d.toString()));
while (!log.includes(`:${PORT}`)) await new Promise((resolve) => setTimeout(resolve, 100));
const url = `http://127.0.0.1:${PORT}/v1/chat/completions`;
const body = (stream: boolean) => JSON.stringify({ messages: [{ role: "user", content: PROMPT }], max_tokens: MAX_TOKENS, stream });
await fetch(url, { method: "POST", body: body(false) }).then((r) => r.json()); // warm-up

const start = performance.now();
const timings = await Promise.all(Array.from({ length: N }, async () => {
  const response = await fetch(url, { method: "POST", body: body(true) });
  const reader = response.body!.getReader();
  let first = 0;
  while (true) {
    const { done } = await reader.read();
    if (first === 0) first = performance.now() - start;
    if (done) break;
  }
  return { status: response.status, first, total: performance.now() - start };
}));
timings.sort((a, b) => a.first - b.first);
for (const [i, t] of timings.entries()) console.log(`request ${i + 1} of ${N} (status ${t.status}): first byte ${(t.first / 1000).toFixed(2)} s, total ${(t.total / 1000).toFixed(2)} s`);

const viaServer = await fetch(url, { method: "POST", body: body(false) }).then((r) => r.json());
server.kill("SIGTERM");
const cli = JSON.parse(execFileSync(process.execPath, [...CLI, "generate", "--model", MODEL, "--max-context", "1024", "--chat", "--prompt", PROMPT, "--max-tokens", String(MAX_TOKENS), "--json"], { encoding: "utf8" }));
console.log(`decode through the server: ${viaServer.ffnskip.decode_tokens_per_second.toFixed(1)} tok/s; ffnskip generate: ${cli.stats.decodeTokensPerSecond.toFixed(1)} tok/s; same text: ${viaServer.choices[0].message.content === cli.text}`);
