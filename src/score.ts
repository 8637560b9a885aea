// Teacher-forced negative log-likelihood (perplexity) of token windows under an FFN-skip policy. Used by
// `ffnskip calibrate` to tune the paper policy and by the evaluation harness to compare policies.
//
// Teacher forcing, as the skip methods are evaluated here: each window starts a fresh sequence at position 0; its
// first `prefix` tokens are prefilled with the full model (like a prompt), and every later token is one decode step
// under a SkipController for the policy, fed the true token (not a sampled one). The controller is reset per
// window, so the warm-up (policy.warmup decode steps run in full) counts from each window's start, exactly as it
// counts from the end of the prompt when generating. Scored: every window token after the prefix, each predicted
// from the logits of the position before it (so the first scored token comes from the prefill's logits and is
// never affected by skipping). The decode step of a window's last token is not run: it would predict nothing.
//
// The yardstick (teacherForcedDivergence): the same windows through the full model and through the policy, and per
// scored token the KL divergence KL(full || skipped) of the next-token distributions and whether their top-1 tokens
// agree, as llama.cpp's --kl-divergence reports them (the full model's distribution is the reference, natural log,
// mean over the scored tokens, and the 99th percentile). Tokens predicted by the prefill or by warm-up steps score
// KL 0 (every FFN ran for them), so the means are also given over the tokens after the warm-up.
//
// Portable (no fs); runs synchronously between windows and yields to the event loop after each window.

import { InputError, show } from "./errors.js";
import type { LanguageModel } from "./language-model.js";
import type { Session } from "./generate.js";
import { SkipController, type SkipStats, skipStats } from "./skip/controller.js";
import { SKIP_OFF, type SkipPolicy } from "./skip/policies.js";
import { quantile } from "./skip/similarity.js";

export interface TeacherForcedOptions {
  /** Tokens prefilled at the start of each window (default 1). */
  readonly prefix?: number;
  /** Called after each window with the number done and the total. */
  readonly onWindow?: (done: number, total: number) => void;
  /** Stops between windows (throws the signal's reason, or an InputError). */
  readonly signal?: AbortSignal;
}

export interface TeacherForcedResult {
  readonly windows: number;
  /** Scored tokens (window tokens after the prefix). */
  readonly tokens: number;
  /** Mean NLL per scored token, in nats. */
  readonly nll: number;
  /** exp(nll). */
  readonly perplexity: number;
  /** Mean NLL and perplexity over the tokens predicted by decode steps after the warm-up (NaN if none). */
  readonly nllAfterWarmup: number;
  readonly perplexityAfterWarmup: number;
  /** NLL of every scored token, window by window. */
  readonly tokenNll: Float32Array;
  /** Skip statistics summed over all windows' decode steps (warm-up counted from each window's start). */
  readonly skip: SkipStats;
  /** FFN blocks skipped per layer, over all decode steps. */
  readonly skippedPerLayer: readonly number[];
}

/** Splits `tokens` into consecutive windows of `window` tokens (a shorter tail is dropped); `bos` starts each. */
export function splitWindows(tokens: readonly number[], window: number, options: { bos?: number; maxWindows?: number } = {}): number[][] {
  if (!Number.isSafeInteger(window) || window < 2) throw new InputError({ file: "teacher-forced", field: "window", expected: "an integer >= 2", actual: show(window) });
  const body = options.bos === undefined ? window : window - 1;
  const windows: number[][] = [];
  for (let start = 0; start + body <= tokens.length && windows.length < (options.maxWindows ?? Infinity); start += body) {
    const slice = tokens.slice(start, start + body);
    windows.push(options.bos === undefined ? slice : [options.bos, ...slice]);
  }
  return windows;
}

/**
 * The first `needed` tokens of `text`, tokenizing only as much of it as needed: the text is cut at a line end, so no
 * word is split and the tokens before the cut do not depend on what follows it.
 */
export function leadingTokens(encode: (text: string) => number[], text: string, needed: number): number[] {
  let chars = needed * 6 + 1024;
  while (true) {
    if (chars >= text.length) return encode(text).slice(0, needed);
    const cut = text.indexOf("\n", chars);
    const ids = encode(cut === -1 ? text : text.slice(0, cut + 1));
    if (ids.length >= needed + 16 || cut === -1) return ids.slice(0, needed);
    chars *= 2;
  }
}

/** -log softmax(logits)[target], computed in double precision. */
export function tokenNll(logits: Float32Array, target: number): number {
  return logSumExp(logits) - logits[target]!;
}

/** log-sum-exp of the logits, in double precision. */
function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return Math.log(sum) + max;
}

/**
 * KL(P || Q) in nats of the distributions softmax(reference) = P and softmax(other) = Q, in double precision:
 * sum_i p_i (log p_i - log q_i). Non-negative up to rounding (clamped at 0).
 */
