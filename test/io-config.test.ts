import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, FormatError, UnsupportedError } from "../src/errors.js";
import { configFromGguf, configFromHf } from "../src/model/config.js";
import { readGguf } from "../src/io/gguf.js";
import { type GgufMetadataEntry, type GgufWriteTensor, writeGguf } from "../src/io/gguf-writer.js";
import type { Config } from "../src/model/config.js";
import { findOracle } from "./oracle/oracle.js";
import { throwsTyped } from "./helpers/assert-typed.js";

const REAL_MODEL = new URL("../weights/SmolLM2-135M-Instruct.Q4_1.gguf", import.meta.url).pathname;

// HuggingFaceTB/SmolLM2-135M-Instruct's published config.json, typed in by hand.
const SMOLLM2_HF = {
  architectures: ["LlamaForCausalLM"], attention_bias: false, attention_dropout: 0.0, bos_token_id: 1, eos_token_id: 2,
  hidden_act: "silu", hidden_size: 576, initializer_range: 0.041666666666666664, intermediate_size: 1536,
  is_llama_config: true, max_position_embeddings: 8192, model_type: "llama", num_attention_heads: 9,
  num_hidden_layers: 30, num_key_value_heads: 3, pad_token_id: 2, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_interleaved: false, rope_scaling: null, rope_theta: 100000, tie_word_embeddings: true, torch_dtype: "bfloat16",
  transformers_version: "4.42.3", use_cache: true, vocab_size: 49152,
};
const SMOLLM2_CONFIG: Config = {
  architecture: "llama", hiddenSize: 576, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, ffnSize: 1536,
  vocabSize: 49152, ropeTheta: 100000, ropeScaling: null, rmsEps: 1e-5, tiedEmbeddings: true, contextLength: 8192,
  queryPreAttnScalar: 64, slidingWindow: null,
};
const MINIMAL_HF = { model_type: "llama", hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 160, vocab_size: 256 };

test("SmolLM2's config.json resolves to the expected Config, frozen", () => {
  const config = configFromHf(SMOLLM2_HF);
  assert.equal(config, SMOLLM2_CONFIG);
  assert.ok(Object.isFrozen(config));
});

test("HF defaults follow transformers' LlamaConfig", () => {
  const config = configFromHf(MINIMAL_HF);
  assert.equal(config, {
    architecture: "llama", hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 4, headDim: 16, ffnSize: 160, vocabSize: 256,
    ropeTheta: 10000, ropeScaling: null, rmsEps: 1e-6, tiedEmbeddings: false, contextLength: 2048, queryPreAttnScalar: 16, slidingWindow: null,
  });
  assert.is(configFromHf({ ...MINIMAL_HF, head_dim: null, num_key_value_heads: null, rope_theta: null }).headDim, 16);
  assert.is(configFromHf({ ...MINIMAL_HF, head_dim: 32 }).headDim, 32);
  const byArchitecture = { ...MINIMAL_HF, model_type: undefined, architectures: ["LlamaForCausalLM"] };
  assert.is(configFromHf(byArchitecture).numKvHeads, 4);
});

test("RoPE: legacy rope_scaling, transformers 5 rope_parameters, and their precedence", () => {
  assert.equal(configFromHf({ ...MINIMAL_HF, rope_scaling: { type: "linear", factor: 2 } }).ropeScaling, { type: "linear", factor: 2 });
  assert.equal(configFromHf({ ...MINIMAL_HF, rope_scaling: { rope_type: "default" }, rope_theta: 5e5 }).ropeTheta, 5e5);
  const llama31 = { ...MINIMAL_HF, max_position_embeddings: 131072, rope_theta: 500000, rope_scaling: { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192, rope_type: "llama3" } };
  const c = configFromHf(llama31);
  assert.equal([c.ropeTheta, c.ropeScaling], [500000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 }]);
  const noOriginal = { ...llama31, rope_scaling: { ...llama31.rope_scaling, original_max_position_embeddings: undefined } };
  assert.equal((configFromHf(noOriginal).ropeScaling as { originalContextLength: number }).originalContextLength, 131072);
  // transformers 5 writes rope_parameters and no top-level rope_theta.
  assert.equal(configFromHf({ ...MINIMAL_HF, rope_parameters: { rope_theta: 100000, rope_type: "default" } }).ropeTheta, 100000);
  assert.equal(configFromHf({ ...MINIMAL_HF, rope_parameters: { rope_type: "linear", factor: 4 } }).ropeScaling, { type: "linear", factor: 4 });
  // A legacy rope_scaling wins over rope_parameters; an empty one does not.
  assert.equal(configFromHf({ ...MINIMAL_HF, rope_scaling: { rope_type: "linear", factor: 2 }, rope_parameters: { rope_type: "linear", factor: 9 } }).ropeScaling, { type: "linear", factor: 2 });
  assert.equal(configFromHf({ ...MINIMAL_HF, rope_scaling: {}, rope_parameters: { rope_type: "linear", factor: 9 } }).ropeScaling, { type: "linear", factor: 9 });
  assert.ok(Object.isFrozen(c.ropeScaling));
});

