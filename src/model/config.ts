// The one Config every part of the engine reads, and its resolution from either source:
//   - Hugging Face config.json, read the way transformers' LlamaConfig / MistralConfig read it (same defaults, legacy
//     rope_theta + rope_scaling keys as well as transformers 5's rope_parameters);
//   - GGUF llama.* metadata, read the way llama.cpp reads it.
// Every value is type- and range-checked here, once, and the Config is frozen: nothing downstream re-reads the
// source files, and the rest of the engine can trust it.

import { ConfigError, FormatError, UnsupportedError, show } from "../errors.js";
import { type Architecture, FAMILIES, familyOfGguf } from "./family.js";
import { GLOBAL_TENSORS, ROPE_FREQS_GGUF } from "./tensor-names.js";
import type { GgufFile, GgufValueType } from "../io/gguf.js";

export type RopeScaling =
  | { readonly type: "linear"; readonly factor: number }
  | {
      readonly type: "llama3";
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalContextLength: number;
    }
  // llama.cpp's form of Llama 3 scaling in GGUF files: each pair's inverse frequency divided by its own factor, the
  // factors being the F32 [headDim / 2] tensor rope_freqs.weight (read with the weights, not part of the metadata).
  | { readonly type: "frequencyFactors" };

/** Local (sliding-window) attention layers: Gemma 3's local layers, or every layer of a Mistral with a window. */
export interface SlidingWindow {
  /** A query at position p attends to positions p - size + 1 .. p: itself and size - 1 before it (HF's and llama.cpp's mask). */
  readonly size: number;
  /** Per layer: true for a local (windowed) layer, false for a global one. */
  readonly layers: readonly boolean[];
  /**
   * RoPE base of the local layers (Gemma 3's rope_local_base_freq; they take no frequency scaling), or null: they
   * rope like every other layer (Mistral, whose every layer is local).
   */
  readonly ropeTheta: number | null;
}

export interface Config {
  /** The family (model/family.ts): "llama" also runs SmolLM, TinyLlama and Mistral; "qwen2" Qwen2 and Qwen2.5; "gemma3" Gemma 3 text models. */
  readonly architecture: Architecture;
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
  /** Attention scores are q·k / sqrt(queryPreAttnScalar): headDim, except Gemma 3's query_pre_attn_scalar. */
  readonly queryPreAttnScalar: number;
  /** Local (sliding-window) attention layers with their own RoPE base, or null: every layer attends to the whole context. */
  readonly slidingWindow: SlidingWindow | null;
}

type Json = Record<string, unknown>;

/** config.json model types we read: the engine family each runs as, and transformers' defaults for missing keys. */
const HF_FAMILIES = {
  llama: { architecture: "LlamaForCausalLM", family: "llama", defaultKvHeads: null, defaultContext: 2048 },
  mistral: { architecture: "MistralForCausalLM", family: "llama", defaultKvHeads: 8, defaultContext: 4096 * 32 },
  qwen2: { architecture: "Qwen2ForCausalLM", family: "qwen2", defaultKvHeads: 32, defaultContext: 32768 },
  qwen3: { architecture: "Qwen3ForCausalLM", family: "qwen3", defaultKvHeads: 32, defaultContext: 32768 },
  gemma3_text: { architecture: "Gemma3ForCausalLM", family: "gemma3", defaultKvHeads: 4, defaultContext: 131072 },
} as const;
type HfFamily = keyof typeof HF_FAMILIES;

