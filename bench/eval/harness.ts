// The evaluation harness: runs the tasks under one or more skip configurations and turns the outputs into metrics.
// Portable (no fs): the commands (bench/eval/eval.ts, bench/eval/sweep.ts) reads the data and stores the rows.
//
// Generation tasks (factoid QA, summarisation, conversation) run row-major: for each data row, every configuration
// in turn. The prompt is the same for every configuration and prefill always runs the full model, so the model's
// prompt cache makes every configuration after the first reuse the whole prompt (only its last token is recomputed):
// a 1000-token article is prefilled once, not once per configuration. Each (row, configuration) output is a
// RowRecord, put into a RowStore as soon as it exists: a store that persists them makes a run resumable, and the
// metrics are a pure function of the records (summarizeGeneration).
//
// Perplexity runs the teacher-forced evaluator (src/score.ts) once per configuration: every scored position is a
// decode step decided by a fresh SkipController exactly as in generation, the warm-up counted from each window's
// start. A skipping configuration runs the yardstick (teacherForcedDivergence): the full model on the same windows
// alongside, for KL(full || skipped), top-1 agreement and the full model's perplexity.

import { InputError } from "../../src/errors.js";
import type { LanguageModel } from "../../src/language-model.js";
import { type SkipStats, skipStats } from "../../src/skip/controller.js";
import { SKIP_OFF, type SkipPolicy } from "../../src/skip/policies.js";
import type { ChatMessage } from "../../src/text/chat-template.js";
import type { ConversationRow, GenerationTask, QaRow, SummaryRow } from "./data.js";
import { degeneration, matchedAliases, mean, rougeL, standardError } from "./metrics.js";
import { evaluateDivergence, evaluatePerplexity, leadingTokens, splitWindows } from "../../src/score.js";
import { ARTICLE_TOKENS, CONVERSATION_MAX_TOKENS, QA_MAX_TOKENS, qaMessages, SUMMARY_MAX_TOKENS, summaryMessages, truncateArticle } from "./prompts.js";

/** One skip configuration: an id for files and tables, the setting it came from, and the resolved policy. */
export interface EvalConfig {
  /** "full", or e.g. "paper-0.25-w6", "fixed-0.25-w6", "on-w6": safe as a file name. */
  readonly id: string;
  /** What the user asked for: "off", "on", "fixed:0.25", "random:0.25:7", a profile path, ... */
  readonly setting: string;
  readonly policy: SkipPolicy;
  /** The profile the setting was resolved against (a path, or "shipped: <name>"). */
  readonly profile?: string;
  /** The target skip ratio, when the configuration is one point of a sweep. */
  readonly target?: number;
}

export const FULL_CONFIG: EvalConfig = Object.freeze({ id: "full", setting: "off", policy: SKIP_OFF });

/** Per (row, configuration) generation statistics, summed over the row's turns. */
export interface RowStats {
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  readonly generatedTokens: number;
  /** Decode steps (= SkipStats.tokens): generated tokens fed back through the model. */
  readonly decodeSteps: number;
  readonly warmupSteps: number;
  /** FFN blocks skipped. */
  readonly skipped: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
}

/** One configuration's output for one data row. */
export interface RowRecord {
  readonly task: GenerationTask;
  /** The row's 0-based index in the data file, and its id there. */
  readonly row: number;
  readonly id: string;
  readonly config: string;
  /** The generated text, one per turn (one for QA and summaries, two for MT-Bench). */
  readonly outputs: readonly string[];
  readonly finishReasons: readonly string[];
  readonly stats: RowStats;
  /** QA: an alias appears in the output, and which. */
  readonly correct?: boolean;
  readonly matched?: readonly string[];
  /** Summaries: ROUGE-L F1 against the reference; the article's tokens kept and whether it was cut. */
  readonly rougeLReference?: number;
  readonly articleTokens?: number;
  readonly truncated?: boolean;
  /** MT-Bench: FastChat's answer-file fields, so the rows can go to a judge later (model_answer/<model_id>.jsonl). */
  readonly question_id?: number | string;
  readonly category?: string;
  readonly model_id?: string;
  readonly choices?: readonly { readonly index: number; readonly turns: readonly string[] }[];
}