test("Mistral: defaults, and a sliding window shorter than the context is kept (longer or null: none)", () => {
  const mistral = { ...MINIMAL_HF, model_type: "mistral", num_key_value_heads: 2, max_position_embeddings: 32768 };
  const windowed = configFromHf({ ...mistral, sliding_window: 4096 });
  assert.equal([windowed.contextLength, windowed.slidingWindow], [32768, { size: 4096, layers: [true, true], ropeTheta: null }]);
  assert.equal([configFromHf({ ...mistral, sliding_window: null }).contextLength, configFromHf({ ...mistral, sliding_window: null }).slidingWindow], [32768, null]);
  assert.is(configFromHf({ ...mistral, sliding_window: 32768 }).slidingWindow, null, "a window the whole context long restricts nothing");
  assert.is(configFromHf({ ...mistral, sliding_window: 65536 }).slidingWindow, null);
  assert.is(configFromHf(mistral).slidingWindow?.size, 4096, "MistralConfig's default window is 4096");
  const bare = { ...MINIMAL_HF, model_type: "mistral", num_attention_heads: 8, hidden_size: 128, sliding_window: null };
  assert.equal([configFromHf(bare).numKvHeads, configFromHf(bare).contextLength], [8, 131072]);
  assert.is(configFromHf({ ...bare, num_key_value_heads: null }).numKvHeads, 8);
  assert.is(configFromHf({ ...bare, num_attention_heads: 16, num_key_value_heads: null }).numKvHeads, 16);
  assert.is(configFromHf({ ...bare, model_type: undefined, architectures: ["MistralForCausalLM"], sliding_window: undefined }).slidingWindow?.size, 4096);
  throwsTyped(() => configFromHf({ ...mistral, layer_types: ["sliding_attention", "full_attention"] }, "m.json"), UnsupportedError, /m\.json: layer_types: expected absent, or "full_attention" for every layer/);
});

test("HF qwen3: family, head_dim apart from hidden / heads (default 128), no biases, sliding window refused", () => {
  const qwen = { ...MINIMAL_HF, model_type: "qwen3", architectures: ["Qwen3ForCausalLM"], rope_theta: 1000000, num_key_value_heads: 2, head_dim: 24, tie_word_embeddings: true };
  const config = configFromHf(qwen);
  assert.equal([config.architecture, config.headDim, config.numHeads * config.headDim, config.hiddenSize, config.tiedEmbeddings], ["qwen3", 24, 96, 64, true]);
  // Qwen3Config: head_dim 128, num_key_value_heads 32 and max_position_embeddings 32768 when missing.
  const bare = { ...qwen, head_dim: undefined, num_attention_heads: 32, num_key_value_heads: undefined, max_position_embeddings: undefined };
  assert.equal([configFromHf(bare).headDim, configFromHf(bare).numKvHeads, configFromHf(bare).contextLength], [128, 32, 32768]);
  assert.is(configFromHf({ ...qwen, model_type: undefined }).architecture, "qwen3", "found by its architectures entry");
  assert.is(configFromHf({ ...qwen, layer_types: ["full_attention", "full_attention"] }).architecture, "qwen3");
  throwsTyped(() => configFromHf({ ...qwen, use_sliding_window: true }, "q.json"), UnsupportedError, /q\.json: use_sliding_window: expected false/);
  throwsTyped(() => configFromHf({ ...qwen, attention_bias: true }, "q.json"), UnsupportedError, /q\.json: attention_bias/);
});

