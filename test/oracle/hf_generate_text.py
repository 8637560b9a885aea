#!/usr/bin/env python3
"""Text-in oracle: transformers tokenizes a prompt, generates greedily and decodes, end to end.

    python3 test/oracle/hf_generate_text.py --model DIR --gguf FILE --input in.json --out out.json

in.json:  {"prompts": [{"text": "...", "chat": true|false}], "max_new_tokens": N}
--model DIR   the f32 Hugging Face folder converted from the GGUF (weights for LlamaForCausalLM)
--gguf FILE   the GGUF itself, for the tokenizer: transformers' own GGUF -> tokenizer conversion and chat template,
              which shares no code with ours.
out.json: {"results": [{"input_ids", "new_ids" (up to and excluding EOS), "text", "stopped_on_eos"}]}

Chat prompts go through tokenizer.apply_chat_template([{"role": "user", "content": text}],
add_generation_prompt=True); plain prompts through tokenizer(text). Generation is generate(do_sample=False,
max_new_tokens=N) with the model's EOS as the only stop and no other logits processors.
"""

import argparse
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer, GenerationConfig, LlamaForCausalLM  # noqa: E402

transformers.utils.logging.disable_progress_bar()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.input, encoding="utf-8") as f:
        spec = json.load(f)
    tokenizer = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(args.gguf)), gguf_file=os.path.basename(args.gguf))
    model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager", local_files_only=True)
    model.eval()
    eos = tokenizer.eos_token_id
    config = GenerationConfig(do_sample=False, max_new_tokens=spec["max_new_tokens"], eos_token_id=eos, pad_token_id=eos)
    results = []
    for prompt in spec["prompts"]:
        if prompt["chat"]:
            ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt["text"]}], add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
        else:
            ids = tokenizer(prompt["text"])["input_ids"]
        ids = list(ids)
        with torch.no_grad():
            out = model.generate(torch.tensor([ids]), generation_config=config)
        new = out[0, len(ids):].tolist()
        stopped = eos in new
        if stopped:
            new = new[: new.index(eos)]
        results.append({"input_ids": ids, "new_ids": new, "text": tokenizer.decode(new, skip_special_tokens=True), "stopped_on_eos": stopped})
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main()
