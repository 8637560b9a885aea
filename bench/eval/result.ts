// Skip configurations from settings, and the result line every evaluation prints: task, n, metrics, the achieved
// skip ratio (with and without the warm-up steps), decode tok/s, the model's fingerprint, the skip settings
// (policy, parameters, warm-up), the data, and the commit and command that produced it.

import { InputError, show } from "../../src/errors.js";
import type { LanguageModel } from "../../src/language-model.js";
import { type SkipPolicy, validatePolicy } from "../../src/skip/policies.js";
import { paperPolicy, type SkipProfile } from "../../src/skip/profile.js";
import { isSkipSpec, resolveSkipSpec } from "../../src/skip/spec.js";
import type { TaskName } from "./data.js";
import { type EvalConfig, FULL_CONFIG, type TaskSummary } from "./harness.js";

/** The warm-up a policy has (0 for the full model). */
export function policyWarmup(policy: SkipPolicy): number {
  return policy.kind === "off" ? 0 : policy.warmup;
}

/** A file-name-safe id for a setting: "on-w6", "fixed-0.25-w6", "random-0.25-s7-w6", "profile-w6". */
export function configId(setting: string, policy: SkipPolicy): string {
  if (policy.kind === "off") return "full";
  const w = `w${policyWarmup(policy)}`;
  if (!isSkipSpec(setting)) return `profile-${w}`;
  const [kind, ratio, seed] = setting.split(":");
  return [kind, ratio, seed !== undefined ? `s${seed}` : undefined, w].filter((p) => p !== undefined).join("-");
}

/**
 * The configuration for a skip setting: "off", a spec string (on, paper, fixed:R, random:R[:S]) resolved against
 * `profile`, or a profile (its paper policy). `warmup` overrides the warm-up of whatever the setting gives.
 */
export function resolveConfig(setting: string | SkipProfile, options: { profile?: SkipProfile; profileName?: string; warmup?: number; layers: number; settingName?: string; id?: string; target?: number }): EvalConfig {
  if (setting === "off") return FULL_CONFIG;
  let policy: SkipPolicy;
  let name: string;
  let profileName: string | undefined;
  if (typeof setting === "string") {
    if (!isSkipSpec(setting)) throw new InputError({ file: "--skip", field: "skip", expected: "off, on, paper, fixed:R, random:R[:SEED] or a profile", actual: show(setting) });
    policy = resolveSkipSpec(setting, options.profile, options.warmup !== undefined ? { warmup: options.warmup } : {});
    name = setting;
    profileName = options.profileName;
  } else {
    const paper = paperPolicy(setting) as SkipPolicy & { kind: "paper" };
    policy = validatePolicy({ ...paper, warmup: options.warmup ?? paper.warmup }, options.layers);
    name = options.settingName ?? "profile";
    profileName = options.profileName;
  }
  return {
    id: options.id ?? configId(typeof setting === "string" ? setting : "profile", policy),
    setting: name,
    policy,
    ...(profileName !== undefined ? { profile: profileName } : {}),
    ...(options.target !== undefined ? { target: options.target } : {}),
  };
}

export interface ResultLine {
  readonly task: TaskName;
  readonly n: number;
  readonly metrics: Readonly<Record<string, number | null>>;
  /** The full model's metrics on the same rows (generation tasks, when it was run or a saved run was given). */
  readonly full?: Readonly<Record<string, number | null>>;
  readonly skip: {
    readonly config: string;
    readonly setting: string;
    readonly policy: SkipPolicy;
    readonly warmup: number;
    readonly profile?: string;
    readonly target?: number;
    /** Skipped FFN blocks / (layers x decode steps), warm-up steps counted, and without them. */
    readonly ratio: number;
    readonly ratioAfterWarmup: number;
    readonly decodeSteps: number;
    readonly warmupSteps: number;
    readonly skipped: number;
  };
  readonly decodeTokensPerSecond: number;
  readonly prefillTokensPerSecond?: number;
  readonly meanGeneratedTokens?: number;
  readonly data: Readonly<Record<string, unknown>>;
  readonly generation?: Readonly<Record<string, unknown>>;
  readonly model: { readonly name: string; readonly fingerprint: string; readonly layers: number };
  readonly threads: number;
  readonly commit: string;
  readonly command: string;
  readonly date: string;
  readonly seconds?: number;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export function resultLine(parts: {
  task: TaskName; summary: TaskSummary; config: EvalConfig; model: LanguageModel; full?: TaskSummary; data: Record<string, unknown>;
  generation?: Record<string, unknown>; commit: string; command: string; seconds?: number; date?: string;
}): ResultLine {
  const { summary, config, model } = parts;
  return {
    task: parts.task,
    n: summary.n,
    metrics: summary.metrics,
    ...(parts.full !== undefined ? { full: parts.full.metrics } : {}),
    skip: {
      config: config.id,
      setting: config.setting,
      policy: config.policy,
      warmup: policyWarmup(config.policy),
      ...(config.profile !== undefined ? { profile: config.profile } : {}),
      ...(config.target !== undefined ? { target: config.target } : {}),
      ratio: round(summary.skip.ratio, 5),
      ratioAfterWarmup: round(summary.skip.ratioAfterWarmup, 5),
      decodeSteps: summary.skip.tokens,
      warmupSteps: summary.skip.warmupTokens,
      skipped: summary.skip.skipped,
    },
    decodeTokensPerSecond: summary.decodeTokensPerSecond,
    ...(summary.prefillTokensPerSecond > 0 ? { prefillTokensPerSecond: summary.prefillTokensPerSecond } : {}),
    ...(summary.meanGeneratedTokens !== undefined ? { meanGeneratedTokens: summary.meanGeneratedTokens } : {}),
    data: parts.data,
    ...(parts.generation !== undefined ? { generation: parts.generation } : {}),
    model: { name: model.name.split(/[\\/]/).pop() || model.name, fingerprint: model.fingerprint, layers: model.config.numLayers },
    threads: model.threads,
    commit: parts.commit,
    command: parts.command,
    date: parts.date ?? new Date().toISOString(),
    ...(parts.seconds !== undefined ? { seconds: round(parts.seconds, 1) } : {}),
  };
}