test("HF qwen2: family, transformers' defaults, biases implied, sliding window refused", () => {
  const qwen = { ...MINIMAL_HF, model_type: "qwen2", architectures: ["Qwen2ForCausalLM"], attention_bias: undefined, rope_theta: 1000000, num_key_value_heads: 2 };
  const config = configFromHf(qwen);
  assert.is(config.architecture, "qwen2");
  assert.is(config.ropeTheta, 1000000);
  // Qwen2Config: a missing num_key_value_heads is 32 and max_position_embeddings 32768.
  const bare = { ...qwen, num_attention_heads: 32, hidden_size: 2048, num_key_value_heads: undefined, max_position_embeddings: undefined };
  assert.equal([configFromHf(bare).numKvHeads, configFromHf(bare).contextLength], [32, 32768]);
  assert.is(configFromHf({ ...qwen, model_type: undefined }).architecture, "qwen2", "found by its architectures entry");
  throwsTyped(() => configFromHf({ ...qwen, use_sliding_window: true }, "q.json"), UnsupportedError, /q\.json: use_sliding_window: expected false/);
  throwsTyped(() => configFromHf({ ...qwen, mlp_bias: true }, "q.json"), UnsupportedError, /q\.json: mlp_bias/);
});

test("HF errors name the field, what was expected and what was found", () => {
  const bad = (patch: Record<string, unknown>) => () => configFromHf({ ...MINIMAL_HF, ...patch }, "cfg.json");
  throwsTyped(() => configFromHf([1]), ConfigError, /config\.json: expected a JSON object, got array of 1/);
  throwsTyped(() => configFromHf(null), ConfigError, /JSON object/);
  throwsTyped(bad({ model_type: "phi3" }), UnsupportedError, /cfg\.json: model_type: expected one of "llama", "mistral", "qwen2", "qwen3", "gemma3_text", got "phi3"/);
  throwsTyped(bad({ model_type: undefined, architectures: ["GPT2LMHeadModel"] }), UnsupportedError, /GPT2LMHeadModel/);
  throwsTyped(bad({ hidden_size: undefined }), ConfigError, /cfg\.json: hidden_size: expected a value, got nothing \(missing\)/);
  throwsTyped(bad({ hidden_size: "64" }), ConfigError, /hidden_size: expected a positive integer, got "64"/);
  throwsTyped(bad({ num_hidden_layers: 0 }), ConfigError, /num_hidden_layers: expected a positive integer, got 0/);
  throwsTyped(bad({ intermediate_size: 1.5 }), ConfigError, /intermediate_size/);
  throwsTyped(bad({ vocab_size: -3 }), ConfigError, /vocab_size/);
  throwsTyped(bad({ num_key_value_heads: 3 }), ConfigError, /num_key_value_heads: expected a divisor of the 4 query heads, got 3/);
  throwsTyped(bad({ head_dim: 15 }), ConfigError, /head_dim: expected an even number/);
  throwsTyped(bad({ num_attention_heads: 3 }), ConfigError, /head_dim: expected present, or hidden_size divisible by num_attention_heads/);
  throwsTyped(bad({ hidden_act: "gelu" }), UnsupportedError, /hidden_act: expected "silu", got "gelu"/);
  throwsTyped(bad({ attention_bias: true }), UnsupportedError, /attention_bias/);
  throwsTyped(bad({ mlp_bias: true }), UnsupportedError, /mlp_bias/);
  throwsTyped(bad({ attention_bias: "no" }), ConfigError, /attention_bias: expected true or false/);
  throwsTyped(bad({ tie_word_embeddings: 1 }), ConfigError, /tie_word_embeddings/);
  throwsTyped(bad({ rms_norm_eps: 0 }), ConfigError, /rms_norm_eps: expected a positive finite number, got 0/);
  throwsTyped(bad({ rope_theta: "1e4" }), ConfigError, /rope_theta/);
  for (const type of ["dynamic", "yarn", "longrope", "su"]) {
    throwsTyped(bad({ rope_scaling: { rope_type: type, factor: 2 } }), UnsupportedError, new RegExp(`rope_scaling\\.rope_type: expected "default", "linear" or "llama3", got "${type}"`));
  }
  throwsTyped(bad({ rope_parameters: { rope_type: "yarn", factor: 2 } }), UnsupportedError, /rope_parameters\.rope_type/);
  throwsTyped(bad({ rope_scaling: { type: "linear" } }), ConfigError, /rope_scaling\.factor: expected a value/);
  throwsTyped(bad({ rope_scaling: { rope_type: "llama3", factor: 8, high_freq_factor: 4 } }), ConfigError, /rope_scaling\.low_freq_factor/);
  throwsTyped(bad({ rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 4, high_freq_factor: 1 } }), ConfigError, /high_freq_factor: expected greater than low_freq_factor/);
  throwsTyped(bad({ rope_scaling: "linear" }), ConfigError, /rope_scaling: expected null or an object/);
  throwsTyped(bad({ partial_rotary_factor: 0.5 }), UnsupportedError, /partial_rotary_factor/);
  throwsTyped(bad({ vocab_size: 2 ** 40, hidden_size: 2 ** 20, head_dim: 16 }), ConfigError, /vocab_size x hidden_size: expected a product below 2\^53/);
  throwsTyped(bad({ model_type: "mistral", sliding_window: 0 }), ConfigError, /sliding_window: expected null or a positive integer, got 0/);
});

