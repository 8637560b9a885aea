// Calibration: from a model and some text (as token windows) to a skip profile. Portable (no fs); the CLI
// (src/cli/calibrate.ts) reads the data file and writes the profile and the plot.
//
//  1. Record cos(h, h + FFN(RMSNorm(h))) for every layer and token with the full model (batched prefill of each
//     window, so this is fast), and summarize it per layer: mean, p10, p90 (over every token but the windows' first,
//     which has no context and is always prefilled).
//  2. Cold regions (coldRegions below): with M the median over layers of the mean similarity and D the median over
//     layers of (mean - p10), a layer is cold when its mean is below M - 4 D (it changes the residual far more than a
//     typical layer). The cold regions are the runs of cold layers touching each end, and each has at least one
//     layer (layer 0 and layer L-1 always run). Cold layers inside the middle are left to the threshold.
//  3. For each k among the candidates, a threshold that reaches the target ratio (after warm-up): first from a
//     replay of the rule on the recorded similarities, then refined with real teacher-forced runs of the controller
//     (src/score.ts): the replay corrected by the measured offset, or, once runs bracket the target,
//     linear interpolation between them, until the measured ratio is within the tolerance.
//  4. k: the lowest calibration perplexity at the target ratio (interpolated in log-perplexity between bracketing
//     runs), among the k whose runs got within the tolerance.
//  5. The fixed baseline: the round(target x L) middle layers with the highest mean similarity; its and the random
//     baseline's perplexity are measured at the same ratio (optional).

import { ConfigError, InputError, show } from "./errors.js";
import { type TeacherForcedResult, teacherForcedNll } from "./score.js";
import type { LanguageModel } from "./language-model.js";
import { SKIP_OFF, type SkipPolicy } from "./skip/policies.js";
import { parseSkipProfile, PROFILE_FORMAT, type SkipProfile } from "./skip/profile.js";
import {
  decodeStepsAfterWarmup, recordSimilarities, type SimilarityCurve, type SimilarityRecord, similarityCurve, simulatePaperRatio, simulatedThreshold,
} from "./skip/similarity.js";
import { layerCountForRatio, mostRedundantLayers } from "./skip/spec.js";
import { SURROGATE_FORMAT, type SurrogateFile } from "./model/surrogates.js";
import { DEFAULT_SURROGATE_LAMBDA, DEFAULT_SURROGATE_RANK, fitSurrogates, type SurrogateFitOptions } from "./skip/surrogate-fit.js";

/**
 * Default warm-up: 6 decode steps. The paper suggests ~5-10% of the maximum generation length; 6 is ~5% of a
 * 128-token reply, and keeps skipping on for most of a short factoid answer (our QA evaluation generates at most
 * ~24 tokens; the first generated token always comes from the prompt's prefill, so the first 7 run in full).
 */
export const DEFAULT_WARMUP = 6;
export const DEFAULT_WINDOW = 128;
export const DEFAULT_K_CANDIDATES: readonly number[] = Object.freeze([1, 2, 3, 4]);

