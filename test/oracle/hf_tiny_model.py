#!/usr/bin/env python3
"""Writes a tiny random model of one family with transformers itself (AutoConfig -> from_config -> save_pretrained),
so a family's HF reading (config.json keys, tensor names, safetensors layout) is tested against transformers' own
files rather than ours.

    python3 test/oracle/hf_tiny_model.py --family qwen2 --out DIR [--seed 0] [--dtype float32]
        [--hidden-size N --intermediate-size N]   (e.g. 256 / 640 for K-quant rows of whole 256-value blocks)

Every parameter, biases included (transformers initializes those to zero), is drawn from N(0, 0.02^2), norms
around 1, so that a missing bias or a misplaced tensor changes the logits. (Gemma's norms multiply by 1 + w, so
theirs are drawn around 0: the same scale, and a norm loaded without the + 1 changes the logits.)

gemma3_text: awkward sizes (head_dim 22, not hidden / heads; FFN 90), GQA, query_pre_attn_scalar unlike head_dim,
both layer kinds, and a sliding window of 5, shorter than the test sequences. With --gguf-defaults it instead takes
what a GGUF cannot say, so that llama.cpp's hard-coded values and transformers' GGUF loader's config defaults agree
with the model: head_dim = query_pre_attn_scalar = 256, and the default layer pattern (every sixth layer global),
over 7 layers.
"""

import argparse

import torch
from transformers import AutoConfig, AutoModelForCausalLM

SHAPES = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
              vocab_size=256, max_position_embeddings=256)
FAMILIES = {
    "llama": dict(rope_theta=10000.0, tie_word_embeddings=False),
    "qwen2": dict(rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False),
    # Llama 3.x RoPE scaling with original_max_position_embeddings 64: of head_dim 16's 8 wavelengths (6.3 .. 19869
    # positions) one stays below 64 / 4, two fall in the smoothed band and five are divided by the factor.
    "llama3": dict(rope_theta=10000.0, tie_word_embeddings=False,
                   rope_scaling=dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0,
                                     high_freq_factor=4.0, original_max_position_embeddings=64)),
    # A sliding window shorter than the longer test sequences (33 and 100 tokens).
    "mistral": dict(rope_theta=10000.0, tie_word_embeddings=False, sliding_window=24),
    # head_dim 24 with 6 query heads: the query projection (144) is wider than hidden_size (64).
    "qwen3": dict(rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False, num_attention_heads=6,
                  num_key_value_heads=2, head_dim=24),
    "gemma3_text": dict(hidden_size=44, intermediate_size=90, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                        head_dim=22, query_pre_attn_scalar=18, sliding_window=5,
                        layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
                        rope_theta=1000000.0, rope_local_base_freq=10000.0, tie_word_embeddings=True),
}
MODEL_TYPES = {"llama3": "llama"}

parser = argparse.ArgumentParser()
parser.add_argument("--family", required=True, choices=sorted(FAMILIES))
parser.add_argument("--out", required=True)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
parser.add_argument("--tied", action="store_true")
parser.add_argument("--hidden-size", type=int)
parser.add_argument("--intermediate-size", type=int)
parser.add_argument("--gguf-defaults", action="store_true")
args = parser.parse_args()

torch.manual_seed(args.seed)
settings = {**SHAPES, **FAMILIES[args.family]}
if args.hidden_size is not None:
    settings["hidden_size"] = args.hidden_size
if args.intermediate_size is not None:
    settings["intermediate_size"] = args.intermediate_size
if args.tied:
    settings["tie_word_embeddings"] = True
if args.gguf_defaults:
    del settings["layer_types"]
    settings.update(head_dim=256, query_pre_attn_scalar=256, num_hidden_layers=7)
config = AutoConfig.for_model(MODEL_TYPES.get(args.family, args.family), **settings)
model = AutoModelForCausalLM.from_config(config).to(torch.float32)
with torch.no_grad():
    for name, parameter in model.named_parameters():
        if name.endswith("norm.weight"):
            parameter.copy_((0 if args.family == "gemma3_text" else 1) + 0.1 * torch.randn_like(parameter))
        else:
            parameter.copy_(0.02 * torch.randn_like(parameter) * (5 if name.endswith(".bias") else 1))
model.to(getattr(torch, args.dtype)).save_pretrained(args.out, safe_serialization=True)