/** Resolves a Hugging Face config.json (already parsed) for a Llama, Mistral, Qwen2, Qwen3 or Gemma 3 model. */
export function configFromHf(json: unknown, file = "config.json"): Config {
  if (!isObject(json)) throw new ConfigError({ file, expected: "a JSON object", actual: show(json) });
  const family = hfFamily(json, file);
  if (family === "gemma3_text") return gemma3FromHf(json, file);
  const read = new HfReader(json, file);

  const hiddenSize = read.positiveInt("hidden_size");
  const numLayers = read.positiveInt("num_hidden_layers");
  const numHeads = read.positiveInt("num_attention_heads");
  // MistralConfig's dataclass default is 8 for a missing key, while an explicit null means "one per query head".
  const kvDefault = json.num_key_value_heads === undefined ? HF_FAMILIES[family].defaultKvHeads : null;
  const numKvHeads = read.positiveInt("num_key_value_heads", kvDefault ?? numHeads);
  // transformers floors hidden/heads when head_dim is absent; a remainder would mean the checkpoint is not what it says.
  // Qwen3Config's dataclass default is 128, whatever hidden_size / num_attention_heads is.
  if (read.absent("head_dim") && family !== "qwen3" && hiddenSize % numHeads !== 0) {
    throw new ConfigError({ file, field: "head_dim", expected: "present, or hidden_size divisible by num_attention_heads", actual: `hidden_size ${hiddenSize}, ${numHeads} heads` });
  }
  const headDim = read.positiveInt("head_dim", family === "qwen3" ? 128 : hiddenSize / numHeads);
  const ffnSize = read.positiveInt("intermediate_size");
  const vocabSize = read.positiveInt("vocab_size");
  const maxPositions = read.positiveInt("max_position_embeddings", HF_FAMILIES[family].defaultContext);
  const rmsEps = read.positiveNumber("rms_norm_eps", 1e-6);
  const tiedEmbeddings = read.boolean("tie_word_embeddings", false);

  const hiddenAct = read.optional("hidden_act") ?? "silu";
  if (hiddenAct !== "silu") throw new UnsupportedError({ file, field: "hidden_act", expected: '"silu"', actual: show(hiddenAct) });
  // Qwen2's Q/K/V biases are part of the family (its config has no attention_bias key); Llama's are optional extras.
  for (const key of family === "qwen2" ? ["mlp_bias"] : ["attention_bias", "mlp_bias"]) {
    if (read.boolean(key, false)) throw new UnsupportedError({ file, field: key, expected: "false (no bias terms)", actual: "true" });
  }
  if ((family === "qwen2" || family === "qwen3") && read.boolean("use_sliding_window", false)) {
    throw new UnsupportedError({ file, field: "use_sliding_window", expected: "false (full attention in every layer)", actual: "true" });
  }
  const layerTypes = read.optional("layer_types");
  if (layerTypes !== undefined && (!Array.isArray(layerTypes) || layerTypes.some((t) => t !== "full_attention"))) {
    throw new UnsupportedError({ file, field: "layer_types", expected: 'absent, or "full_attention" for every layer', actual: show(layerTypes) });
  }

  const { ropeTheta, ropeScaling } = hfRope(json, file, maxPositions);

  // Mistral restricts attention to the last sliding_window positions (transformers' sliding-window mask: key
  // positions q - window < k <= q). A window as long as the context restricts nothing and is dropped.
  const contextLength = maxPositions;
  let slidingWindow: SlidingWindow | null = null;
  if (family === "mistral") {
    // MistralConfig defaults a missing key to 4096; an explicit null turns the window off.
    const window = json.sliding_window === undefined ? 4096 : json.sliding_window;
    if (window !== null) {
      if (typeof window !== "number" || !Number.isSafeInteger(window) || window < 1) {
        throw new ConfigError({ file, field: "sliding_window", expected: "null or a positive integer", actual: show(window) });
      }
      if (window < contextLength) slidingWindow = { size: window, layers: Array.from({ length: numLayers }, () => true), ropeTheta: null };
    }
  }

  return finish({
    architecture: HF_FAMILIES[family].family, hiddenSize, numLayers, numHeads, numKvHeads, headDim, ffnSize, vocabSize, ropeTheta, ropeScaling,
    rmsEps, tiedEmbeddings, contextLength, queryPreAttnScalar: headDim, slidingWindow,
  }, file, HF_FIELDS);
}

