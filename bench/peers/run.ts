// Peers side by side: our engine (1 and N threads) against native llama.cpp (node-llama-cpp, same GGUF),
// onnxruntime-web's WASM backend (ONNX export of the same weights, Node, one thread) and @wllama/wllama (llama.cpp in
// WASM, under Deno; also tried under Node). Every engine runs in its own child process (bench/peers/runners/*),
// loads once, then all of them take turns: each round runs every engine once on the same prompt (32 tokens, then
// 128 generated tokens, greedy, EOS ignored), the starting engine rotating from round to round so no engine always
// runs right after the same neighbour. A warm-up round is run first and discarded. Writes bench/results/peers.md
// (+ peers.json with every sample).
//
//   npm run bench:peers                       (= node --import tsx bench/peers/run.ts)
//   node --import tsx bench/peers/run.ts --rounds 7 --engines ffnskip-1,llamacpp-1 --out /tmp/peers.md
//
// Needs: npm devDependencies (node-llama-cpp, onnxruntime-web, @wllama/wllama, deno) and, for the ONNX peer,
// bench/peers/setup-onnx.sh (converts the GGUF to an f32 HF folder and exports it with optimum; git-ignored).

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { createInterface, type Interface } from "node:readline";
import {
  BENCH_GENERATED_TOKENS, BENCH_MAX_CONTEXT, BENCH_PROMPT, formatSummary, loadAverageText, machineInfo, machineLine, REPO_ROOT, summarize, type Summary, writeReport,
} from "../speed.js";
import { defaultThreads } from "../../src/node.js";
import { DEFAULT_MODEL_PATH } from "../../src/node/pull.js";
import { parseArgs, describeFlags } from "../../src/cli/args.js";
import { kvCacheFlag, MODEL_FLAGS } from "../../src/cli/model-flags.js";
import { ggufFacts, type RunnerInfo, type RunnerResult } from "./protocol.js";

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  model: { type: "string", help: "GGUF file (default: the pulled SmolLM2 Q4_1)" },
  onnx: { type: "string", help: "ONNX folder from bench/peers/setup-onnx.sh (default bench/peers/onnx/model)" },
  rounds: { type: "int", min: 1, max: 100, help: "measured rounds after the warm-up (default 5)" },
  threads: { type: "int", min: 2, max: 64, help: "the multi-thread setting for ffnskip and llama.cpp (default: one per core, at least 2)" },
  engines: { type: "list", help: `comma-separated subset (default: all but onnx-q4): ${"ffnskip-1, ffnskip-N, llamacpp-1, llamacpp-N, onnx-f32, onnx-q4, wllama-deno, wllama-node"}` },
  out: { type: "string", help: "markdown report (default bench/results/peers.md; the JSON goes next to it)" },
  "timeout-s": { type: "int", min: 10, help: "give up on one round of one engine after this many seconds (default 900)" },
  generated: { type: "int", min: 2, max: 4096, help: `tokens generated per round (default ${BENCH_GENERATED_TOKENS}; fewer for models that decode slowly)` },
  "max-context": { ...MODEL_FLAGS["max-context"], help: `ffnskip's KV cache positions (default ${BENCH_MAX_CONTEXT}; llama.cpp's context is 512)` },
  "kv-cache": { ...MODEL_FLAGS["kv-cache"], help: "ffnskip's KV cache: f32 (default) or f16 (llama.cpp's is f16)" },
} as const;

interface EngineSpec {
  readonly id: string;
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Why it cannot run here, checked before starting (e.g. the ONNX export is missing). */
  readonly missing?: string;
}

interface EngineState {
  readonly spec: EngineSpec;
  child?: ChildProcessWithoutNullStreams;
  lines?: Interface;
  queue: string[];
  waiter?: (line: string | null) => void;
  stderr: string[];
  info?: RunnerInfo;
  error?: string;
  results: RunnerResult[];
  warmup?: RunnerResult;
}

