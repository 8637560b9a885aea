// npm run eval: one task under one skip setting, printed as one JSON result line (progress bar on stderr).
//
//   npm run eval -- --task freebaseqa|nq --data dev.jsonl [--skip ...] [--limit N]     accuracy, agreement with full
//   npm run eval -- --task wikitext --data wiki.test.raw... [--tokens N --offset N]   teacher-forced perplexity; with
//                                                       skipping also KL(full || skipped), top-1 agreement (src/score.ts)
//   npm run eval -- --task cnndm --data dev.jsonl [--limit N]                          ROUGE-L vs reference and full
//   npm run eval -- --task mtbench --data question.jsonl --out answers.jsonl           ROUGE-L vs full, answers saved
//
// Generation tasks also run the full model on the same rows (for agreement / ROUGE-L against it), sharing each
// prompt's prefill, unless --reference gives the rows of a saved full-model run (`--skip off --out FILE`).
// The harness is bench/eval/harness.ts; the metrics bench/eval/metrics.ts; prompts and truncation bench/eval/prompts.ts.

import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { InputError } from "../../src/errors.js";
import { type GenerationTask, isTaskName, parseConversations, parseQa, parseSummaries, parseText, selectRows, type TaskName, TASKS } from "./data.js";
import {
  defaultMaxTokens, type EvalConfig, FULL_CONFIG, type GenerationRows, MemoryRowStore, PERPLEXITY_DEFAULTS, perplexityWindows, type RowRecord, type RowStore,
  runGeneration, runPerplexity, summarizeGeneration,
} from "./harness.js";
import { ARTICLE_TOKENS, QA_INSTRUCTION, SUMMARY_INSTRUCTION } from "./prompts.js";
import { resolveConfig, type ResultLine, resultLine } from "./result.js";
import type { LanguageModel } from "../../src/language-model.js";
import { defaultProfileFor } from "../../src/skip/default-profiles.js";
import { parseSkipProfile, type SkipProfile } from "../../src/skip/profile.js";
import { isSkipSpec } from "../../src/skip/spec.js";
import { gitCommit } from "../../src/cli/git.js";
import { describeFlags, type FlagSpecs, parseArgs } from "../../src/cli/args.js";
import { MODEL_FLAGS, openModel } from "../../src/cli/model-flags.js";
import { progressBar } from "../../src/cli/progress.js";

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  task: { type: "string", help: `${TASKS.join(", ")}` },
  data: { type: "string", help: "the task's data file (JSONL; raw text for wikitext)" },
  model: MODEL_FLAGS.model,
  skip: { type: "string", help: "off (default), on (shipped profile), fixed:R, random:R[:SEED], or a profile.json" },
  profile: { type: "string", help: "profile.json to resolve on/fixed:R/random:R against (default: the model's shipped profile)" },
  warmup: { type: "int", min: 0, help: "decode steps per sequence that run in full (default: the profile's)" },
  limit: { type: "int", min: 1, help: "rows to evaluate (wikitext: windows)" },
  offset: { type: "int", min: 0, help: `rows to skip first (wikitext: tokens, default ${PERPLEXITY_DEFAULTS.offset}, past the calibration text)` },
  tokens: { type: "int", min: 2, help: `wikitext: tokens to score (default ${PERPLEXITY_DEFAULTS.tokens})` },
  window: { type: "int", min: 8, help: `wikitext: tokens per teacher-forced window (default ${PERPLEXITY_DEFAULTS.window})` },
  "max-tokens": { type: "int", min: 1, help: "new tokens per answer (default: QA 24, cnndm 128, mtbench 256 per turn)" },
  "article-tokens": { type: "int", min: 16, help: `cnndm: most article tokens kept (default ${ARTICLE_TOKENS}; see README "Evaluation")` },
  reference: { type: "string", help: "rows of a saved full-model run (eval --skip off --out FILE) instead of running the full model" },
  out: { type: "string", help: "write every row's outputs as JSONL here (mtbench: FastChat answer fields included)" },
  json: { type: "boolean", help: "print only the JSON result line" },
  "max-context": MODEL_FLAGS["max-context"],
  precision: MODEL_FLAGS.precision,
  threads: MODEL_FLAGS.threads,
  "kv-cache": MODEL_FLAGS["kv-cache"],
  surrogates: MODEL_FLAGS.surrogates,
} as const satisfies FlagSpecs;

// ---- the commit, without shelling out -----------------------------------------------------------------------


