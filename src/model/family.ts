// The model families we run, each stated as its deltas from Llama, in one place. The forward pass
// (transformer.ts) and the weight planner (weights.ts) read these traits and nothing else about the family; tensor
// names are in tensor-names.ts, and how config.json / GGUF metadata name each family in config.ts.

export type Architecture = "llama" | "qwen2" | "qwen3";

export interface FamilyTraits {
  /** GGUF general.architecture, also the prefix of its metadata keys ("qwen2.block_count"). */
  readonly ggufArchitecture: string;
  /** The Q, K and V projections add a bias (the output projection never does). */
  readonly qkvBias: boolean;
  /**
   * WARNING, the RoPE layout trap: llama.cpp's converter permutes the Q/K rows of models it ropes with interleaved
   * pairs ("llama"), and stores NEOX-style models (qwen2) exactly as HF does. Only the former are un-permuted at
   * load (tensor-names.ts ggufRowForHfRow); un-permuting a qwen2 file would scramble every head.
   */
  readonly ggufPermutesQK: boolean;
  /** Each query and key head is RMS-normalized (its own [headDim] weight for Q and for K) after the projection, before RoPE. */
  readonly qkNorm?: boolean;
}

export const FAMILIES: Readonly<Record<Architecture, FamilyTraits>> = Object.freeze({
  llama: {
    ggufArchitecture: "llama", qkvBias: false, ggufPermutesQK: true,
  },
  // Qwen2 / Qwen2.5: Llama with biases on Q, K, V; RoPE base 1e6 in the released configs (read, not assumed).
  qwen2: {
    ggufArchitecture: "qwen2", qkvBias: true, ggufPermutesQK: false,
  },
  // Qwen3: Llama with a per-head RMSNorm on Q and on K before RoPE, no biases, head_dim stated apart from hidden/heads.
  qwen3: {
    ggufArchitecture: "qwen3", qkvBias: false, ggufPermutesQK: false, qkNorm: true,
  },
});

/** The family a GGUF general.architecture names, if we run it. */
export function familyOfGguf(architecture: string): Architecture | undefined {
  return (Object.keys(FAMILIES) as Architecture[]).find((name) => FAMILIES[name].ggufArchitecture === architecture);
}
