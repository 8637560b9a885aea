#!/usr/bin/env python3
"""Numerical oracle: Hugging Face transformers' causal LMs (Llama, Qwen2, ...) in float32 on CPU, eager attention, no network.

    python3 test/oracle/hf_reference.py (--model DIR... | --gguf FILE...) --input in.json --out out.json

in.json:  {"sequences": [[token ids], ...], "greedy_new_tokens": N}

--model DIR loads the folder's model class (AutoModelForCausalLM) from config.json + safetensors.
--gguf FILE builds the model from a GGUF file with transformers' own GGUF support: its config mapping, gguf-py's
  dequantization and its Q/K row un-permutation. That path shares no code with ours, so it is an independent
  check of our GGUF reading and conversion.

Outputs:
  out.json  {"format": "ffnskip-hf-reference/1", "torch_version", "transformers_version", "vocab_size",
             "loading": {"missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"},
             "logits_file": "<out stem>.logits.f32",
             "sequences": [{"input_ids", "logits_offset", "logits_shape": [T, V],
                            "greedy_new_ids": [N ids], "greedy_top2_gaps": [N floats]}]}
  <out stem>.logits.f32, next to out.json: raw little-endian float32, each sequence's logits for every position
             ([T, V] row-major) back to back; logits_offset is that block's byte offset. Binary because a real
             vocabulary makes JSON floats tens of megabytes.

The greedy continuation is model.generate(do_sample=False, max_new_tokens=N) with a fresh GenerationConfig that
has no EOS token and no processors, so exactly N tokens come out, each the plain argmax (checked below).
greedy_top2_gaps[i] is the largest minus the second largest logit at step i: small gaps mark steps where a tiny
numerical difference may legitimately flip the choice.

Several folders or files after --model / --gguf run in one process (Python and torch start once): model i then
writes <out stem>.<i>.json and <out stem>.<i>.logits.f32 instead.
"""

import argparse
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig  # noqa: E402

transformers.utils.logging.disable_progress_bar()
DEFAULT_THREADS = torch.get_num_threads()


def fail(message):
    print(f"hf_reference.py: {message}", file=sys.stderr)
    sys.exit(2)


def load_folder(model_dir):
    # Without this check a missing folder turns into a confusing "repo id" error from the hub client.
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        fail(f"{model_dir}: no config.json (not a Hugging Face model folder)")
    model, info = AutoModelForCausalLM.from_pretrained(
        model_dir,
        dtype=torch.float32,
        attn_implementation="eager",
        local_files_only=True,
        output_loading_info=True,
    )
    loading = {key: sorted(str(k) for k in info.get(key, [])) for key in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    loading["error_msgs"] = [str(m) for m in info.get("error_msgs", [])]
    return model, loading


def load_gguf(gguf_path):
    if not os.path.isfile(gguf_path):
        fail(f"{gguf_path}: no such file")
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    # from_pretrained(gguf_file=...) needs the accelerate package; these are the same steps without it.
    settings = dict(load_gguf_checkpoint(gguf_path, return_tensors=False)["config"])
    config = AutoConfig.for_model(settings.pop("model_type", "llama"), **settings)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config).to(torch.float32)
    tensors = load_gguf_checkpoint(gguf_path, return_tensors=True, model_to_load=model)["tensors"]
    result = model.load_state_dict({name: torch.as_tensor(np.asarray(t, dtype=np.float32)) for name, t in tensors.items()}, strict=False)
    model.tie_weights()
    missing = [k for k in result.missing_keys if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if config.tie_word_embeddings and model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        fail(f"{gguf_path}: tied embeddings did not tie")
    loading = {"missing_keys": sorted(missing), "unexpected_keys": sorted(result.unexpected_keys), "mismatched_keys": [], "error_msgs": []}
    return model, loading


def read_input(path, vocab_size, max_positions):
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    sequences = spec.get("sequences")
    new_tokens = spec.get("greedy_new_tokens")
    if not isinstance(sequences, list) or not all(isinstance(s, list) and len(s) > 0 for s in sequences):
        fail(f"{path}: sequences must be a list of non-empty lists of token ids")
    if not isinstance(new_tokens, int) or isinstance(new_tokens, bool) or new_tokens < 0:
        fail(f"{path}: greedy_new_tokens must be a non-negative integer")
    for i, seq in enumerate(sequences):
        if not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocab_size for t in seq):
            fail(f"{path}: sequences[{i}] must hold token ids in 0..{vocab_size - 1}")
        if len(seq) + new_tokens > max_positions:
            fail(f"{path}: sequences[{i}] plus {new_tokens} new tokens exceeds {max_positions} positions")
    return sequences, new_tokens


