// Speed benchmarks for a checkout of this repository (they need the dev tools: asc builds the roofline probe):
//   npm run bench -- decode    prefill and decode tok/s of our engine, median and range over rounds
//   npm run bench -- skip      decode tok/s with FFN skipping off and on, rounds alternating, and the speed-up
//   npm run bench -- roofline  WASM sequential read bandwidth (1 and N threads) -> the decode ceiling for the
//                              loaded model's bytes per token, next to measured decode tok/s and the % of it
// The peers (`npm run bench:peers`) and kernel (`npm run bench:kernels`) benches reuse the helpers exported here
// (prompt, rounds, summaries, machine description).
//
// Timing on a shared machine is noisy: every report prints the load average before and after, and the median with
// min-max over rounds; a warm-up round is always run and discarded.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { InputError, ResourceError } from "../src/errors.js";
import { DTYPES } from "../src/io/dtype.js";
import type { LanguageModel, SkipSetting } from "../src/language-model.js";
import type { Matrix } from "../src/model/weights.js";
import { defaultThreads, loadModelFromPath } from "../src/node.js";
import { DEFAULT_MODEL_PATH } from "../src/node/pull.js";
import { pickVariant } from "../src/runtime/kernels.js";
import { describeFlags, type FlagSpecs, parseArgs } from "../src/cli/args.js";
import { kvCacheFlag, MODEL_FLAGS, skipSetting } from "../src/cli/model-flags.js";

/** The repository root (this file is bench/speed.ts). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The benchmark prompt: 32 tokens with SmolLM2's tokenizer (ours and llama.cpp's give the same ids; the peers
 * harness checks). Plain text, no chat template, no BOS (SmolLM2 adds none).
 */
export const BENCH_PROMPT = "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined movable metal type with an oil-based ink and a wooden screw press to print";
export const BENCH_PROMPT_TOKENS = 32;
/** Tokens generated per round: the first comes from prefill, the other 127 from decode steps. */
export const BENCH_GENERATED_TOKENS = 128;