export function klDivergence(reference: Float32Array, other: Float32Array): number {
  if (reference.length !== other.length || reference.length === 0) {
    throw new InputError({ file: "klDivergence", field: "logits", expected: "two non-empty rows of the same length", actual: `${reference.length} and ${other.length} values` });
  }
  const zp = logSumExp(reference);
  const zq = logSumExp(other);
  let kl = 0;
  for (let i = 0; i < reference.length; i++) {
    const logP = reference[i]! - zp;
    kl += Math.exp(logP) * (logP - (other[i]! - zq));
  }
  return Math.max(0, kl);
}

/** Index of the largest logit (the first of equal ones). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * Teacher-forced NLL of `windows` through `session` under `policy`. Overwrites the session's KV cache: on a
 * LanguageModel use evaluatePerplexity(), which also waits for the model's pending calls.
 */
export async function teacherForcedNll(session: Session, windows: readonly (readonly number[])[], policy: SkipPolicy, options: TeacherForcedOptions = {}): Promise<TeacherForcedResult> {
  const prefix = options.prefix ?? 1;
  const layers = session.transformer.config.numLayers;
  checkWindows(session, windows, prefix);
  const controller = new SkipController(policy, layers, false);
  const warmup = policy.kind === "off" ? 0 : policy.warmup;
  const nlls = new Float32Array(windows.reduce((sum, w) => sum + w.length - prefix, 0));
  let scored = 0;
  let sumAfter = 0;
  let countAfter = 0;
  let steps = 0;
  let warmupSteps = 0;
  let skipped = 0;
  for (const [index, w] of windows.entries()) {
    if (options.signal?.aborted) throw options.signal.reason ?? new InputError({ file: "teacher-forced", expected: "no abort", actual: "aborted" });
    controller.reset();
    let logits = session.prefill(w.slice(0, prefix)).logits;
    for (let i = prefix; i < w.length; i++) {
      const nll = tokenNll(logits, w[i]!);
      nlls[scored++] = nll;
      // Token i was predicted by decode step i - prefix - 1 (the first by the prefill).
      const step = i - prefix - 1;
      if (step >= warmup) {
        sumAfter += nll;
        countAfter++;
      }
      if (i === w.length - 1) break;
      logits = session.step(w[i]!, i, controller);
    }
    const s = controller.stats();
    steps += s.tokens;
    warmupSteps += s.warmupTokens;
    skipped += s.skipped;
    options.onWindow?.(index + 1, windows.length);
    await macrotask();
  }
  const mean = nlls.reduce((a, b) => a + b, 0) / scored;
  const after = countAfter > 0 ? sumAfter / countAfter : NaN;
  return {
    windows: windows.length,
    tokens: scored,
    nll: mean,
    perplexity: Math.exp(mean),
    nllAfterWarmup: after,
    perplexityAfterWarmup: Math.exp(after),
    tokenNll: nlls,
    skip: skipStats(layers, steps, warmupSteps, skipped),
    skippedPerLayer: [...controller.skippedPerLayer],
  };
}

export interface DivergenceResult {
  readonly windows: number;
  /** Scored tokens (window tokens after the prefix), and those predicted by decode steps after the warm-up. */
  readonly tokens: number;
  readonly tokensAfterWarmup: number;
  /** Mean KL(full || skipped) per scored token in nats, over all scored tokens and after the warm-up. */
  readonly kl: number;
  readonly klAfterWarmup: number;
  /** 99th percentile of the per-token KL (all scored tokens; numpy's linear interpolation). */
  readonly klP99: number;
  /** Fraction of scored tokens whose most likely next token is the full model's, over all and after the warm-up. */
  readonly top1: number;
  readonly top1AfterWarmup: number;
  /** Mean NLL of the true next token (nats) and perplexity: the full model and the policy, all scored tokens. */
  readonly nllFull: number;
  readonly perplexityFull: number;
  readonly nll: number;
  readonly perplexity: number;
  readonly perplexityAfterWarmup: number;
  readonly perplexityFullAfterWarmup: number;
  /** KL of every scored token, window by window. */
  readonly tokenKl: Float32Array;
  /** The policy's skip statistics (skipStats()) over all windows' decode steps. */
  readonly skip: SkipStats;
  readonly skippedPerLayer: readonly number[];
  /** Wall-clock milliseconds of the decode steps: the full model's and the policy's (same tokens, same positions). */
  readonly decodeMsFull: number;
  readonly decodeMs: number;
}

/**
 * The yardstick (see the header): every window through the full model, then through `policy`, teacher-forced on
 * the same tokens, compared token by token. Overwrites the session's KV cache: on a LanguageModel use
 * evaluateDivergence(). The full model's logits of one window are held in memory (window x vocab floats).
 */
