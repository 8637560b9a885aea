"""Tokenizer and chat-template oracle: what Hugging Face transformers does with the same inputs as ffnskip.

Two commands, both driven by test/oracle/tokenizer-oracle.ts:

  make-ggufs SOURCE.gguf CORPUS.json OUT_DIR
      Writes vocabulary-only GGUF files for the tests with the `gguf` package's GGUFWriter:
        bpe-<pre>.gguf  the byte-level vocabulary of SOURCE with tokenizer.ggml.pre replaced, one per
                        pre-tokenizer name we map (so each regex is checked against transformers' own mapping);
        spm*.gguf       small llama-style SentencePiece vocabularies (scores, <0xNN> byte fallback tokens,
                        control and user-defined tokens) learned from the corpus with the `tokenizers` trainer:
                        spm (add_space_prefix, BOS) and spm-noprefix (no space prefix, EOS, tied scores);
        spm-gemma.gguf  the same pieces laid out as a Gemma 3 file (general.architecture gemma3): Gemma's special
                        tokens first, runs of spaces stored as real spaces, scores that do not follow the merge
                        order, no space prefix, BOS; transformers converts it with its gemma_tokenizer rules.
      Prints a JSON manifest {name: path} on stdout.

  run JOB.json OUT.json
      JOB = {"corpus": path, "chat_cases": path, "tokenizers": [{"name", "gguf" | "hf_dir",
             "pre_tokenizer"?: "smollm-official", "sentencepiece_prefix_from_file"?: bool,
             "prefix_decodes"?: bool, "chat"?: bool}]}
      For every tokenizer and corpus string: ids with and without special tokens, the decode of those ids
      (with and without skip_special_tokens), optionally the decode of every proper prefix of the ids, and
      apply_chat_template(..., tokenize=False) for every template x conversation in chat_cases. Each file is
      loaded once (specs reading the same file get copies) and files are spread over the CPU cores.

Two reference fixes, each applied to a copy of what transformers' GGUF loader built:
  "pre_tokenizer": "smollm-official" swaps in the pre-tokenizer of SmolLM2's own tokenizer.json
      (HuggingFaceTB/SmolLM2-135M-Instruct: Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False,
      use_regex=True)], the same split as llama.cpp's LLAMA_VOCAB_PRE_TYPE_SMOLLM: "\\p{N}" then the GPT-2 regex).
      transformers' GGUF loader has no entry for "smollm" and falls back to plain GPT-2 ByteLevel, which differs
      from the model's real tokenizer where whitespace precedes a numeric character.
  "sentencepiece_prefix_from_file": true honours tokenizer.ggml.add_space_prefix = false, which transformers' GGUF
      loader ignores (see with_overrides).
"""

import copy
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BYTE_LEVEL_PRE_NAMES = ["default", "llama-bpe", "qwen2", "gpt-4o", "tekken"]


def read_gguf_fields(path):
    from gguf import GGUFReader

    reader = GGUFReader(path)
    return {name: field.contents() for name, field in reader.fields.items()}


