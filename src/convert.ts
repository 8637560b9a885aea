// GGUF -> Hugging Face folder converter: config.json, generation_config.json and model.safetensors that
// transformers' LlamaForCausalLM loads. It is a tool, not the inference path, so it dequantizes: quantized weights
// come out as the F32 (or F16) values the quantized model actually computes with. Q/K rows go back to HF order.

import { ConfigError, FormatError, InputError, ResourceError, UnsupportedError, show } from "./errors.js";
import { rowBytes } from "./io/dtype.js";
import type { GgufFile, GgufTensor } from "./io/gguf.js";
import { planSafetensors } from "./io/safetensors.js";
import { type Config, configFromGguf } from "./model/config.js";
import { GLOBAL_TENSORS, LAYER_TENSORS, type LayerTensor, ggufLayerName, ggufRowForHfRow, hfLayerName, ROPE_FREQS_GGUF } from "./model/tensor-names.js";
import { dequantize, f32ToF16 } from "./reference/quant.js";

export type ConvertDType = "F32" | "F16";

export interface ConvertSource {
  readonly gguf: GgufFile;
  readonly bytes: Uint8Array;
  readonly config: Config;
}

export interface ConvertOptions {
  readonly dtype: ConvertDType;
  /**
   * The hook for files this module does not make, e.g. tokenizer.json and tokenizer_config.json built from the
   * GGUF's tokenizer.ggml.* metadata by src/text. Keys are plain file names; they must not clash with ours.
   */
  readonly extraFiles?: (source: ConvertSource) => ReadonlyMap<string, Uint8Array>;
}

export interface ConvertResult {
  readonly config: Config;
  readonly files: Map<string, Uint8Array>;
}

/** The files convertGgufToHf always produces. */
export const CONVERTED_FILES = Object.freeze(["config.json", "generation_config.json", "model.safetensors"]);

const TORCH_DTYPE: Readonly<Record<ConvertDType, string>> = { F32: "float32", F16: "float16" };
/** The smallest magnitude that rounds to infinity in F16 (65504 is the largest finite half). */
const F16_OVERFLOW = 65520;

interface Planned {
  readonly hfName: string;
  readonly source: GgufTensor;
  readonly rows: number;
  readonly cols: number;
  /** For attn_q / attn_k: the GGUF row holding each HF row. */
  readonly rowOrder?: Int32Array;
}

/** Converts a parsed GGUF (and the bytes it was parsed from) to the files of a Hugging Face model folder. */
export function convertGgufToHf(gguf: GgufFile, bytes: Uint8Array, options: ConvertOptions): ConvertResult {
  const { dtype } = options;
  if (dtype !== "F32" && dtype !== "F16") throw new InputError({ file: "convert options", field: "dtype", expected: '"F32" or "F16"', actual: show(dtype) });
  const config = configFromGguf(gguf);
  if (config.architecture !== "llama") {
    throw new UnsupportedError({ file: gguf.file, field: "general.architecture", expected: '"llama" (the converter writes LlamaForCausalLM folders)', actual: JSON.stringify(config.architecture) });
  }
  if (config.ropeScaling?.type === "frequencyFactors") {
    // config.json states Llama 3 scaling by its parameters, which the per-frequency factors do not give back exactly.
    throw new UnsupportedError({ file: gguf.file, field: ROPE_FREQS_GGUF, expected: "no per-frequency RoPE factors (config.json cannot state them)", actual: "present (Llama 3 scaling)" });
  }
  const plan = planTensors(gguf, bytes, config);

  const files = new Map<string, Uint8Array>();
  const encoder = new TextEncoder();
  const tokens = tokenIds(gguf, config);
  files.set("config.json", encoder.encode(`${JSON.stringify(hfConfigJson(config, gguf, tokens, dtype), null, 2)}\n`));
  files.set("generation_config.json", encoder.encode(`${JSON.stringify(tokens, null, 2)}\n`));
  files.set("model.safetensors", writeWeights(plan, bytes, dtype, gguf.file));

  if (options.extraFiles !== undefined) {
    for (const [name, data] of options.extraFiles({ gguf, bytes, config })) {
      if (files.has(name) || name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
        throw new InputError({ file: "convert options", field: "extraFiles", expected: `plain file names other than ${CONVERTED_FILES.join(", ")}`, actual: show(name) });
      }
      files.set(name, data);
    }
  }
  return { config, files };
}