/** Facts about each peer's setup that the numbers alone do not show (by engine id prefix). */
const PEER_NOTES: readonly (readonly [string, string])[] = [
  ["llamacpp", "node-llama-cpp runs with `UV_THREADPOOL_SIZE=1` and `NODE_LLAMA_CPP_SKIP_DOWNLOAD=true` (prebuilt CPU binaries from its optional npm packages; npm 11 skips its install script). Its threads meet at a barrier after every op, so with N threads on a machine whose cores are busy with other work, decode collapses (one descheduled thread stalls every op). llama.cpp cannot repack Q4_1 into its interleaved CPU layout and reads it as stored."],
  ["onnx", "The ONNX model comes from `bench/peers/export_onnx.py` (optimum `main_export`, task text-generation-with-past, fp32) on the f32 HF folder that `ffnskip convert` makes from the same GGUF: same weight values, but f32, so it streams ~4x the bytes per token (layers ~425 MB + LM head ~113 MB, the tied embedding is stored twice). `model_q4.onnx` (`onnx-q4`, opt-in via `--engines`) quantizes every MatMul with onnxruntime's MatMulNBitsQuantizer (4 bits, blocks of 32, asymmetric, accuracy_level 4); onnxruntime-web's WASM build runs it far slower than f32 (not investigated further). onnxruntime-web runs single-threaded (`ort.env.wasm.numThreads = 1`)."],
  ["wllama", "@wllama/wllama 3.x targets browsers: its wasm uses memory64 and JSPI, and it runs llama.cpp in a Web Worker. Under Deno it runs with four shims in `bench/peers/runners/wllama.mjs` (a stub cacheManager, since its OPFS cache needs navigator.storage; `--location` for self.location; `delete globalThis.process` at the top of its worker, whose emscripten glue otherwise takes its Node branch and calls require(); the .wasm passed as a blob: URL, since for file: URLs the glue uses XMLHttpRequest). It is single-threaded there (its threads need crossOriginIsolated). Under Node 20 it cannot run: no `navigator` (first error), no Web `Worker`, memory64 only behind `--experimental-wasm-memory64` with the older `index: \"i64\"` API (wllama passes `address: \"i64\"` and BigInt sizes), and no JSPI (`WebAssembly.Suspending`); without JSPI and memory64 it wants its compat build from a CDN. Its speed on this file is not representative of wllama in general: ggml's WASM SIMD dot products (ggml/src/ggml-cpu/arch/wasm/quants.c in ggml-org/llama.cpp) cover q4_0, q5_0, q5_1, q8_0 and the K-quants but not q4_1, so the Q4_1 layer matrices take ggml's generic scalar path."],
];

const NODE_TSX = [process.execPath, "--import", "tsx"];
const DENO = join(REPO_ROOT, "node_modules", ".bin", "deno");

