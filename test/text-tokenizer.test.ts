// Tokenizer tests. The oracle part compares us with Hugging Face transformers on every string of
// test/fixtures/tokenizer-corpus.json (see test/oracle/hf_tokenizer.py); the rest uses small vocabularies written
// here by hand, whose expected ids and texts follow from the byte-level BPE definition, not from our output.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, FormatError, InputError, UnsupportedError } from "../src/errors.js";
import { readGguf, type GgufFile, type GgufValue } from "../src/io/gguf.js";
import type { Tokenizer } from "../src/text/tokenizer.js";
import { hfTokenizerFilesFromGguf, tokenizerFromGguf } from "../src/text/tokenizer-gguf.js";
import { tokenizerFromHf } from "../src/text/tokenizer-hf.js";
import {
  BYTE_LEVEL_VARIANTS, SENTENCEPIECE_VARIANTS, WITH_HF_FOLDER, loadTokenizerOracle, type OracleTokenizer,
} from "./oracle/tokenizer-oracle.js";
import { byteLevelTokens } from "./fixtures/tiny-llama.js";

// ---------------------------------------------------------------------------------------------------------------
// Hand-built vocabularies

function fakeGguf(metadata: Record<string, GgufValue>, file = "fake.gguf"): GgufFile {
  return { file, version: 3, alignment: 32, dataOffset: 0, metadata: new Map(Object.entries(metadata)), metadataTypes: new Map(), tensors: [] };
}

// Ids 0..255 are the bytes themselves, so the ids of any text without merges are its UTF-8 bytes.
const BYTES = byteLevelTokens();
const MERGED = ["he", "ll", "hell", "hello"];
const SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>"];
const TINY_TOKENS = [...BYTES, ...MERGED, ...SPECIALS];
const id = (token: string): number => TINY_TOKENS.indexOf(token);
const TINY_TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";

function tinyMetadata(overrides: Record<string, GgufValue> = {}): Record<string, GgufValue> {
  return {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": "smollm",
    "tokenizer.ggml.tokens": TINY_TOKENS,
    "tokenizer.ggml.token_type": [...BYTES.map(() => 1), ...MERGED.map(() => 1), 3, 3, 3, 4],
    "tokenizer.ggml.merges": ["h e", "l l", "he ll", "hell o"],
    "tokenizer.ggml.bos_token_id": id("<|im_start|>"),
    "tokenizer.ggml.eos_token_id": id("<|endoftext|>"),
    "tokenizer.ggml.padding_token_id": id("<|endoftext|>"),
    "tokenizer.chat_template": TINY_TEMPLATE,
    ...overrides,
  };
}

const utf8Ids = (text: string): number[] => [...new TextEncoder().encode(text)];

const unit = suite("tokenizer (hand-built vocabularies)");

unit("byte-level BPE: merges, raw bytes and special tokens", () => {
  const tok = tokenizerFromGguf(fakeGguf(tinyMetadata()));
  assert.equal(tok.vocabSize, TINY_TOKENS.length);
  assert.equal(tok.encode("hello"), [id("hello")]);
  assert.equal(tok.encode("hel"), [id("he"), id("l")]);
  assert.equal(tok.encode("é😀"), utf8Ids("é😀"));
  assert.equal(tok.encode("<|im_end|>x<think>"), [id("<|im_end|>"), utf8Ids("x")[0], id("<think>")]);
  assert.equal(tok.encode(""), []);
  assert.equal(tok.decode([id("<|im_start|>"), id("hello"), ...utf8Ids(" wörld")]), "<|im_start|>hello wörld");
  assert.equal(tok.decode([id("<|im_start|>"), id("hello"), id("<think>")], { skipSpecialTokens: true }), "hello<think>");
  assert.is(tok.idToToken(utf8Ids(" ")[0]!), "\u0120");
  assert.is(tok.tokenToId("hello"), id("hello"));
  assert.is(tok.tokenToId("no such token"), undefined);
});