// ---- statistics and the machine ------------------------------------------------------------------------

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** "146 (142-150)": median and range, `digits` after the point. */
export function formatSummary(s: Summary, digits = 1): string {
  if (s.n === 0) return "n/a";
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

export function loadAverageText(): string {
  return loadavg().map((v) => v.toFixed(2)).join(", ");
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly date: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

export function machineLine(m: MachineInfo = machineInfo()): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}`;
}

/** Ensures a directory for `file` exists and writes it. */
export function writeReport(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

// ---- our engine: one measured round ----------------------------------------------------------------------

export interface RoundResult {
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  /** The generated text and token ids (greedy), to compare engines. */
  readonly text: string;
  readonly tokens: readonly number[];
}

/**
 * One round on a loaded model: `prompt` (prefilled from position 0: resetPromptCache first), then `generated`
 * tokens greedily with EOS ignored. Rates are the library's own stats (prefill: prompt tokens / prefill time;
 * decode: decode steps / time inside the decode calls, sampling excluded).
 */
export async function runOurRound(model: LanguageModel, prompt: string, generated: number): Promise<RoundResult> {
  await resetPromptCache(model);
  const { stats, text, tokens } = await model.generate(prompt, { maxTokens: generated, stopOnEos: false, temperature: 0 }).result;
  if (stats.cachedPromptTokens !== 0) {
    throw new ResourceError({ field: "bench round", expected: "a prompt prefilled from scratch", actual: `${stats.cachedPromptTokens} cached prompt tokens` });
  }
  return { prefillTokensPerSecond: stats.prefillTokensPerSecond, decodeTokensPerSecond: stats.decodeTokensPerSecond, promptTokens: stats.promptTokens, generatedTokens: stats.generatedTokens, text, tokens };
}

/**
 * Makes the next prompt prefill from scratch: a one-token generation from "\n" without BOS overwrites the cached
 * prefix (with BOS, a LLaMa-2 tokenizer would start both prompts with the same id, and that row would be reused).
 */
export async function resetPromptCache(model: LanguageModel): Promise<void> {
  await model.generate("\n", { maxTokens: 1, stopOnEos: false, addSpecialTokens: false }).result;
}

export interface DecodeBench {
  readonly threads: number;
  readonly variant: string;
  readonly prefill: Summary;
  readonly decode: Summary;
  readonly rounds: RoundResult[];
  readonly promptTokens: number;
}

/** KV cache positions and format the speed benches load models with, unless told otherwise. */
export interface BenchModelOptions {
  readonly maxContext?: number;
  readonly kvCache?: "f32" | "f16";
}
export const BENCH_MAX_CONTEXT = 512;

/** Loads the model with `threads`, runs a discarded warm-up round and `rounds` measured ones, closes it. */
export async function benchDecode(modelPath: string, threads: number, rounds: number, prompt = BENCH_PROMPT, generated = BENCH_GENERATED_TOKENS, options: BenchModelOptions = {}): Promise<DecodeBench & { bytesPerToken: BytesPerToken }> {
  const model = await loadModelFromPath(modelPath, { threads, maxContext: options.maxContext ?? BENCH_MAX_CONTEXT, kvCache: options.kvCache ?? "f32" });
  try {
    const variant = (await pickVariant(threads > 1)) ?? "reference";
    const bytesPerToken = modelBytesPerToken(model, BENCH_PROMPT_TOKENS + generated / 2);
    await runOurRound(model, prompt, generated);
    const results: RoundResult[] = [];
    for (let r = 0; r < rounds; r++) results.push(await runOurRound(model, prompt, generated));
    return {
      threads, variant, rounds: results, promptTokens: results[0]?.promptTokens ?? 0, bytesPerToken,
      prefill: summarize(results.map((r) => r.prefillTokensPerSecond)),
      decode: summarize(results.map((r) => r.decodeTokensPerSecond)),
    };
  } finally {
    await model.close();
  }
}

// ---- bytes a decode step reads -------------------------------------------------------------------------

export interface BytesPerToken {
  /** Layer matrices (QKV, O, gate|up, down) of every layer. */
  readonly layers: number;
  /** The LM head (the tied embedding for SmolLM2). */
  readonly lmHead: number;
  /** Norm vectors and the one embedding row looked up. */
  readonly other: number;
  /** KV cache read by attention at the given mean position (both caches, every layer). */
  readonly kv: number;
  readonly kvPosition: number;
  /** layers + lmHead + other */
  readonly weights: number;
  readonly formats: string;
}

function matrixBytes(m: Matrix): number {
  const info = DTYPES[m.dtype];
  return m.rows * (m.cols / info.blockValues) * info.blockBytes; // tiles4 holds exactly the same bytes
}

/** Bytes one decode step reads from weights (and from the KV cache when attending to `kvPosition` positions). */
export function modelBytesPerToken(model: LanguageModel, kvPosition: number): BytesPerToken {
  const { weights, config, state } = model.transformer;
  let layers = 0;
  const formats = new Map<string, number>();
  const count = (m: Matrix) => {
    const bytes = matrixBytes(m);
    const key = `${m.dtype}${m.layout === "tiles4" ? " (4-row tiles)" : ""}`;
    formats.set(key, (formats.get(key) ?? 0) + bytes);
    return bytes;
  };
  for (const layer of weights.layers) {
    for (const m of [...layer.qkv, layer.wo, ...layer.gateUp, layer.wDown]) layers += count(m);
  }
  const lmHead = count(weights.lmHead);
  const embedRow = matrixBytes(weights.embed) / weights.embed.rows;
  const other = (2 * config.numLayers + 1) * config.hiddenSize * 4 + embedRow;
  const kvElement = (state as { kvCache?: string }).kvCache === "f16" ? 2 : 4;
  const kv = 2 * config.numLayers * kvPosition * config.numKvHeads * config.headDim * kvElement;
  const total = layers + lmHead + other;
  const formatText = [...formats].map(([k, b]) => `${k} ${(b / 1e6).toFixed(1)} MB`).join(", ");
  return { layers, lmHead, other, kv, kvPosition, weights: total, formats: formatText };
}

// ---- the read-bandwidth probe ----------------------------------------------------------------------------

const STREAM_SOURCE = join(REPO_ROOT, "bench", "roofline", "stream.as.ts");
const STREAM_WASM = join(REPO_ROOT, "bench", "build", "stream.wasm");

/** Compiles bench/roofline/stream.as.ts with AssemblyScript when the .wasm is missing or older than its source. */
export function buildStreamWasm(): Uint8Array<ArrayBuffer> {
  if (!existsSync(STREAM_SOURCE)) {
    throw new ResourceError({ file: STREAM_SOURCE, expected: "the roofline probe source (the speed benches run from a checkout of the repository)", actual: "missing" });
  }
  if (!existsSync(STREAM_WASM) || statSync(STREAM_WASM).mtimeMs < statSync(STREAM_SOURCE).mtimeMs) {
    const asc = join(REPO_ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
    mkdirSync(dirname(STREAM_WASM), { recursive: true });
    // Run from the source's folder so asc does not pick up the repository's asconfig.json (the kernels).
    execFileSync(process.execPath, [asc, "stream.as.ts", "--outFile", STREAM_WASM, "--runtime", "stub", "--importMemory", "--sharedMemory",
      "--initialMemory", "1", "--maximumMemory", "65536", "--enable", "simd,threads", "-O3", "--noAssert", "--use", "abort="], { cwd: dirname(STREAM_SOURCE), stdio: ["ignore", "inherit", "inherit"] });
  }
  const bytes = readFileSync(STREAM_WASM);
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

const STREAM_WORKER = join(REPO_ROOT, "bench", "roofline", "stream-worker.cjs");

export interface BandwidthResult {
  readonly threads: number;
  readonly bufferBytes: number;
  /** GB/s (1e9 bytes) of each trial: all threads' bytes / the slowest thread's time. */
  readonly trials: number[];
  readonly summary: Summary;
}

/**
 * Sequential read bandwidth from WASM memory: a `bufferBytes` buffer filled with non-zero data, split into one
 * slice per thread; each trial streams the slices `passes` times (passes chosen so a trial lasts ~`trialMs`).
 */
export async function measureBandwidth(threads: number, bufferBytes: number, trials: number, trialMs = 300): Promise<BandwidthResult> {
  const module = await WebAssembly.compile(buildStreamWasm());
  const PAGE = 65536;
  const base = PAGE;
  const slice = Math.floor(bufferBytes / threads / PAGE) * PAGE;
  if (slice < PAGE) throw new InputError({ file: "bench roofline", field: "--buffer-mb", expected: "at least 64 KiB per thread", actual: String(bufferBytes) });
  const memory = new WebAssembly.Memory({ initial: Math.ceil((base + slice * threads) / PAGE), maximum: 65536, shared: true });
  const filler = new WebAssembly.Instance(module, { env: { memory } }).exports as { fill(p: number, b: number, s: number): void };
  filler.fill(base, slice * threads, 0x2545f491);
  const control = new SharedArrayBuffer(64);
  const results = new SharedArrayBuffer(128 * 8);
  const c = new Int32Array(control);
  const r = new Float64Array(results);
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < threads; i++) {
      // Plain CommonJS: the worker must not inherit the parent's `--import tsx`, whose loader rejects a .cjs worker.
      const worker = new Worker(STREAM_WORKER, { execArgv: [], workerData: { probeModule: module, memory, control, results, index: i, offset: base + i * slice, bytes: slice } });
      workers.push(worker);
      await new Promise<void>((resolve, reject) => {
        worker.once("message", () => resolve());
        worker.once("error", reject);
      });
    }
    const run = (passes: number): number => {
      Atomics.store(c, 1, 0);
      Atomics.store(c, 2, passes);
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      let done: number;
      while ((done = Atomics.load(c, 1)) < threads) Atomics.wait(c, 1, done, 1000);
      let slowest = 0;
      for (let i = 0; i < threads; i++) slowest = Math.max(slowest, r[i]!);
      return (threads * slice * passes) / (slowest / 1000) / 1e9;
    };
    // Warm-up pass (TLB, page tables), then size the trials.
    const warm = run(1);
    const passes = Math.max(1, Math.round(((trialMs / 1000) * warm * 1e9) / (threads * slice)));
    const samples: number[] = [];
    for (let t = 0; t < trials; t++) samples.push(run(passes));
    Atomics.store(c, 3, 1);
    Atomics.add(c, 0, 1);
    Atomics.notify(c, 0);
    return { threads, bufferBytes: slice * threads, trials: samples, summary: summarize(samples) };
  } finally {
    for (const worker of workers) void worker.terminate();
  }
}

// ---- commands ----------------------------------------------------------------------------------------

const COMMON_FLAGS = {
  help: { type: "boolean", help: "show this help" },
  model: { type: "string", help: "GGUF file or HF folder (default: the pulled SmolLM2)" },
  threads: { type: "int", min: 1, max: 64, help: "the multi-thread count to measure besides 1 (default: one per core, at most 8)" },
  rounds: { type: "int", min: 1, max: 100, help: "measured rounds per setting after a warm-up round (default 5)" },
  out: { type: "string", help: "write the markdown report here (roofline default: bench/results/roofline.md; '-' = don't write)" },
  "max-context": { ...MODEL_FLAGS["max-context"], help: `KV cache positions (default ${BENCH_MAX_CONTEXT})` },
  "kv-cache": MODEL_FLAGS["kv-cache"],
} as const satisfies FlagSpecs;

const DECODE_FLAGS = {
  ...COMMON_FLAGS,
  generated: { type: "int", min: 2, max: 4096, help: `tokens generated per round (default ${BENCH_GENERATED_TOKENS}; fewer for models that decode slowly)` },
} as const satisfies FlagSpecs;

function benchModelOptions(flags: { "max-context"?: number; "kv-cache"?: string }): BenchModelOptions {
  return { maxContext: flags["max-context"], kvCache: kvCacheFlag(flags["kv-cache"]) };
}

const ROOFLINE_FLAGS = {
  ...COMMON_FLAGS,
  "buffer-mb": { type: "int", min: 1, max: 3072, help: "probe buffer size in MiB, split between threads (default 256, > L3)" },
  trials: { type: "int", min: 1, max: 100, help: "bandwidth trials per thread count (default 7)" },
  "no-model": { type: "boolean", help: "bandwidth only: skip loading the model and measuring decode" },
} as const satisfies FlagSpecs;

const USAGE = `usage: npm run bench -- <what> [options]

  decode     prefill/decode tok/s of our engine (${BENCH_PROMPT_TOKENS}-token prompt, ${BENCH_GENERATED_TOKENS} tokens, greedy, EOS ignored) at 1 and N threads
  skip       decode tok/s with FFN skipping off vs on (the shipped profile), rounds alternating, at 1 and N threads
  roofline   WASM read bandwidth (1 and N threads) -> decode ceiling for the model, vs measured decode

Peers and kernel benches: npm run bench:peers, npm run bench:kernels (see README, Performance).
`;

export async function bench(argv: string[]): Promise<void> {
  const [what, ...rest] = argv;
  if (what === "roofline") return roofline(rest);
  if (what === "decode") return decode(rest);
  if (what === "skip") return skipSpeed(rest);
  if (what === undefined || what === "--help" || what === "-h" || what === "help") {
    process.stdout.write(USAGE);
    return;
  }
  throw new InputError({ file: "npm run bench", field: "what", expected: "decode, skip or roofline", actual: JSON.stringify(what) });
}

function threadCounts(flag: number | undefined): number[] {
  const n = flag ?? defaultThreads();
  return n === 1 ? [1] : [1, n];
}

function shellCommand(args: readonly string[]): string {
  const [command, ...rest] = args;
  return ["npm", "run", command!, "--", ...rest].map((a) => (/^[\w./:=,-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
}

async function decode(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, DECODE_FLAGS, "bench decode");
  if (flags.help) {
    process.stdout.write(`usage: npm run bench -- decode [options]\n${describeFlags(DECODE_FLAGS)}\n`);
    return;
  }
  const modelPath = flags.model ?? DEFAULT_MODEL_PATH;
  const options = benchModelOptions(flags);
  const generated = flags.generated ?? BENCH_GENERATED_TOKENS;
  const loadBefore = loadAverageText();
  const lines = [`| threads | kernels | prefill tok/s | decode tok/s |`, `|---|---|---|---|`];
  process.stderr.write(`bench decode: ${modelPath}, load average ${loadBefore}\n`);
  for (const threads of threadCounts(flags.threads)) {
    const r = await benchDecode(modelPath, threads, flags.rounds ?? 5, BENCH_PROMPT, generated, options);
    const line = `| ${threads} | ${r.variant} | ${formatSummary(r.prefill)} | ${formatSummary(r.decode)} |`;
    lines.push(line);
    process.stderr.write(`${line}\n`);
  }
  emitReport("decode", argv, loadBefore, [
    `Model ${relative(process.cwd(), modelPath)}; KV cache ${options.maxContext ?? BENCH_MAX_CONTEXT} positions, ${options.kvCache}; the bench prompt (${BENCH_PROMPT_TOKENS} tokens with SmolLM2's tokenizer), ${generated} generated tokens (${generated - 1} decode steps), greedy, EOS ignored; median (min-max) of ${flags.rounds ?? 5} rounds after a warm-up.`, ``,
    ...lines,
  ], flags.out);
}