function engineSpecs(model: string, onnxDir: string, threads: number, ours: { maxContext: number; kvCache: string }): EngineSpec[] {
  const runner = (file: string) => join(REPO_ROOT, "bench", "peers", "runners", file);
  const llamaEnv = { UV_THREADPOOL_SIZE: "1", NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true" };
  const onnx = (file: string) => join(onnxDir, file);
  const onnxMissing = (file: string) => (existsSync(onnx(file)) ? undefined : `${relative(REPO_ROOT, onnx(file))} not found: run bench/peers/setup-onnx.sh first`);
  return [
    { id: "ffnskip-1", label: "ffnskip", command: NODE_TSX[0]!, args: [...NODE_TSX.slice(1), runner("ffnskip.ts"), model, "1", String(ours.maxContext), ours.kvCache] },
    { id: "ffnskip-N", label: "ffnskip", command: NODE_TSX[0]!, args: [...NODE_TSX.slice(1), runner("ffnskip.ts"), model, String(threads), String(ours.maxContext), ours.kvCache] },
    { id: "llamacpp-1", label: "node-llama-cpp (native llama.cpp)", command: NODE_TSX[0]!, args: [...NODE_TSX.slice(1), runner("llamacpp.ts"), model, "1"], env: llamaEnv },
    { id: "llamacpp-N", label: "node-llama-cpp (native llama.cpp)", command: NODE_TSX[0]!, args: [...NODE_TSX.slice(1), runner("llamacpp.ts"), model, String(threads)], env: llamaEnv },
    { id: "onnx-f32", label: "onnxruntime-web (WASM)", command: NODE_TSX[0]!, args: [...NODE_TSX.slice(1), runner("ort.ts"), onnx("model.onnx")], missing: onnxMissing("model.onnx") },
    { id: "onnx-q4", label: "onnxruntime-web (WASM), 4-bit", command: NODE_TSX[0]!, args: [...NODE_TSX.slice(1), runner("ort.ts"), onnx("model_q4.onnx")], missing: onnxMissing("model_q4.onnx") },
    { id: "wllama-deno", label: "@wllama/wllama (llama.cpp in WASM)", command: DENO, args: ["run", "-A", "--location", "http://localhost/", runner("wllama.mjs"), model] },
    { id: "wllama-node", label: "@wllama/wllama (llama.cpp in WASM)", command: process.execPath, args: [runner("wllama.mjs"), model] },
  ];
}

function nextLine(state: EngineState, timeoutMs: number): Promise<string | null> {
  const queued = state.queue.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      state.waiter = undefined;
      resolve(null);
    }, timeoutMs);
    state.waiter = (line) => {
      clearTimeout(timer);
      state.waiter = undefined;
      resolve(line);
    };
  });
}

/** Next JSON message from a runner (non-JSON stdout lines are kept with stderr as log), or null on exit/timeout. */
async function nextMessage(state: EngineState, timeoutMs: number): Promise<Record<string, unknown> | null> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const line = await nextLine(state, Math.max(1, deadline - Date.now()));
    if (line === null) return null;
    if (line.startsWith("{")) {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        // fall through: a log line that happens to start with "{"
      }
    }
    state.stderr.push(line);
  }
}