/**
 * Gemma3TextConfig (transformers' configuration_gemma3.py): its defaults for missing keys, layer_types (else every
 * sliding_window_pattern-th layer global, the rest local), and RoPE either per layer type (rope_parameters
 * { full_attention, sliding_attention }) or the legacy rope_theta, rope_local_base_freq and rope_scaling (which
 * applies to the global layers only).
 */
const MOST_PATTERN_LAYERS = 1 << 20;

function gemma3FromHf(json: Json, file: string): Config {
  const read = new HfReader(json, file);
  const hiddenSize = read.positiveInt("hidden_size");
  const numLayers = read.positiveInt("num_hidden_layers");
  const numHeads = read.positiveInt("num_attention_heads");
  const numKvHeads = read.positiveInt("num_key_value_heads", json.num_key_value_heads === undefined ? HF_FAMILIES.gemma3_text.defaultKvHeads : numHeads);
  const headDim = read.positiveInt("head_dim", 256);
  const maxPositions = read.positiveInt("max_position_embeddings", HF_FAMILIES.gemma3_text.defaultContext);
  const activation = read.optional("hidden_activation") ?? "gelu_pytorch_tanh";
  if (activation !== "gelu_pytorch_tanh") throw new UnsupportedError({ file, field: "hidden_activation", expected: '"gelu_pytorch_tanh"', actual: show(activation) });
  if (read.boolean("attention_bias", false)) throw new UnsupportedError({ file, field: "attention_bias", expected: "false (no bias terms)", actual: "true" });
  if (read.boolean("use_bidirectional_attention", false)) throw new UnsupportedError({ file, field: "use_bidirectional_attention", expected: "false (causal attention)", actual: "true" });
  // Gemma 2 capped logits with tanh; Gemma 3 configs say null, and a value would mean a model this engine does not run.
  for (const key of ["final_logit_softcapping", "attn_logit_softcapping"]) {
    if (!read.absent(key)) throw new UnsupportedError({ file, field: key, expected: "null (no softcapping, as in Gemma 3)", actual: show(json[key]) });
  }

  let layers: boolean[];
  if (!read.absent("layer_types")) {
    const types = json.layer_types;
    if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== "sliding_attention" && t !== "full_attention")) {
      throw new ConfigError({ file, field: "layer_types", expected: `${numLayers} entries, each "sliding_attention" or "full_attention"`, actual: show(types) });
    }
    layers = types.map((t) => t === "sliding_attention");
  } else {
    // The list is built per layer, so an absurd layer count must fail here rather than exhaust memory (the tensor
    // count bounds it properly later, in load.ts).
    if (numLayers > MOST_PATTERN_LAYERS) throw new ConfigError({ file, field: "num_hidden_layers", expected: `at most ${MOST_PATTERN_LAYERS} without layer_types`, actual: String(numLayers) });
    const pattern = read.positiveInt("sliding_window_pattern", 6);
    layers = Array.from({ length: numLayers }, (_, i) => (i + 1) % pattern !== 0);
  }

  const params = json.rope_parameters ?? {};
  if (!isObject(params)) throw new ConfigError({ file, field: "rope_parameters", expected: "null or an object", actual: show(params) });
  const legacyScaling = json.rope_scaling ?? {};
  if (!isObject(legacyScaling)) throw new ConfigError({ file, field: "rope_scaling", expected: "null or an object", actual: show(legacyScaling) });
  const ropeOf = (type: "full_attention" | "sliding_attention", extra: Json, legacyThetaKey: string, defaultTheta: number) => {
    const given = params[type] ?? {};
    if (!isObject(given)) throw new ConfigError({ file, field: `rope_parameters.${type}`, expected: "null or an object", actual: show(given) });
    const merged: Json = { ...given, ...extra };
    const theta = new HfReader(json, file).positiveNumber(legacyThetaKey, defaultTheta);
    const typeRead = new HfReader(merged, file, `rope_parameters.${type}.`);
    const ropeTheta = typeRead.positiveNumber("rope_theta", theta);
    const ropeType = merged.rope_type ?? merged.type ?? "default";
    if (ropeType === "default") return { ropeTheta, ropeScaling: null };
    if (ropeType === "linear" && type === "full_attention") return { ropeTheta, ropeScaling: { type: "linear", factor: typeRead.positiveNumber("factor") } as RopeScaling };
    throw new UnsupportedError({ file, field: `rope_parameters.${type}.rope_type`, expected: type === "full_attention" ? '"default" or "linear"' : '"default"', actual: show(ropeType) });
  };
  const global = ropeOf("full_attention", legacyScaling, "rope_theta", 1_000_000);
  const local = ropeOf("sliding_attention", {}, "rope_local_base_freq", 10_000);

  const size = json.sliding_window === undefined ? 4096 : json.sliding_window;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1) {
    throw new ConfigError({ file, field: "sliding_window", expected: "a positive integer", actual: show(size) });
  }

  return finish({
    architecture: "gemma3", hiddenSize, numLayers, numHeads, numKvHeads, headDim,
    ffnSize: read.positiveInt("intermediate_size"), vocabSize: read.positiveInt("vocab_size"),
    ropeTheta: global.ropeTheta, ropeScaling: global.ropeScaling, rmsEps: read.positiveNumber("rms_norm_eps", 1e-6),
    tiedEmbeddings: read.boolean("tie_word_embeddings", true), contextLength: maxPositions,
    queryPreAttnScalar: read.positiveNumber("query_pre_attn_scalar", 256),
    slidingWindow: { size, layers, ropeTheta: local.ropeTheta },
  }, file, HF_FIELDS);
}

