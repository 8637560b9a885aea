// Soak benchmark (not CI): 10,000 tokens from SmolLM2 in 20 sessions of 500, one model, recording RSS, V8 heap,
// external/ArrayBuffer memory and the WASM memory size before and after each session. Memory must stay flat: the
// arena is planned once at load (weights + KV cache + activations) and generation allocates nothing that outlives
// a call.
//
//   node --expose-gc --import tsx bench/soak.ts [--sessions 20] [--tokens 500] [--threads N] [--write bench/results/soak.md]
//
// With --expose-gc each measurement follows a full GC, so heap numbers show what is retained, not garbage waiting.

import { writeFileSync } from "node:fs";
import { loadModelFromPath } from "../src/node.js";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sessions = Number(flag("sessions") ?? 20);
const tokensPerSession = Number(flag("tokens") ?? 500);
const threads = flag("threads") === undefined ? undefined : Number(flag("threads"));
const out = flag("write");
const modelPath = new URL("../weights/SmolLM2-135M-Instruct.Q4_1.gguf", import.meta.url).pathname;
const gc = (globalThis as { gc?: () => void }).gc;

const PROMPTS = [
  "Write a long story about a lighthouse keeper and a storm.",
  "Explain, step by step and in detail, how a bicycle works.",
  "Describe the history of the printing press at length.",
  "Write a long letter from a sailor to his family.",
];

interface Sample { rss: number; heapUsed: number; external: number; arrayBuffers: number; wasm: number }

const MiB = 2 ** 20;
const started = performance.now();
const model = await loadModelFromPath(modelPath, { maxContext: 1024, ...(threads !== undefined ? { threads } : {}) });
const loadSeconds = (performance.now() - started) / 1000;

function sample(): Sample {
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, wasm: model.transformer.arena.memory.buffer.byteLength };
}

const mib = (n: number): string => (n / MiB).toFixed(1);
const rows: string[] = [];
const first = sample();
let total = 0;
let after = first;
const afterEach: Sample[] = [];
for (let s = 0; s < sessions; s++) {
  const before = sample();
  const result = await model.chat([{ role: "user", content: PROMPTS[s % PROMPTS.length]! }], {
    maxTokens: tokensPerSession, stopOnEos: false, temperature: 0.8, topP: 0.95, seed: s,
  });
  after = sample();
  afterEach.push(after);
  total += result.tokens.length;
  rows.push(
    `| ${s + 1} | ${result.tokens.length} | ${result.finishReason} | ${result.stats.decodeTokensPerSecond.toFixed(1)} | ` +
    `${mib(before.rss)} → ${mib(after.rss)} | ${mib(before.heapUsed)} → ${mib(after.heapUsed)} | ` +
    `${mib(before.external)} → ${mib(after.external)} | ${mib(before.wasm)} → ${mib(after.wasm)} |`,
  );
  process.stderr.write(`session ${s + 1}/${sessions}: ${result.tokens.length} tokens, ${result.stats.decodeTokensPerSecond.toFixed(1)} tok/s, rss ${mib(after.rss)} MiB\n`);
}
await model.close();

// Drift from the end of session 1 (the first session warms JIT code and caches) to the end of the last one.
const settled = afterEach[0]!;
const drift = (key: keyof Sample): string => `${((after[key] - settled[key]) / MiB).toFixed(1)} MiB`;
const report = [
  "# Soak: flat memory over long generation",
  "",
  `Command: \`node --expose-gc --import tsx bench/soak.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(" ")}` : ""}\``,
  "",
  `SmolLM2-135M-Instruct Q4_1 via \`loadModelFromPath\` (maxContext 1024, default threads), ${sessions} chat sessions of ` +
  `${tokensPerSession} tokens (stopOnEos false, temperature 0.8, top-p 0.95, seed = session), ${total} tokens in all; ` +
  `Node ${process.version}, ${gc === undefined ? "no forced GC (run with --expose-gc for retained-heap numbers)" : "full GC before every measurement"}. ` +
  `Load took ${loadSeconds.toFixed(1)} s; run ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  "",
  "| session | tokens | finish | decode tok/s | RSS MiB (before → after) | V8 heap used MiB | external MiB | WASM memory MiB |",
  "|---:|---:|---|---:|---|---|---|---|",
  ...rows,
  "",
  `After load: RSS ${mib(first.rss)} MiB, heap ${mib(first.heapUsed)} MiB, WASM ${mib(first.wasm)} MiB.`,
  `Drift from the end of session 1 to the end of session ${sessions}: RSS ${drift("rss")}, V8 heap ${drift("heapUsed")}, ` +
  `external ${drift("external")}, WASM memory ${drift("wasm")}.`,
  "",
].join("\n");
console.log(report);
if (out !== undefined) writeFileSync(out, report);
process.exit(0);
