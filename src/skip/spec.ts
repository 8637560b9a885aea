// Skip policies at a chosen ratio, derived from a calibrated profile: the baselines the paper compares against
// (fixed layers, random layers) and the spec strings the CLI and the evaluation harness accept:
//
//   off          the full model
//   on | paper   the profile's paper policy (threshold, k, cold regions, warm-up)
//   fixed:R      the round(R x L) most redundant middle layers by the profile's mean similarity, every token
//   random:R[:S] round(R x L) layers drawn per token from the profile's middle region, seed S (default 0)
//
// R is a skip ratio of all L layers (after warm-up); the warm-up is the profile's unless overridden.

import { ConfigError, InputError, show } from "../errors.js";
import { SKIP_OFF, type SkipPolicy, validatePolicy } from "./policies.js";
import { paperPolicy, type SkipProfile } from "./profile.js";

/** Layers to skip for ratio R of L layers: round(R x L). */
export function layerCountForRatio(ratio: number, layers: number): number {
  return Math.round(ratio * layers);
}

function checkRatio(ratio: number, file: string): void {
  if (typeof ratio !== "number" || !(ratio >= 0 && ratio < 1)) throw new InputError({ file, field: "ratio", expected: "a skip ratio in [0, 1)", actual: show(ratio) });
}

/**
 * The `count` most redundant layers of [coldStart, coldEnd) by mean similarity (highest first; ties to the lower
 * layer), returned in layer order.
 */
export function mostRedundantLayers(mean: readonly number[], coldStart: number, coldEnd: number, count: number, file = "skip profile"): number[] {
  const middle = Array.from({ length: coldEnd - coldStart }, (_, i) => coldStart + i);
  if (count > middle.length) {
    throw new ConfigError({ file, field: "ratio", expected: `at most ${middle.length} layers (the middle region ${coldStart}..${coldEnd - 1})`, actual: `${count} layers` });
  }
  return middle.sort((a, b) => mean[b]! - mean[a]! || a - b).slice(0, count).sort((a, b) => a - b);
}

/** The input-agnostic baseline at `ratio`: the same most-redundant middle layers skipped for every token. */
export function fixedPolicyForRatio(profile: SkipProfile, ratio: number, warmup = profile.warmup): SkipPolicy {
  checkRatio(ratio, "fixed policy");
  const count = layerCountForRatio(ratio, profile.model.layers);
  const layers = mostRedundantLayers(profile.similarity.mean, profile.coldStart, profile.coldEnd, count);
  return validatePolicy({ kind: "fixed", warmup, layers }, profile.model.layers);
}

/** The random baseline at `ratio`: round(ratio x L) layers of the middle region drawn per token, seeded. */
export function randomPolicyForRatio(profile: SkipProfile, ratio: number, seed = 0, warmup = profile.warmup): SkipPolicy {
  checkRatio(ratio, "random policy");
  const count = layerCountForRatio(ratio, profile.model.layers);
  const middle = profile.coldEnd - profile.coldStart;
  if (count > middle) {
    throw new ConfigError({ file: "random policy", field: "ratio", expected: `at most ${middle} layers (the middle region ${profile.coldStart}..${profile.coldEnd - 1})`, actual: `${count} layers` });
  }
  return validatePolicy({ kind: "random", warmup, coldStart: profile.coldStart, coldEnd: profile.coldEnd, count, seed }, profile.model.layers);
}

/** The spec strings, as a type: "fixed:0.25", "random:0.25", "random:0.25:7", ... */
export type SkipSpec = "off" | "on" | "paper" | `fixed:${number}` | `random:${number}` | `random:${number}:${number}`;

/** True for the spec strings resolveSkipSpec() understands (off, on, paper, fixed:R, random:R[:S]). */
export function isSkipSpec(value: string): value is SkipSpec {
  return /^(off|on|paper|fixed:[^:]+|random:[^:]+(:[^:]+)?)$/.test(value);
}

/**
 * A policy from a spec string and the model's profile (needed for everything but "off"). `warmup` overrides the
 * profile's warm-up.
 */
export function resolveSkipSpec(spec: string, profile: SkipProfile | undefined, options: { warmup?: number } = {}): SkipPolicy {
  const file = "skip spec";
  if (spec === "off") return SKIP_OFF;
  const [kind, ratioText, seedText] = spec.split(":");
  if (!isSkipSpec(spec)) throw new InputError({ file, field: "skip", expected: "off, on, paper, fixed:R or random:R[:SEED]", actual: show(spec) });
  if (profile === undefined) throw new ConfigError({ file, field: "skip", expected: `a calibrated profile for this model to resolve ${JSON.stringify(spec)}`, actual: "none", detail: "run `ffnskip calibrate`" });
  const warmup = options.warmup ?? profile.warmup;
  if (kind === "on" || kind === "paper") return validatePolicy({ ...(paperPolicy(profile) as SkipPolicy & { kind: "paper" }), warmup }, profile.model.layers);
  const ratio = Number(ratioText);
  if (ratioText === undefined || ratioText.trim() === "" || !Number.isFinite(ratio)) throw new InputError({ file, field: spec, expected: "a ratio in [0, 1) after the colon", actual: show(ratioText) });
  if (kind === "fixed") return fixedPolicyForRatio(profile, ratio, warmup);
  const seed = seedText === undefined ? 0 : Number(seedText);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new InputError({ file, field: spec, expected: "a seed in 0..2^32-1 after the ratio", actual: show(seedText) });
  return randomPolicyForRatio(profile, ratio, seed, warmup);
}
