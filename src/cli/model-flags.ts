// Flags shared by the commands that load a model and generate: model path, context, sampling, skipping.
import { readFileSync } from "node:fs";
import { InputError } from "../errors.js";
import type { LanguageModel, SkipSetting } from "../language-model.js";
import { loadModelFromPath } from "../node.js";
import { DEFAULT_MODEL_PATH } from "../node/pull.js";
import { parseSkipProfile } from "../skip/profile.js";
import { isSkipSpec } from "../skip/spec.js";
import type { GenerateOptions } from "../generate.js";
import type { FlagSpecs } from "./args.js";
import { progressBar } from "./progress.js";

export const MODEL_FLAGS = {
  model: { type: "string", help: "GGUF file or HF folder (default: the pulled SmolLM2)" },
  "max-context": { type: "int", min: 1, help: "KV cache positions (default: model context, at most 2048)" },
  skip: { type: "string", help: "FFN skipping: off (default), on (shipped profile), fixed:R, random:R[:SEED], or a profile.json" },
  precision: { type: "string", help: "fast (default: int16 activations, weight tiles) or exact (f32 activations)" },
  threads: { type: "int", min: 1, max: 64, help: "threads per token (default: one per core, at most 8)" },
  "kv-cache": { type: "string", help: "f32 (default) or f16 (half the KV cache memory)" },
  surrogates: { type: "string", help: "FFN surrogates for this model (ffnskip calibrate --surrogates): skipped FFNs run them instead of nothing" },
} as const satisfies FlagSpecs;

export const SAMPLING_FLAGS = {
  "max-tokens": { type: "int", min: 1, help: "most tokens to generate (default 256)" },
  temperature: { type: "number", help: "0 = greedy (default)" },
  "top-k": { type: "int", help: "keep the k most likely tokens (0 = off)" },
  "top-p": { type: "number", help: "nucleus mass in (0, 1] (1 = off)" },
  "min-p": { type: "number", help: "minimum probability relative to the top token (0 = off)" },
  "repetition-penalty": { type: "number", help: "HF repetition penalty (1 = off)" },
  seed: { type: "int", help: "PRNG seed (default 0)" },
  stop: { type: "list", help: "comma-separated stop strings" },
} as const satisfies FlagSpecs;

/**
 * --skip: off, on, paper, fixed:R, random:R[:SEED] (R a skip ratio; layers from the loaded model's shipped
 * profile, see src/skip/spec.ts), or the path of a profile JSON from `ffnskip calibrate`.
 */
export function skipSetting(value: string | undefined): SkipSetting {
  if (value === undefined) return "off";
  if (isSkipSpec(value)) return value;
  let text: string;
  try {
    text = readFileSync(value, "utf8");
  } catch {
    throw new InputError({ file: "--skip", field: value, expected: "off, on, fixed:R, random:R[:SEED], or a readable profile.json", actual: "no such file" });
  }
  return parseSkipProfile(text, value);
}

export function precisionFlag(value: string | undefined): "fast" | "exact" {
  if (value === undefined || value === "fast" || value === "exact") return value ?? "fast";
  throw new InputError({ file: "--precision", field: "precision", expected: "fast or exact", actual: JSON.stringify(value) });
}

export function kvCacheFlag(value: string | undefined): "f32" | "f16" {
  if (value === undefined || value === "f32" || value === "f16") return value ?? "f32";
  throw new InputError({ file: "--kv-cache", field: "kv-cache", expected: "f32 or f16", actual: JSON.stringify(value) });
}

/** --surrogates FILE: the file's bytes (validated against the model when it loads). */
export function surrogatesFlag(value: string | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined;
  try {
    return readFileSync(value);
  } catch {
    throw new InputError({ file: "--surrogates", field: value, expected: "a readable surrogates file (ffnskip calibrate --surrogates)", actual: "no such file" });
  }
}

export async function openModel(flags: { model?: string; "max-context"?: number; skip?: string; precision?: string; threads?: number; "kv-cache"?: string; surrogates?: string }): Promise<LanguageModel> {
  const path = flags.model ?? DEFAULT_MODEL_PATH;
  const surrogates = surrogatesFlag(flags.surrogates);
  const bar = progressBar(`loading ${path.split("/").pop()}`);
  try {
    return await loadModelFromPath(path, {
      maxContext: flags["max-context"], skip: skipSetting(flags.skip), precision: precisionFlag(flags.precision),
      kvCache: kvCacheFlag(flags["kv-cache"]), ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      ...(surrogates !== undefined ? { surrogates } : {}),
      onProgress: (f, stage) => bar.update(f, stage),
    });
  } finally {
    bar.done();
  }
}

export function samplingOptions(flags: { [K in keyof typeof SAMPLING_FLAGS]?: unknown }): GenerateOptions {
  const options: Record<string, unknown> = {
    maxTokens: flags["max-tokens"], temperature: flags.temperature, topK: flags["top-k"], topP: flags["top-p"], minP: flags["min-p"],
    repetitionPenalty: flags["repetition-penalty"], seed: flags.seed, stop: flags.stop,
  };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options as GenerateOptions;
}