/** The command line as one string, quoting what a shell would need quoted. */
export function commandLine(command: string, argv: readonly string[]): string {
  return [`npm run ${command} --`, ...argv.map((a) => (/^[\w./:,=@+-]+$/.test(a) ? a : JSON.stringify(a)))].join(" ");
}

// ---- row files ------------------------------------------------------------------------------------------------

/**
 * Row records in JSONL files, one file per configuration (`pathFor(config)`), appended as they are computed. A
 * file cut short by a kill (a last line without its newline) loses only that line: it is dropped on load.
 */
export class JsonlRowStore implements RowStore {
  private readonly memory = new MemoryRowStore();
  private readonly loaded = new Set<string>();

  constructor(private readonly pathFor: (config: string) => string, private readonly options: { fresh?: boolean; task?: TaskName } = {}) {}

  private load(config: string): void {
    if (this.loaded.has(config)) return;
    this.loaded.add(config);
    const path = this.pathFor(config);
    mkdirSync(dirname(path), { recursive: true });
    if (this.options.fresh || !existsSync(path)) {
      writeFileSync(path, "");
      return;
    }
    const text = readFileSync(path, "utf8");
    const complete = text.endsWith("\n") ? text : text.slice(0, text.lastIndexOf("\n") + 1);
    if (complete.length !== text.length) truncateSync(path, Buffer.byteLength(complete));
    for (const line of complete.split("\n")) {
      if (line.trim() === "") continue;
      const record = JSON.parse(line) as RowRecord;
      if (record.config === config && (this.options.task === undefined || record.task === this.options.task)) this.memory.put(record);
    }
  }

  get(config: string, row: number): RowRecord | undefined {
    this.load(config);
    return this.memory.get(config, row);
  }

  put(record: RowRecord): void {
    this.load(record.config);
    appendFileSync(this.pathFor(record.config), `${JSON.stringify(record)}\n`);
    this.memory.put(record);
  }

  all(config: string): RowRecord[] {
    this.load(config);
    return this.memory.all(config);
  }
}

/** A store writing every configuration's rows into one JSONL file (eval --out), or only memory. */
class SingleFileStore extends MemoryRowStore {
  constructor(private readonly path: string | undefined) {
    super();
    if (path !== undefined) {
      mkdirSync(dirname(resolve(path)), { recursive: true });
      writeFileSync(path, "");
    }
  }
  override put(record: RowRecord): void {
    super.put(record);
    if (this.path !== undefined) appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}

function readData(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new InputError({ file: "npm run eval", field: "--data", expected: "a readable data file", actual: JSON.stringify(path) });
  }
}

/** Generation rows of a task from its file's text. */
export function generationRows(task: GenerationTask, text: string, file: string, offset = 0, limit?: number): GenerationRows {
  if (task === "freebaseqa" || task === "nq") return { task, rows: selectRows(parseQa(task, text, file), offset, limit) };
  if (task === "cnndm") return { task, rows: selectRows(parseSummaries(text, file), offset, limit) };
  return { task, rows: selectRows(parseConversations(text, file), offset, limit) };
}

/** The generation settings a result line records (prompt, budget, decoding). */
export function generationInfo(task: GenerationTask, maxTokens: number, articleTokens?: number): Record<string, unknown> {
  const prompt = task === "cnndm" ? SUMMARY_INSTRUCTION : task === "mtbench" ? "MT-Bench turns as user messages (own answers as history)" : QA_INSTRUCTION;
  return { maxTokens, temperature: 0, chatTemplate: true, prompt, ...(task === "cnndm" ? { articleTokens: articleTokens ?? ARTICLE_TOKENS } : {}) };
}

/** Loads the profile a spec resolves against: --profile, or the model's shipped one. */
export function profileFor(model: LanguageModel, path: string | undefined): { profile: SkipProfile | undefined; name: string | undefined } {
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      throw new InputError({ file: "npm run eval", field: "--profile", expected: "a readable profile.json", actual: JSON.stringify(path) });
    }
    const profile = parseSkipProfile(text, path);
    checkFingerprint(model, profile, path);
    return { profile, name: path };
  }
  const shipped = defaultProfileFor(model.fingerprint);
  return { profile: shipped, name: shipped === undefined ? undefined : `shipped (target ${shipped.target}, threshold ${shipped.threshold}, k ${shipped.k})` };
}