function hfFamily(json: Json, file: string): HfFamily {
  const modelType = json.model_type;
  if (modelType !== undefined) {
    if (typeof modelType === "string" && modelType in HF_FAMILIES) return modelType as HfFamily;
    throw new UnsupportedError({ file, field: "model_type", expected: `one of ${Object.keys(HF_FAMILIES).map((f) => JSON.stringify(f)).join(", ")}`, actual: show(modelType) });
  }
  const architectures = json.architectures;
  if (Array.isArray(architectures)) {
    for (const [family, info] of Object.entries(HF_FAMILIES) as [HfFamily, (typeof HF_FAMILIES)[HfFamily]][]) {
      if (architectures.includes(info.architecture)) return family;
    }
  }
  throw new UnsupportedError({
    file, field: "model_type", expected: `model_type ${Object.keys(HF_FAMILIES).join(", ")}, or architectures with ${Object.values(HF_FAMILIES).map((f) => f.architecture).join(", ")}`,
    actual: Array.isArray(architectures) ? `architectures ${JSON.stringify(architectures.slice(0, 4))}` : "neither",
  });
}

/**
 * transformers' precedence: a legacy rope_scaling object wins over rope_parameters; rope_theta comes from that object,
 * else from the top level, else 10000; the type is rope_type, else the legacy "type", else "default".
 */