unit("byte-level BPE: special token ids, flags and the end-of-generation list", () => {
  const tok = tokenizerFromGguf(fakeGguf(tinyMetadata()));
  assert.is(tok.bosTokenId, id("<|im_start|>"));
  assert.is(tok.padTokenId, id("<|endoftext|>"));
  // EOS first, then <|im_end|> because the template closes every turn with it.
  assert.equal(tok.eosTokenIds, [id("<|endoftext|>"), id("<|im_end|>")]);
  assert.ok(tok.isSpecialToken(id("<|im_end|>")));
  assert.not.ok(tok.isSpecialToken(id("<think>")), "user-defined tokens are matched whole but are not special");
  assert.not.ok(tok.isSpecialToken(id("hello")));
  assert.equal(tok.specialTokens, { bos: "<|im_start|>", eos: "<|endoftext|>", pad: "<|endoftext|>", unk: undefined });
  assert.not.ok(tok.addBosToken);
  assert.equal(tok.encode("hello"), [id("hello")]);

  const withBos = tokenizerFromGguf(fakeGguf(tinyMetadata({ "tokenizer.ggml.add_bos_token": true, "tokenizer.ggml.add_eos_token": true })));
  assert.ok(withBos.addBosToken);
  assert.equal(withBos.encode("hello"), [id("<|im_start|>"), id("hello"), id("<|endoftext|>")]);
  assert.equal(withBos.encode("hello", { addSpecialTokens: false }), [id("hello")]);

  const noTemplate = tokenizerFromGguf(fakeGguf(tinyMetadata({ "tokenizer.chat_template": "no turn markers here" })));
  assert.equal(noTemplate.eosTokenIds, [id("<|endoftext|>")]);
  const declaredEot = tokenizerFromGguf(fakeGguf(tinyMetadata({ "tokenizer.ggml.eot_token_id": id("<think>") })));
  assert.equal(declaredEot.eosTokenIds, [id("<|endoftext|>"), id("<think>"), id("<|im_end|>")]);
});

// Built like Llama 3's: byte-level tokens, merged words, then the control tokens after the vocabulary proper.
const LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>"];
const LLAMA3_TOKENS = [...BYTES, ...MERGED, "\u0120world", ...LLAMA3_SPECIALS];
const llama3Id = (token: string): number => LLAMA3_TOKENS.indexOf(token);
const LLAMA3_TEMPLATE = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content }}<|eot_id|>{% endfor %}";

function llama3Metadata(overrides: Record<string, GgufValue> = {}): Record<string, GgufValue> {
  return {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": "llama-bpe",
    "tokenizer.ggml.tokens": LLAMA3_TOKENS,
    "tokenizer.ggml.token_type": [...BYTES.map(() => 1), ...MERGED.map(() => 1), 1, ...LLAMA3_SPECIALS.map(() => 3)],
    // No merge builds "\u0120world": Llama 3 (ignore_merges) takes a pre-token found whole in the vocabulary as is.
    "tokenizer.ggml.merges": ["h e", "l l", "he ll", "hell o"],
    "tokenizer.ggml.bos_token_id": llama3Id("<|begin_of_text|>"),
    "tokenizer.ggml.eos_token_id": llama3Id("<|end_of_text|>"),
    "tokenizer.chat_template": LLAMA3_TEMPLATE,
    ...overrides,
  };
}

unit("Llama 3 from GGUF (llama-bpe): BOS <|begin_of_text|> added by default, <|eot_id|> ends generation, whole-word lookup", () => {
  const tok = tokenizerFromGguf(fakeGguf(llama3Metadata()));
  const [bos, eot] = [llama3Id("<|begin_of_text|>"), llama3Id("<|eot_id|>")];
  // llama.cpp adds BOS for the llama3 pre-tokenizer when the file has no tokenizer.ggml.add_bos_token.
  assert.ok(tok.addBosToken);
  assert.is(tok.bosTokenId, bos);
  assert.equal(tok.encode("hello world"), [bos, llama3Id("hello"), llama3Id("\u0120world")]);
  assert.equal(tok.encode("<|begin_of_text|>hello", { addSpecialTokens: false }), [bos, llama3Id("hello")], "the BOS text is the control token");
  assert.equal(tok.encode("<|start_header_id|>user<|end_header_id|>", { addSpecialTokens: false }), [llama3Id("<|start_header_id|>"), ...utf8Ids("user"), llama3Id("<|end_header_id|>")]);
  // Base Llama 3: EOS <|end_of_text|>; the template closes turns with <|eot_id|>, so it ends generation too.
  assert.equal(tok.eosTokenIds, [llama3Id("<|end_of_text|>"), eot]);
  assert.ok(tok.isSpecialToken(eot));
  assert.is(tok.decode([bos, llama3Id("hello"), eot], { skipSpecialTokens: true }), "hello");

  // Llama 3.1 Instruct files: EOS and EOT both <|eot_id|>, EOM <|eom_id|>, add_bos_token stated.
  const instruct = tokenizerFromGguf(fakeGguf(llama3Metadata({
    "tokenizer.ggml.eos_token_id": eot, "tokenizer.ggml.eot_token_id": eot, "tokenizer.ggml.eom_token_id": llama3Id("<|eom_id|>"), "tokenizer.ggml.add_bos_token": true,
  })));
  assert.equal(instruct.eosTokenIds, [eot, llama3Id("<|eom_id|>")]);
  assert.equal(instruct.encode("hello"), [bos, llama3Id("hello")]);
  const noBos = tokenizerFromGguf(fakeGguf(llama3Metadata({ "tokenizer.ggml.add_bos_token": false })));
  assert.equal([noBos.addBosToken, noBos.encode("hello")], [false, [llama3Id("hello")]]);
  // The GPT-2 pre-tokenizer merges by the rules only: no rule builds "\u0120world", so it stays in bytes.
  const gpt2 = tokenizerFromGguf(fakeGguf(llama3Metadata({ "tokenizer.ggml.pre": "gpt-2" })));
  assert.equal(gpt2.encode(" world"), utf8Ids(" world"));
});