function checkFingerprint(model: LanguageModel, profile: SkipProfile, file: string): void {
  if (profile.model.fingerprint !== model.fingerprint) {
    throw new InputError({ file, field: "model.fingerprint", expected: `${model.fingerprint} (the loaded model)`, actual: `${profile.model.fingerprint} (${profile.model.name})` });
  }
}

export interface EvalIo {
  /** A loaded model to use instead of opening --model (tests). */
  readonly model?: LanguageModel;
  /** Progress lines (the bar only draws on a terminal). */
  readonly log?: (line: string) => void;
}

/** Runs `npm run eval` and returns its result line (printing is left to the caller). */
export async function runEval(argv: string[], io: EvalIo = {}): Promise<ResultLine> {
  const { flags } = parseArgs(argv, FLAGS, "eval");
  const missing = (flag: string, what: string) => new InputError({ file: "npm run eval", field: `--${flag}`, expected: what, actual: "nothing" });
  if (flags.task === undefined) throw missing("task", TASKS.join(", "));
  if (!isTaskName(flags.task)) throw new InputError({ file: "npm run eval", field: "--task", expected: TASKS.join(", "), actual: JSON.stringify(flags.task) });
  if (flags.data === undefined) throw missing("data", "the task's data file");
  const task: TaskName = flags.task;
  const started = performance.now();
  const text = readData(flags.data);
  const command = commandLine("eval", argv);
  const commit = gitCommit();

  const defaultContext = task === "wikitext" ? (flags.window ?? PERPLEXITY_DEFAULTS.window) : task === "freebaseqa" || task === "nq" ? 512 : 2048;
  const model = io.model ?? (await openModel({ model: flags.model, "max-context": flags["max-context"] ?? defaultContext, precision: flags.precision, threads: flags.threads, "kv-cache": flags["kv-cache"], surrogates: flags.surrogates }));

  // The configuration: --skip resolved against --profile (or the shipped profile), --warmup applied.
  const skip = flags.skip ?? "off";
  let config: EvalConfig;
  if (skip === "off" || isSkipSpec(skip)) {
    const { profile, name } = skip === "off" ? { profile: undefined, name: undefined } : profileFor(model, flags.profile);
    config = resolveConfig(skip, { profile, profileName: name, warmup: flags.warmup, layers: model.config.numLayers });
  } else {
    let profileText: string;
    try {
      profileText = readFileSync(skip, "utf8");
    } catch {
      throw new InputError({ file: "--skip", field: skip, expected: "off, on, fixed:R, random:R[:SEED], or a readable profile.json", actual: "no such file" });
    }
    const profile = parseSkipProfile(profileText, skip);
    checkFingerprint(model, profile, skip);
    config = resolveConfig(profile, { profileName: skip, settingName: skip, warmup: flags.warmup, layers: model.config.numLayers });
  }
  const bar = progressBar(`eval ${task} ${config.id}`);
  const say = io.log ?? ((line: string) => process.stderr.write(`${line}\n`));

  try {
    if (task === "wikitext") {
      const data = { offset: flags.offset ?? PERPLEXITY_DEFAULTS.offset, tokens: flags.tokens ?? PERPLEXITY_DEFAULTS.tokens, window: flags.window ?? PERPLEXITY_DEFAULTS.window, limit: flags.limit };
      const { windows, first, last } = perplexityWindows(model, parseText(text), data);
      const summary = await runPerplexity(model, windows, config, { onWindow: (done, total) => bar.update(done / total, `${done}/${total} windows`) });
      return resultLine({
        task, summary, config, model, commit, command, seconds: (performance.now() - started) / 1000,
        data: { file: basename(flags.data), path: flags.data, tokens: `${first}..${last}`, window: data.window, windows: windows.length, bos: model.tokenizer.addBosToken },
      });
    }

    const gen = generationRows(task, text, flags.data, flags.offset ?? 0, flags.limit);
    if (gen.rows.length === 0) throw new InputError({ file: flags.data, field: "rows", expected: "at least one row after --offset", actual: "none" });
    const maxTokens = flags["max-tokens"] ?? defaultMaxTokens(task);
    // The full model's rows: run here (sharing prefills), or read from --reference.
    let fullRows: RowRecord[] | undefined;
    const configs: EvalConfig[] = [config];
    if (flags.reference !== undefined) {
      const referenceStore = new JsonlRowStore(() => flags.reference!, { task });
      fullRows = gen.rows.map((row) => {
        const record = referenceStore.get(FULL_CONFIG.id, row.index);
        if (record === undefined || record.id !== row.id) {
          throw new InputError({ file: flags.reference!, field: `row ${row.index}`, expected: `the full model's output for ${row.id} (task ${task})`, actual: record === undefined ? "missing" : `row id ${record.id}` });
        }
        return record;
      });
    } else if (config.policy.kind !== "off") {
      configs.unshift(FULL_CONFIG);
    }
    const store = new SingleFileStore(flags.out);
    await runGeneration(model, gen, configs, store, {
      maxTokens, articleTokens: flags["article-tokens"], modelId: basename(model.name).replace(/\.gguf$/i, ""),
      onProgress: (done, total) => bar.update(done / total, `${done}/${total}`),
    });
    const layers = model.config.numLayers;
    const mine = store.all(config.id);
    fullRows ??= config.policy.kind === "off" ? mine : store.all(FULL_CONFIG.id);
    const summary = summarizeGeneration(task, mine, fullRows, layers);
    const full = config.policy.kind === "off" ? undefined : summarizeGeneration(task, fullRows, undefined, layers);
    const rows = gen.rows;
    if (flags.out !== undefined) say(`eval ${task}: ${rows.length} rows x ${configs.length} configuration(s) written to ${flags.out}`);
    return resultLine({
      task, summary, config, model, full, commit, command, seconds: (performance.now() - started) / 1000,
      data: { file: basename(flags.data), path: flags.data, rows: `${rows[0]!.index}..${rows[rows.length - 1]!.index}`, ...(flags.reference !== undefined ? { reference: flags.reference } : {}) },
      generation: generationInfo(task, maxTokens, flags["article-tokens"]),
    });
  } finally {
    bar.done();
    if (io.model === undefined) await model.close();
  }
}

