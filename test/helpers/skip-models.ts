// Models for the FFN-skip tests: a deeper variant of the tiny random Llama (its layers drawn from the fixture's
// generator with different seeds, so no new weight code), wrapped as a LanguageModel with a stub tokenizer (the skip
// code works on token ids), and SmolLM2 when its weights have been pulled (loaded once per test process).
import { existsSync } from "node:fs";
import { LanguageModel } from "../../src/language-model.js";
import { parseModelSource } from "../../src/load.js";
import { modelFingerprint } from "../../src/model/fingerprint.js";
import { createTransformer, type EngineOptions } from "../../src/model/load.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { loadModelFromPath } from "../../src/node.js";
import { DEFAULT_MODEL_PATH } from "../../src/node/pull.js";
import { CHATML_TEMPLATE, createChatTemplate } from "../../src/text/chat-template.js";
import type { Tokenizer } from "../../src/text/tokenizer.js";
import { encodeFloats, makeTinyLlama } from "../fixtures/tiny-llama.js";
import { mulberry32, randomF32 } from "./rng.js";

/** config.json and model.safetensors of a tiny random Llama with `layers` layers (hidden 64, vocab 256). */
export function deepTinyFiles(layers: number): { config: Record<string, unknown>; safetensors: Uint8Array } {
  const base = makeTinyLlama();
  const tensors = base.tensors.filter((t) => !t.name.startsWith("model.layers."));
  for (let l = 0; l < layers; l++) {
    const donor = l < 2 ? base : makeTinyLlama({ seed: 1000 + Math.floor(l / 2) });
    for (const t of donor.tensors) {
      const match = /^model\.layers\.(\d+)\.(.+)$/.exec(t.name);
      if (match !== null && Number(match[1]) === l % 2) tensors.push({ ...t, name: `model.layers.${l}.${match[2]}` });
    }
  }
  const safetensors = writeSafetensors(tensors.map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: encodeFloats(t.data, "F32") })), { format: "pt" });
  return { config: { ...base.config, num_hidden_layers: layers }, safetensors };
}

/** The deep tiny model restated as another family: its deltas from Llama added to the same weights. */
export type TinyFamily = "qwen3" | "llama3" | "mistral";

export function tinyFamilyFiles(family: TinyFamily, layers: number): { config: Record<string, unknown>; safetensors: Uint8Array } {
  const base = deepTinyFiles(layers);
  const headDim = base.config.head_dim as number;
  if (family === "llama3") {
    // original_max_position_embeddings 64: head_dim 16's wavelengths fall in all three bands of the scaling.
    return { ...base, config: { ...base.config, rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } } };
  }
  if (family === "mistral") return { ...base, config: { ...base.config, model_type: "mistral", architectures: ["MistralForCausalLM"], sliding_window: 16 } };
  // qwen3: per-head Q and K norm weights around 1 (deterministic, different per layer and per element).
  const norms = [];
  for (let l = 0; l < layers; l++) {
    for (const [which, phase] of [["q_norm", 0], ["k_norm", 1]] as const) {
      const data = Float32Array.from({ length: headDim }, (_, i) => 1 + 0.1 * Math.sin(7 * l + 3 * i + phase));
      norms.push({ name: `model.layers.${l}.self_attn.${which}.weight`, dtype: "F32" as const, shape: [headDim], data: encodeFloats(data, "F32") });
    }
  }
  const parsed = readSafetensors(base.safetensors);
  const tensors = parsed.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: base.safetensors.subarray(t.offset, t.offset + t.byteLength) }));
  return {
    config: { ...base.config, model_type: "qwen3", architectures: ["Qwen3ForCausalLM"] },
    safetensors: writeSafetensors([...tensors, ...norms], { format: "pt" }),
  };
}

/** A tiny family model as a LanguageModel (stub tokenizer). */
export async function tinyFamilyModel(family: TinyFamily, layers: number, options: EngineOptions = {}): Promise<LanguageModel> {
  const files = tinyFamilyFiles(family, layers);
  const parsed = parseModelSource({ name: `tiny-${family}-${layers}`, config: files.config, safetensors: files.safetensors });
  const [transformer, fingerprint] = await Promise.all([createTransformer(parsed.config, parsed.weights, options), modelFingerprint(parsed.config, parsed.weights)]);
  return new LanguageModel(parsed.name, parsed.config, transformer, STUB_TOKENIZER, createChatTemplate(CHATML_TEMPLATE), fingerprint);
}

const STUB_TOKENIZER = { eosTokenIds: [], bosTokenId: undefined } as unknown as Tokenizer;