function hfRope(json: Json, file: string, maxPositions: number): { ropeTheta: number; ropeScaling: RopeScaling | null } {
  const legacy = json.rope_scaling;
  let field = "rope_scaling";
  let params: unknown = legacy;
  if (legacy === undefined || legacy === null || (isObject(legacy) && Object.keys(legacy).length === 0)) {
    field = "rope_parameters";
    params = json.rope_parameters ?? {};
  }
  if (!isObject(params)) throw new ConfigError({ file, field, expected: "null or an object", actual: show(params) });
  const read = new HfReader(params, file, `${field}.`);
  const topTheta = new HfReader(json, file).positiveNumber("rope_theta", 10000);
  const ropeTheta = read.positiveNumber("rope_theta", topTheta);
  const partial = read.positiveNumber("partial_rotary_factor", new HfReader(json, file).positiveNumber("partial_rotary_factor", 1));
  if (partial !== 1) throw new UnsupportedError({ file, field: `${field}.partial_rotary_factor`, expected: "1 (RoPE on the whole head)", actual: String(partial) });

  const ropeType = params.rope_type ?? params.type ?? "default";
  switch (ropeType) {
    case "default":
      return { ropeTheta, ropeScaling: null };
    case "linear":
      return { ropeTheta, ropeScaling: { type: "linear", factor: read.positiveNumber("factor") } };
    case "llama3": {
      const lowFreqFactor = read.positiveNumber("low_freq_factor");
      const highFreqFactor = read.positiveNumber("high_freq_factor");
      if (!(highFreqFactor > lowFreqFactor)) {
        throw new ConfigError({ file, field: `${field}.high_freq_factor`, expected: `greater than low_freq_factor ${lowFreqFactor}`, actual: String(highFreqFactor) });
      }
      return {
        ropeTheta,
        ropeScaling: {
          type: "llama3", factor: read.positiveNumber("factor"), lowFreqFactor, highFreqFactor,
          // A top-level original_max_position_embeddings takes priority in transformers (Phi-3 style configs).
          originalContextLength: json.original_max_position_embeddings !== undefined
            ? new HfReader(json, file).positiveInt("original_max_position_embeddings")
            : read.positiveInt("original_max_position_embeddings", maxPositions),
        },
      };
    }
    default:
      throw new UnsupportedError({ file, field: `${field}.rope_type`, expected: '"default", "linear" or "llama3"', actual: show(ropeType) });
  }
}

/** Typed access to one JSON object; `prefix` names nested objects in errors. */
class HfReader {
  constructor(
    private readonly json: Json,
    private readonly file: string,
    private readonly prefix = "",
  ) {}

  absent(key: string): boolean {
    return this.json[key] === undefined || this.json[key] === null;
  }

  optional(key: string): unknown {
    return this.absent(key) ? undefined : this.json[key];
  }

  private value(key: string, fallback: unknown): unknown {
    if (!this.absent(key)) return this.json[key];
    if (fallback === undefined) throw new ConfigError({ file: this.file, field: this.prefix + key, expected: "a value", actual: "nothing (missing)" });
    return fallback;
  }

  positiveInt(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new ConfigError({ file: this.file, field: this.prefix + key, expected: "a positive integer", actual: show(v) });
    }
    return v;
  }

  positiveNumber(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError({ file: this.file, field: this.prefix + key, expected: "a positive finite number", actual: show(v) });
    }
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.value(key, fallback);
    if (typeof v !== "boolean") throw new ConfigError({ file: this.file, field: this.prefix + key, expected: "true or false", actual: show(v) });
    return v;
  }
}