/** A short human-readable summary of a result line. */
export function describeResult(r: ResultLine): string {
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : `${(100 * v).toFixed(1)}%`);
  const m = r.metrics;
  const f = r.full;
  let metrics: string;
  if (r.task === "freebaseqa" || r.task === "nq") metrics = `accuracy ${pct(m.accuracy)}${f ? ` (full ${pct(f.accuracy)}), agreement with full ${pct(m.agreement)}` : ""}`;
  else if (r.task === "wikitext") {
    metrics = `perplexity ${m.perplexity} (after warm-up ${m.perplexityAfterWarmup}) on ${m.tokens} tokens`;
    if (m.kl != null) metrics += ` (full ${m.perplexityFull}); KL ${m.kl?.toFixed(4)} nats (after warm-up ${m.klAfterWarmup?.toFixed(4)}, p99 ${m.klP99?.toFixed(3)}), top-1 ${pct(m.top1)} (after warm-up ${pct(m.top1AfterWarmup)})`;
  }
  else if (r.task === "cnndm") metrics = `ROUGE-L ${pct(m.rougeL)} vs reference${f ? ` (full ${pct(f.rougeL)}), ${pct(m.rougeLVsFull)} vs full` : ""}`;
  else metrics = f ? `ROUGE-L vs full ${pct(m.rougeLVsFull)} (turn 1 ${pct(m.rougeLVsFullTurn1)}, turn 2 ${pct(m.rougeLVsFullTurn2)})` : `${m.turns} turns`;
  if (m.repeated3gramFraction != null) metrics += `; repeated 3-grams ${pct(m.repeated3gramFraction)}${f?.repeated3gramFraction != null ? ` (full ${pct(f.repeated3gramFraction)})` : ""}, longest word run ${m.longestRunMax}${f?.longestRunMax != null ? ` (full ${f.longestRunMax})` : ""}`;
  const skipped = r.skip.policy.kind === "off" ? "full model" : `skipped ${pct(r.skip.ratio)} of FFNs (${pct(r.skip.ratioAfterWarmup)} after warm-up ${r.skip.warmup})`;
  const speedup = m.decodeSpeedup != null ? ` (${m.decodeSpeedup}x the full model's)` : "";
  return `${r.task} n=${r.n} ${r.skip.config}: ${metrics}; ${skipped}; decode ${r.decodeTokensPerSecond} tok/s${speedup}`;
}

export async function evalCommand(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`usage: npm run eval -- --task TASK --data FILE [--skip off|on|fixed:R|random:R|profile.json] [--limit N] [--json] [options]\n${describeFlags(FLAGS)}\n`);
    return;
  }
  const result = await runEval(argv);
  if (!argv.includes("--json")) process.stdout.write(`${describeResult(result)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