def write_vocab_gguf(path, architecture, kv):
    import gguf

    writer = gguf.GGUFWriter(path, architecture)
    for key, value in kv.items():
        if key == "tokenizer.ggml.model":
            writer.add_tokenizer_model(value)
        elif key == "tokenizer.ggml.pre":
            writer.add_tokenizer_pre(value)
        elif key == "tokenizer.ggml.tokens":
            writer.add_token_list(value)
        elif key == "tokenizer.ggml.token_type":
            writer.add_token_types(value)
        elif key == "tokenizer.ggml.scores":
            writer.add_token_scores(value)
        elif key == "tokenizer.ggml.merges":
            writer.add_token_merges(value)
        elif key.endswith("_token_id"):
            writer.add_uint32(key, value)
        elif isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            raise ValueError(f"no writer for {key}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def train_spm_vocab(texts, vocab_size):
    """A SentencePiece-style BPE vocabulary (pieces with U+2581 for spaces), in merge order."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    # A small alphabet leaves the rarer characters (emoji, most CJK) to the <0xNN> byte fallback.
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=120, show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    vocab = tokenizer.get_vocab()
    return [token for token, _ in sorted(vocab.items(), key=lambda item: item[1]) if token not in ("<unk>", "<s>", "</s>")]


def spm_kv(pieces, add_space_prefix, add_bos, add_eos, tied_scores):
    # llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces + ["<|im_start|>", "<|im_end|>", "<think>"]
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces) + [3, 3, 4]
    # Like a SentencePiece BPE model: earlier (more frequent) merges score higher. Tied scores (groups of 7) make
    # the merge order fall back on the tie-breaks of the score -> merges derivation.
    group = 7 if tied_scores else 1
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i // group) for i in range(len(pieces))] + [0.0, 0.0, 0.0]
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.pre": "default",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.add_bos_token": add_bos,
        "tokenizer.ggml.add_eos_token": add_eos,
        "tokenizer.ggml.add_space_prefix": add_space_prefix,
    }


def gemma_kv(pieces):
    # Gemma's specials and their llama.cpp types (3 control, 2 unknown); <start_of_turn>/<end_of_turn> as in Gemma 3.
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    spaces = [p for p in ["\u2581\u2581", "\u2581\u2581\u2581", "\u2581\u2581\u2581\u2581"] if p not in pieces]
    stored = [" " * len(p) if set(p) == {"\u2581"} and len(p) > 1 else p for p in pieces + spaces]
    tokens = specials + [f"<0x{b:02X}>" for b in range(256)] + stored
    types = [3, 3, 3, 2, 3, 3, 3] + [6] * 256 + [1] * len(stored)
    # Scores in a scrambled order: a conversion that merged by score would split words differently.
    scores = [0.0] * (len(specials) + 256) + [-float((i * 7919) % len(stored)) for i in range(len(stored))]
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.pre": "default",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": scores,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.bos_token_id": 2,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.unknown_token_id": 3,
        "tokenizer.ggml.padding_token_id": 0,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": False,
        "tokenizer.ggml.add_space_prefix": False,
        # Gemma's turn format; its <end_of_turn> should then end generation as well as <eos>.
        "tokenizer.chat_template": "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}",
    }


def make_ggufs(source, corpus_path, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    fields = read_gguf_fields(source)
    architecture = fields["general.architecture"]
    tokenizer_kv = {key: value for key, value in fields.items() if key.startswith("tokenizer.")}
    manifest = {}
    for pre in BYTE_LEVEL_PRE_NAMES:
        path = os.path.join(out_dir, f"bpe-{pre}.gguf")
        write_vocab_gguf(path, architecture, {**tokenizer_kv, "tokenizer.ggml.pre": pre})
        manifest[f"bpe-{pre}"] = path

    with open(corpus_path, encoding="utf-8") as f:
        corpus = json.load(f)
    pieces = train_spm_vocab(corpus * 3, 1500)
    variants = {
        "spm": dict(add_space_prefix=True, add_bos=True, add_eos=False, tied_scores=False),
        "spm-noprefix": dict(add_space_prefix=False, add_bos=False, add_eos=True, tied_scores=True),
    }
    for name, options in variants.items():
        path = os.path.join(out_dir, f"{name}.gguf")
        write_vocab_gguf(path, "llama", spm_kv(pieces, **options))
        manifest[name] = path
    path = os.path.join(out_dir, "spm-gemma.gguf")
    write_vocab_gguf(path, "gemma3", gemma_kv(pieces))
    manifest["spm-gemma"] = path
    print(json.dumps(manifest))


def load_tokenizer(spec):
    from transformers import AutoTokenizer

    if "gguf" in spec:
        directory, name = os.path.split(os.path.abspath(spec["gguf"]))
        return AutoTokenizer.from_pretrained(directory, gguf_file=name)
    return AutoTokenizer.from_pretrained(spec["hf_dir"])


def with_overrides(tokenizer, spec):
    """A copy of `tokenizer` with the spec's reference fixes applied (see the module docstring)."""
    tokenizer = copy.deepcopy(tokenizer)
    if spec.get("sentencepiece_prefix_from_file") and not read_gguf_fields(spec["gguf"]).get("tokenizer.ggml.add_space_prefix", True):
        from transformers import LlamaTokenizer

        # transformers' GGUF loader drops tokenizer.ggml.add_space_prefix = false (its LlamaTokenizer is built
        # without it); llama.cpp honours it. The reference is transformers' own LlamaTokenizer built with
        # add_prefix_space=False: Metaspace(prepend_scheme="never") and a decoder without the leading-space Strip.
        plain = LlamaTokenizer(add_prefix_space=False).backend_tokenizer
        tokenizer.backend_tokenizer.pre_tokenizer = plain.pre_tokenizer
        tokenizer.backend_tokenizer.decoder = plain.decoder
    if spec.get("pre_tokenizer") == "smollm-official":
        from tokenizers import pre_tokenizers

        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
            ]
        )
    return tokenizer


