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
// Portable (no fs); runs synchronously between windows and yields to the event loop after each window.

import { InputError, show } from "./errors.js";
import type { LanguageModel } from "./language-model.js";
import type { Session } from "./generate.js";
import { SkipController, type SkipStats, skipStats } from "./skip/controller.js";
import type { SkipPolicy } from "./skip/policies.js";

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
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return Math.log(sum) + max - logits[target]!;
}

/**
 * Teacher-forced NLL of `windows` through `session` under `policy`. Overwrites the session's KV cache: on a
 * LanguageModel use evaluatePerplexity(), which also waits for the model's pending calls.
 */
export async function teacherForcedNll(session: Session, windows: readonly (readonly number[])[], policy: SkipPolicy, options: TeacherForcedOptions = {}): Promise<TeacherForcedResult> {
  const prefix = options.prefix ?? 1;
  const { transformer } = session;
  const layers = transformer.config.numLayers;
  if (!Number.isSafeInteger(prefix) || prefix < 1) throw new InputError({ file: "teacher-forced", field: "prefix", expected: "an integer >= 1", actual: show(prefix) });
  if (windows.length === 0) throw new InputError({ file: "teacher-forced", field: "windows", expected: "at least one window", actual: "none" });
  for (const [i, w] of windows.entries()) {
    if (w.length <= prefix || w.length > transformer.state.maxContext) {
      throw new InputError({ file: "teacher-forced", field: `windows[${i}]`, expected: `${prefix + 1}..${transformer.state.maxContext} tokens (prefix + 1 up to the context)`, actual: `${w.length} tokens` });
    }
  }
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

/** teacherForcedNll() on a LanguageModel's session, after the model's pending calls (they share the KV cache). */
export function evaluatePerplexity(model: LanguageModel, windows: readonly (readonly number[])[], policy: SkipPolicy, options: TeacherForcedOptions = {}): Promise<TeacherForcedResult> {
  return model.exclusive(() => teacherForcedNll(model.session, windows, policy, options));
}

/** A macrotask turn (timers, I/O and abort events run), portable across JS runtimes. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