// ---- GGUF ----

const TINY_GGUF_META: GgufMetadataEntry[] = [
  ["general.architecture", "STRING", "llama"],
  ["llama.block_count", "UINT32", 2],
  ["llama.context_length", "UINT32", 128],
  ["llama.embedding_length", "UINT32", 64],
  ["llama.feed_forward_length", "UINT32", 160],
  ["llama.attention.head_count", "UINT32", 4],
  ["llama.attention.head_count_kv", "UINT32", 2],
  ["llama.rope.freq_base", "FLOAT32", 10000],
  ["llama.attention.layer_norm_rms_epsilon", "FLOAT32", 1e-5],
  ["llama.vocab_size", "UINT32", 256],
  ["llama.rope.dimension_count", "UINT32", 16],
];
const TINY_CONFIG: Config = {
  architecture: "llama", hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, ffnSize: 160, vocabSize: 256,
  ropeTheta: 10000, ropeScaling: null, rmsEps: Math.fround(1e-5), tiedEmbeddings: true, contextLength: 128,
  queryPreAttnScalar: 16, slidingWindow: null,
};

function gguf(change: Record<string, [GgufMetadataEntry[1], GgufMetadataEntry[2]] | null> = {}, tensors: GgufWriteTensor[] = []) {
  const metadata: GgufMetadataEntry[] = TINY_GGUF_META.filter(([key]) => !(key in change)).concat(
    Object.entries(change).filter((e): e is [string, [GgufMetadataEntry[1], GgufMetadataEntry[2]]] => e[1] !== null).map(([key, [type, value]]) => [key, type, value]),
  );
  return readGguf(writeGguf({ metadata, tensors }), "t.gguf");
}
const matrix = (name: string, rows: number, cols: number): GgufWriteTensor => ({ name, dtype: "F16", shape: [rows, cols], data: new Uint8Array(rows * cols * 2) });

test("GGUF: llama.* keys resolve to the Config; tied means no output.weight", () => {
  const config = configFromGguf(gguf());
  assert.equal(config, TINY_CONFIG);
  assert.ok(Object.isFrozen(config));
  assert.is(configFromGguf(gguf({}, [matrix("output.weight", 256, 64)])).tiedEmbeddings, false);
  assert.is(configFromGguf(gguf({ "llama.vocab_size": null }, [matrix("token_embd.weight", 300, 64)])).vocabSize, 300);
  assert.is(configFromGguf(gguf({ "llama.rope.freq_base": null })).ropeTheta, 10000);
  assert.is(configFromGguf(gguf({ "llama.attention.head_count_kv": null })).numKvHeads, 4);
  assert.is(configFromGguf(gguf({ "llama.rope.dimension_count": null })).headDim, 16);
  assert.is(configFromGguf(gguf({ "llama.block_count": ["UINT64", 2n] })).numLayers, 2);
  assert.is(configFromGguf(gguf({ "llama.attention.layer_norm_rms_epsilon": ["FLOAT64", 1e-6] })).rmsEps, 1e-6);
  const wideHeads = configFromGguf(gguf({ "llama.attention.key_length": ["UINT32", 32], "llama.attention.value_length": ["UINT32", 32], "llama.rope.dimension_count": ["UINT32", 32] }));
  assert.is(wideHeads.headDim, 32);
  assert.equal(configFromGguf(gguf({ "llama.rope.scaling.type": ["STRING", "linear"], "llama.rope.scaling.factor": ["FLOAT32", 4] })).ropeScaling, { type: "linear", factor: 4 });
  assert.is(configFromGguf(gguf({ "llama.rope.scaling.type": ["STRING", "none"], "llama.rope.scaling.factor": ["FLOAT32", 1] })).ropeScaling, null);
});