export async function teacherForcedDivergence(session: Session, windows: readonly (readonly number[])[], policy: SkipPolicy, options: TeacherForcedOptions = {}): Promise<DivergenceResult> {
  const prefix = options.prefix ?? 1;
  const layers = session.transformer.config.numLayers;
  checkWindows(session, windows, prefix);
  const fullController = new SkipController(SKIP_OFF, layers, false);
  const controller = new SkipController(policy, layers, false);
  const warmup = policy.kind === "off" ? 0 : policy.warmup;
  const total = windows.reduce((sum, w) => sum + w.length - prefix, 0);
  const tokenKl = new Float32Array(total);
  let scored = 0;
  const sums = { nllFull: 0, nll: 0, top1: 0, klAfter: 0, top1After: 0, nllAfter: 0, nllFullAfter: 0, after: 0 };
  let steps = 0;
  let warmupSteps = 0;
  let skipped = 0;
  let decodeMsFull = 0;
  let decodeMs = 0;
  for (const [index, w] of windows.entries()) {
    if (options.signal?.aborted) throw options.signal.reason ?? new InputError({ file: "teacher-forced", expected: "no abort", actual: "aborted" });
    // The full model's logits for every scored token of the window (row i - prefix predicts token i).
    const reference: Float32Array[] = [];
    fullController.reset();
    let logits = session.prefill(w.slice(0, prefix)).logits;
    for (let i = prefix; i < w.length; i++) {
      reference.push(new Float32Array(logits));
      if (i === w.length - 1) break;
      const t0 = performance.now();
      logits = session.step(w[i]!, i, fullController);
      decodeMsFull += performance.now() - t0;
    }
    controller.reset();
    logits = session.prefill(w.slice(0, prefix)).logits;
    for (let i = prefix; i < w.length; i++) {
      const full = reference[i - prefix]!;
      const kl = klDivergence(full, logits);
      const nll = tokenNll(logits, w[i]!);
      const nllFull = tokenNll(full, w[i]!);
      const agree = argmax(full) === argmax(logits) ? 1 : 0;
      tokenKl[scored++] = kl;
      sums.nll += nll;
      sums.nllFull += nllFull;
      sums.top1 += agree;
      // Token i was predicted by decode step i - prefix - 1 (the first by the prefill).
      if (i - prefix - 1 >= warmup) {
        sums.after++;
        sums.klAfter += kl;
        sums.top1After += agree;
        sums.nllAfter += nll;
        sums.nllFullAfter += nllFull;
      }
      if (i === w.length - 1) break;
      const t0 = performance.now();
      logits = session.step(w[i]!, i, controller);
      decodeMs += performance.now() - t0;
    }
    const s = controller.stats();
    steps += s.tokens;
    warmupSteps += s.warmupTokens;
    skipped += s.skipped;
    options.onWindow?.(index + 1, windows.length);
    await macrotask();
  }
  const after = (sum: number) => (sums.after > 0 ? sum / sums.after : NaN);
  return {
    windows: windows.length,
    tokens: scored,
    tokensAfterWarmup: sums.after,
    kl: tokenKl.reduce((a, b) => a + b, 0) / scored,
    klAfterWarmup: after(sums.klAfter),
    klP99: quantile(Float64Array.from(tokenKl).sort(), 0.99),
    top1: sums.top1 / scored,
    top1AfterWarmup: after(sums.top1After),
    nllFull: sums.nllFull / scored,
    perplexityFull: Math.exp(sums.nllFull / scored),
    nll: sums.nll / scored,
    perplexity: Math.exp(sums.nll / scored),
    perplexityAfterWarmup: Math.exp(after(sums.nllAfter)),
    perplexityFullAfterWarmup: Math.exp(after(sums.nllFullAfter)),
    tokenKl,
    skip: skipStats(layers, steps, warmupSteps, skipped),
    skippedPerLayer: [...controller.skippedPerLayer],
    decodeMsFull,
    decodeMs,
  };
}

/** teacherForcedDivergence() on a LanguageModel's session, after the model's pending calls. */
export function evaluateDivergence(model: LanguageModel, windows: readonly (readonly number[])[], policy: SkipPolicy, options: TeacherForcedOptions = {}): Promise<DivergenceResult> {
  return model.exclusive(() => teacherForcedDivergence(model.session, windows, policy, options));
}

function checkWindows(session: Session, windows: readonly (readonly number[])[], prefix: number): void {
  const { transformer } = session;
  if (!Number.isSafeInteger(prefix) || prefix < 1) throw new InputError({ file: "teacher-forced", field: "prefix", expected: "an integer >= 1", actual: show(prefix) });
  if (windows.length === 0) throw new InputError({ file: "teacher-forced", field: "windows", expected: "at least one window", actual: "none" });
  for (const [i, w] of windows.entries()) {
    if (w.length <= prefix || w.length > transformer.state.maxContext) {
      throw new InputError({ file: "teacher-forced", field: `windows[${i}]`, expected: `${prefix + 1}..${transformer.state.maxContext} tokens (prefix + 1 up to the context)`, actual: `${w.length} tokens` });
    }
  }
}

/** teacherForcedNll() on a LanguageModel's session, after the model's pending calls (they share the KV cache). */
export function evaluatePerplexity(model: LanguageModel, windows: readonly (readonly number[])[], policy: SkipPolicy, options: TeacherForcedOptions = {}): Promise<TeacherForcedResult> {
  return model.exclusive(() => teacherForcedNll(model.session, windows, policy, options));
}

/** A macrotask turn (timers, I/O and abort events run), portable across JS runtimes. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