/** A bench report: title, command, machine and load, then `body`; to stdout, and to `out` unless absent or "-". */
function emitReport(what: string, argv: readonly string[], loadBefore: string, body: readonly string[], out: string | undefined): void {
  const report = [
    `# npm run bench -- ${what}`, ``,
    `Command: \`${shellCommand(["bench", what, ...argv])}\``, ``,
    `${machineLine()}; ${new Date().toISOString()}; load average (1/5/15 min) before ${loadBefore}, after ${loadAverageText()}.`,
    ...body, ``,
  ].join("\n");
  process.stdout.write(report);
  if (out !== undefined && out !== "-") writeReport(out, report);
}

const DEFAULT_SKIP_SETTINGS = ["on", "fixed:0.25", "random:0.25"];
const SKIP_FLAGS = {
  ...COMMON_FLAGS,
  skip: { type: "list", help: `comma-separated skip settings each compared with off (default ${DEFAULT_SKIP_SETTINGS.join(",")}: the shipped profile, fixed 25%, random 25%)` },
} as const satisfies FlagSpecs;

/**
 * Decode speed with FFN skipping off and under each given setting, on one loaded model per thread count, rounds
 * alternating (off, setting 1, setting 2, ..., off, ...) so a busy machine slows all alike. The decode rate excludes
 * sampling and prefill; the skip ratio is the controller's, over the same decode steps. The speed-up is the median
 * of per-round ratios to the off run of the same round.
 */
