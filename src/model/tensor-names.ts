// The one table of weight names: our role for each tensor, its Hugging Face name and its GGUF name.
// Loaders and the converter look names up here; nothing else spells a tensor name.

import type { Architecture } from "./family.js";

export type GlobalTensor = "embed" | "finalNorm" | "lmHead";
export type LayerTensor = "attnNorm" | "wq" | "wk" | "wv" | "wo" | "ffnNorm" | "wGate" | "wUp" | "wDown";

export const GLOBAL_TENSORS: Readonly<Record<GlobalTensor, { readonly hf: string; readonly gguf: string }>> = {
  embed: { hf: "model.embed_tokens.weight", gguf: "token_embd.weight" },
  finalNorm: { hf: "model.norm.weight", gguf: "output_norm.weight" },
  lmHead: { hf: "lm_head.weight", gguf: "output.weight" },
};

export const LAYER_TENSORS: Readonly<Record<LayerTensor, { readonly hf: string; readonly gguf: string }>> = {
  attnNorm: { hf: "input_layernorm.weight", gguf: "attn_norm.weight" },
  wq: { hf: "self_attn.q_proj.weight", gguf: "attn_q.weight" },
  wk: { hf: "self_attn.k_proj.weight", gguf: "attn_k.weight" },
  wv: { hf: "self_attn.v_proj.weight", gguf: "attn_v.weight" },
  wo: { hf: "self_attn.o_proj.weight", gguf: "attn_output.weight" },
  // WARNING, the norm name trap: this is the pre-FFN norm, which Llama's HF checkpoints call
  // post_attention_layernorm. Gemma 3 calls it pre_feedforward_layernorm (HF_NAME_OVERRIDES) and uses the name
  // post_attention_layernorm for a different tensor: the norm on the attention output (attnPostNorm below).
  ffnNorm: { hf: "post_attention_layernorm.weight", gguf: "ffn_norm.weight" },
  wGate: { hf: "mlp.gate_proj.weight", gguf: "ffn_gate.weight" },
  wUp: { hf: "mlp.up_proj.weight", gguf: "ffn_up.weight" },
  wDown: { hf: "mlp.down_proj.weight", gguf: "ffn_down.weight" },
};

/** Biases of the families that have them (model/family.ts qkvBias). */
export type LayerBias = "bq" | "bk" | "bv";

export const LAYER_BIASES: Readonly<Record<LayerBias, { readonly hf: string; readonly gguf: string }>> = {
  bq: { hf: "self_attn.q_proj.bias", gguf: "attn_q.bias" },
  bk: { hf: "self_attn.k_proj.bias", gguf: "attn_k.bias" },
  bv: { hf: "self_attn.v_proj.bias", gguf: "attn_v.bias" },
};

/** Norms of the families that have them (model/family.ts): per-head q/k norms (qkNorm), post-sublayer norms (postNorms). */
export type ExtraLayerNorm = "qNorm" | "kNorm" | "attnPostNorm" | "ffnPostNorm";

export const EXTRA_LAYER_NORMS: Readonly<Record<ExtraLayerNorm, { readonly hf: string; readonly gguf: string }>> = {
  qNorm: { hf: "self_attn.q_norm.weight", gguf: "attn_q_norm.weight" },
  kNorm: { hf: "self_attn.k_norm.weight", gguf: "attn_k_norm.weight" },
  // WARNING, the norm name trap (see ffnNorm above): in Gemma 3 this HF name is the norm on the attention output,
  // before the residual add, not the pre-FFN norm it is in Llama.
  attnPostNorm: { hf: "post_attention_layernorm.weight", gguf: "post_attention_norm.weight" },
  ffnPostNorm: { hf: "post_feedforward_layernorm.weight", gguf: "post_ffw_norm.weight" },
};

/** HF names that differ by family (GGUF names do not). */
const HF_NAME_OVERRIDES: Readonly<Partial<Record<Architecture, Partial<Record<LayerTensor, string>>>>> = {
  gemma3: { ffnNorm: "pre_feedforward_layernorm.weight" },
};

/** The GGUF-only tensor of Llama 3 files: llama.cpp's per-frequency RoPE divisors, F32 [headDim / 2]. */
export const ROPE_FREQS_GGUF = "rope_freqs.weight";

export type AnyLayerTensor = LayerTensor | LayerBias | ExtraLayerNorm;

const layerEntry = (tensor: AnyLayerTensor) =>
  tensor in LAYER_TENSORS ? LAYER_TENSORS[tensor as LayerTensor] : tensor in LAYER_BIASES ? LAYER_BIASES[tensor as LayerBias] : EXTRA_LAYER_NORMS[tensor as ExtraLayerNorm];

export function hfLayerName(layer: number, tensor: AnyLayerTensor, architecture: Architecture = "llama"): string {
  return `model.layers.${layer}.${HF_NAME_OVERRIDES[architecture]?.[tensor as LayerTensor] ?? layerEntry(tensor).hf}`;
}

export function ggufLayerName(layer: number, tensor: AnyLayerTensor): string {
  return `blk.${layer}.${layerEntry(tensor).gguf}`;
}

// WARNING, the RoPE layout trap. HF Llama rotates "half-split" pairs (i, i + headDim/2) of each head. llama.cpp's
// convert script permutes the rows of attn_q / attn_k so that its kernel can rotate interleaved pairs (2i, 2i+1).
// Our RoPE kernel uses HF's half-split pairs, so GGUF Q/K rows are put back in HF order at load time (a pure row
// copy, valid for quantized rows too) and the converter writes HF order.
//
// GGUF row for head h, pair index i in [0, headDim/2), member j in {0, 1}:  h*headDim + 2*i + j
// HF row for the same value:                                                 h*headDim + j*headDim/2 + i

/** For each HF row index, the GGUF row that holds it (Q with numHeads heads, K with numKvHeads heads). */
export function ggufRowForHfRow(rows: number, headDim: number): Int32Array {
  const map = new Int32Array(rows);
  const half = headDim / 2;
  for (let hfRow = 0; hfRow < rows; hfRow++) {
    const head = Math.floor(hfRow / headDim);
    const within = hfRow % headDim;
    const member = within < half ? 0 : 1;
    const pair = within % half;
    map[hfRow] = head * headDim + 2 * pair + member;
  }
  return map;
}