/** Every tensor the Llama graph needs, in HF order, checked against the GGUF's shapes; anything left over is refused. */
function planTensors(gguf: GgufFile, bytes: Uint8Array, config: Config): Planned[] {
  const byName = new Map(gguf.tensors.map((t) => [t.name, t]));
  const used = new Set<string>();
  const { hiddenSize: hidden, headDim, numHeads, numKvHeads, ffnSize, vocabSize } = config;
  const plan: Planned[] = [];
  const take = (ggufName: string, hfName: string, shape: readonly number[], ropeRows = false): void => {
    const source = byName.get(ggufName);
    if (source === undefined) throw new FormatError({ file: gguf.file, field: ggufName, expected: `a tensor of shape [${shape.join(", ")}]`, actual: "no such tensor" });
    if (source.shape.length !== shape.length || source.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError({ file: gguf.file, field: ggufName, expected: `shape [${shape.join(", ")}]`, actual: `[${source.shape.join(", ")}]` });
    }
    if (source.offset + source.byteLength > bytes.byteLength) {
      throw new FormatError({ file: gguf.file, field: ggufName, expected: `data ending by byte ${bytes.byteLength}`, actual: `data ending at ${source.offset + source.byteLength} (bytes are not the parsed file?)` });
    }
    used.add(ggufName);
    const rows = shape.length === 2 ? shape[0]! : 1;
    const cols = shape[shape.length - 1]!;
    plan.push({ hfName, source, rows, cols, rowOrder: ropeRows ? ggufRowForHfRow(rows, headDim) : undefined });
  };

  take(GLOBAL_TENSORS.embed.gguf, GLOBAL_TENSORS.embed.hf, [vocabSize, hidden]);
  const layerShapes: Readonly<Record<LayerTensor, readonly number[]>> = {
    attnNorm: [hidden], wq: [numHeads * headDim, hidden], wk: [numKvHeads * headDim, hidden], wv: [numKvHeads * headDim, hidden],
    wo: [hidden, numHeads * headDim], ffnNorm: [hidden], wGate: [ffnSize, hidden], wUp: [ffnSize, hidden], wDown: [hidden, ffnSize],
  };
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const role of Object.keys(LAYER_TENSORS) as LayerTensor[]) {
      take(ggufLayerName(layer, role), hfLayerName(layer, role), layerShapes[role], role === "wq" || role === "wk");
    }
  }
  take(GLOBAL_TENSORS.finalNorm.gguf, GLOBAL_TENSORS.finalNorm.hf, [hidden]);
  if (!config.tiedEmbeddings) take(GLOBAL_TENSORS.lmHead.gguf, GLOBAL_TENSORS.lmHead.hf, [vocabSize, hidden]);

  const leftover = gguf.tensors.find((t) => !used.has(t.name));
  if (leftover !== undefined) {
    throw new UnsupportedError({ file: gguf.file, field: leftover.name, expected: "only the tensors of a Llama model", actual: "a tensor the converter has no Hugging Face name for (it would be dropped)" });
  }
  return plan;
}