function start(state: EngineState, promptIds: readonly number[] | undefined): void {
  const { spec } = state;
  const child = spawn(spec.command, [...spec.args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...spec.env, BENCH_PROMPT, BENCH_PROMPT_IDS: JSON.stringify(promptIds ?? []) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  state.child = child;
  state.lines = createInterface({ input: child.stdout });
  state.lines.on("line", (line) => (state.waiter ? state.waiter(line) : state.queue.push(line)));
  child.stdout.on("end", () => state.waiter?.(null));
  createInterface({ input: child.stderr }).on("line", (line) => {
    state.stderr.push(line);
    if (state.stderr.length > 200) state.stderr.shift();
  });
  child.on("error", (error) => {
    state.error = `could not start ${spec.command}: ${error.message}`;
    state.waiter?.(null);
  });
}

function stop(state: EngineState): void {
  if (state.child === undefined) return;
  try {
    state.child.stdin.write(`${JSON.stringify({ cmd: "quit" })}\n`);
    state.child.stdin.end();
  } catch {
    // already gone
  }
  const child = state.child;
  setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, 10_000).unref();
}

async function runRound(state: EngineState, promptIds: readonly number[], generated: number, timeoutMs: number): Promise<RunnerResult | null> {
  if (state.child === undefined || state.error !== undefined) return null;
  state.child.stdin.write(`${JSON.stringify({ cmd: "run", prompt: BENCH_PROMPT, promptIds, generated })}\n`);
  const message = await nextMessage(state, timeoutMs);
  if (message === null) {
    state.error = `no result within ${timeoutMs / 1000} s or the runner exited (exit code ${state.child.exitCode}); stderr tail:\n${state.stderr.slice(-15).join("\n")}`;
    stop(state);
    return null;
  }
  if (message.type === "error") {
    state.error = String(message.message);
    stop(state);
    return null;
  }
  return message as unknown as RunnerResult;
}

function ratio(ours: Summary | undefined, theirs: Summary): string {
  if (ours === undefined || ours.n === 0 || theirs.n === 0) return "-";
  return `${(theirs.median / ours.median).toFixed(2)}x`;
}

/** Tokens (or, failing that, characters of text) the engine's greedy output shares with ours from the start. */
function agreement(ours: RunnerResult | undefined, theirs: RunnerResult | undefined): string {
  if (ours === undefined || theirs === undefined) return "-";
  if (ours.tokens !== undefined && theirs.tokens !== undefined) {
    let same = 0;
    while (same < ours.tokens.length && ours.tokens[same] === theirs.tokens[same]) same++;
    return `${same}/${ours.tokens.length} tokens`;
  }
  if (ours.text !== undefined && theirs.text !== undefined) {
    let same = 0;
    while (same < ours.text.length && ours.text[same] === theirs.text[same]) same++;
    return `${same}/${ours.text.length} chars`;
  }
  return "-";
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").replace(/\|/g, "\\|").trim();
}

async function main(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, FLAGS, "bench:peers");
  if (flags.help) {
    process.stdout.write(`usage: npm run bench:peers -- [options]\n${describeFlags(FLAGS)}\n`);
    return;
  }
  const model = flags.model ?? DEFAULT_MODEL_PATH;
  const onnxDir = flags.onnx ?? join(REPO_ROOT, "bench", "peers", "onnx", "model");
  const threads = flags.threads ?? Math.max(2, defaultThreads());
  const rounds = flags.rounds ?? 5;
  const out = flags.out ?? join(REPO_ROOT, "bench", "results", "peers.md");
  const timeoutMs = (flags["timeout-s"] ?? 900) * 1000;
  const wanted = flags.engines ?? ["ffnskip-1", "ffnskip-N", "llamacpp-1", "llamacpp-N", "onnx-f32", "wllama-deno", "wllama-node"];
  const generated = flags.generated ?? BENCH_GENERATED_TOKENS;
  const specs = engineSpecs(model, onnxDir, threads, { maxContext: flags["max-context"] ?? BENCH_MAX_CONTEXT, kvCache: kvCacheFlag(flags["kv-cache"]) });
  for (const id of wanted) if (!specs.some((s) => s.id === id)) throw new Error(`unknown engine ${id}; known: ${specs.map((s) => s.id).join(", ")}`);
  const states: EngineState[] = specs.filter((s) => wanted.includes(s.id)).map((spec) => ({ spec, queue: [], stderr: [], results: [] }));
  const machine = machineInfo();
  const loadBefore = loadAverageText();
  const loads: number[] = [];
  const log = (text: string) => process.stderr.write(`${text}\n`);
  log(`bench:peers: ${machineLine(machine)}; load average ${loadBefore}; ${rounds} rounds after a warm-up; engines ${states.map((s) => s.spec.id).join(", ")}`);

  // Our tokenizer gives the prompt ids for the engines that take ids (ONNX); start ffnskip first for them.
  let promptIds: number[] | undefined;
  for (const state of [...states].sort((a, b) => Number(b.spec.id.startsWith("ffnskip")) - Number(a.spec.id.startsWith("ffnskip")))) {
    if (state.spec.missing !== undefined) {
      state.error = state.spec.missing;
      log(`  ${state.spec.id}: skipped: ${state.error}`);
      continue;
    }
    start(state, promptIds);
    const ready = await nextMessage(state, 600_000);
    if (ready === null || ready.type !== "ready") {
      state.error = ready?.type === "error" ? String(ready.message) : `did not become ready (exit code ${state.child?.exitCode}); stderr tail:\n${state.stderr.slice(-15).join("\n")}`;
      log(`  ${state.spec.id}: FAILED to start: ${state.error.split("\n")[0]}`);
      stop(state);
      continue;
    }
    state.info = ready as unknown as RunnerInfo;
    if (promptIds === undefined && state.spec.id.startsWith("ffnskip")) promptIds = [...(state.info.promptIds ?? [])];
    log(`  ${state.spec.id}: ready (${state.info.engine} ${state.info.version}, ${state.info.threads} thread(s), prompt ${state.info.promptTokens} tokens)`);
  }
  if (promptIds === undefined) throw new Error("bench:peers needs ffnskip-1 or ffnskip-N among the engines (its tokenizer gives the prompt ids)");

  const live = () => states.filter((s) => s.info !== undefined && s.error === undefined);
  for (let round = -1; round < rounds; round++) {
    const order = live();
    const shift = round < 0 ? 0 : round % Math.max(1, order.length);
    const rotated = [...order.slice(shift), ...order.slice(0, shift)];
    loads.push(Number(loadAverageText().split(",")[0]));
    for (const state of rotated) {
      const result = await runRound(state, promptIds, generated, timeoutMs);
      if (result === null) {
        log(`  round ${round < 0 ? "warm-up" : round + 1}: ${state.spec.id} FAILED: ${state.error?.split("\n")[0]}`);
        continue;
      }
      if (round < 0) state.warmup = result;
      else state.results.push(result);
      log(`  round ${round < 0 ? "warm-up" : round + 1}: ${state.spec.id.padEnd(12)} prefill ${result.prefillTokensPerSecond.toFixed(1).padStart(7)} tok/s, decode ${result.decodeTokensPerSecond.toFixed(1).padStart(7)} tok/s (load ${loadAverageText().split(",")[0]})`);
    }
  }
  for (const state of states) stop(state);
  const loadAfter = loadAverageText();

  // ---- report ----
  const summaries = new Map(states.map((s) => [s.spec.id, { prefill: summarize(s.results.map((r) => r.prefillTokensPerSecond)), decode: summarize(s.results.map((r) => r.decodeTokensPerSecond)) }]));
  const ours = (id: string) => (id.endsWith("-N") ? summaries.get("ffnskip-N") : summaries.get("ffnskip-1"));
  const oursFirst = (id: string) => (id.endsWith("-N") ? states.find((s) => s.spec.id === "ffnskip-N") : states.find((s) => s.spec.id === "ffnskip-1"))?.results[0];
  const facts = await ggufFacts(model);
  const table = [
    `| engine | runtime | threads | weights | prefill tok/s | decode tok/s | decode weight reads GB/s | prefill vs ours | decode vs ours | greedy output = ours for |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
  ];
  for (const state of states) {
    const name = `${state.spec.label} \`${state.spec.id}\``;
    if (state.info === undefined || state.results.length === 0) {
      table.push(`| ${name} | ${state.info?.runtime ?? "-"} | - | - | did not run (below) | - | - | - | - | - |`);
      continue;
    }
    const s = summaries.get(state.spec.id)!;
    const mine = state.spec.id.startsWith("ffnskip");
    table.push(`| ${name} | ${state.info.runtime} | ${state.info.threads} | ${state.info.weights} | ${formatSummary(s.prefill)} | ${formatSummary(s.decode)} | ${s.decode.n === 0 ? "-" : ((s.decode.median * facts.bytesPerToken) / 1e9).toFixed(1)} | ${mine ? "-" : ratio(ours(state.spec.id)?.prefill, s.prefill)} | ${mine ? "-" : ratio(ours(state.spec.id)?.decode, s.decode)} | ${mine ? "-" : agreement(oursFirst(state.spec.id), state.results[0])} |`);
  }
  const versions = states.filter((s) => s.info !== undefined).map((s) => `- \`${s.spec.id}\`: ${s.info!.engine} ${s.info!.version}; ${s.info!.runtime}; timing: ${s.results[0]?.timing ?? "-"}${s.info!.promptTokens >= 0 ? `; prompt ${s.info!.promptTokens} tokens${s.info!.promptIds !== undefined && s.info!.promptIds.length > 0 ? (JSON.stringify(s.info!.promptIds) === JSON.stringify(promptIds) ? " (same ids as ours)" : " (**ids differ from ours**)") : ""}` : ""}${s.info!.notes ? `; ${oneLine(s.info!.notes)}` : ""}`);
  const failures = states.filter((s) => s.error !== undefined).map((s) => `- \`${s.spec.id}\` (${s.spec.label}): ${s.error!.split("\n").length > 1 ? `\n\n  \`\`\`\n${s.error!.split("\n").slice(0, 12).map((l) => `  ${l}`).join("\n")}\n  \`\`\`` : s.error}`);
  const busy = Math.max(...loads, Number(loadBefore.split(",")[0])) > machine.cores * 0.5;
  const command = `npm run bench:peers${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`;
  const report = [
    `# Peers side by side`, ``,
    `Command: \`${command}\` (from the repository root)`, ``,
    `- Date: ${machine.date}`,
    `- Machine: ${machineLine(machine)}`,
    `- Load average (1 min) before ${loadBefore.split(",")[0]}, at round starts ${loads.map((l) => l.toFixed(1)).join(" / ")}, after ${loadAfter.split(",")[0]}${busy ? ` — **busy machine: other processes competed for the ${machine.cores} cores; treat these numbers as preliminary**` : ""}`,
    `- Workload: the same ${promptIds.length}-token prompt for every engine (\`BENCH_PROMPT\` in bench/speed.ts), then ${generated} generated tokens, greedy, EOS ignored; prefill = prompt tokens / time to the first generated token; decode = ${generated - 1} decode steps / their time`,
    `- Rounds: ${rounds} measured after one warm-up round; in each round every engine runs once, in an order that rotates from round to round; each engine is its own process and idle (blocked on stdin) while the others run; median (min-max) over rounds`,
    `- Model: ${relative(REPO_ROOT, model)} (${facts.description}; ${(facts.bytesPerToken / 1e6).toFixed(1)} MB of weights read per decoded token); ONNX export: ${relative(REPO_ROOT, onnxDir)} (bench/peers/export_onnx.py)`,
    ``,
    ...table,
    ``,
    `Ratios are the peer's median over ours at the same thread count (ffnskip-1 for one-thread peers, ffnskip-N for N-thread ones); > 1 means the peer is faster. "Greedy output = ours for" compares the first round's generated tokens (or characters, when the peer returns text only) with ours from the start: engines quantize activations differently (ours int16, llama.cpp int8, ONNX f32 activations with f32 weights), so greedy paths eventually part.`,
    ``,
    `## Versions and timing`, ``,
    ...versions,
    ``,
    ...(failures.length > 0 ? [`## Engines that did not run`, ``, ...failures, ``] : []),
    `## Notes on the peers`, ``,
    ...PEER_NOTES.filter(([prefix]) => states.some((st) => st.spec.id.startsWith(prefix))).map(([, note]) => `- ${note}`),
    ``,
  ].join("\n");
  writeReport(out, `${report}\n`);
  const raw = { date: machine.date, machine, loadBefore, loadAfter, loads, command, promptIds, rounds, engines: states.map((s) => ({ id: s.spec.id, info: s.info, error: s.error, warmup: s.warmup, results: s.results.map(({ text: _t, tokens: _k, ...rest }) => rest) })) };
  writeReport(join(dirname(out), out.endsWith(".md") ? `${out.slice(dirname(out).length + 1, -3)}.json` : "peers.json"), `${JSON.stringify(raw, null, 1)}\n`);
  process.stdout.write(`${report}\n`);
  log(`wrote ${relative(process.cwd(), out)}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`bench:peers: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