unit("stream decoder: multi-byte characters are never split, U+FFFD only for invalid bytes", () => {
  const tok = tokenizerFromGguf(fakeGguf(tinyMetadata()));
  const stream = tok.createStreamDecoder();
  assert.equal(utf8Ids("é😀a").map((b) => stream.push(b)), ["", "é", "", "", "", "😀", "a"]);
  assert.is(stream.flush(), "");
  // 0xFF can start no UTF-8 sequence: replaced at once. A truncated sequence is replaced when the text ends.
  assert.is(stream.push(0xff), "\ufffd");
  assert.is(stream.push(0xf0), "");
  assert.is(stream.push(0x9f), "");
  assert.is(stream.flush(), "\ufffd");
  assert.is(tok.decode([0xf0, 0x9f]), "\ufffd");
  // A lead byte followed by a non-continuation byte: U+FFFD for the lead, the next byte stands on its own.
  assert.is(tok.decode([0xe2, 0x28, 0xa1]), "\ufffd(\ufffd");
  assert.is(tok.decode(utf8Ids("\ufeffBOM kept")), "\ufeffBOM kept");
  const skipping = tok.createStreamDecoder({ skipSpecialTokens: true });
  assert.is(skipping.push(id("<|im_end|>")) + skipping.push(id("hello")) + skipping.flush(), "hello");
});

unit("bad input: InputError naming the field", () => {
  const tok = tokenizerFromGguf(fakeGguf(tinyMetadata()));
  const inputError = (fn: () => unknown, field: string): void => {
    try {
      fn();
    } catch (error) {
      assert.instance(error, InputError);
      assert.is((error as InputError).field, field);
      return;
    }
    assert.unreachable(`expected an InputError for ${field}`);
  };
  inputError(() => tok.encode("lone \ud800 surrogate"), "text");
  inputError(() => tok.encode("\udc00"), "text");
  inputError(() => tok.encode(42 as unknown as string), "text");
  inputError(() => tok.decode([1, 2, TINY_TOKENS.length]), "ids[2]");
  inputError(() => tok.decode([-1]), "ids[0]");
  inputError(() => tok.decode([0, 1.5]), "ids[1]");
  inputError(() => tok.decode([Number.NaN]), "ids[0]");
  inputError(() => tok.decode("12" as unknown as number[]), "ids");
  inputError(() => tok.idToToken(TINY_TOKENS.length), "id");
  inputError(() => tok.createStreamDecoder().push(1e9), "id");
  assert.is(tok.decode([]), "");
});