def render_chats(tokenizer, chat_cases):
    from jinja2.exceptions import TemplateError

    out = {}
    for template_name, template in chat_cases["templates"].items():
        for conversation_name, messages in chat_cases["conversations"].items():
            for add_generation_prompt in (True, False):
                key = f"{template_name}/{conversation_name}/{'gen' if add_generation_prompt else 'nogen'}"
                try:
                    text = tokenizer.apply_chat_template(
                        messages,
                        chat_template=template,
                        tokenize=False,
                        add_generation_prompt=add_generation_prompt,
                    )
                    out[key] = {"text": text}
                except TemplateError as error:
                    out[key] = {"error": str(error)}
    return out


def evaluate(tokenizer, spec, corpus, chat_cases):
    strings = []
    for text in corpus:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        entry = {
            "ids": ids,
            "ids_with_special": tokenizer(text, add_special_tokens=True)["input_ids"],
            "decoded": tokenizer.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True),
        }
        if spec.get("prefix_decodes") and any(ord(c) > 127 for c in text) and len(ids) < 200:
            entry["prefix_decodes"] = [tokenizer.decode(ids[:k]) for k in range(1, len(ids))]
        strings.append(entry)
    result = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "unk_token_id": tokenizer.unk_token_id,
        "bos_token": tokenizer.bos_token,
        "eos_token": tokenizer.eos_token,
        "added_tokens": [
            {"id": index, "content": token.content, "special": token.special}
            for index, token in sorted(tokenizer.added_tokens_decoder.items())
        ],
        "strings": strings,
    }
    if spec.get("chat") and chat_cases is not None:
        result["chat"] = render_chats(tokenizer, chat_cases)
    return result


def evaluate_source(specs, corpus, chat_cases):
    """Loads one GGUF or folder once (the slow part) and evaluates every spec that reads it."""
    base = load_tokenizer(specs[0])
    return {spec["name"]: evaluate(with_overrides(base, spec), spec, corpus, chat_cases) for spec in specs}


def run(job_path, out_path):
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    with open(job["corpus"], encoding="utf-8") as f:
        corpus = json.load(f)
    chat_cases = None
    if job.get("chat_cases"):
        with open(job["chat_cases"], encoding="utf-8") as f:
            chat_cases = json.load(f)

    sources = {}
    for spec in job["tokenizers"]:
        sources.setdefault(spec.get("gguf") or spec["hf_dir"], []).append(spec)
    results = {}
    workers = max(1, min(len(sources), os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for partial in pool.map(evaluate_source, sources.values(), [corpus] * len(sources), [chat_cases] * len(sources)):
            results.update(partial)

    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


def main(argv):
    if len(argv) == 5 and argv[1] == "make-ggufs":
        make_ggufs(argv[2], argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "run":
        run(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
