// FFN-skip policies: which layers' feed-forward blocks a generated token skips. The controller
// (controller.ts) applies them; the forward pass only ever asks "run this FFN?".
//
//   off     every FFN runs.
//   paper   FFN-SkipLLM (Jaiswal et al., EMNLP 2024): after `warmup` generated tokens, in the middle region
//           [coldStart, coldEnd), once an FFN's input/output cosine similarity reaches `threshold`, the FFNs of the
//           next `k` layers are skipped for that token (never past coldEnd). Input-adaptive.
//   fixed   the same layer set skipped for every token after warm-up (input-agnostic baseline; calibration picks the
//           most redundant layers on average).
//   random  after warm-up, `count` layers drawn at random (seeded) from the middle region for each token: the
//           paper's random-skipping baseline at a given ratio.
//   layerwise  the paper's rule with calibrated per-layer parts: an FFN that ran at layer l triggers when its
//           similarity reaches thresholds[l] (null: layer l never triggers), and a trigger skips the next k layers
//           that are in `skippable` (a layer outside it runs, observes, and ends the run of skips).

import { ConfigError, show } from "../errors.js";

export type SkipPolicy =
  | { readonly kind: "off" }
  | {
      readonly kind: "paper";
      readonly warmup: number;
      readonly coldStart: number;
      readonly coldEnd: number;
      readonly threshold: number;
      readonly k: number;
    }
  | { readonly kind: "fixed"; readonly warmup: number; readonly layers: readonly number[] }
  | {
      readonly kind: "random";
      readonly warmup: number;
      readonly coldStart: number;
      readonly coldEnd: number;
      readonly count: number;
      readonly seed: number;
    }
  | {
      readonly kind: "layerwise";
      readonly warmup: number;
      readonly k: number;
      /** Per layer: the similarity at which an FFN that ran there triggers (null: never). */
      readonly thresholds: readonly (number | null)[];
      /** The layers a trigger may skip. */
      readonly skippable: readonly number[];
    };

export const SKIP_OFF: SkipPolicy = Object.freeze({ kind: "off" });

/** Checks a policy against a model with `numLayers` layers; returns it frozen. */
export function validatePolicy(policy: SkipPolicy, numLayers: number, file = "skip policy"): SkipPolicy {
  const fail = (field: string, expected: string, actual: unknown) => new ConfigError({ file, field, expected, actual: show(actual) });
  const int = (field: string, value: unknown, min: number, max: number) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) throw fail(field, `an integer in ${min}..${max}`, value);
  };
  if (typeof policy !== "object" || policy === null) throw fail("policy", "an object with a kind", policy);
  switch (policy.kind) {
    case "off":
      return SKIP_OFF;
    case "paper":
      int("warmup", policy.warmup, 0, 1 << 20);
      int("coldStart", policy.coldStart, 0, numLayers);
      int("coldEnd", policy.coldEnd, policy.coldStart, numLayers);
      int("k", policy.k, 1, numLayers);
      if (typeof policy.threshold !== "number" || !(policy.threshold >= -1 && policy.threshold <= 1)) throw fail("threshold", "a cosine similarity in [-1, 1]", policy.threshold);
      return Object.freeze({ kind: "paper", warmup: policy.warmup, coldStart: policy.coldStart, coldEnd: policy.coldEnd, threshold: policy.threshold, k: policy.k });
    case "fixed": {
      int("warmup", policy.warmup, 0, 1 << 20);
      if (!Array.isArray(policy.layers)) throw fail("layers", "an array of layer indices", policy.layers);
      policy.layers.forEach((l, i) => int(`layers[${i}]`, l, 0, numLayers - 1));
      if (new Set(policy.layers).size !== policy.layers.length) throw fail("layers", "distinct layer indices", policy.layers);
      return Object.freeze({ kind: "fixed", warmup: policy.warmup, layers: Object.freeze([...policy.layers].sort((a, b) => a - b)) });
    }
    case "random":
      int("warmup", policy.warmup, 0, 1 << 20);
      int("coldStart", policy.coldStart, 0, numLayers);
      int("coldEnd", policy.coldEnd, policy.coldStart, numLayers);
      int("count", policy.count, 0, policy.coldEnd - policy.coldStart);
      int("seed", policy.seed, 0, 2 ** 32 - 1);
      return Object.freeze({ ...policy });
    case "layerwise": {
      int("warmup", policy.warmup, 0, 1 << 20);
      int("k", policy.k, 1, numLayers);
      if (!Array.isArray(policy.thresholds) || policy.thresholds.length !== numLayers || !policy.thresholds.every((t) => t === null || (typeof t === "number" && t >= -1 && t <= 1))) {
        throw fail("thresholds", `${numLayers} cosine similarities in [-1, 1] or nulls`, policy.thresholds);
      }
      if (!Array.isArray(policy.skippable)) throw fail("skippable", "an array of layer indices", policy.skippable);
      policy.skippable.forEach((l, i) => int(`skippable[${i}]`, l, 0, numLayers - 1));
      if (new Set(policy.skippable).size !== policy.skippable.length) throw fail("skippable", "distinct layer indices", policy.skippable);
      return Object.freeze({
        kind: "layerwise", warmup: policy.warmup, k: policy.k, thresholds: Object.freeze([...policy.thresholds]),
        skippable: Object.freeze([...policy.skippable].sort((a, b) => a - b)),
      });
    }
    default:
      throw fail("kind", '"off", "paper", "fixed", "random" or "layerwise"', (policy as { kind: unknown }).kind);
  }
}
