// The model families we run, each stated as its deltas from Llama, in one place. The forward pass
// (transformer.ts) and the weight planner (weights.ts) read these traits and nothing else about the family; tensor
// names are in tensor-names.ts, and how config.json / GGUF metadata name each family in config.ts.

export type Architecture = "llama" | "qwen2" | "qwen3" | "gemma3";

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
  /** The token embeddings are multiplied by sqrt(hidden_size) (in f32) before the first layer. */
  readonly scalesEmbeddings: boolean;
  /**
   * Every RMSNorm multiplies by (1 + w) in HF: config.json checkpoints store w, and llama.cpp's converter stores
   * w + 1 (so GGUF norms are used as stored, HF norms get 1 added at load).
   */
  readonly hfNormPlusOne: boolean;
  /** An RMSNorm over each query head and each key head (q_norm, k_norm) between the projection and RoPE. */
  readonly qkNorm: boolean;
  /** "Sandwich" norms: an RMSNorm on the attention output and one on the FFN output, each before its residual add. */
  readonly postNorms: boolean;
  /** The FFN's gate activation: silu (SwiGLU) or GELU with the tanh approximation (GeGLU). */
  readonly activation: "silu" | "gelu_tanh";
}

export const FAMILIES: Readonly<Record<Architecture, FamilyTraits>> = Object.freeze({
  llama: {
    ggufArchitecture: "llama", qkvBias: false, ggufPermutesQK: true,
    scalesEmbeddings: false, hfNormPlusOne: false, qkNorm: false, postNorms: false, activation: "silu",
  },
  // Qwen2 / Qwen2.5: Llama with biases on Q, K, V; RoPE base 1e6 in the released configs (read, not assumed).
  qwen2: {
    ggufArchitecture: "qwen2", qkvBias: true, ggufPermutesQK: false,
    scalesEmbeddings: false, hfNormPlusOne: false, qkNorm: false, postNorms: false, activation: "silu",
  },
  // Qwen3: Llama with a per-head RMSNorm on Q and on K before RoPE, no biases, head_dim stated apart from hidden/heads.
  qwen3: {
    ggufArchitecture: "qwen3", qkvBias: false, ggufPermutesQK: false,
    scalesEmbeddings: false, hfNormPlusOne: false, qkNorm: true, postNorms: false, activation: "silu",
  },
  // Gemma 3 text models: scaled embeddings, (1 + w) norms, q/k norms, sandwich norms, GeGLU, NEOX RoPE (stored
  // unpermuted); sliding-window local layers and the attention scale are in the Config (config.ts).
  gemma3: {
    ggufArchitecture: "gemma3", qkvBias: false, ggufPermutesQK: false,
    scalesEmbeddings: true, hfNormPlusOne: true, qkNorm: true, postNorms: true, activation: "gelu_tanh",
  },
});

/** The family a GGUF general.architecture names, if we run it. */
export function familyOfGguf(architecture: string): Architecture | undefined {
  return (Object.keys(FAMILIES) as Architecture[]).find((name) => FAMILIES[name].ggufArchitecture === architecture);
}