const INTEGER_TYPES: ReadonlySet<GgufValueType> = new Set(["UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "UINT64", "INT64"]);
const FLOAT_TYPES: ReadonlySet<GgufValueType> = new Set(["FLOAT32", "FLOAT64"]);

/** Resolves a GGUF file's <architecture>.* metadata (llama.cpp's key names and defaults). */
export function configFromGguf(gguf: GgufFile): Config {
  const file = gguf.file;
  const read = new GgufReader(gguf);
  const name = read.string("general.architecture");
  const architecture = familyOfGguf(name);
  if (architecture === undefined) {
    throw new UnsupportedError({ file, field: "general.architecture", expected: `one of ${Object.values(FAMILIES).map((f) => JSON.stringify(f.ggufArchitecture)).join(", ")}`, actual: show(name) });
  }
  const key = (suffix: string) => `${name}.${suffix}`;
  const experts = read.int(key("expert_count"), 0, 0);
  if (experts > 0) throw new UnsupportedError({ file, field: key("expert_count"), expected: "0 (a dense model)", actual: `${experts} experts (mixture of experts)` });

  const hiddenSize = read.int(key("embedding_length"));
  const numLayers = read.int(key("block_count"));
  const numHeads = read.int(key("attention.head_count"));
  const numKvHeads = read.int(key("attention.head_count_kv"), numHeads);
  if (!gguf.metadata.has(key("attention.key_length")) && hiddenSize % numHeads !== 0) {
    throw new ConfigError({ file, field: key("attention.key_length"), expected: "present, or embedding_length divisible by head_count", actual: `embedding_length ${hiddenSize}, ${numHeads} heads` });
  }
  const headDim = read.int(key("attention.key_length"), hiddenSize / numHeads);
  const valueDim = read.int(key("attention.value_length"), headDim);
  if (valueDim !== headDim) throw new UnsupportedError({ file, field: key("attention.value_length"), expected: `equal to the key length ${headDim}`, actual: String(valueDim) });
  const ropeDims = read.int(key("rope.dimension_count"), headDim);
  if (ropeDims !== headDim) throw new UnsupportedError({ file, field: key("rope.dimension_count"), expected: `the head dimension ${headDim} (RoPE on the whole head)`, actual: String(ropeDims) });
  const ffnSize = read.int(key("feed_forward_length"));
  const contextLength = read.int(key("context_length"));
  const rmsEps = read.float(key("attention.layer_norm_rms_epsilon"));
  const ropeTheta = read.float(key("rope.freq_base"), 10000);

  const embed = gguf.tensors.find((t) => t.name === GLOBAL_TENSORS.embed.gguf);
  const embedRows = embed?.shape.length === 2 ? embed.shape[0] : undefined;
  let vocabSize: number;
  if (gguf.metadata.has(key("vocab_size"))) {
    vocabSize = read.int(key("vocab_size"));
    if (embedRows !== undefined && embedRows !== vocabSize) {
      throw new ConfigError({ file, field: key("vocab_size"), expected: `the ${GLOBAL_TENSORS.embed.gguf} row count ${embedRows}`, actual: String(vocabSize) });
    }
  } else if (embedRows !== undefined) {
    vocabSize = embedRows;
  } else {
    throw new ConfigError({ file, field: key("vocab_size"), expected: `the key, or a 2-D ${GLOBAL_TENSORS.embed.gguf} tensor to count rows of`, actual: "neither" });
  }

  let ropeScaling: RopeScaling | null = null;
  const scalingType = gguf.metadata.has(key("rope.scaling.type")) ? read.string(key("rope.scaling.type")) : "none";
  // Llama 3.x GGUFs carry their frequency scaling as per-frequency factors in this tensor, not as metadata.
  const ropeFreqs = gguf.tensors.find((t) => t.name === ROPE_FREQS_GGUF);
  if (ropeFreqs !== undefined) {
    if (ropeFreqs.dtype !== "F32" || ropeFreqs.shape.length !== 1 || ropeFreqs.shape[0] !== headDim / 2) {
      throw new FormatError({ file, field: ROPE_FREQS_GGUF, expected: `F32 [${headDim / 2}] (one factor per rotated pair)`, actual: `${ropeFreqs.dtype} [${ropeFreqs.shape.join(", ")}]` });
    }
    if (scalingType !== "none") {
      throw new UnsupportedError({ file, field: key("rope.scaling.type"), expected: `"none" alongside ${ROPE_FREQS_GGUF}`, actual: show(scalingType) });
    }
  }
  if (gguf.metadata.has(key("rope.scaling.original_context_length"))) read.int(key("rope.scaling.original_context_length"));
  if (scalingType === "linear") {
    ropeScaling = { type: "linear", factor: read.float(key("rope.scaling.factor")) };
  } else if (scalingType === "none") {
    const factor = read.float(key("rope.scaling.factor"), 1);
    if (factor !== 1) throw new ConfigError({ file, field: key("rope.scaling.factor"), expected: `1 or absent when ${key("rope.scaling.type")} is none`, actual: String(factor) });
    if (ropeFreqs !== undefined) ropeScaling = { type: "frequencyFactors" };
  } else {
    throw new UnsupportedError({ file, field: key("rope.scaling.type"), expected: '"none" or "linear"', actual: show(scalingType) });
  }

  const tiedEmbeddings = !gguf.tensors.some((t) => t.name === GLOBAL_TENSORS.lmHead.gguf);
  let queryPreAttnScalar = headDim;
  let slidingWindow: SlidingWindow | null = null;
  if (architecture === "gemma3") {
    if (gguf.metadata.has(key("final_logit_softcapping"))) {
      throw new UnsupportedError({ file, field: key("final_logit_softcapping"), expected: "absent (no softcapping, as in Gemma 3)", actual: show(gguf.metadata.get(key("final_logit_softcapping"))) });
    }
    // What llama.cpp (llama-model.cpp, LLM_ARCH_GEMMA3) hard-codes rather than reads: every sixth layer global, the
    // local layers' RoPE base 10000 unscaled, and the attention scale 1/sqrt(head_dim) except for the 27B (62
    // layers), whose query_pre_attn_scalar is hidden_size / heads.
    queryPreAttnScalar = numLayers === 62 ? Math.floor(hiddenSize / numHeads) : headDim;
    if (numLayers > gguf.tensors.length) {
      throw new FormatError({ file, field: key("block_count"), expected: `at most ${gguf.tensors.length} layers (the file's tensor count)`, actual: String(numLayers) });
    }
    slidingWindow = {
      size: read.int(key("attention.sliding_window")),
      layers: Array.from({ length: numLayers }, (_, i) => (i + 1) % 6 !== 0),
      ropeTheta: 10_000,
    };
  }
  return finish({
    architecture, hiddenSize, numLayers, numHeads, numKvHeads, headDim, ffnSize, vocabSize, ropeTheta, ropeScaling,
    rmsEps, tiedEmbeddings, contextLength, queryPreAttnScalar, slidingWindow,
  }, file, ggufFields(name));
}

/** Typed access to GGUF metadata: the stored value type must fit the kind of value asked for. */
class GgufReader {
  constructor(private readonly gguf: GgufFile) {}

  private fail(key: string, expected: string, actual: string): ConfigError {
    return new ConfigError({ file: this.gguf.file, field: key, expected, actual });
  }

  private raw(key: string, kinds: ReadonlySet<GgufValueType>, kindName: string): unknown {
    const type = this.gguf.metadataTypes.get(key);
    if (type === undefined) throw this.fail(key, kindName, "nothing (missing)");
    if (!kinds.has(type)) throw this.fail(key, kindName, `a ${type} value ${show(this.gguf.metadata.get(key))}`);
    return this.gguf.metadata.get(key);
  }

  int(key: string, fallback?: number, min = 1): number {
    if (fallback !== undefined && !this.gguf.metadata.has(key)) return fallback;
    const v = this.raw(key, INTEGER_TYPES, "an integer");
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw this.fail(key, min === 0 ? "a non-negative integer" : "a positive integer", show(v));
    return v;
  }

  float(key: string, fallback?: number): number {
    if (fallback !== undefined && !this.gguf.metadata.has(key)) return fallback;
    const v = this.raw(key, FLOAT_TYPES, "a FLOAT32 or FLOAT64");
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw this.fail(key, "a positive finite number", show(v));
    return v;
  }

  string(key: string): string {
    return this.raw(key, new Set(["STRING"]), "a STRING") as string;
  }
}

/** How each source names the fields that cross-field checks report. */
interface FieldNames { readonly kvHeads: string; readonly headDim: string; readonly ropeTheta: string }
const HF_FIELDS: FieldNames = { kvHeads: "num_key_value_heads", headDim: "head_dim", ropeTheta: "rope_theta" };
const ggufFields = (prefix: string): FieldNames => ({ kvHeads: `${prefix}.attention.head_count_kv`, headDim: `${prefix}.attention.key_length`, ropeTheta: `${prefix}.rope.freq_base` });

/** Cross-field checks shared by both sources, then freezing. */
function finish(config: Config, file: string, names: FieldNames): Config {
  const fail = (field: string, expected: string, actual: string): ConfigError => new ConfigError({ file, field, expected, actual });
  if (config.numHeads % config.numKvHeads !== 0) {
    throw fail(names.kvHeads, `a divisor of the ${config.numHeads} query heads`, String(config.numKvHeads));
  }
  if (config.headDim % 2 !== 0) throw fail(names.headDim, "an even number (RoPE rotates pairs)", String(config.headDim));
  // The largest products the engine forms from these sizes: weight matrices and the KV cache, in values.
  const products: [string, number][] = [
    ["vocab_size x hidden_size", config.vocabSize * config.hiddenSize],
    ["num_heads x head_dim x hidden_size", config.numHeads * config.headDim * config.hiddenSize],
    ["intermediate_size x hidden_size", config.ffnSize * config.hiddenSize],
    ["layers x context x kv_heads x head_dim x 2", config.numLayers * config.contextLength * config.numKvHeads * config.headDim * 2],
  ];
  for (const [what, product] of products) {
    if (!Number.isSafeInteger(product)) throw fail(what, "a product below 2^53", String(product));
  }
  // Every value is positive and finite, yet an extreme base or scaling factor (rope_theta 1e-300, factor 1e-300)
  // overflows float32 in the rotation angles, and position 0 times an infinite frequency is NaN: refuse it here
  // rather than produce NaN logits for every prompt.
  const frequency = largestRopeFrequency(config);
  if (!Number.isFinite(frequency) || !Number.isFinite(Math.fround((config.contextLength - 1) * frequency))) {
    const scaling = config.ropeScaling === null || config.ropeScaling.type === "frequencyFactors" ? "" : `, ${config.ropeScaling.type} scaling factor ${config.ropeScaling.factor}`;
    throw fail(names.ropeTheta, "a RoPE base and scaling whose rotation angles are finite in float32 over the context", `base ${config.ropeTheta}${scaling}: a frequency of ${frequency}`);
  }
  const window = config.slidingWindow;
  return Object.freeze({
    ...config,
    ropeScaling: config.ropeScaling === null ? null : Object.freeze({ ...config.ropeScaling }),
    slidingWindow: window === null ? null : Object.freeze({ ...window, layers: Object.freeze([...window.layers]) }),
  });
}

/**
 * An upper bound on the RoPE inverse frequencies src/model/rope.ts will compute (exact without llama3 scaling), found
 * without allocating headDim / 2 values (headDim is not yet checked against any tensor here). The unscaled
 * f_i = 1 / theta^(2i / headDim), in float32 steps, is monotonic in i, so its extremes are the first and last pair;
 * linear scaling divides by the factor, and llama3 scaling gives f, f / factor or a blend of the two.
 */
export function largestRopeFrequency(config: Config): number {
  const half = config.headDim / 2;
  let largest = 0;
  for (const i of [0, half - 1]) {
    const f = Math.fround(1 / Math.fround(config.ropeTheta ** Math.fround((2 * i) / config.headDim)));
    const scaling = config.ropeScaling;
    // Per-frequency factors arrive with the weights; rope.ts checks the frequencies they give (checkRopeFactors).
    const candidates = scaling === null || scaling.type === "frequencyFactors" ? [f] : scaling.type === "linear" ? [f / scaling.factor] : [f, f / scaling.factor];
    for (const c of candidates) {
      const stored = Math.fround(c); // the model keeps frequencies in a Float32Array
      if (Number.isNaN(stored)) return NaN;
      largest = Math.max(largest, stored);
    }
  }
  return largest;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