test("GGUF errors: types, ranges, architecture, contradictions", () => {
  const bad = (change: Parameters<typeof gguf>[0], tensors?: GgufWriteTensor[]) => () => configFromGguf(gguf(change, tensors));
  throwsTyped(bad({ "general.architecture": ["STRING", "gpt2"] }), UnsupportedError, /t\.gguf: general\.architecture: expected one of "llama", "qwen2", "qwen3", "gemma3", got "gpt2"/);
  throwsTyped(bad({ "general.architecture": null }), ConfigError, /general\.architecture: expected a STRING, got nothing \(missing\)/);
  throwsTyped(bad({ "general.architecture": ["UINT32", 1] }), ConfigError, /general\.architecture: expected a STRING, got a UINT32 value 1/);
  throwsTyped(bad({ "llama.block_count": ["STRING", "2"] }), ConfigError, /llama\.block_count: expected an integer, got a STRING value "2"/);
  throwsTyped(bad({ "llama.block_count": ["FLOAT32", 2] }), ConfigError, /llama\.block_count: expected an integer, got a FLOAT32/);
  throwsTyped(bad({ "llama.block_count": ["UINT32", 0] }), ConfigError, /llama\.block_count: expected a positive integer, got 0/);
  throwsTyped(bad({ "llama.block_count": ["INT32", -2] }), ConfigError, /llama\.block_count: expected a positive integer, got -2/);
  throwsTyped(bad({ "llama.context_length": ["UINT64", 2n ** 60n] }), ConfigError, /llama\.context_length: expected a positive integer, got 1152921504606846976n/);
  throwsTyped(bad({ "llama.embedding_length": null }), ConfigError, /llama\.embedding_length: expected an integer, got nothing/);
  throwsTyped(bad({ "llama.attention.layer_norm_rms_epsilon": ["UINT32", 1] }), ConfigError, /layer_norm_rms_epsilon: expected a FLOAT32 or FLOAT64/);
  throwsTyped(bad({ "llama.attention.layer_norm_rms_epsilon": ["FLOAT32", -1] }), ConfigError, /layer_norm_rms_epsilon: expected a positive finite number/);
  throwsTyped(bad({ "llama.rope.freq_base": ["FLOAT32", Infinity] }), ConfigError, /freq_base/);
  throwsTyped(bad({ "llama.rope.dimension_count": ["UINT32", 8] }), UnsupportedError, /llama\.rope\.dimension_count: expected the head dimension 16/);
  throwsTyped(bad({ "llama.attention.head_count_kv": ["UINT32", 3] }), ConfigError, /llama\.attention\.head_count_kv: expected a divisor of the 4 query heads, got 3/);
  throwsTyped(bad({ "llama.attention.head_count": ["UINT32", 3] }), ConfigError, /embedding_length divisible by head_count/);
  throwsTyped(bad({ "llama.attention.key_length": ["UINT32", 16], "llama.attention.value_length": ["UINT32", 8] }), UnsupportedError, /value_length/);
  throwsTyped(bad({ "llama.attention.key_length": ["UINT32", 15], "llama.rope.dimension_count": null }), ConfigError, /llama\.attention\.key_length: expected an even number/);
  throwsTyped(bad({ "llama.expert_count": ["UINT32", 8] }), UnsupportedError, /expert_count: expected 0 \(a dense model\)/);
  throwsTyped(bad({}, [matrix("token_embd.weight", 300, 64)]), ConfigError, /llama\.vocab_size: expected the token_embd\.weight row count 300, got 256/);
  throwsTyped(bad({ "llama.vocab_size": null }), ConfigError, /llama\.vocab_size: expected the key, or a 2-D token_embd\.weight/);
  throwsTyped(bad({ "llama.rope.scaling.type": ["STRING", "yarn"], "llama.rope.scaling.factor": ["FLOAT32", 4] }), UnsupportedError, /rope\.scaling\.type: expected "none" or "linear", got "yarn"/);
  throwsTyped(bad({ "llama.rope.scaling.type": ["STRING", "linear"] }), ConfigError, /rope\.scaling\.factor/);
  throwsTyped(bad({ "llama.rope.scaling.factor": ["FLOAT32", 2] }), ConfigError, /rope\.scaling\.factor: expected 1 or absent/);
  throwsTyped(bad({ "llama.rope.scaling.original_context_length": ["STRING", "x"] }), ConfigError, /original_context_length/);
  throwsTyped(bad({}, [{ name: "rope_freqs.weight", dtype: "F32", shape: [16], data: new Uint8Array(64) }]), FormatError, /rope_freqs\.weight: expected F32 \[8\] \(one factor per rotated pair\), got F32 \[16\]/);
  throwsTyped(bad({}, [{ name: "rope_freqs.weight", dtype: "F16", shape: [8], data: new Uint8Array(16) }]), FormatError, /rope_freqs\.weight: expected F32 \[8\]/);
  throwsTyped(bad({ "llama.rope.scaling.type": ["STRING", "linear"], "llama.rope.scaling.factor": ["FLOAT32", 2] }, [{ name: "rope_freqs.weight", dtype: "F32", shape: [8], data: new Uint8Array(32) }]), UnsupportedError, /rope\.scaling\.type: expected "none" alongside rope_freqs\.weight/);
});

