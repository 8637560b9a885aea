// The FFN-skip setting the examples apply: the shipped, calibrated profile (`skip: "on"`) when the package has one
// for the loaded model, else an explicit FFN-SkipLLM policy: after 4 warm-up tokens, in layers 2..28, once an FFN
// leaves the hidden state at cosine similarity >= 0.97, the next 2 layers' FFNs are skipped for that token.

import type { LanguageModel, SkipPolicy } from "ffnskip";

export const FALLBACK_SKIP_POLICY: SkipPolicy = Object.freeze({ kind: "paper", warmup: 4, coldStart: 2, coldEnd: 29, threshold: 0.97, k: 2 });

/** Sets the model's skip policy; says whether the shipped profile ("on") or the fallback policy is in force. */
export function applyDefaultSkip(model: LanguageModel): "on" | "fallback" {
  try {
    model.skip = "on";
    return "on";
  } catch {
    model.skip = FALLBACK_SKIP_POLICY;
    return "fallback";
  }
}