export interface CalibrateOptions {
  /** Skip ratio to reach after warm-up, in (0, 1). */
  readonly target: number;
  /** Names the calibration text in the profile. */
  readonly data: string;
  /** Warm-up decode steps per sequence (default DEFAULT_WARMUP). */
  readonly warmup?: number;
  /** k values to try (default 1, 2, 3, 4). */
  readonly kCandidates?: readonly number[];
  /** Accepted |measured - target| (default 0.005). */
  readonly tolerance?: number;
  /** Most teacher-forced runs per k while refining the threshold (default 4). */
  readonly maxRuns?: number;
  /** Also measure the fixed and random baselines' perplexity at the target ratio (default true). */
  readonly baselines?: boolean;
  readonly created?: SkipProfile["created"];
  /** Progress messages (one line each). */
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/** One teacher-forced run of the paper policy during the threshold search. */
export interface CalibrationRun {
  readonly k: number;
  readonly threshold: number;
  /** The ratio the replay on recorded similarities predicted. */
  readonly simulatedRatio: number;
  readonly ratio: number;
  readonly ratioAfterWarmup: number;
  readonly perplexity: number;
  readonly seconds: number;
}

export interface CalibrationResult {
  readonly profile: SkipProfile;
  readonly record: SimilarityRecord;
  readonly curve: SimilarityCurve;
  /** Every paper-policy run, in order. */
  readonly runs: readonly CalibrationRun[];
  /** Per k: the run closest to the target and the perplexity estimated at exactly the target. */
  readonly candidates: readonly { k: number; best: CalibrationRun; perplexityAtTarget: number }[];
  readonly full: TeacherForcedResult;
  readonly seconds: number;
}

/** The cold regions from a similarity curve (rule in the header): the middle region is [coldStart, coldEnd). */
export function coldRegions(curve: SimilarityCurve): { coldStart: number; coldEnd: number; cutoff: number } {
  const layers = curve.mean.length;
  if (layers < 3) {
    throw new ConfigError({ file: "calibration", field: "layers", expected: "at least 3 layers (one cold layer at each end and a middle)", actual: String(layers) });
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const m = median(curve.mean);
  const d = median(curve.mean.map((v, l) => v - curve.p10[l]!));
  const cutoff = m - 4 * d;
  let coldStart = 1;
  while (coldStart < layers - 1 && curve.mean[coldStart]! < cutoff) coldStart++;
  let coldEnd = layers - 1;
  while (coldEnd > coldStart && curve.mean[coldEnd - 1]! < cutoff) coldEnd--;
  return { coldStart, coldEnd, cutoff };
}

function fail(field: string, expected: string, actual: unknown): InputError {
  return new InputError({ file: "calibrate options", field, expected, actual: show(actual) });
}

const roundTo = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Calibrates the paper policy on `windows` (token windows of the calibration text; each starts a sequence) so that
 * it skips `target` of the FFN blocks after warm-up, and returns the profile. Takes the model's KV cache for the
 * duration (runs after its pending calls).
 */
export function calibrate(model: LanguageModel, windows: readonly (readonly number[])[], options: CalibrateOptions): Promise<CalibrationResult> {
  const warmup = options.warmup ?? DEFAULT_WARMUP;
  const kCandidates = options.kCandidates ?? DEFAULT_K_CANDIDATES;
  const tolerance = options.tolerance ?? 0.005;
  const maxRuns = options.maxRuns ?? 4;
  const L = model.config.numLayers;
  if (typeof options.target !== "number" || !(options.target > 0 && options.target < 1)) throw fail("target", "a skip ratio in (0, 1)", options.target);
  if (!Number.isSafeInteger(warmup) || warmup < 0) throw fail("warmup", "an integer >= 0", warmup);
  if (kCandidates.length === 0 || !kCandidates.every((k) => Number.isSafeInteger(k) && k >= 1 && k < L)) throw fail("kCandidates", `integers in 1..${L - 1}`, kCandidates);
  if (!(tolerance > 0)) throw fail("tolerance", "a positive ratio", tolerance);
  if (!Number.isSafeInteger(maxRuns) || maxRuns < 1) throw fail("maxRuns", "an integer >= 1", maxRuns);
  if (windows.length === 0 || windows.some((w) => w.length < warmup + 3)) throw fail("windows", `at least one window, each of at least warmup + 3 = ${warmup + 3} tokens`, `${windows.length} windows`);

  return model.exclusive(async () => {
    try {
      return await run(model, windows, options, { warmup, kCandidates, tolerance, maxRuns });
    } finally {
      model.session.forget(); // the similarity record wrote the KV cache behind the session's back
    }
  });
}

async function run(
  model: LanguageModel, windows: readonly (readonly number[])[], options: CalibrateOptions,
  settings: { warmup: number; kCandidates: readonly number[]; tolerance: number; maxRuns: number },
): Promise<CalibrationResult> {
  const { warmup, kCandidates, tolerance, maxRuns } = settings;
  const { target } = options;
  const transformer = model.transformer;
  const L = model.config.numLayers;
  const say = options.onProgress ?? (() => {});
  const started = performance.now();
  const tokens = windows.reduce((sum, w) => sum + w.length, 0);

  say(`recording FFN similarities: ${windows.length} windows, ${tokens} tokens`);
  const record = recordSimilarities(transformer, windows);
  const curve = similarityCurve(record, (i) => record.position[i]! >= 1);
  const { coldStart, coldEnd, cutoff } = coldRegions(curve);
  say(`cold layers: mean similarity < ${cutoff.toFixed(4)} at the ends -> middle region ${coldStart}..${coldEnd - 1}`);
  const steps = decodeStepsAfterWarmup(record, warmup);

  const teacherForced = async (policy: SkipPolicy, label: string) => {
    const t0 = performance.now();
    const result = await teacherForcedNll(model.session, windows, policy, { signal: options.signal });
    const seconds = (performance.now() - t0) / 1000;
    say(`${label}: perplexity ${result.perplexity.toFixed(4)}, skipped ${(100 * result.skip.ratio).toFixed(2)}% (${(100 * result.skip.ratioAfterWarmup).toFixed(2)}% after warm-up), ${seconds.toFixed(1)} s`);
    return { result, seconds };
  };

  const { result: full } = await teacherForced(SKIP_OFF, "full model");

  const runs: CalibrationRun[] = [];
  const candidates: { k: number; best: CalibrationRun; perplexityAtTarget: number }[] = [];
  for (const k of kCandidates) {
    const shape = { coldStart, coldEnd, k };
    const simulate = (threshold: number) => simulatePaperRatio(record, steps, { ...shape, threshold });
    const mine: CalibrationRun[] = [];
    let threshold = simulatedThreshold(record, steps, shape, target);
    for (let attempt = 0; attempt < maxRuns; attempt++) {
      if (mine.some((r) => r.threshold === threshold)) break;
      const policy: SkipPolicy = { kind: "paper", warmup, coldStart, coldEnd, threshold, k };
      const { result, seconds } = await teacherForced(policy, `k=${k} threshold=${threshold}`);
      const entry: CalibrationRun = {
        k, threshold, simulatedRatio: roundTo(simulate(threshold), 5), ratio: roundTo(result.skip.ratio, 5),
        ratioAfterWarmup: roundTo(result.skip.ratioAfterWarmup, 5), perplexity: roundTo(result.perplexity, 4), seconds: roundTo(seconds, 1),
      };
      mine.push(entry);
      runs.push(entry);
      if (Math.abs(result.skip.ratioAfterWarmup - target) <= tolerance) break;
      threshold = nextThreshold(mine, target, (ratio) => simulatedThreshold(record, steps, shape, ratio), simulate);
    }
    const best = closest(mine, target);
    candidates.push({ k, best, perplexityAtTarget: roundTo(perplexityAt(mine, target), 4) });
  }

  const within = candidates.filter((c) => Math.abs(c.best.ratioAfterWarmup - target) <= tolerance);
  const chosen = within.length > 0
    ? within.reduce((a, b) => (b.perplexityAtTarget < a.perplexityAtTarget ? b : a))
    : candidates.reduce((a, b) => (Math.abs(b.best.ratioAfterWarmup - target) < Math.abs(a.best.ratioAfterWarmup - target) ? b : a));
  say(`chosen: k=${chosen.k} threshold=${chosen.best.threshold} (perplexity at the target: ${candidates.map((c) => `k=${c.k} ${c.perplexityAtTarget}`).join(", ")})`);

  const fixedLayers = mostRedundantLayers(curve.mean, coldStart, coldEnd, Math.min(coldEnd - coldStart, layerCountForRatio(target, L)), "calibration");
  let perplexityFixed: number | undefined;
  let perplexityRandom: number | undefined;
  if (options.baselines ?? true) {
    perplexityFixed = roundTo((await teacherForced({ kind: "fixed", warmup, layers: fixedLayers }, `fixed ${fixedLayers.join(",")}`)).result.perplexity, 4);
    const random: SkipPolicy = { kind: "random", warmup, coldStart, coldEnd, count: fixedLayers.length, seed: 0 };
    perplexityRandom = roundTo((await teacherForced(random, `random ${fixedLayers.length} layers`)).result.perplexity, 4);
  }

  const profile: SkipProfile = {
    format: PROFILE_FORMAT,
    model: { name: model.name.split(/[\\/]/).pop() || model.name, fingerprint: model.fingerprint, layers: L },
    warmup,
    coldStart,
    coldEnd,
    threshold: chosen.best.threshold,
    k: chosen.k,
    fixedLayers,
    target,
    measured: {
      ratio: chosen.best.ratio,
      ratioAfterWarmup: chosen.best.ratioAfterWarmup,
      tokens,
      data: options.data,
      window: windows[0]!.length,
      windows: windows.length,
      perplexityFull: roundTo(full.perplexity, 4),
      perplexitySkip: chosen.best.perplexity,
      ...(perplexityFixed !== undefined ? { perplexityFixed, fixedRatio: roundTo(fixedLayers.length / L, 5) } : {}),
      ...(perplexityRandom !== undefined ? { perplexityRandom } : {}),
    },
    similarity: curve,
    search: {
      coldCutoff: roundTo(cutoff, 5),
      tolerance,
      runs: runs.map(({ k, threshold, ratioAfterWarmup, perplexity }) => ({ k, threshold, ratioAfterWarmup, perplexity })),
    },
    ...(options.created !== undefined ? { created: options.created } : {}),
  };
  return {
    profile: parseSkipProfile(profile, "calibrated profile"),
    record,
    curve,
    runs,
    candidates,
    full,
    seconds: (performance.now() - started) / 1000,
  };
}

function closest(runs: readonly CalibrationRun[], target: number): CalibrationRun {
  return runs.reduce((a, b) => (Math.abs(b.ratioAfterWarmup - target) < Math.abs(a.ratioAfterWarmup - target) ? b : a));
}

/** The nearest runs below and above the target ratio, when there are both. */
function bracket(runs: readonly CalibrationRun[], target: number): [CalibrationRun, CalibrationRun] | null {
  const above = runs.filter((r) => r.ratioAfterWarmup > target).sort((a, b) => a.ratioAfterWarmup - b.ratioAfterWarmup)[0];
  const below = runs.filter((r) => r.ratioAfterWarmup <= target).sort((a, b) => b.ratioAfterWarmup - a.ratioAfterWarmup)[0];
  return above !== undefined && below !== undefined ? [above, below] : null;
}

/** Perplexity at exactly the target ratio: log-linear between bracketing runs, else the closest run's. */
function perplexityAt(runs: readonly CalibrationRun[], target: number): number {
  const b = bracket(runs, target);
  if (b === null || b[0].ratioAfterWarmup === b[1].ratioAfterWarmup) return closest(runs, target).perplexity;
  const [above, below] = b;
  const t = (target - below.ratioAfterWarmup) / (above.ratioAfterWarmup - below.ratioAfterWarmup);
  return Math.exp(Math.log(below.perplexity) + t * (Math.log(above.perplexity) - Math.log(below.perplexity)));
}

/**
 * The next threshold to try (the ratio falls as the threshold rises): between runs that bracket the target, linear
 * interpolation; with two runs on one side, the secant through the two closest; after one run, the replay's
 * threshold for the target shifted by that run's error (the replay underestimates how the model reacts to skips).
 */
function nextThreshold(runs: readonly CalibrationRun[], target: number, solve: (ratio: number) => number, simulate: (threshold: number) => number): number {
  const tried = (t: number) => runs.some((r) => r.threshold === t);
  const b = bracket(runs, target);
  if (b !== null) {
    const [above, below] = b;
    const t = (target - above.ratioAfterWarmup) / (below.ratioAfterWarmup - above.ratioAfterWarmup);
    let next = roundTo(above.threshold + t * (below.threshold - above.threshold), 4);
    if (next <= Math.min(above.threshold, below.threshold) || next >= Math.max(above.threshold, below.threshold) || tried(next)) next = roundTo((above.threshold + below.threshold) / 2, 4);
    return next;
  }
  const last = runs[runs.length - 1]!;
  const [a, c] = [...runs].sort((x, y) => Math.abs(x.ratioAfterWarmup - target) - Math.abs(y.ratioAfterWarmup - target));
  let next: number | undefined;
  if (a !== undefined && c !== undefined && a.ratioAfterWarmup !== c.ratioAfterWarmup) {
    const slope = (a.threshold - c.threshold) / (a.ratioAfterWarmup - c.ratioAfterWarmup);
    if (slope < 0) next = roundTo(a.threshold + (target - a.ratioAfterWarmup) * slope, 4);
  }
  next ??= solve(Math.min(0.999, Math.max(0, target + (simulate(last.threshold) - last.ratioAfterWarmup))));
  // Never repeat a threshold: step past the closest run in the direction the ratio needs.
  if (tried(next)) next = roundTo(a!.threshold + (a!.ratioAfterWarmup > target ? 0.0005 : -0.0005), 4);
  return Math.max(-1, Math.min(1, next));
}

export interface SurrogateCalibrationOptions extends SurrogateFitOptions {
  /** Names the calibration text in the file. */
  readonly data: string;
  /** Store U and Vᵀ as F16 (half the file and memory) instead of F32. */
  readonly dtype?: "F32" | "F16";
  readonly created?: SkipProfile["created"];
}

/**
 * Fits an FFN surrogate for each layer on `windows` of calibration text (the method is in skip/surrogate-fit.ts)
 * and returns the surrogate file for this model (model/surrogates.ts; writeSurrogates() gives its bytes). Takes
 * the model's KV cache for the duration (runs after its pending calls).
 */
export function calibrateSurrogates(model: LanguageModel, windows: readonly (readonly number[])[], options: SurrogateCalibrationOptions): Promise<SurrogateFile> {
  if (windows.length === 0 || windows.some((w) => w.length < 2)) throw fail("windows", "at least one window, each of at least 2 tokens", `${windows.length} windows`);
  return model.exclusive(async () => {
    try {
      const rank = options.rank ?? DEFAULT_SURROGATE_RANK;
      const started = performance.now();
      const fit = fitSurrogates(model.transformer, windows, options);
      return {
        format: SURROGATE_FORMAT,
        model: { name: model.name.split(/[\\/]/).pop() || model.name, fingerprint: model.fingerprint },
        hidden: model.config.hiddenSize,
        layers: model.config.numLayers,
        rank,
        dtype: options.dtype ?? "F32",
        surrogates: fit.surrogates,
        fit: {
          method: "reduced-rank ridge regression on the FFN input RMSNorm(x) * ffnNorm (skip/surrogate-fit.ts)",
          lambda: options.lambda ?? DEFAULT_SURROGATE_LAMBDA,
          data: options.data,
          windows: windows.length,
          window: windows[0]!.length,
          tokens: fit.tokens,
          layers: fit.surrogates.map((s) => s.layer),
          r2: fit.r2.map((v) => roundTo(v, 5)),
          seconds: roundTo((performance.now() - started) / 1000, 1),
          ...(options.created !== undefined ? { created: options.created } : {}),
        },
      };
    } finally {
      model.session.forget(); // the fit's prefills wrote the KV cache behind the session's back
    }
  });
}