unit("bad GGUF metadata: typed errors naming the key", () => {
  const failsWith = (metadata: Record<string, GgufValue>, type: Function, field: string): void => {
    try {
      tokenizerFromGguf(fakeGguf(metadata));
    } catch (error) {
      assert.instance(error, type);
      assert.is((error as FormatError).field, field);
      assert.ok((error as Error).message.includes("fake.gguf"));
      return;
    }
    assert.unreachable(`expected ${type.name} for ${field}`);
  };
  failsWith(tinyMetadata({ "tokenizer.ggml.pre": "no-such-pre" }), UnsupportedError, "tokenizer.ggml.pre");
  failsWith(tinyMetadata({ "tokenizer.ggml.model": "bert" }), UnsupportedError, "tokenizer.ggml.model");
  failsWith(tinyMetadata({ "tokenizer.ggml.merges": ["h e", "nospace"] }), FormatError, "tokenizer.ggml.merges[1]");
  failsWith(tinyMetadata({ "tokenizer.ggml.eos_token_id": TINY_TOKENS.length }), FormatError, "tokenizer.ggml.eos_token_id");
  failsWith(tinyMetadata({ "tokenizer.ggml.token_type": [1, 2, 3] }), FormatError, "tokenizer.ggml.token_type");
  const noTokens = tinyMetadata();
  delete noTokens["tokenizer.ggml.tokens"];
  failsWith(noTokens, FormatError, "tokenizer.ggml.tokens");
  failsWith(
    { "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["<unk>", "a"] }, FormatError, "tokenizer.ggml.scores",
  );
  failsWith(
    { "general.architecture": "phi3", "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["<unk>", "a"], "tokenizer.ggml.scores": [0, 0] },
    UnsupportedError, "general.architecture",
  );
  try {
    tokenizerFromGguf(fakeGguf(tinyMetadata({ "tokenizer.ggml.pre": "no-such-pre" })));
  } catch (error) {
    assert.ok((error as Error).message.includes('"smollm"'), "the error lists the names we know");
  }
});

unit('"gpt2", "gpt-2" and "default" name the same GPT-2 pre-tokenizer', () => {
  const preTokenizer = (pre: string): unknown =>
    (JSON.parse(hfTokenizerFilesFromGguf(fakeGguf(tinyMetadata({ "tokenizer.ggml.pre": pre }))).get("tokenizer.json")!) as Record<string, unknown>)["pre_tokenizer"];
  assert.equal(preTokenizer("gpt2"), preTokenizer("default"));
  assert.equal(preTokenizer("gpt-2"), preTokenizer("default"));
  const noPre = tinyMetadata();
  delete noPre["tokenizer.ggml.pre"];
  assert.equal((JSON.parse(hfTokenizerFilesFromGguf(fakeGguf(noPre)).get("tokenizer.json")!) as Record<string, unknown>)["pre_tokenizer"], preTokenizer("default"));
});

unit("GGUF strings keep a leading U+FEFF (SentencePiece vocabularies may hold a \\ufeff token)", () => {
  // A minimal GGUF v3: no tensors, one array of the strings "\ufeff" and "\ufeffa". A UTF-8 decoder that strips a
  // byte order mark (TextDecoder without ignoreBOM) turns them into "" and "a".
  const key = new TextEncoder().encode("tokenizer.ggml.tokens");
  const bytes: number[] = [];
  const u32 = (v: number): void => { bytes.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255); };
  const u64 = (v: number): void => { u32(v); u32(0); };
  u32(0x46554747); u32(3); u64(0); u64(1);
  u64(key.length); bytes.push(...key);
  u32(9); u32(8); u64(2); // array of 2 strings
  u64(3); bytes.push(0xef, 0xbb, 0xbf);
  u64(4); bytes.push(0xef, 0xbb, 0xbf, 0x61);
  while (bytes.length % 32 !== 0) bytes.push(0); // tensor data (none) starts at the default alignment
  const tokens = readGguf(Uint8Array.from(bytes), "bom.gguf").metadata.get("tokenizer.ggml.tokens");
  assert.equal(tokens, ["\ufeff", "\ufeffa"]);
});

unit("tokenizerFromHf: SentencePiece decoders behave like the Rust tokenizers decoders", () => {
  const vocab = { "<unk>": 0, "\u2581\u2581hello": 1, "\u2581world": 2, "\u2581": 3, "<0x20>": 4, "\u2581a": 5, "<0xE2>": 6, "<0x82>": 7, "<0xAC>": 8, x: 9 };
  const json = (decoder: object): object => ({
    added_tokens: [], normalizer: null, post_processor: null, decoder,
    pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: false },
    model: { type: "BPE", vocab, merges: [], unk_token: "<unk>", byte_fallback: true, fuse_unk: true },
  });
  // tokenizers' Metaspace decoder drops every U+2581 of the first token (unless prepend_scheme is "never").
  const metaspace = tokenizerFromHf(json({ type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true }));
  assert.is(metaspace.decode([1, 2, 3]), "hello world ");
  const never = tokenizerFromHf(json({ type: "Metaspace", replacement: "\u2581", prepend_scheme: "never", split: true }));
  assert.is(never.decode([1, 2]), "  hello world");
  // Llama's Replace, ByteFallback, Fuse, Strip: the strip applies to the joined text, byte tokens included.
  const llama = tokenizerFromHf(json({
    type: "Sequence",
    decoders: [
      { type: "Replace", pattern: { String: "\u2581" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" },
      { type: "Strip", content: " ", start: 1, stop: 0 },
    ],
  }));
  assert.is(llama.decode([4, 5]), " a");
  assert.is(llama.decode([6, 7, 8, 9]), "\u20acx");
  assert.is(llama.decode([3, 2]), " world");
});

unit("tokenizerFromHf: bad files are typed errors", () => {
  const files = hfTokenizerFilesFromGguf(fakeGguf(tinyMetadata()));
  const json = JSON.parse(files.get("tokenizer.json")!) as Record<string, unknown>;
  assert.throws(() => tokenizerFromHf("{not json"), (error: unknown) => error instanceof FormatError && error.file === "tokenizer.json");
  assert.throws(() => tokenizerFromHf("[]"), (error: unknown) => error instanceof FormatError);
  assert.throws(
    () => tokenizerFromHf({ ...json, model: { ...(json["model"] as object), type: "WordPiece" } }),
    (error: unknown) => error instanceof UnsupportedError && error.field === "model.type",
  );
  assert.throws(
    () => tokenizerFromHf({ ...json, decoder: { type: "WordPiece", prefix: "##" } }),
    (error: unknown) => error instanceof UnsupportedError && error.field === "decoder",
  );
  assert.throws(
    () => tokenizerFromHf(json, { bos_token: "<not in vocab>" }),
    (error: unknown) => error instanceof ConfigError && error.field === "bos_token",
  );
  const tok = tokenizerFromHf(files.get("tokenizer.json")!, files.get("tokenizer_config.json")!);
  assert.equal(tok.encode("hello é"), [id("hello"), ...utf8Ids(" é")]);
  assert.equal(tok.eosTokenIds, [id("<|endoftext|>"), id("<|im_end|>")]);
});

unit.run();

// ---------------------------------------------------------------------------------------------------------------
// transformers oracle

const oracle = loadTokenizerOracle();

if (oracle !== undefined) {
  const { corpus, results, ggufs, hfFiles } = oracle;
  const test = suite("tokenizer vs transformers");
  const ours = new Map<string, Tokenizer>();
  const fromGguf = (name: string): Tokenizer => {
    if (!ours.has(name)) ours.set(name, tokenizerFromGguf(ggufs[name]!));
    return ours.get(name)!;
  };
  const fromHf = (name: string): Tokenizer => {
    const key = `hf:${name}`;
    if (!ours.has(key)) ours.set(key, tokenizerFromHf(hfFiles[name]!.get("tokenizer.json")!, hfFiles[name]!.get("tokenizer_config.json")!));
    return ours.get(key)!;
  };
  /** The reference for a GGUF: transformers' loader, except for SmolLM2 whose real pre-tokenizer it lacks. */
  const reference = (name: string): OracleTokenizer => results[name === "smollm" ? "smollm-official" : name]!;
  const label = (i: number): string => `corpus[${i}] ${JSON.stringify(corpus[i]).slice(0, 70)}`;

  function assertEncodesLike(tok: Tokenizer, expected: OracleTokenizer, what: string): void {
    corpus.forEach((text, i) => {
      assert.equal(tok.encode(text, { addSpecialTokens: false }), expected.strings[i]!.ids, `${what}: ${label(i)}`);
      assert.equal(tok.encode(text), expected.strings[i]!.ids_with_special, `${what} with special tokens: ${label(i)}`);
    });
  }

  function assertDecodesLike(tok: Tokenizer, expected: OracleTokenizer, what: string): void {
    corpus.forEach((_, i) => {
      const { ids, decoded, decoded_skip_special, prefix_decodes } = expected.strings[i]!;
      assert.is(tok.decode(ids), decoded, `${what}: ${label(i)}`);
      assert.is(tok.decode(ids, { skipSpecialTokens: true }), decoded_skip_special, `${what} skipping specials: ${label(i)}`);
      prefix_decodes?.forEach((text, k) => assert.is(tok.decode(ids.slice(0, k + 1)), text, `${what} first ${k + 1} ids: ${label(i)}`));
    });
  }

  test(`the corpus has ${corpus.length} strings (at least 200)`, () => {
    assert.ok(corpus.length >= 200);
  });

  test("SmolLM2 GGUF: encode equals SmolLM2's own tokenizer for every corpus string", () => {
    assertEncodesLike(fromGguf("smollm"), results["smollm-official"]!, "smollm");
  });

  test("SmolLM2 GGUF: encode equals transformers' GGUF loader wherever no whitespace precedes a number", () => {
    // transformers has no "smollm" pre-tokenizer and splits with plain GPT-2 ByteLevel; llama.cpp and the model's
    // tokenizer.json first isolate every \p{N} character, which changes the split only after whitespace.
    const tok = fromGguf("smollm");
    const diverging = /\s\p{N}/u;
    let differing = 0;
    corpus.forEach((text, i) => {
      const theirs = results["smollm"]!.strings[i]!.ids;
      const same = JSON.stringify(tok.encode(text, { addSpecialTokens: false })) === JSON.stringify(theirs);
      if (!diverging.test(text)) assert.ok(same, `smollm vs transformers' GGUF loader: ${label(i)}`);
      else if (!same) differing++;
    });
    assert.ok(differing > 0, "the corpus exercises the difference");
  });

  test("SmolLM2 GGUF: decode equals transformers, also for every prefix of the ids of non-ASCII strings", () => {
    assertDecodesLike(fromGguf("smollm"), results["smollm"]!, "smollm");
    assertDecodesLike(fromGguf("smollm"), results["smollm-official"]!, "smollm (official ids)");
  });

  test("SmolLM2 GGUF: decode(encode(s)) === s for every corpus string", () => {
    const tok = fromGguf("smollm");
    corpus.forEach((text, i) => assert.is(tok.decode(tok.encode(text)), text, label(i)));
  });

  test("SmolLM2 GGUF: special tokens, flags and vocabulary size equal transformers'", () => {
    const tok = fromGguf("smollm");
    const theirs = results["smollm"]!;
    assert.is(tok.vocabSize, theirs.vocab_size);
    assert.is(tok.bosTokenId, theirs.bos_token_id);
    assert.is(tok.eosTokenIds[0], theirs.eos_token_id);
    assert.is(tok.padTokenId, theirs.pad_token_id);
    assert.is(tok.unkTokenId, theirs.unk_token_id);
    assert.is(tok.specialTokens.bos, theirs.bos_token);
    assert.is(tok.specialTokens.eos, theirs.eos_token);
    for (const added of theirs.added_tokens) {
      assert.is(tok.idToToken(added.id), added.content);
      assert.is(tok.isSpecialToken(added.id), added.special, `special flag of ${added.content}`);
    }
    const theirSpecial = new Set(theirs.added_tokens.filter((t) => t.special).map((t) => t.id));
    for (let i = 0; i < tok.vocabSize; i++) assert.is(tok.isSpecialToken(i), theirSpecial.has(i), `special flag of id ${i}`);
  });

  for (const name of BYTE_LEVEL_VARIANTS) {
    test(`${name}: SmolLM2's vocabulary with tokenizer.ggml.pre = "${name.slice(4)}" encodes and decodes like transformers`, () => {
      const tok = fromGguf(name);
      assertEncodesLike(tok, results[name]!, name);
      assertDecodesLike(tok, results[name]!, name);
    });
  }

  for (const name of SENTENCEPIECE_VARIANTS) {
    test(`${name}: SentencePiece vocabulary (scores, byte fallback) encodes and decodes like transformers`, () => {
      const tok = fromGguf(name);
      assertEncodesLike(tok, results[name]!, name);
      assertDecodesLike(tok, results[name]!, name);
      const theirs = results[name]!;
      assert.is(tok.bosTokenId, theirs.bos_token_id);
      assert.is(tok.eosTokenIds[0], theirs.eos_token_id);
      for (const added of theirs.added_tokens) assert.is(tok.isSpecialToken(added.id), added.special, `special flag of ${added.content}`);
    });

    test(`${name}: decode(encode(s)) gives s back, up to SentencePiece's two known losses`, () => {
      // SentencePiece spells a space as U+2581, so (1) a U+2581 in the text comes back as a space, and (2) with
      // tokenizer.ggml.add_space_prefix the decoder drops the text's first character when it is a space (it
      // cannot tell the space it added from one that was there).
      const tok = fromGguf(name);
      const addsPrefix = ggufs[name]!.metadata.get("tokenizer.ggml.add_space_prefix") !== false;
      corpus.forEach((text, i) => {
        let expected = text.replaceAll("\u2581", " ");
        if (addsPrefix && expected.startsWith(" ")) expected = expected.slice(1);
        assert.is(tok.decode(tok.encode(text, { addSpecialTokens: false })), expected, label(i));
      });
    });
  }

  test("spm-gemma: <end_of_turn>, which its chat template closes turns with, ends generation after <eos>", () => {
    const tok = fromGguf("spm-gemma");
    assert.equal(tok.eosTokenIds, [tok.tokenToId("<eos>"), tok.tokenToId("<end_of_turn>")]);
    assert.equal(tok.encode("<start_of_turn>user\nhi<end_of_turn>\n").slice(0, 2), [tok.tokenToId("<bos>"), tok.tokenToId("<start_of_turn>")]);
  });

  test("stream decoder: pieces concatenate to decode(ids), each a completed prefix, for every corpus string", () => {
    for (const name of ["smollm", ...SENTENCEPIECE_VARIANTS]) {
      const tok = fromGguf(name);
      for (const skipSpecialTokens of [false, true]) {
        corpus.forEach((text, i) => {
          const ids = tok.encode(text);
          const whole = tok.decode(ids, { skipSpecialTokens });
          const stream = tok.createStreamDecoder({ skipSpecialTokens });
          let sofar = "";
          ids.forEach((tokenId) => {
            sofar += stream.push(tokenId);
            assert.ok(whole.startsWith(sofar), `${name}: stream text is a prefix of the decode: ${label(i)}`);
          });
          sofar += stream.flush();
          assert.is(sofar, whole, `${name}: ${label(i)}`);
          assert.ok(!sofar.includes("\ufffd") || text.includes("\ufffd"), `${name}: no U+FFFD for valid text: ${label(i)}`);
        });
      }
    }
  });

  for (const name of WITH_HF_FOLDER) {
    test(`${name}: the Hugging Face folder from hfTokenizerFilesFromGguf loads in AutoTokenizer and encodes like the reference`, () => {
      const folder = results[`hf:${name}`]!;
      const expected = reference(name);
      corpus.forEach((_, i) => {
        assert.equal(folder.strings[i]!.ids, expected.strings[i]!.ids, `AutoTokenizer on our folder: ${label(i)}`);
        assert.equal(folder.strings[i]!.ids_with_special, expected.strings[i]!.ids_with_special, `with special tokens: ${label(i)}`);
        assert.is(folder.strings[i]!.decoded, expected.strings[i]!.decoded, `decode: ${label(i)}`);
      });
      assert.is(folder.bos_token_id, expected.bos_token_id);
      assert.is(folder.eos_token_id, expected.eos_token_id);
      assert.is(folder.pad_token_id, expected.pad_token_id);
      assert.equal(folder.added_tokens, expected.added_tokens);
    });

    test(`${name}: tokenizerFromHf on those files equals the reference and tokenizerFromGguf`, () => {
      const tok = fromHf(name);
      const expected = reference(name);
      assertEncodesLike(tok, expected, `hf:${name}`);
      assertDecodesLike(tok, expected, `hf:${name}`);
      const gguf = fromGguf(name);
      assert.is(tok.bosTokenId, gguf.bosTokenId);
      assert.equal(tok.eosTokenIds, gguf.eosTokenIds);
      assert.is(tok.padTokenId, gguf.padTokenId);
      assert.is(tok.addBosToken, gguf.addBosToken);
      const config = JSON.parse(hfFiles[name]!.get("tokenizer_config.json")!) as Record<string, unknown>;
      assert.is(config["chat_template"], ggufs[name]!.metadata.get("tokenizer.chat_template"));
      const specialMap = JSON.parse(hfFiles[name]!.get("special_tokens_map.json")!) as Record<string, { content: string }>;
      assert.is(specialMap["eos_token"]?.content, expected.eos_token ?? undefined);
    });
  }

  test.run();
}