/** Where row records live: in memory, or a file-backed store that makes a run resumable. */
export interface RowStore {
  get(config: string, row: number): RowRecord | undefined;
  put(record: RowRecord): void;
}

export class MemoryRowStore implements RowStore {
  private readonly records = new Map<string, RowRecord>();
  get(config: string, row: number): RowRecord | undefined {
    return this.records.get(`${config}\u0000${row}`);
  }
  put(record: RowRecord): void {
    this.records.set(`${record.config}\u0000${record.row}`, record);
  }
  all(config: string): RowRecord[] {
    return [...this.records.values()].filter((r) => r.config === config).sort((a, b) => a.row - b.row);
  }
}

export type GenerationRows =
  | { readonly task: "freebaseqa" | "nq"; readonly rows: readonly QaRow[] }
  | { readonly task: "cnndm"; readonly rows: readonly SummaryRow[] }
  | { readonly task: "mtbench"; readonly rows: readonly ConversationRow[] };

export interface GenerationOptions {
  /** Most new tokens per answer (default: QA 24, summaries 128, conversation turns 256). */
  readonly maxTokens?: number;
  /** Summaries: most article tokens (default ARTICLE_TOKENS; also bounded by the context, see truncateArticle). */
  readonly articleTokens?: number;
  /** MT-Bench: the model_id written into the answer records (the configuration id is appended). */
  readonly modelId?: string;
  /** After each (row, configuration) computed or found in the store. */
  readonly onProgress?: (done: number, total: number, record: RowRecord) => void;
  readonly signal?: AbortSignal;
}

export function defaultMaxTokens(task: GenerationTask): number {
  return task === "cnndm" ? SUMMARY_MAX_TOKENS : task === "mtbench" ? CONVERSATION_MAX_TOKENS : QA_MAX_TOKENS;
}

/** The article token budget for this model: min(articleTokens, maxContext - prompt overhead - maxTokens). */
export function articleBudget(model: LanguageModel, maxTokens: number, articleTokens = ARTICLE_TOKENS): number {
  const overhead = model.promptIds(summaryMessages("")).length;
  const budget = Math.min(articleTokens, model.maxContext - overhead - maxTokens - 1);
  if (budget < 16) {
    throw new InputError({ file: "cnndm", field: "maxContext", expected: `a context with room for an article (prompt ${overhead} + summary ${maxTokens} tokens + 16)`, actual: String(model.maxContext) });
  }
  return budget;
}

interface Turn {
  readonly text: string;
  readonly finishReason: string;
  readonly stats: RowStats;
}

async function generateTurn(model: LanguageModel, messages: readonly ChatMessage[], policy: SkipPolicy, maxTokens: number, signal?: AbortSignal): Promise<Turn> {
  const result = await model.chat(messages, { maxTokens, temperature: 0, skip: policy, ...(signal !== undefined ? { signal } : {}) });
  if (result.finishReason === "abort") throw signal?.reason ?? new InputError({ file: "eval", expected: "no abort", actual: "aborted" });
  const s = result.stats;
  return {
    text: result.text,
    finishReason: result.finishReason,
    stats: {
      promptTokens: s.promptTokens, cachedPromptTokens: s.cachedPromptTokens, generatedTokens: s.generatedTokens, decodeSteps: s.skip.tokens,
      warmupSteps: s.skip.warmupTokens, skipped: s.skip.skipped, prefillMs: s.prefillMs, decodeMs: s.decodeMs,
    },
  };
}