async function skipSpeed(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, SKIP_FLAGS, "bench skip");
  if (flags.help) {
    process.stdout.write(`usage: npm run bench -- skip [options]\n${describeFlags(SKIP_FLAGS)}\n`);
    return;
  }
  const modelPath = flags.model ?? DEFAULT_MODEL_PATH;
  const options = benchModelOptions(flags);
  const names = flags.skip ?? DEFAULT_SKIP_SETTINGS;
  const settings = names.map((name) => skipSetting(name));
  const rounds = flags.rounds ?? 7;
  const loadBefore = loadAverageText();
  const lines = [
    "| threads | skip setting | decode tok/s | speed-up vs off (median of per-round ratios) | FFNs skipped (after warm-up) |",
    "|---|---|---|---|---|",
  ];
  process.stderr.write(`bench skip: ${modelPath}, load average ${loadBefore}\n`);
  for (const threads of threadCounts(flags.threads)) {
    const model = await loadModelFromPath(modelPath, { threads, maxContext: options.maxContext ?? BENCH_MAX_CONTEXT, kvCache: options.kvCache });
    try {
      const round = async (skip: SkipSetting) => {
        await resetPromptCache(model);
        return (await model.generate(BENCH_PROMPT, { maxTokens: BENCH_GENERATED_TOKENS, stopOnEos: false, skip }).result).stats;
      };
      for (const skip of ["off" as const, ...settings]) await round(skip); // warm-up
      const off: number[] = [];
      const rates = settings.map((): number[] => []);
      const ratios = settings.map((): number[] => []);
      const skipped = settings.map(() => ({ ratio: 0, afterWarmup: 0 }));
      for (let r = 0; r < rounds; r++) {
        const base = (await round("off")).decodeTokensPerSecond;
        off.push(base);
        for (let i = 0; i < settings.length; i++) {
          const stats = await round(settings[i]!);
          rates[i]!.push(stats.decodeTokensPerSecond);
          ratios[i]!.push(stats.decodeTokensPerSecond / base);
          skipped[i] = { ratio: stats.skip.ratio, afterWarmup: stats.skip.ratioAfterWarmup };
        }
      }
      const rows = [`| ${threads} | off | ${formatSummary(summarize(off))} | 1 | 0% |`];
      for (let i = 0; i < settings.length; i++) {
        rows.push(`| ${threads} | ${names[i]} | ${formatSummary(summarize(rates[i]!))} | ${formatSummary(summarize(ratios[i]!), 3)}x | ${(100 * skipped[i]!.ratio).toFixed(1)}% (${(100 * skipped[i]!.afterWarmup).toFixed(1)}%) |`);
      }
      lines.push(...rows);
      process.stderr.write(`${rows.join("\n")}\n`);
    } finally {
      await model.close();
    }
  }
  emitReport("skip", argv, loadBefore, [
    `Model ${relative(process.cwd(), modelPath)}; skip settings ${names.join(", ")}, each vs off; ${BENCH_PROMPT_TOKENS}-token prompt, ${BENCH_GENERATED_TOKENS} generated tokens, greedy, EOS ignored; median (min-max) of ${rounds} rounds, off and each setting in turn within a round, after a warm-up round of each.`,
    "on = the shipped calibrated profile (paper policy); fixed:R and random:R are the input-agnostic baselines at ratio R.", "",
    ...lines,
  ], flags.out);
}

