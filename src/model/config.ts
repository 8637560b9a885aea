// The one Config every part of the engine reads. HF config.json and GGUF llama.* metadata are both resolved into
// it once (src/io/config.ts) and it is frozen: nothing downstream re-reads the source files.

export type RopeScaling =
  | { readonly type: "linear"; readonly factor: number }
  | {
      readonly type: "llama3";
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalContextLength: number;
    };

export interface Config {
  /** Architecture family; only Llama-style decoders (Llama 2/3, SmolLM, TinyLlama, Mistral) for now. */
  readonly architecture: "llama";
  /** d_model: width of the residual stream. */
  readonly hiddenSize: number;
  /** Number of transformer blocks. */
  readonly numLayers: number;
  /** Query heads per layer. */
  readonly numHeads: number;
  /** Key/value heads per layer (grouped-query attention: numHeads is a multiple of it). */
  readonly numKvHeads: number;
  /** Width of one head; numHeads * headDim is the query projection's output size. */
  readonly headDim: number;
  /** Hidden size of the SwiGLU feed-forward block (intermediate_size). */
  readonly ffnSize: number;
  /** Rows of the embedding table and of the LM head. */
  readonly vocabSize: number;
  /** RoPE base frequency (rope_theta / llama.rope.freq_base). */
  readonly ropeTheta: number;
  /** Frequency scaling applied to RoPE, or null. */
  readonly ropeScaling: RopeScaling | null;
  /** Epsilon inside RMSNorm's square root. */
  readonly rmsEps: number;
  /** The LM head reuses the embedding table (no separate output weight). */
  readonly tiedEmbeddings: boolean;
  /** Longest sequence (prompt + generated) the model supports; also the KV cache capacity by default. */
  readonly contextLength: number;
}