def greedy(model, ids, new_tokens):
    if new_tokens == 0:
        return [], []
    # A fresh config on the model too: generate() fills unset values from model.generation_config, which could
    # bring back an EOS id or a repetition penalty from generation_config.json.
    model.generation_config = GenerationConfig()
    config = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=new_tokens,
        eos_token_id=None,
        pad_token_id=0,
        output_logits=True,
        return_dict_in_generate=True,
    )
    out = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
    new_ids = out.sequences[0, ids.shape[1]:].tolist()
    if len(new_ids) != new_tokens or len(out.logits) != new_tokens:
        fail(f"generate returned {len(new_ids)} tokens, expected exactly {new_tokens}")
    gaps = []
    for step, logits in enumerate(out.logits):
        row = logits[0].to(torch.float32)
        top = torch.topk(row, 2)
        if int(top.indices[0]) != new_ids[step] and float(top.values[0]) != float(row[new_ids[step]]):
            fail(f"greedy step {step} chose {new_ids[step]} but the argmax is {int(top.indices[0])}")
        gaps.append(float(top.values[0] - top.values[1]))
    return new_ids, gaps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", nargs="+", help="Hugging Face model folder(s)")
    source.add_argument("--gguf", nargs="+", help="GGUF file(s), loaded through transformers' GGUF support")
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    paths = args.model or args.gguf
    stem = args.out[:-5] if args.out.endswith(".json") else args.out
    for index, path in enumerate(paths):
        out = args.out if len(paths) == 1 else f"{stem}.{index}.json"
        run(path, bool(args.model), args.input, out)


def run(path, is_folder, input_path, out_path):
    torch.manual_seed(0)
    model, loading = load_folder(path) if is_folder else load_gguf(path)
    model.eval()
    # On a tiny model each op is microseconds of work, and handing it to a second thread costs more than that
    # (three times slower on 2 shared cores); real models keep torch's default.
    torch.set_num_threads(1 if sum(p.numel() for p in model.parameters()) < 10_000_000 else DEFAULT_THREADS)
    vocab_size = model.config.vocab_size
    sequences, new_tokens = read_input(input_path, vocab_size, model.config.max_position_embeddings)

    stem = out_path[:-5] if out_path.endswith(".json") else out_path
    logits_path = f"{stem}.logits.f32"
    results = []
    offset = 0
    with open(logits_path, "wb") as logits_file, torch.inference_mode():
        for seq in sequences:
            ids = torch.tensor([seq], dtype=torch.long)
            logits = model(input_ids=ids).logits[0].to(torch.float32).numpy()
            block = np.ascontiguousarray(logits, dtype="<f4")
            logits_file.write(block.tobytes())
            new_ids, gaps = greedy(model, ids, new_tokens)
            results.append({
                "input_ids": seq,
                "logits_offset": offset,
                "logits_shape": list(block.shape),
                "greedy_new_ids": new_ids,
                "greedy_top2_gaps": gaps,
            })
            offset += block.nbytes

    report = {
        "format": "ffnskip-hf-reference/1",
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "vocab_size": vocab_size,
        "loading": loading,
        "logits_file": os.path.basename(logits_path),
        "sequences": results,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