async function roofline(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, ROOFLINE_FLAGS, "bench roofline");
  if (flags.help) {
    process.stdout.write(`usage: npm run bench -- roofline [options]\n${describeFlags(ROOFLINE_FLAGS)}\n`);
    return;
  }
  const modelPath = flags.model ?? DEFAULT_MODEL_PATH;
  const rounds = flags.rounds ?? 5;
  const bufferBytes = (flags["buffer-mb"] ?? 256) * 2 ** 20;
  const out = flags.out ?? join(REPO_ROOT, "bench", "results", "roofline.md");
  const loadBefore = loadAverageText();
  const machine = machineInfo();
  process.stderr.write(`bench roofline: ${machineLine(machine)}; load average ${loadBefore}\n`);

  const bandwidth: BandwidthResult[] = [];
  for (const threads of threadCounts(flags.threads)) {
    const b = await measureBandwidth(threads, bufferBytes, flags.trials ?? 7);
    bandwidth.push(b);
    process.stderr.write(`  read bandwidth, ${threads} thread(s): ${formatSummary(b.summary)} GB/s\n`);
  }

  const decodes: (DecodeBench & { bytesPerToken: BytesPerToken })[] = [];
  if (!flags["no-model"]) {
    for (const b of bandwidth) {
      const d = await benchDecode(modelPath, b.threads, rounds, BENCH_PROMPT, BENCH_GENERATED_TOKENS, benchModelOptions(flags));
      decodes.push(d);
      process.stderr.write(`  decode, ${b.threads} thread(s): ${formatSummary(d.decode)} tok/s (${d.variant})\n`);
    }
  }
  const loadAfter = loadAverageText();
  const bpt = decodes[0]?.bytesPerToken;
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

  const rows = [
    `| threads | read bandwidth GB/s | ceiling tok/s, weights only | ceiling tok/s, weights + KV | measured decode tok/s | % of ceiling (weights + KV) | measured GB/s |`,
    `|---|---|---|---|---|---|---|`,
  ];
  for (const b of bandwidth) {
    const d = decodes.find((x) => x.threads === b.threads);
    if (d === undefined || bpt === undefined) {
      rows.push(`| ${b.threads} | ${formatSummary(b.summary)} | - | - | - | - | - |`);
      continue;
    }
    const ceilW = (b.summary.median * 1e9) / bpt.weights;
    const ceilKv = (b.summary.median * 1e9) / (bpt.weights + bpt.kv);
    const achieved = (d.decode.median * (bpt.weights + bpt.kv)) / 1e9;
    rows.push(`| ${b.threads} | ${formatSummary(b.summary)} | ${ceilW.toFixed(0)} | ${ceilKv.toFixed(0)} | ${formatSummary(d.decode)} | ${((100 * d.decode.median) / ceilKv).toFixed(0)}% | ${achieved.toFixed(1)} |`);
  }
  const report = [
    `# Decode roofline`, ``,
    `Command: \`${shellCommand(["bench", "roofline", ...argv])}\` (from the repository root; \`npm run bench:roofline\`)`, ``,
    `- Date: ${machine.date}`,
    `- Machine: ${machineLine(machine)}`,
    `- Load average (1/5/15 min): before ${loadBefore}; after ${loadAfter}${Number(loadBefore.split(",")[0]) > machine.cores * 0.5 ? ` (**busy machine: other processes competed for the ${machine.cores} cores; numbers are noisy**)` : ""}`,
    bpt === undefined ? `- Model: not loaded (--no-model)` : `- Model: ${relative(process.cwd(), modelPath)}; weights read per decoded token ${mb(bpt.weights)} MB (layers ${mb(bpt.layers)} MB, LM head ${mb(bpt.lmHead)} MB, norms + embedding row ${(bpt.other / 1e3).toFixed(0)} kB; ${bpt.formats}); KV cache read at the mean attended length ${bpt.kvPosition} ${mb(bpt.kv)} MB`,
    decodes.length > 0 ? `- Kernels: ${decodes.map((d) => `${d.threads} thread(s) ${d.variant}`).join(", ")}; decode measured over ${BENCH_PROMPT_TOKENS}-token prompt + ${BENCH_GENERATED_TOKENS} generated tokens, greedy, EOS ignored, median (min-max) of ${rounds} rounds after a warm-up` : `- Decode: not measured`,
    `- Bandwidth probe: bench/roofline/stream.as.ts (v128 loads, four accumulators, no stores) over a ${(bandwidth[0]!.bufferBytes / 2 ** 20).toFixed(0)} MiB shared WASM memory filled with non-zero data; each thread streams its own slice; GB/s = 1e9 bytes/s = all threads' bytes / the slowest thread's time; median (min-max) of ${bandwidth[0]!.trials.length} trials`,
    ``,
    ...rows,
    ``,
    `Ceiling = read bandwidth / bytes per token: what decode would reach if it did nothing but stream its weights (and`,
    `KV cache) once at the probe's speed. "Measured GB/s" is the bytes per token times the measured decode rate.`,
    ``,
  ].join("\n");
  process.stdout.write(report);
  if (out !== "-") {
    writeReport(out, report);
    process.stderr.write(`wrote ${relative(process.cwd(), out)}\n`);
  }
}