/** Allocates model.safetensors once and dequantizes every tensor row by row straight into it. */
function writeWeights(plan: readonly Planned[], bytes: Uint8Array, dtype: ConvertDType, file: string): Uint8Array {
  const layout = planSafetensors(plan.map((p) => ({ name: p.hfName, dtype, shape: p.source.shape })), { format: "pt" });
  let out: Uint8Array;
  try {
    out = new Uint8Array(layout.totalBytes);
  } catch {
    // Dequantizing grows weights up to 7x (Q4 to F32), so a large model can outgrow what one buffer may hold.
    throw new ResourceError({ file, field: "model.safetensors", expected: `a ${layout.totalBytes}-byte buffer`, actual: "allocation failed", detail: "try dtype F16, or a smaller model" });
  }
  out.set(layout.header, 0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let t = 0; t < plan.length; t++) {
    const { hfName, source, rows, cols, rowOrder } = plan[t]!;
    const sourceRowBytes = rowBytes(source.dtype, cols)!;
    const row = new Float32Array(cols);
    let at = layout.offsets[t]!;
    for (let hfRow = 0; hfRow < rows; hfRow++) {
      // WARNING: RoPE layout. GGUF stores attn_q / attn_k rows permuted for llama.cpp's interleaved-pair RoPE;
      // HF rotates half-split pairs, so HF row r is GGUF row rowOrder[r] (see ggufRowForHfRow). Forgetting this
      // still loads and runs, and silently produces garbage.
      const ggufRow = rowOrder === undefined ? hfRow : rowOrder[hfRow]!;
      dequantize(source.dtype, bytes, source.offset + ggufRow * sourceRowBytes, cols, row);
      if (dtype === "F32") {
        for (let i = 0; i < cols; i++, at += 4) view.setFloat32(at, row[i]!, true);
      } else {
        for (let i = 0; i < cols; i++, at += 2) {
          const value = row[i]!;
          if (Number.isFinite(value) && Math.abs(value) >= F16_OVERFLOW) {
            throw new InputError({ file, field: source.name, expected: `values that F16 holds (|x| < ${F16_OVERFLOW}) for dtype F16`, actual: `${value} (convert with dtype F32)`, detail: `HF tensor ${hfName}` });
          }
          view.setUint16(at, f32ToF16(value), true);
        }
      }
    }
  }
  return out;
}

/** Special token ids as config.json / generation_config.json spell them. */
export interface HfTokenIds {
  bos_token_id?: number;
  eos_token_id?: number;
  pad_token_id?: number;
}

/** Special token ids from tokenizer.ggml.*, when present; each must name a row of the embedding table. */
function tokenIds(gguf: GgufFile, config: Config): HfTokenIds {
  const ids: HfTokenIds = {};
  const keys = [["bos_token_id", "tokenizer.ggml.bos_token_id"], ["eos_token_id", "tokenizer.ggml.eos_token_id"], ["pad_token_id", "tokenizer.ggml.padding_token_id"]] as const;
  for (const [hfKey, ggufKey] of keys) {
    if (!gguf.metadata.has(ggufKey)) continue;
    const value = gguf.metadata.get(ggufKey);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value >= config.vocabSize) {
      throw new ConfigError({ file: gguf.file, field: ggufKey, expected: `a token id below the vocabulary size ${config.vocabSize}`, actual: show(value) });
    }
    ids[hfKey] = value;
  }
  return ids;
}

/**
 * A transformers LlamaConfig for `config`, in the legacy rope_theta / rope_scaling form that transformers 4 and 5
 * both read. FLOAT32 metadata is written as the shortest decimal that rounds to the same float (1e-05, not
 * 9.999999747378752e-06), i.e. the value the GGUF was made from.
 */
export function hfConfigJson(config: Config, gguf: GgufFile | undefined, tokens: HfTokenIds, dtype: ConvertDType): Record<string, unknown> {
  const float = (value: number, key: string): number => gguf?.metadataTypes.get(key) === "FLOAT32" ? shortestFloat32(value) : value;
  let ropeScaling: Record<string, unknown> | null = null;
  if (config.ropeScaling?.type === "linear") {
    ropeScaling = { rope_type: "linear", factor: float(config.ropeScaling.factor, "llama.rope.scaling.factor") };
  } else if (config.ropeScaling?.type === "llama3") {
    const s = config.ropeScaling;
    ropeScaling = {
      rope_type: "llama3", factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor,
      original_max_position_embeddings: s.originalContextLength,
    };
  }
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: config.hiddenSize,
    intermediate_size: config.ffnSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.contextLength,
    rms_norm_eps: float(config.rmsEps, "llama.attention.layer_norm_rms_epsilon"),
    rope_theta: float(config.ropeTheta, "llama.rope.freq_base"),
    rope_scaling: ropeScaling,
    tie_word_embeddings: config.tiedEmbeddings,
    hidden_act: "silu",
    attention_bias: false,
    mlp_bias: false,
    attention_dropout: 0.0,
    pretraining_tp: 1,
    use_cache: true,
    ...tokens,
    torch_dtype: TORCH_DTYPE[dtype],
  };
}

/** The shortest decimal that rounds to the same float32 as `value`. */
function shortestFloat32(value: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === Math.fround(value)) return candidate;
  }
  return value;
}