/** The deep tiny model as a LanguageModel (token ids only: its tokenizer is a stub). */
export async function deepTinyModel(layers: number, options: EngineOptions = {}): Promise<LanguageModel> {
  const files = deepTinyFiles(layers);
  const parsed = parseModelSource({ name: `tiny-llama-${layers}`, config: files.config, safetensors: files.safetensors });
  const [transformer, fingerprint] = await Promise.all([createTransformer(parsed.config, parsed.weights, options), modelFingerprint(parsed.config, parsed.weights)]);
  return new LanguageModel(parsed.name, parsed.config, transformer, STUB_TOKENIZER, createChatTemplate(CHATML_TEMPLATE), fingerprint);
}

/**
 * A tiny random Gemma 3 (gemma3_text config.json + F32 safetensors): 6 layers, five local with a window of 8 and one
 * global, q/k and sandwich norms, GeGLU. Embeddings are large next to the normalized sublayer outputs, as in trained
 * models, so FFN similarities are high and a paper policy finds layers to skip.
 */
export async function tinyGemma3Model(options: EngineOptions = {}): Promise<LanguageModel> {
  const [hidden, layers, heads, kvHeads, headDim, ffn, vocab] = [64, 6, 4, 2, 16, 96, 256];
  const config = {
    model_type: "gemma3_text", hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kvHeads,
    head_dim: headDim, intermediate_size: ffn, vocab_size: vocab, max_position_embeddings: 256, sliding_window: 8,
    layer_types: Array.from({ length: layers }, (_, l) => ((l + 1) % 6 === 0 ? "full_attention" : "sliding_attention")),
    query_pre_attn_scalar: headDim, rope_theta: 1e6, rope_local_base_freq: 1e4, rms_norm_eps: 1e-6, tie_word_embeddings: true,
  };
  const rand = mulberry32(0x9e3a);
  const tensor = (name: string, shape: number[], scale: number) => ({ name, dtype: "F32" as const, shape, data: encodeFloats(randomF32(rand, shape.reduce((a, b) => a * b, 1), scale), "F32") });
  const tensors = [tensor("model.embed_tokens.weight", [vocab, hidden], 0.5), tensor("model.norm.weight", [hidden], 0.1)];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    tensors.push(
      tensor(`${p}input_layernorm.weight`, [hidden], 0.1), tensor(`${p}post_attention_layernorm.weight`, [hidden], 0.1),
      tensor(`${p}pre_feedforward_layernorm.weight`, [hidden], 0.1), tensor(`${p}post_feedforward_layernorm.weight`, [hidden], 0.1),
      tensor(`${p}self_attn.q_norm.weight`, [headDim], 0.1), tensor(`${p}self_attn.k_norm.weight`, [headDim], 0.1),
      tensor(`${p}self_attn.q_proj.weight`, [heads * headDim, hidden], 0.1), tensor(`${p}self_attn.k_proj.weight`, [kvHeads * headDim, hidden], 0.1),
      tensor(`${p}self_attn.v_proj.weight`, [kvHeads * headDim, hidden], 0.1), tensor(`${p}self_attn.o_proj.weight`, [hidden, heads * headDim], 0.1),
      tensor(`${p}mlp.gate_proj.weight`, [ffn, hidden], 0.1), tensor(`${p}mlp.up_proj.weight`, [ffn, hidden], 0.1), tensor(`${p}mlp.down_proj.weight`, [hidden, ffn], 0.1),
    );
  }
  const parsed = parseModelSource({ name: "tiny-gemma3", config, safetensors: writeSafetensors(tensors, { format: "pt" }) });
  const [transformer, fingerprint] = await Promise.all([createTransformer(parsed.config, parsed.weights, options), modelFingerprint(parsed.config, parsed.weights)]);
  return new LanguageModel(parsed.name, parsed.config, transformer, STUB_TOKENIZER, createChatTemplate(CHATML_TEMPLATE), fingerprint);
}

let smol: Promise<LanguageModel> | undefined;

/** SmolLM2-135M-Instruct (256-token context), or undefined with the reason printed when it has not been pulled. */
export async function smolLM2(suite: string): Promise<LanguageModel | undefined> {
  if (!existsSync(DEFAULT_MODEL_PATH)) {
    console.log(`  [${suite}] skipping the SmolLM2 checks: ${DEFAULT_MODEL_PATH} is missing (run \`ffnskip pull smollm2\`)`);
    return undefined;
  }
  smol ??= loadModelFromPath(DEFAULT_MODEL_PATH, { maxContext: 256 });
  return smol;
}

/** Random token ids in [0, vocab), reproducible. */
export function randomTokens(count: number, vocab: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % vocab;
  });
}