function addStats(a: RowStats, b: RowStats): RowStats {
  return {
    promptTokens: a.promptTokens + b.promptTokens, cachedPromptTokens: a.cachedPromptTokens + b.cachedPromptTokens, generatedTokens: a.generatedTokens + b.generatedTokens,
    decodeSteps: a.decodeSteps + b.decodeSteps, warmupSteps: a.warmupSteps + b.warmupSteps, skipped: a.skipped + b.skipped,
    prefillMs: a.prefillMs + b.prefillMs, decodeMs: a.decodeMs + b.decodeMs,
  };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Runs a generation task over `rows` for every configuration, row-major (see the header), skipping the
 * (row, configuration) pairs the store already holds. Returns the number of records computed.
 */
export async function runGeneration(model: LanguageModel, data: GenerationRows, configs: readonly EvalConfig[], store: RowStore, options: GenerationOptions = {}): Promise<number> {
  const task = data.task;
  const maxTokens = options.maxTokens ?? defaultMaxTokens(task);
  const budget = task === "cnndm" ? articleBudget(model, maxTokens, options.articleTokens) : 0;
  const total = data.rows.length * configs.length;
  let done = 0;
  let computed = 0;
  const tokenizer = { encode: (t: string) => model.encode(t, { addSpecialTokens: false }), decode: (ids: readonly number[]) => model.decode(ids) };
  for (const row of data.rows) {
    // Only what is needed: a summary row's truncation is computed once, and only if some configuration lacks it.
    let article: ReturnType<typeof truncateArticle> | undefined;
    for (const config of configs) {
      if (options.signal?.aborted) throw options.signal.reason ?? new InputError({ file: "eval", expected: "no abort", actual: "aborted" });
      let record = store.get(config.id, row.index);
      if (record === undefined) {
        const base = { task, row: row.index, id: row.id, config: config.id };
        if (task === "freebaseqa" || task === "nq") {
          const qa = row as QaRow;
          const turn = await generateTurn(model, qaMessages(qa.question), config.policy, maxTokens, options.signal);
          const matched = matchedAliases(turn.text, qa.answers);
          record = { ...base, outputs: [turn.text], finishReasons: [turn.finishReason], stats: turn.stats, correct: matched.length > 0, matched };
        } else if (task === "cnndm") {
          const s = row as SummaryRow;
          article ??= truncateArticle(s.article, budget, tokenizer);
          const turn = await generateTurn(model, summaryMessages(article.text), config.policy, maxTokens, options.signal);
          record = {
            ...base, outputs: [turn.text], finishReasons: [turn.finishReason], stats: turn.stats,
            rougeLReference: round(rougeL(turn.text, s.reference).f1, 6), articleTokens: article.tokens, truncated: article.truncated,
          };
        } else {
          const c = row as ConversationRow;
          const messages: ChatMessage[] = [];
          const turns: Turn[] = [];
          for (const question of c.turns) {
            messages.push({ role: "user", content: question });
            const turn = await generateTurn(model, messages, config.policy, maxTokens, options.signal);
            turns.push(turn);
            messages.push({ role: "assistant", content: turn.text });
          }
          const outputs = turns.map((t) => t.text);
          const numericId = Number(c.id);
          record = {
            ...base, outputs, finishReasons: turns.map((t) => t.finishReason), stats: turns.map((t) => t.stats).reduce(addStats),
            question_id: Number.isSafeInteger(numericId) ? numericId : c.id, category: c.category,
            model_id: `${options.modelId ?? "ffnskip"}-${config.id}`, choices: [{ index: 0, turns: outputs }],
          };
        }
        store.put(record);
        computed++;
      }
      options.onProgress?.(++done, total, record);
    }
  }
  return computed;
}

/** What a task measured under one configuration. */
export interface TaskSummary {
  readonly n: number;
  readonly metrics: Readonly<Record<string, number | null>>;
  readonly skip: SkipStats;
  readonly decodeTokensPerSecond: number;
  readonly prefillTokensPerSecond: number;
  readonly meanGeneratedTokens?: number;
}

/** null for NaN/undefined (JSON has no NaN). */
function num(value: number | undefined, digits = 6): number | null {
  return value === undefined || !Number.isFinite(value) ? null : round(value, digits);
}

/**
 * The metrics of one configuration's records, compared with the full model's records of the same rows when given
 * (agreement, ROUGE-L against the full model's outputs). Records and full records are matched by row.
 */
export function summarizeGeneration(task: GenerationTask, records: readonly RowRecord[], full: readonly RowRecord[] | undefined, layers: number): TaskSummary {
  if (records.length === 0) throw new InputError({ file: "eval", field: task, expected: "at least one row", actual: "none" });
  const fullByRow = new Map((full ?? []).map((r) => [r.row, r]));
  const paired = full === undefined ? [] : records.map((r) => [r, fullByRow.get(r.row)] as const);
  if (full !== undefined && paired.some(([, f]) => f === undefined)) {
    const missing = paired.filter(([, f]) => f === undefined).map(([r]) => r.row);
    throw new InputError({ file: "eval", field: "full-model rows", expected: "the full model's output for every row", actual: `missing rows ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}` });
  }
  const pairs = paired as readonly (readonly [RowRecord, RowRecord])[];
  const sum = (f: (s: RowStats) => number) => records.reduce((acc, r) => acc + f(r.stats), 0);
  const decodeMs = sum((s) => s.decodeMs);
  const prefillMs = sum((s) => s.prefillMs);
  const metrics: Record<string, number | null> = {};
  const identical = pairs.map(([r, f]) => (r.outputs.length === f.outputs.length && r.outputs.every((t, i) => t === f.outputs[i]) ? 1 : 0));
  if (task === "freebaseqa" || task === "nq") {
    const correct = records.map((r) => (r.correct ? 1 : 0));
    metrics.accuracy = num(mean(correct));
    metrics.accuracyStderr = num(standardError(correct));
    if (full !== undefined) {
      metrics.accuracyFull = num(mean(pairs.map(([, f]) => (f.correct ? 1 : 0))));
      metrics.agreement = num(mean(identical));
      metrics.gained = pairs.filter(([r, f]) => r.correct && !f.correct).length;
      metrics.lost = pairs.filter(([r, f]) => !r.correct && f.correct).length;
    }
  } else if (task === "cnndm") {
    metrics.rougeL = num(mean(records.map((r) => r.rougeLReference ?? NaN)));
    if (full !== undefined) {
      metrics.rougeLFullReference = num(mean(pairs.map(([, f]) => f.rougeLReference ?? NaN)));
      metrics.rougeLVsFull = num(mean(pairs.map(([r, f]) => rougeL(r.outputs[0] ?? "", f.outputs[0] ?? "").f1)));
      metrics.identicalToFull = num(mean(identical));
    }
    metrics.truncatedArticles = records.filter((r) => r.truncated).length;
    metrics.meanArticleTokens = num(mean(records.map((r) => r.articleTokens ?? NaN)), 1);
  } else {
    if (full !== undefined) {
      const turns = Math.max(...records.map((r) => r.outputs.length));
      const perTurn = Array.from({ length: turns }, (_, t) => mean(pairs.filter(([r]) => r.outputs.length > t).map(([r, f]) => rougeL(r.outputs[t]!, f.outputs[t] ?? "").f1)));
      metrics.rougeLVsFull = num(mean(pairs.flatMap(([r, f]) => r.outputs.map((t, i) => rougeL(t, f.outputs[i] ?? "").f1))));
      perTurn.forEach((v, t) => (metrics[`rougeLVsFullTurn${t + 1}`] = num(v)));
      metrics.identicalToFull = num(mean(identical));
    }
    metrics.turns = records.reduce((a, r) => a + r.outputs.length, 0);
  }
  if (full !== undefined) {
    // Decode tok/s over the full model's on the same rows (its rows' timings: side by side unless --reference).
    const fullSteps = full.reduce((a, r) => a + r.stats.decodeSteps, 0);
    const fullMs = full.reduce((a, r) => a + r.stats.decodeMs, 0);
    metrics.decodeSpeedup = decodeMs > 0 && fullMs > 0 && fullSteps > 0 ? num((sum((s) => s.decodeSteps) / decodeMs) / (fullSteps / fullMs), 3) : null;
  }
  const rep = degeneration(records.flatMap((r) => r.outputs));
  metrics.repeated3gramFraction = num(rep.repeated3gramFraction);
  metrics.longestRunMax = rep.longestRunMax;
  metrics.longestRunMean = num(rep.longestRunMean, 3);
  const turnCount = records.reduce((a, r) => a + r.outputs.length, 0);
  return {
    n: records.length,
    metrics,
    skip: skipStats(layers, sum((s) => s.decodeSteps), sum((s) => s.warmupSteps), sum((s) => s.skipped)),
    decodeTokensPerSecond: decodeMs > 0 ? round((sum((s) => s.decodeSteps) * 1000) / decodeMs, 2) : 0,
    prefillTokensPerSecond: prefillMs > 0 ? round((sum((s) => s.promptTokens - s.cachedPromptTokens) * 1000) / prefillMs, 2) : 0,
    meanGeneratedTokens: round(sum((s) => s.generatedTokens) / turnCount, 2),
  };
}

// ---- perplexity --------------------------------------------------------------------------------------------

export interface PerplexityData {
  /** Tokens skipped at the start of the text (default 4096: past the calibration text). */
  readonly offset?: number;
  /** Tokens to score (before windowing; default 20480). */
  readonly tokens?: number;
  /** Tokens per window (default 128, as in calibration). */
  readonly window?: number;
  /** Most windows (default all). */
  readonly limit?: number;
}

export const PERPLEXITY_DEFAULTS = Object.freeze({ offset: 4096, tokens: 20480, window: 128 });

/**
 * WikiText windows as calibration makes them (src/cli/calibrate.ts): tokens offset.. of the text (no special
 * tokens), cut into windows of `window` tokens, each starting with BOS when the tokenizer adds one.
 */
export function perplexityWindows(model: LanguageModel, text: string, data: PerplexityData = {}): { windows: number[][]; first: number; last: number } {
  const offset = data.offset ?? PERPLEXITY_DEFAULTS.offset;
  const window = data.window ?? PERPLEXITY_DEFAULTS.window;
  const bos = model.tokenizer.addBosToken ? model.tokenizer.bosTokenId : undefined;
  const body = bos === undefined ? window : window - 1;
  const count = Math.min(data.tokens ?? PERPLEXITY_DEFAULTS.tokens, data.limit === undefined ? Infinity : data.limit * body);
  const tokens = leadingTokens((t) => model.encode(t, { addSpecialTokens: false }), text, offset + count).slice(offset);
  const windows = splitWindows(tokens, window, { bos, ...(data.limit !== undefined ? { maxWindows: data.limit } : {}) });
  if (windows.length === 0) throw new InputError({ file: "wikitext", field: "tokens", expected: `at least one window of ${window} tokens after offset ${offset}`, actual: `${tokens.length} tokens` });
  return { windows, first: offset, last: offset + windows.length * body - 1 };
}

/**
 * Teacher-forced perplexity of `windows` under one configuration; for a skipping one also the yardstick against the
 * full model (KL, top-1 agreement, the full model's perplexity, decode speed-up over the full model's steps).
 */
export async function runPerplexity(
  model: LanguageModel, windows: readonly (readonly number[])[], config: EvalConfig,
  options: { onWindow?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<TaskSummary & { seconds: number }> {
  const started = performance.now();
  if (config.policy.kind === "off") {
    const result = await evaluatePerplexity(model, windows, config.policy, options);
    const seconds = (performance.now() - started) / 1000;
    return {
      n: result.windows,
      metrics: {
        perplexity: num(result.perplexity, 4), perplexityAfterWarmup: num(result.perplexityAfterWarmup, 4), nll: num(result.nll), tokens: result.tokens, windows: result.windows,
      },
      skip: result.skip,
      // Every scored token after the first of each window is one decode step (plus a 1-token prefill per window).
      decodeTokensPerSecond: round(result.skip.tokens / seconds, 2),
      prefillTokensPerSecond: 0,
      seconds: round(seconds, 1),
    };
  }
  const d = await evaluateDivergence(model, windows, config.policy, options);
  const seconds = (performance.now() - started) / 1000;
  return {
    n: d.windows,
    metrics: {
      perplexity: num(d.perplexity, 4), perplexityAfterWarmup: num(d.perplexityAfterWarmup, 4), nll: num(d.nll),
      perplexityFull: num(d.perplexityFull, 4), perplexityFullAfterWarmup: num(d.perplexityFullAfterWarmup, 4),
      kl: num(d.kl), klAfterWarmup: num(d.klAfterWarmup), klP99: num(d.klP99), top1: num(d.top1), top1AfterWarmup: num(d.top1AfterWarmup),
      decodeSpeedup: d.decodeMs > 0 ? num(d.decodeMsFull / d.decodeMs, 3) : null,
      tokens: d.tokens, tokensAfterWarmup: d.tokensAfterWarmup, windows: d.windows,
    },
    skip: d.skip,
    decodeTokensPerSecond: d.decodeMs > 0 ? round((d.skip.tokens * 1000) / d.decodeMs, 2) : 0,
    prefillTokensPerSecond: 0,
    seconds: round(seconds, 1),
  };
}
