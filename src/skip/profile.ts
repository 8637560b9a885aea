// Skip profiles: the result of `ffnskip calibrate` as JSON. A profile names the model it was calibrated on (by
// fingerprint), the paper policy's parameters that reached the target ratio on the calibration text, the
// input-agnostic layer set for the same ratio, and the per-layer similarity curve the cold regions came from.

import { ConfigError, show } from "../errors.js";
import { parseJson } from "../io/byte-reader.js";
import { type SkipPolicy, validatePolicy } from "./policies.js";

export const PROFILE_FORMAT = "ffnskip-skip-profile/1";

export interface SkipProfile {
  readonly format: typeof PROFILE_FORMAT;
  readonly model: { readonly name: string; readonly fingerprint: string; readonly layers: number };
  /** The paper policy: warm-up tokens, cold regions, similarity threshold and k. */
  readonly warmup: number;
  readonly coldStart: number;
  readonly coldEnd: number;
  readonly threshold: number;
  readonly k: number;
  /** Layers the `fixed` baseline skips at the same target ratio (most redundant on average first). */
  readonly fixedLayers: readonly number[];
  /** The skip ratio asked for (after warm-up) and what the paper policy reached on the calibration text. */
  readonly target: number;
  readonly measured: {
    readonly ratio: number;
    readonly ratioAfterWarmup: number;
    readonly tokens: number;
    readonly data: string;
    /** Tokens per window and windows (each window a teacher-forced sequence; its first token prefilled). */
    readonly window?: number;
    readonly windows?: number;
    /** Teacher-forced calibration perplexity: full model, the paper policy, and the baselines at the same ratio. */
    readonly perplexityFull?: number;
    readonly perplexitySkip?: number;
    readonly perplexityFixed?: number;
    /** The fixed baseline's ratio after warm-up (fixedLayers / layers). */
    readonly fixedRatio?: number;
    readonly perplexityRandom?: number;
  };
  /** Per layer: mean similarity and its 10th/90th percentiles over the calibration tokens (full model). */
  readonly similarity: { readonly mean: readonly number[]; readonly p10: readonly number[]; readonly p90: readonly number[] };
  /** How calibration got there: the cold-layer cutoff, the ratio tolerance and every teacher-forced run. */
  readonly search?: {
    readonly coldCutoff: number;
    readonly tolerance: number;
    readonly runs: readonly { readonly k: number; readonly threshold: number; readonly ratioAfterWarmup: number; readonly perplexity: number }[];
  };
  readonly created?: { readonly command?: string; readonly commit?: string; readonly date?: string };
}

/** Parses and validates a profile from JSON text or an object. */
export function parseSkipProfile(input: string | object, file = "skip profile"): SkipProfile {
  const value = typeof input === "string" ? parseJson(input, file) : input;
  if (typeof value !== "object" || value === null) throw new ConfigError({ file, expected: "a JSON object", actual: show(value) });
  const p = value as Record<string, unknown>;
  if (p.format !== PROFILE_FORMAT) throw new ConfigError({ file, field: "format", expected: JSON.stringify(PROFILE_FORMAT), actual: show(p.format) });
  const model = p.model as Record<string, unknown> | undefined;
  if (typeof model !== "object" || model === null || typeof model.fingerprint !== "string" || typeof model.name !== "string" || !Number.isSafeInteger(model.layers) || (model.layers as number) < 1) {
    throw new ConfigError({ file, field: "model", expected: "{ name, fingerprint, layers }", actual: show(model) });
  }
  const layers = model.layers as number;
  validatePolicy(paperPolicy(p as unknown as SkipProfile), layers, file);
  validatePolicy({ kind: "fixed", warmup: p.warmup as number, layers: p.fixedLayers as number[] }, layers, file);
  if (typeof p.target !== "number" || !(p.target >= 0 && p.target < 1)) throw new ConfigError({ file, field: "target", expected: "a ratio in [0, 1)", actual: show(p.target) });
  const sim = p.similarity as Record<string, unknown> | undefined;
  for (const key of ["mean", "p10", "p90"]) {
    const curve = sim?.[key];
    if (!Array.isArray(curve) || curve.length !== layers || !curve.every((v) => typeof v === "number" && Number.isFinite(v))) {
      throw new ConfigError({ file, field: `similarity.${key}`, expected: `${layers} finite numbers`, actual: show(curve) });
    }
  }
  const measured = p.measured as Record<string, unknown> | undefined;
  if (typeof measured !== "object" || measured === null || typeof measured.ratio !== "number" || typeof measured.ratioAfterWarmup !== "number" || typeof measured.tokens !== "number" || typeof measured.data !== "string") {
    throw new ConfigError({ file, field: "measured", expected: "{ ratio, ratioAfterWarmup, tokens, data }", actual: show(measured) });
  }
  return Object.freeze(p as unknown as SkipProfile);
}

export function paperPolicy(profile: SkipProfile): SkipPolicy {
  return { kind: "paper", warmup: profile.warmup, coldStart: profile.coldStart, coldEnd: profile.coldEnd, threshold: profile.threshold, k: profile.k };
}

export function isSkipProfile(value: unknown): value is SkipProfile {
  return typeof value === "object" && value !== null && (value as { format?: unknown }).format === PROFILE_FORMAT;
}