test("GGUF and HF sources agree on the real SmolLM2 model", () => {
  if (!existsSync(REAL_MODEL)) {
    console.log(`  skip: real model config test: ${REAL_MODEL} is absent`);
    return;
  }
  const buffer = readFileSync(REAL_MODEL);
  const fromGguf = configFromGguf(readGguf(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), REAL_MODEL));
  // The GGUF stores eps as FLOAT32; everything else is exact.
  assert.equal(fromGguf, { ...SMOLLM2_CONFIG, rmsEps: Math.fround(1e-5) });
});

test("transformers resolves the same configs the same way", () => {
  const oracle = findOracle();
  if ("missing" in oracle) {
    console.log(`  skip: transformers config cross-check: missing ${oracle.missing}`);
    return;
  }
  const cases: Record<string, unknown>[] = [
    SMOLLM2_HF,
    MINIMAL_HF,
    { ...MINIMAL_HF, num_key_value_heads: 2, head_dim: 32, rope_theta: 5e5, tie_word_embeddings: true, rms_norm_eps: 1e-5 },
    { ...MINIMAL_HF, rope_scaling: { type: "linear", factor: 2 } },
    { ...MINIMAL_HF, max_position_embeddings: 131072, rope_theta: 500000, rope_scaling: { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192, rope_type: "llama3" } },
    { ...MINIMAL_HF, max_position_embeddings: 4096, rope_scaling: { factor: 8, low_freq_factor: 1, high_freq_factor: 4, rope_type: "llama3" } },
    { ...MINIMAL_HF, rope_parameters: { rope_theta: 100000, rope_type: "default" } },
    { ...MINIMAL_HF, rope_scaling: { rope_type: "linear", factor: 2 }, rope_parameters: { rope_type: "linear", factor: 9, rope_theta: 7 } },
    { ...MINIMAL_HF, model_type: "mistral", hidden_size: 128, num_attention_heads: 8 },
    { ...MINIMAL_HF, model_type: "mistral", num_key_value_heads: 2, max_position_embeddings: 32768, sliding_window: 4096 },
    { ...MINIMAL_HF, model_type: "mistral", num_key_value_heads: 2, max_position_embeddings: 32768, sliding_window: null },
    { ...MINIMAL_HF, model_type: "mistral", num_key_value_heads: 2, max_position_embeddings: 4096, sliding_window: 4096 },
    { ...MINIMAL_HF, model_type: "qwen3", num_attention_heads: 8, num_key_value_heads: 2 },
    { ...MINIMAL_HF, model_type: "qwen3", head_dim: 24, num_key_value_heads: null, tie_word_embeddings: true },
  ];
  const script = `
import json, sys
from transformers import AutoConfig
out = []
for raw in json.loads(sys.stdin.read()):
    d = dict(raw)
    c = AutoConfig.for_model(d.pop("model_type"), **d)
    rp = dict(c.rope_parameters or {})
    out.append({k: getattr(c, k, None) for k in ["model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size", "vocab_size", "rms_norm_eps", "tie_word_embeddings", "max_position_embeddings", "sliding_window"]} | {"rope": rp})
print(json.dumps(out))
`;
  const run = spawnSync(oracle.python, ["-c", script], { input: JSON.stringify(cases), encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error" } });
  assert.is(run.status, 0, run.stderr);
  const resolved = JSON.parse(run.stdout) as Record<string, any>[];
  cases.forEach((json, i) => {
    const t = resolved[i]!;
    const rope = t.rope as Record<string, number | string>;
    const scaling = rope.rope_type === "default" ? null
      : rope.rope_type === "linear" ? { type: "linear", factor: rope.factor }
      : { type: "llama3", factor: rope.factor, lowFreqFactor: rope.low_freq_factor, highFreqFactor: rope.high_freq_factor, originalContextLength: rope.original_max_position_embeddings };
    const expected: Config = {
      architecture: t.model_type === "qwen3" ? "qwen3" : "llama", hiddenSize: t.hidden_size, numLayers: t.num_hidden_layers, numHeads: t.num_attention_heads,
      numKvHeads: t.num_key_value_heads, headDim: t.head_dim, ffnSize: t.intermediate_size, vocabSize: t.vocab_size,
      ropeTheta: rope.rope_theta as number, ropeScaling: scaling as Config["ropeScaling"], rmsEps: t.rms_norm_eps,
      tiedEmbeddings: t.tie_word_embeddings, contextLength: t.max_position_embeddings, queryPreAttnScalar: t.head_dim,
      slidingWindow: t.sliding_window == null || t.sliding_window >= t.max_position_embeddings
        ? null : { size: t.sliding_window, layers: Array.from({ length: t.num_hidden_layers }, () => true), ropeTheta: null },
    };
    assert.equal(configFromHf(json), expected, `case ${i}: ${JSON.stringify(json)}`);
  });
});

// Shaped like google/gemma-3-270m's config.json (transformers 4.5x keys: rope_theta, rope_local_base_freq, layer_types).
const GEMMA3_270M_HF = {
  _sliding_window_pattern: 6, architectures: ["Gemma3ForCausalLM"], attention_bias: false, attention_dropout: 0.0, attn_logit_softcapping: null,
  bos_token_id: 2, eos_token_id: 1, final_logit_softcapping: null, head_dim: 256, hidden_activation: "gelu_pytorch_tanh", hidden_size: 640,
  intermediate_size: 2048, layer_types: Array.from({ length: 18 }, (_, i) => ((i + 1) % 6 === 0 ? "full_attention" : "sliding_attention")),
  max_position_embeddings: 32768, model_type: "gemma3_text", num_attention_heads: 4, num_hidden_layers: 18, num_key_value_heads: 1,
  pad_token_id: 0, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_local_base_freq: 10000.0, rope_scaling: null, rope_theta: 1000000.0,
  sliding_window: 512, use_bidirectional_attention: false, vocab_size: 262144,
};
const GEMMA3_MINIMAL = { model_type: "gemma3_text", hidden_size: 64, num_hidden_layers: 7, num_attention_heads: 4, intermediate_size: 96, vocab_size: 256 };

test("Gemma 3 configs resolve as transformers' Gemma3TextConfig resolves them", () => {
  const config = configFromHf(GEMMA3_270M_HF);
  assert.equal(config, {
    architecture: "gemma3", hiddenSize: 640, numLayers: 18, numHeads: 4, numKvHeads: 1, headDim: 256, ffnSize: 2048, vocabSize: 262144,
    ropeTheta: 1e6, ropeScaling: null, rmsEps: 1e-6, tiedEmbeddings: true, contextLength: 32768, queryPreAttnScalar: 256,
    slidingWindow: { size: 512, layers: GEMMA3_270M_HF.layer_types.map((t) => t === "sliding_attention"), ropeTheta: 10000 },
  });
  assert.ok(Object.isFrozen(config.slidingWindow) && Object.isFrozen(config.slidingWindow!.layers));
  const oracle = findOracle();
  if ("missing" in oracle) {
    console.log(`  skip: transformers Gemma 3 config cross-check: missing ${oracle.missing}`);
    return;
  }
  const cases: Record<string, unknown>[] = [
    GEMMA3_270M_HF,
    GEMMA3_MINIMAL,
    // 4B-style: linear scaling of the global layers only, the layer kinds from the pattern.
    { ...GEMMA3_MINIMAL, num_hidden_layers: 13, sliding_window: 1024, sliding_window_pattern: 4, rope_scaling: { factor: 8.0, rope_type: "linear" }, query_pre_attn_scalar: 144 },
    // transformers 5 keys.
    { ...GEMMA3_MINIMAL, num_key_value_heads: 2, head_dim: 32, rope_parameters: { full_attention: { rope_type: "linear", factor: 4, rope_theta: 5e5 }, sliding_attention: { rope_type: "default", rope_theta: 2e4 } } },
  ];
  const script = `
import json, sys
from transformers import AutoConfig
out = []
for raw in json.loads(sys.stdin.read()):
    d = dict(raw)
    c = AutoConfig.for_model(d.pop("model_type"), **d)
    out.append({k: getattr(c, k, None) for k in ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size", "vocab_size", "rms_norm_eps", "tie_word_embeddings", "max_position_embeddings", "sliding_window", "layer_types", "query_pre_attn_scalar", "rope_parameters"]})
print(json.dumps(out))
`;
  const run = spawnSync(oracle.python, ["-c", script], { input: JSON.stringify(cases), encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error" } });
  assert.is(run.status, 0, run.stderr);
  (JSON.parse(run.stdout) as Record<string, any>[]).forEach((t, i) => {
    const full = t.rope_parameters.full_attention;
    const expected: Config = {
      architecture: "gemma3", hiddenSize: t.hidden_size, numLayers: t.num_hidden_layers, numHeads: t.num_attention_heads,
      numKvHeads: t.num_key_value_heads, headDim: t.head_dim, ffnSize: t.intermediate_size, vocabSize: t.vocab_size,
      ropeTheta: full.rope_theta, ropeScaling: full.rope_type === "linear" ? { type: "linear", factor: full.factor } : null,
      rmsEps: t.rms_norm_eps, tiedEmbeddings: t.tie_word_embeddings, contextLength: t.max_position_embeddings,
      queryPreAttnScalar: t.query_pre_attn_scalar,
      slidingWindow: { size: t.sliding_window, layers: t.layer_types.map((k: string) => k === "sliding_attention"), ropeTheta: t.rope_parameters.sliding_attention.rope_theta },
    };
    assert.equal(configFromHf(cases[i]), expected, `case ${i}: ${JSON.stringify(cases[i])}`);
  });
});

test("Gemma 3 config errors: softcapping, bidirectional attention, activations, layer kinds", () => {
  const bad = (change: Record<string, unknown>) => () => configFromHf({ ...GEMMA3_MINIMAL, ...change }, "cfg.json");
  throwsTyped(bad({ final_logit_softcapping: 30 }), UnsupportedError, /cfg\.json: final_logit_softcapping: expected null .*got 30/);
  throwsTyped(bad({ attn_logit_softcapping: 50 }), UnsupportedError, /attn_logit_softcapping/);
  throwsTyped(bad({ use_bidirectional_attention: true }), UnsupportedError, /use_bidirectional_attention/);
  throwsTyped(bad({ hidden_activation: "gelu" }), UnsupportedError, /hidden_activation: expected "gelu_pytorch_tanh"/);
  throwsTyped(bad({ layer_types: ["full_attention"] }), ConfigError, /layer_types: expected 7 entries/);
  throwsTyped(bad({ layer_types: Array(7).fill("chunked_attention") }), ConfigError, /layer_types/);
  throwsTyped(bad({ sliding_window: null }), ConfigError, /sliding_window: expected a positive integer/);
  throwsTyped(bad({ rope_parameters: { sliding_attention: { rope_type: "linear", factor: 2 } } }), UnsupportedError, /rope_parameters\.sliding_attention\.rope_type/);
  throwsTyped(bad({ num_hidden_layers: 2 ** 30 }), ConfigError, /num_hidden_layers: expected at most 1048576 without layer_types/);
});

test("Gemma 3 GGUF metadata: llama.cpp's hard-coded layer pattern, local RoPE base and attention scale", () => {
  const gemma = (change: Record<string, [GgufMetadataEntry[1], GgufMetadataEntry[2]] | null>) => {
    const renamed = Object.fromEntries(TINY_GGUF_META.map(([key, type, value]) => [key.replace(/^llama\./, "gemma3."), [type, value]]));
    // Tensors only to count: the layer pattern is built per layer, so the block count is checked against them first.
    const tensors = Array.from({ length: 8 }, (_, i) => ({ name: `t${i}`, dtype: "F32" as const, shape: [1], data: new Uint8Array(4) }));
    return gguf({ ...Object.fromEntries(TINY_GGUF_META.map(([key]) => [key, null])), ...renamed, "general.architecture": ["STRING", "gemma3"], "gemma3.attention.sliding_window": ["UINT32", 512], ...change }, tensors);
  };
  const config = configFromGguf(gemma({ "gemma3.block_count": ["UINT32", 7] }));
  assert.is(config.architecture, "gemma3");
  assert.equal(config.slidingWindow, { size: 512, layers: [true, true, true, true, true, false, true], ropeTheta: 10000 });
  assert.is(config.queryPreAttnScalar, 16, "1/sqrt(head_dim) below the 27B");
  throwsTyped(() => configFromGguf(gemma({ "gemma3.attention.sliding_window": null })), ConfigError, /gemma3\.attention\.sliding_window: expected an integer/);
  throwsTyped(() => configFromGguf(gemma({ "gemma3.final_logit_softcapping": ["FLOAT32", 30] })), UnsupportedError, /final_logit_softcapping/);
  throwsTyped(() => configFromGguf(gemma({ "gemma3.block_count": ["UINT32", 2 ** 31] })), FormatError, /gemma3\.block_count: expected at most 8 layers/);
});

test.run();
