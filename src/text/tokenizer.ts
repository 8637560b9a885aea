// Text <-> token ids for Llama-family models, from either a Hugging Face tokenizer.json (+ tokenizer_config.json)
// or the tokenizer.ggml.* metadata of a GGUF file. Both end up as one tokenizer.json definition run by
// @huggingface/tokenizers for encoding; decoding is ours (token -> bytes -> UTF-8) so that decode and the
// streaming decoder share one byte-exact definition. Strings and objects in, never paths: this runs on edge workers.
//
// GGUF -> tokenizer.json follows transformers' own GGUF conversion (integrations/gguf/gguf_tokenizer_mapping.py),
// which is our test oracle, except where transformers has no entry for a pre-tokenizer name and llama.cpp does;
// there we follow llama.cpp and the model's original tokenizer.json (see BYTE_LEVEL_PRE_TOKENIZERS).

import { Tokenizer as LibraryTokenizer } from "@huggingface/tokenizers";
import { ConfigError, FormatError, InputError, UnsupportedError, show } from "../errors.js";
import type { GgufFile, GgufValue } from "../io/gguf.js";

export interface EncodeOptions {
  /** Add what the model's config says to add around a text (BOS/EOS). Default true, as in transformers. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, <|im_start|>, ...). Default false. */
  readonly skipSpecialTokens?: boolean;
}

/** Incremental decoding of generated ids: the pieces concatenate to exactly `decode(allIds)`. */
export interface StreamDecoder {
  /** Feeds one id; returns the text it completes (possibly ""), never half of a multi-byte character. */
  push(id: number): string;
  /** Ends the text: returns what is still held back (an incomplete UTF-8 sequence becomes U+FFFD) and resets. */
  flush(): string;
}

/** Texts of the named special tokens, as chat templates see them (bos_token, eos_token, ...). */
export interface SpecialTokenTexts {
  readonly bos?: string;
  readonly eos?: string;
  readonly pad?: string;
  readonly unk?: string;
}

export interface Tokenizer {
  /** Number of ids (one more than the largest id); ids are 0..vocabSize-1. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  /**
   * Ids that end generation: the EOS id; then GGUF's tokenizer.ggml.eot_token_id / eom_token_id; then every special
   * token whose text is a known end-of-turn marker (END_OF_TURN_TEXTS, e.g. <|im_end|>, <|eot_id|>) and appears in
   * the model's chat template, i.e. the template closes turns with it. No duplicates, EOS first.
   */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  /** Whether encode(text) (with addSpecialTokens) puts BOS first. */
  readonly addBosToken: boolean;
  readonly specialTokens: SpecialTokenTexts;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The vocabulary's spelling of a token (byte-level "Ġhello", SentencePiece "▁hello", or a special's text). */
  idToToken(id: number): string;
  /** The id of a token spelled as in the vocabulary, or undefined. */
  tokenToId(token: string): number | undefined;
  isSpecialToken(id: number): boolean;
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
}

/** Token texts that close a chat turn in common templates. */
export const END_OF_TURN_TEXTS: readonly string[] = [
  "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
];

const GPT2_SPLIT = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const LLAMA3_SPLIT =
  String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_SPLIT =
  String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const GPT4O_SPLIT =
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
  String.raw`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
  String.raw`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const TEKKEN_SPLIT =
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` +
  String.raw`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` +
  String.raw`|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

const BYTE_LEVEL_WITH_REGEX = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const BYTE_LEVEL_NO_REGEX = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false };

function splitThenBytes(regex: string): object {
  return {
    type: "Sequence",
    pretokenizers: [{ type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false }, BYTE_LEVEL_NO_REGEX],
  };
}

interface BytePreTokenizer {
  readonly preTokenizer: object;
  /** llama.cpp looks a whole pre-token up in the vocabulary before merging (Llama 3's tokenizer.json says so too). */
  readonly ignoreMerges: boolean;
  /** llama.cpp's add_bos when the file has no tokenizer.ggml.add_bos_token. */
  readonly addBosByDefault: boolean;
}

const GPT2_FAMILY: BytePreTokenizer = { preTokenizer: BYTE_LEVEL_WITH_REGEX, ignoreMerges: false, addBosByDefault: false };
// llama.cpp's LLAMA_VOCAB_PRE_TYPE_SMOLLM (shared with StarCoder & co.) splits "\p{N}" before the GPT-2 regex; the
// models' own tokenizer.json says the same as Digits(individual_digits) + ByteLevel (Rust's Digits uses
// char::is_numeric, i.e. \p{N}). transformers' GGUF loader has no "smollm" entry and uses plain GPT-2 ByteLevel,
// which differs when two or more whitespace characters precede a digit ("a  1").
const DIGITS_THEN_GPT2: BytePreTokenizer = {
  preTokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, BYTE_LEVEL_WITH_REGEX] },
  ignoreMerges: false,
  addBosByDefault: false,
};
const LLAMA3: BytePreTokenizer = { preTokenizer: splitThenBytes(LLAMA3_SPLIT), ignoreMerges: true, addBosByDefault: true };
const LLAMA3_SPLIT_ONLY: BytePreTokenizer = { preTokenizer: splitThenBytes(LLAMA3_SPLIT), ignoreMerges: false, addBosByDefault: false };
const QWEN2: BytePreTokenizer = { preTokenizer: splitThenBytes(QWEN2_SPLIT), ignoreMerges: false, addBosByDefault: false };
const GPT4O: BytePreTokenizer = { preTokenizer: splitThenBytes(GPT4O_SPLIT), ignoreMerges: false, addBosByDefault: false };
const TEKKEN: BytePreTokenizer = { preTokenizer: splitThenBytes(TEKKEN_SPLIT), ignoreMerges: true, addBosByDefault: true };

/**
 * tokenizer.ggml.pre values (llama.cpp's names, src/llama-vocab.cpp) for byte-level BPE vocabularies. "default" (and a
 * missing key) means the GPT-2 regex, as in transformers; llama.cpp's own "default" is a different legacy regex.
 */
const BYTE_LEVEL_PRE_TOKENIZERS: Readonly<Record<string, BytePreTokenizer>> = {
  "default": GPT2_FAMILY, "gpt-2": GPT2_FAMILY, "gpt2": GPT2_FAMILY, "phi-2": GPT2_FAMILY, "mpt": GPT2_FAMILY, "olmo": GPT2_FAMILY,
  "smollm": DIGITS_THEN_GPT2, "starcoder": DIGITS_THEN_GPT2, "refact": DIGITS_THEN_GPT2, "command-r": DIGITS_THEN_GPT2,
  "codeshell": DIGITS_THEN_GPT2, "exaone": DIGITS_THEN_GPT2, "minerva-7b": DIGITS_THEN_GPT2,
  "llama3": LLAMA3, "llama-v3": LLAMA3, "llama-bpe": LLAMA3, "falcon3": LLAMA3, "falcon-h1": LLAMA3, "pixtral": LLAMA3,
  "dbrx": LLAMA3_SPLIT_ONLY, "smaug-bpe": LLAMA3_SPLIT_ONLY,
  "qwen2": QWEN2, "deepseek-r1-qwen": QWEN2, "megrez": QWEN2,
  "gpt-4o": GPT4O, "llama4": GPT4O,
  "tekken": TEKKEN,
};

// llama.cpp token types (llama_token_type).
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

const SPM_SPACE = "\u2581";

/**
 * Largest token id a tokenizer.json may use (2^20; real vocabularies stay below 300k). Ids index dense arrays, and a
 * vocabulary with ids up to 2^31 would make every pass over them take seconds.
 */
const MAX_TOKEN_ID = (1 << 20) - 1;

/** Architectures whose "llama" (SentencePiece) vocabularies need their own conversion in transformers. */
const SENTENCEPIECE_ARCHITECTURES_WITH_OWN_RULES: readonly string[] = ["gemma", "gemma2", "gemma3", "gemma4", "phi3"];

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// GGUF -> tokenizer.json

interface GgufTokenizerDefinition {
  readonly tokenizerJson: Json;
  readonly tokenizerConfig: Json;
  readonly specialTokensMap: Json;
  /** Token spellings by id, duplicates included (a vocab object keeps only one id per spelling). */
  readonly idToToken: readonly string[];
  readonly specialIds: {
    readonly bosTokenId: number | undefined;
    readonly eosTokenIds: readonly number[];
    readonly padTokenId: number | undefined;
    readonly unkTokenId: number | undefined;
  };
}

/** Builds the tokenizer a GGUF file's tokenizer.ggml.* metadata describes. */
export function tokenizerFromGguf(gguf: GgufFile): Tokenizer {
  const definition = tokenizerDefinitionFromGguf(gguf);
  return buildTokenizer(definition.tokenizerJson, {
    file: gguf.file,
    idToToken: definition.idToToken,
    specialTokens: specialTextsFromConfig(definition.tokenizerConfig, gguf.file),
    ...definition.specialIds,
  });
}

/**
 * tokenizer.json, tokenizer_config.json and special_tokens_map.json (as JSON text) for a GGUF file's tokenizer, so a
 * folder converted from GGUF loads with transformers' AutoTokenizer and with tokenizerFromHf.
 */
export function hfTokenizerFilesFromGguf(gguf: GgufFile): Map<string, string> {
  const definition = tokenizerDefinitionFromGguf(gguf);
  return new Map([
    ["tokenizer.json", `${JSON.stringify(definition.tokenizerJson, null, 2)}\n`],
    ["tokenizer_config.json", `${JSON.stringify(definition.tokenizerConfig, null, 2)}\n`],
    ["special_tokens_map.json", `${JSON.stringify(definition.specialTokensMap, null, 2)}\n`],
  ]);
}

function tokenizerDefinitionFromGguf(gguf: GgufFile): GgufTokenizerDefinition {
  const meta = new GgufMetadata(gguf);
  const model = meta.requiredString("tokenizer.ggml.model");
  if (model !== "gpt2" && model !== "llama") {
    throw new UnsupportedError({
      file: gguf.file, field: "tokenizer.ggml.model",
      expected: '"gpt2" (byte-level BPE) or "llama" (SentencePiece BPE with byte fallback)', actual: show(model),
    });
  }
  const tokens = meta.requiredStringArray("tokenizer.ggml.tokens");
  if (tokens.length === 0) {
    throw new FormatError({ file: gguf.file, field: "tokenizer.ggml.tokens", expected: "at least one token", actual: "an empty array" });
  }
  const tokenTypes = meta.optionalIntArray("tokenizer.ggml.token_type", tokens.length);
  const tokenId = (key: string): number | undefined => meta.optionalTokenId(key, tokens.length);
  const bos = tokenId("tokenizer.ggml.bos_token_id");
  const eos = tokenId("tokenizer.ggml.eos_token_id");
  const unk = tokenId("tokenizer.ggml.unknown_token_id");
  const pad = tokenId("tokenizer.ggml.padding_token_id");
  const endOfTurnIds = [tokenId("tokenizer.ggml.eot_token_id"), tokenId("tokenizer.ggml.eom_token_id")];
  const chatTemplate = meta.optionalString("tokenizer.chat_template");

  let spelled: string[];
  let modelJson: Json;
  let preTokenizer: object | null;
  let decoder: object;
  let addBos: boolean;
  if (model === "gpt2") {
    const pre = meta.optionalString("tokenizer.ggml.pre") ?? "default";
    const preSpec = BYTE_LEVEL_PRE_TOKENIZERS[pre];
    if (preSpec === undefined) {
      throw new UnsupportedError({
        file: gguf.file, field: "tokenizer.ggml.pre",
        expected: `one of ${Object.keys(BYTE_LEVEL_PRE_TOKENIZERS).map((name) => JSON.stringify(name)).join(", ")}`,
        actual: show(pre), detail: "each name stands for a pre-tokenizer regex; an unknown one would silently mis-split text",
      });
    }
    // Byte-level vocabularies spell every byte as a printable character; a token that is not spelled that way is
    // stored as plain text and gets respelled (as transformers does).
    spelled = tokens.map((token) => (isByteLevelSpelling(token) ? token : spellBytes(utf8(token))));
    const merges = meta.requiredStringArray("tokenizer.ggml.merges");
    modelJson = {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: preSpec.ignoreMerges,
      vocab: vocabObject(spelled), merges: merges.map((merge, i) => splitMerge(merge, gguf.file, i)),
    };
    preTokenizer = preSpec.preTokenizer;
    decoder = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };
    addBos = meta.optionalBool("tokenizer.ggml.add_bos_token") ?? preSpec.addBosByDefault;
  } else {
    const architecture = meta.optionalString("general.architecture");
    if (architecture !== undefined && SENTENCEPIECE_ARCHITECTURES_WITH_OWN_RULES.includes(architecture)) {
      throw new UnsupportedError({
        file: gguf.file, field: "general.architecture", expected: "a llama-style SentencePiece vocabulary",
        actual: show(architecture), detail: "this family spells spaces and merges differently (transformers builds it with its own rules)",
      });
    }
    spelled = tokens.slice();
    const addSpacePrefix = meta.optionalBool("tokenizer.ggml.add_space_prefix") ?? true;
    const fileMerges = meta.optionalStringArray("tokenizer.ggml.merges");
    let merges: [string, string][];
    if (fileMerges !== undefined) {
      merges = fileMerges.map((merge, i) => splitMerge(merge, gguf.file, i));
    } else {
      const scores = meta.optionalNumberArray("tokenizer.ggml.scores", tokens.length);
      if (scores === undefined) {
        throw new FormatError({
          file: gguf.file, field: "tokenizer.ggml.scores", expected: "token scores (or tokenizer.ggml.merges) for a llama vocabulary",
          actual: "neither key",
        });
      }
      merges = mergesFromScores(tokens, scores);
    }
    modelJson = {
      type: "BPE", dropout: null, unk_token: unk === undefined ? null : tokens[unk], continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab: vocabObject(spelled), merges,
    };
    // transformers' LlamaTokenizer (legacy=False): a space is prepended to the text's first piece only, not after
    // every special token as llama.cpp does.
    preTokenizer = { type: "Metaspace", replacement: SPM_SPACE, prepend_scheme: addSpacePrefix ? "first" : "never", split: false };
    const steps: object[] = [
      { type: "Replace", pattern: { String: SPM_SPACE }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" },
    ];
    if (addSpacePrefix) steps.push({ type: "Strip", content: " ", start: 1, stop: 0 });
    decoder = { type: "Sequence", decoders: steps };
    addBos = meta.optionalBool("tokenizer.ggml.add_bos_token") ?? true;
  }
  const addEos = meta.optionalBool("tokenizer.ggml.add_eos_token") ?? false;

  // Control tokens are special added tokens, user-defined ones plain added tokens (both always matched whole), as in
  // transformers. A byte-level "control" token not spelled in the byte alphabet is a mislabel and stays ordinary.
  const added = new Map<number, { content: string; special: boolean }>();
  if (tokenTypes !== undefined) {
    for (let id = 0; id < tokens.length; id++) {
      if (tokenTypes[id] === TOKEN_TYPE_CONTROL && (model === "llama" || isByteLevelSpelling(tokens[id]!))) {
        added.set(id, { content: spelled[id]!, special: true });
      }
    }
    for (let id = 0; id < tokens.length; id++) {
      if (tokenTypes[id] === TOKEN_TYPE_USER_DEFINED && !added.has(id)) added.set(id, { content: spelled[id]!, special: false });
    }
  }
  for (const id of [bos, eos, unk, pad]) {
    if (id !== undefined && added.get(id)?.special !== true) added.set(id, { content: spelled[id]!, special: true });
  }
  const addedTokens = [...added.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, token]) => ({
      id, content: token.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: token.special,
    }));

  const bosText = bos === undefined ? undefined : spelled[bos];
  const eosText = eos === undefined ? undefined : spelled[eos];
  const tokenizerJson: Json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: templateProcessing(
      addBos && bos !== undefined ? { text: bosText!, id: bos } : undefined,
      addEos && eos !== undefined ? { text: eosText!, id: eos } : undefined,
    ),
    decoder,
    model: modelJson,
  };

  const namedSpecials: [string, number | undefined][] = [["bos_token", bos], ["eos_token", eos], ["unk_token", unk], ["pad_token", pad]];
  const tokenizerConfig: Json = {
    add_bos_token: addBos && bos !== undefined,
    add_eos_token: addEos && eos !== undefined,
    added_tokens_decoder: Object.fromEntries(addedTokens.map((token) => [String(token.id), {
      content: token.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: token.special,
    }])),
    ...Object.fromEntries(namedSpecials.map(([name, id]) => [name, id === undefined ? null : spelled[id]])),
    clean_up_tokenization_spaces: false,
    tokenizer_class: "PreTrainedTokenizerFast",
  };
  const contextLength = contextLengthOf(meta);
  if (contextLength !== undefined) tokenizerConfig["model_max_length"] = contextLength;
  if (chatTemplate !== undefined) tokenizerConfig["chat_template"] = chatTemplate;
  const specialTokensMap: Json = Object.fromEntries(
    namedSpecials.filter(([, id]) => id !== undefined).map(([name, id]) => [name, {
      content: spelled[id!], lstrip: false, normalized: false, rstrip: false, single_word: false,
    }]),
  );

  const specialIds = new Set(addedTokens.filter((token) => token.special).map((token) => token.id));
  const eosTokenIds = endOfTurnTokenIds(
    eos,
    endOfTurnIds.filter((id): id is number => id !== undefined),
    [...specialIds].map((id) => ({ id, text: spelled[id]! })),
    chatTemplate,
  );
  return {
    tokenizerJson, tokenizerConfig, specialTokensMap, idToToken: spelled,
    specialIds: { bosTokenId: bos, eosTokenIds, padTokenId: pad, unkTokenId: unk },
  };
}

function contextLengthOf(meta: GgufMetadata): number | undefined {
  const architecture = meta.optionalString("general.architecture");
  if (architecture === undefined) return undefined;
  const value = meta.gguf.metadata.get(`${architecture}.context_length`);
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function templateProcessing(bos: { text: string; id: number } | undefined, eos: { text: string; id: number } | undefined): Json {
  const special = (text: string, typeId: number): Json => ({ SpecialToken: { id: text, type_id: typeId } });
  const sequence = (id: "A" | "B", typeId: number): Json => ({ Sequence: { id, type_id: typeId } });
  const around = (id: "A" | "B", typeId: number): Json[] => [
    ...(bos === undefined ? [] : [special(bos.text, typeId)]), sequence(id, typeId), ...(eos === undefined ? [] : [special(eos.text, typeId)]),
  ];
  const specialTokens: Json = {};
  for (const token of [bos, eos]) {
    if (token !== undefined) specialTokens[token.text] = { id: token.text, ids: [token.id], tokens: [token.text] };
  }
  return { type: "TemplateProcessing", single: around("A", 0), pair: [...around("A", 0), ...around("B", 1)], special_tokens: specialTokens };
}

/** vocab object for tokenizer.json; a spelling that occurs twice keeps the later id, as a Python dict would. */
function vocabObject(spelled: readonly string[]): Record<string, number> {
  const vocab: Record<string, number> = Object.create(null);
  spelled.forEach((token, id) => { vocab[token] = id; });
  return vocab;
}

function splitMerge(merge: string, file: string, index: number): [string, string] {
  const space = merge.indexOf(" ");
  if (space <= 0 || space === merge.length - 1 || merge.indexOf(" ", space + 1) !== -1) {
    throw new FormatError({ file, field: `tokenizer.ggml.merges[${index}]`, expected: 'two tokens separated by one space ("a b")', actual: show(merge) });
  }
  return [merge.slice(0, space), merge.slice(space + 1)];
}

/**
 * Merges implied by a SentencePiece vocabulary's scores, exactly as transformers' generate_merges derives them: every
 * split of a token into two vocabulary tokens, ordered by the merged token's score (best first), then by longer left
 * and right parts; ties keep vocabulary order.
 */
function mergesFromScores(tokens: readonly string[], scores: readonly number[]): [string, string][] {
  const idOf = new Map<string, number>();
  const scoreOf = new Map<string, number>();
  tokens.forEach((token, id) => {
    idOf.set(token, id);
    scoreOf.set(token, scores[id]!);
  });
  const candidates: { left: string; right: string; score: number; leftLength: number; rightLength: number }[] = [];
  for (const [token, score] of scoreOf) {
    const chars = Array.from(token);
    const local: { left: string; right: string; score: number; leftLength: number; rightLength: number }[] = [];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join("");
      const right = chars.slice(cut).join("");
      if (idOf.has(left) && idOf.has(right)) local.push({ left, right, score, leftLength: cut, rightLength: chars.length - cut });
    }
    local.sort((a, b) => idOf.get(a.left)! - idOf.get(b.left)! || idOf.get(a.right)! - idOf.get(b.right)!);
    for (const merge of local) candidates.push(merge);
  }
  candidates.sort((a, b) => b.score - a.score || b.leftLength - a.leftLength || b.rightLength - a.rightLength);
  return candidates.map((merge) => [merge.left, merge.right]);
}

/** Typed access to GGUF metadata; every mismatch is a FormatError naming the key. */
class GgufMetadata {
  constructor(readonly gguf: GgufFile) {}

  private fail(key: string, expected: string, value: GgufValue | undefined): never {
    throw new FormatError({ file: this.gguf.file, field: key, expected, actual: value === undefined ? "no such key" : show(value) });
  }

  requiredString(key: string): string {
    const value = this.gguf.metadata.get(key);
    if (typeof value !== "string") this.fail(key, "a string", value);
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.gguf.metadata.has(key) ? this.requiredString(key) : undefined;
  }

  optionalBool(key: string): boolean | undefined {
    const value = this.gguf.metadata.get(key);
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") this.fail(key, "a BOOL", value);
    return value;
  }

  requiredStringArray(key: string): string[] {
    const value = this.gguf.metadata.get(key);
    if (!Array.isArray(value)) this.fail(key, "an array of strings", value);
    value.forEach((item, i) => {
      if (typeof item !== "string") this.fail(`${key}[${i}]`, "a string", item);
    });
    return value as string[];
  }

  optionalStringArray(key: string): string[] | undefined {
    return this.gguf.metadata.has(key) ? this.requiredStringArray(key) : undefined;
  }

  optionalNumberArray(key: string, length: number): number[] | undefined {
    const value = this.gguf.metadata.get(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.length !== length) this.fail(key, `an array of ${length} numbers (one per token)`, value);
    value.forEach((item, i) => {
      if (typeof item !== "number") this.fail(`${key}[${i}]`, "a number", item);
    });
    return value as number[];
  }

  optionalIntArray(key: string, length: number): number[] | undefined {
    const values = this.optionalNumberArray(key, length);
    values?.forEach((item, i) => {
      if (!Number.isInteger(item)) this.fail(`${key}[${i}]`, "an integer", item);
    });
    return values;
  }

  optionalTokenId(key: string, tokenCount: number): number | undefined {
    const value = this.gguf.metadata.get(key);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= tokenCount) {
      this.fail(key, `a token id in 0..${tokenCount - 1}`, value);
    }
    return value;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hugging Face files

/**
 * Builds a tokenizer from tokenizer.json and (optionally) tokenizer_config.json, given as JSON text or parsed
 * objects. BOS/EOS are added as transformers adds them: per tokenizer_config's add_bos_token / add_eos_token when it
 * sets either, otherwise per tokenizer.json's post_processor.
 */
export function tokenizerFromHf(tokenizerJson: string | object, tokenizerConfig?: string | object): Tokenizer {
  const json = parseJsonObject(tokenizerJson, "tokenizer.json");
  const config = tokenizerConfig === undefined ? {} : parseJsonObject(tokenizerConfig, "tokenizer_config.json");
  const model = json["model"];
  if (!isRecord(model)) {
    throw new FormatError({ file: "tokenizer.json", field: "model", expected: "an object", actual: show(model) });
  }
  const vocab = model["vocab"];
  if (!isRecord(vocab)) {
    throw new FormatError({ file: "tokenizer.json", field: "model.vocab", expected: "an object mapping tokens to ids", actual: show(vocab) });
  }
  const addedTokens = json["added_tokens"] ?? [];
  if (!Array.isArray(addedTokens)) {
    throw new FormatError({ file: "tokenizer.json", field: "added_tokens", expected: "an array", actual: show(addedTokens) });
  }

  const idToToken: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID) {
      throw new FormatError({ file: "tokenizer.json", field: `model.vocab[${JSON.stringify(token)}]`, expected: `an integer id in 0..${MAX_TOKEN_ID}`, actual: show(id) });
    }
    idToToken[id] = token;
  }
  const specialIds: number[] = [];
  addedTokens.forEach((token, i) => {
    if (!isRecord(token) || typeof token["content"] !== "string" || typeof token["id"] !== "number" || !Number.isInteger(token["id"]) || token["id"] < 0 || token["id"] > MAX_TOKEN_ID) {
      throw new FormatError({ file: "tokenizer.json", field: `added_tokens[${i}]`, expected: `{ id: integer in 0..${MAX_TOKEN_ID}, content: string, ... }`, actual: isRecord(token) ? `id ${show(token["id"])}, content ${show(token["content"])}` : show(token) });
    }
    idToToken[token["id"]] = token["content"];
    if (token["special"] === true) specialIds.push(token["id"]);
  });

  const specialTokens = specialTextsFromConfig(config, "tokenizer_config.json");
  // Ids may leave holes: look texts up in a map rather than searching the (then sparse) array from the end.
  const lastIdOf = new Map<string, number>();
  idToToken.forEach((token, id) => lastIdOf.set(token, id));
  const lookup = (text: string | undefined, field: string): number | undefined => {
    if (text === undefined) return undefined;
    const id = lastIdOf.get(text) ?? -1;
    if (id < 0) {
      throw new ConfigError({ file: "tokenizer_config.json", field, expected: "a token of tokenizer.json's vocabulary", actual: show(text) });
    }
    return id;
  };
  const bos = lookup(specialTokens.bos, "bos_token");
  const eos = lookup(specialTokens.eos, "eos_token");
  const pad = lookup(specialTokens.pad, "pad_token");
  const unk = lookup(specialTokens.unk, "unk_token");

  const adapted: Json = { ...json, added_tokens: addedTokens };
  const explicitBos = typeof config["add_bos_token"] === "boolean";
  const explicitEos = typeof config["add_eos_token"] === "boolean";
  if (explicitBos || explicitEos || json["post_processor"] === null || json["post_processor"] === undefined) {
    adapted["post_processor"] = templateProcessing(
      config["add_bos_token"] === true && bos !== undefined ? { text: specialTokens.bos!, id: bos } : undefined,
      config["add_eos_token"] === true && eos !== undefined ? { text: specialTokens.eos!, id: eos } : undefined,
    );
  }
  const eosTokenIds = endOfTurnTokenIds(eos, [], specialIds.map((id) => ({ id, text: idToToken[id]! })), chatTemplateText(config["chat_template"]));
  return buildTokenizer(adapted, {
    file: "tokenizer.json", idToToken, specialTokens, bosTokenId: bos, eosTokenIds, padTokenId: pad, unkTokenId: unk,
  });
}

/** tokenizer_config.json's chat_template: a string, or a list of { name, template } (all of them count here). */
function chatTemplateText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) return undefined;
  return value.map((entry) => (isRecord(entry) && typeof entry["template"] === "string" ? entry["template"] : "")).join("\n");
}

function parseJsonObject(input: string | object, file: string): Json {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new FormatError({ file, expected: "JSON text", actual: "unparseable text", detail: (error as Error).message });
    }
  }
  if (!isRecord(value)) throw new FormatError({ file, expected: "a JSON object", actual: show(value) });
  return value;
}

function specialTextsFromConfig(config: Json, file: string): SpecialTokenTexts {
  const text = (name: string): string | undefined => {
    const value = config[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (isRecord(value) && typeof value["content"] === "string") return value["content"];
    throw new ConfigError({ file, field: name, expected: "a token text or { content: string }", actual: show(value) });
  };
  return { bos: text("bos_token"), eos: text("eos_token"), pad: text("pad_token"), unk: text("unk_token") };
}

function endOfTurnTokenIds(
  eos: number | undefined, declared: readonly number[], specials: readonly { id: number; text: string }[], chatTemplate: string | undefined,
): number[] {
  const ids: number[] = [];
  const add = (id: number): void => {
    if (!ids.includes(id)) ids.push(id);
  };
  if (eos !== undefined) add(eos);
  declared.forEach(add);
  if (chatTemplate !== undefined) {
    for (const { id, text } of specials) {
      if (END_OF_TURN_TEXTS.includes(text) && chatTemplate.includes(text)) add(id);
    }
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------------------------
// The tokenizer

interface BuildOptions {
  readonly file: string;
  readonly idToToken: readonly (string | undefined)[];
  readonly specialTokens: SpecialTokenTexts;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
}

function buildTokenizer(tokenizerJson: Json, options: BuildOptions): Tokenizer {
  const model = tokenizerJson["model"];
  if (!isRecord(model) || model["type"] !== "BPE") {
    throw new UnsupportedError({
      file: options.file, field: "model.type", expected: '"BPE"', actual: show(isRecord(model) ? model["type"] : model),
    });
  }
  checkBpeModel(model, options.file);
  const plan = decodePlan(tokenizerJson["decoder"], options.file);
  const libraryJson: Json = {
    ...tokenizerJson,
    normalizer: tokenizerJson["normalizer"] ?? null,
    pre_tokenizer: adaptPreTokenizer(tokenizerJson["pre_tokenizer"] ?? null, options.file, "pre_tokenizer"),
    post_processor: tokenizerJson["post_processor"] ?? null,
    decoder: null,
  };
  let library: LibraryTokenizer;
  try {
    // The config object only steers tokenizers.js's own decode and legacy options, neither of which we use.
    library = new LibraryTokenizer(libraryJson, {});
  } catch (error) {
    throw new UnsupportedError({ file: options.file, expected: "a tokenizer definition @huggingface/tokenizers can run", actual: (error as Error).message });
  }
  return new LoadedTokenizer(library, plan, options);
}

/**
 * The checks the Rust `tokenizers` crate makes when it builds a BPE model, which tokenizers.js skips: every merge is a
 * pair of vocabulary tokens whose concatenation is in the vocabulary too (tokenizers.js would otherwise drop the
 * merged piece's text silently), and merges are "a b" strings or [a, b] pairs, not a mix (tokenizers.js decides the
 * format from the first one). A continuing_subword_prefix, which tokenizers.js ignores, is refused.
 */
function checkBpeModel(model: Json, file: string): void {
  const vocab = model["vocab"];
  if (!isRecord(vocab)) throw new FormatError({ file, field: "model.vocab", expected: "an object mapping tokens to ids", actual: show(vocab) });
  const prefix = model["continuing_subword_prefix"];
  if (prefix !== undefined && prefix !== null && prefix !== "") {
    throw new UnsupportedError({ file, field: "model.continuing_subword_prefix", expected: "null (no word-piece prefixes)", actual: show(prefix) });
  }
  const merges = model["merges"] ?? [];
  if (!Array.isArray(merges)) throw new FormatError({ file, field: "model.merges", expected: "an array of merges", actual: show(merges) });
  const pairs = merges.length > 0 && Array.isArray(merges[0]);
  merges.forEach((merge: unknown, i) => {
    const field = `model.merges[${i}]`;
    let parts: unknown[];
    if (pairs) {
      if (!Array.isArray(merge) || merge.length !== 2) throw new FormatError({ file, field, expected: "a pair [left, right] like the merges before it", actual: show(merge) });
      parts = merge;
    } else {
      if (typeof merge !== "string") throw new FormatError({ file, field, expected: 'a string "left right" like the merges before it', actual: show(merge) });
      parts = merge.split(" ");
      if (parts.length !== 2) throw new FormatError({ file, field, expected: 'two tokens separated by one space ("a b")', actual: show(merge) });
    }
    const [left, right] = parts;
    if (typeof left !== "string" || typeof right !== "string") throw new FormatError({ file, field, expected: "two token strings", actual: `${show(left)}, ${show(right)}` });
    for (const token of [left, right, left + right]) {
      if (!Object.hasOwn(vocab, token)) throw new FormatError({ file, field, expected: "a merge of vocabulary tokens into a vocabulary token", actual: `${show(token)} is not in model.vocab` });
    }
  });
}

/**
 * Rewrites pre-tokenizers whose tokenizers.js implementation disagrees with the Rust `tokenizers` crate into
 * equivalent ones it gets right: ByteLevel's built-in regex is compiled with JavaScript's \s (which wrongly includes
 * U+FEFF and misses U+0085), so we spell the same regex as a Split, whose Oniguruma translation is faithful; Digits
 * tests ASCII \d where Rust tests char::is_numeric (\p{N}).
 */
function adaptPreTokenizer(config: unknown, file: string, field: string): unknown {
  if (config === null) return null;
  if (!isRecord(config)) throw new FormatError({ file, field, expected: "an object or null", actual: show(config) });
  switch (config["type"]) {
    case "Sequence": {
      const inner = config["pretokenizers"];
      if (!Array.isArray(inner)) throw new FormatError({ file, field: `${field}.pretokenizers`, expected: "an array", actual: show(inner) });
      return { ...config, pretokenizers: inner.map((item, i) => adaptPreTokenizer(item, file, `${field}.pretokenizers[${i}]`)) };
    }
    case "ByteLevel":
      if (config["use_regex"] === false || config["add_prefix_space"] === true) return config;
      return {
        type: "Sequence",
        pretokenizers: [{ type: "Split", pattern: { Regex: GPT2_SPLIT }, behavior: "Isolated", invert: false }, { ...config, use_regex: false }],
      };
    case "Digits":
      return { type: "Split", pattern: { Regex: config["individual_digits"] === true ? String.raw`\p{N}` : String.raw`\p{N}+` }, behavior: "Isolated", invert: false };
    case "Split": {
      const behavior = String(config["behavior"]).toLowerCase();
      if ((behavior !== "isolated" && behavior !== "removed") || config["invert"] === true) {
        throw new UnsupportedError({
          file, field, expected: 'a Split with behavior "Isolated" or "Removed" and invert false',
          actual: `behavior ${show(config["behavior"])}, invert ${show(config["invert"])}`,
        });
      }
      return config;
    }
    default:
      return config;
  }
}

/** How token spellings turn back into bytes; the recognised subset of tokenizer.json decoders. */
interface DecodePlan {
  /** GPT-2 byte alphabet: each character of a token stands for one byte. */
  readonly byteLevel: boolean;
  /** Plain string replacements applied to each token (SentencePiece's ▁ -> space). */
  readonly replacements: readonly (readonly [string, string])[];
  /** <0xNN> tokens are raw bytes. */
  readonly byteFallback: boolean;
  /** Metaspace decoder: its replacement becomes a space, except in the first token where it is dropped. */
  readonly metaspace: { readonly replacement: string; readonly dropInFirstToken: boolean } | undefined;
  /** Leading spaces removed from the start of the text (Strip decoder after Fuse). */
  readonly stripLeadingSpaces: number;
}

function decodePlan(config: unknown, file: string): DecodePlan {
  const steps: { step: Json; field: string }[] = [];
  const flatten = (node: unknown, field: string): void => {
    if (!isRecord(node)) throw new UnsupportedError({ file, field, expected: "a decoder object", actual: show(node) });
    if (node["type"] === "Sequence") {
      const inner = node["decoders"];
      if (!Array.isArray(inner)) throw new FormatError({ file, field: `${field}.decoders`, expected: "an array", actual: show(inner) });
      inner.forEach((item, i) => flatten(item, `${field}.decoders[${i}]`));
    } else {
      steps.push({ step: node, field });
    }
  };
  flatten(config, "decoder");

  let byteLevel = false;
  let byteFallback = false;
  let fused = false;
  let metaspace: DecodePlan["metaspace"];
  let stripLeadingSpaces = 0;
  const replacements: (readonly [string, string])[] = [];
  const unsupported = (field: string, actual: string): never => {
    throw new UnsupportedError({
      file, field, actual,
      expected: "decoders ByteLevel; or Replace(string), ByteFallback, Fuse, Strip(\" \", n, 0) in that order; or Metaspace",
    });
  };
  for (const { step, field } of steps) {
    const type = step["type"];
    const tokenLevel = (): void => {
      if (fused || byteLevel || stripLeadingSpaces > 0) unsupported(field, `${show(type)} after the tokens were joined`);
    };
    switch (type) {
      case "ByteLevel":
        tokenLevel();
        byteLevel = true;
        break;
      case "Replace": {
        tokenLevel();
        const pattern = step["pattern"];
        const from = isRecord(pattern) ? pattern["String"] : undefined;
        const to = step["content"];
        if (typeof from !== "string" || Array.from(from).length !== 1 || typeof to !== "string" || byteFallback || metaspace !== undefined) {
          unsupported(field, `Replace ${show(pattern)} -> ${show(to)}`);
        }
        replacements.push([from as string, to as string]);
        break;
      }
      case "ByteFallback":
        tokenLevel();
        byteFallback = true;
        break;
      case "Metaspace": {
        tokenLevel();
        const replacement = typeof step["replacement"] === "string" ? step["replacement"] : SPM_SPACE;
        const scheme = step["prepend_scheme"];
        const dropInFirstToken = scheme === undefined ? step["add_prefix_space"] !== false : scheme !== "never";
        metaspace = { replacement, dropInFirstToken };
        break;
      }
      case "Fuse":
        fused = true;
        break;
      case "Strip":
        if ((!fused && !byteLevel) || step["content"] !== " " || step["stop"] !== 0 || typeof step["start"] !== "number") {
          unsupported(field, `Strip ${show(step["content"])} start ${show(step["start"])} stop ${show(step["stop"])}`);
        }
        stripLeadingSpaces += step["start"] as number;
        break;
      default:
        unsupported(field, show(type));
    }
  }
  if (byteLevel && (byteFallback || replacements.length > 0 || metaspace !== undefined)) unsupported("decoder", "ByteLevel mixed with SentencePiece decoders");
  return { byteLevel, replacements, byteFallback, metaspace, stripLeadingSpaces };
}

const BYTE_TO_CHAR: readonly string[] = (() => {
  // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards.
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
})();
const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((char, byte) => [char, byte]));

function isByteLevelSpelling(token: string): boolean {
  for (const char of token) if (!CHAR_TO_BYTE.has(char)) return false;
  return true;
}

function spellBytes(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += BYTE_TO_CHAR[byte];
  return out;
}

const textEncoder = new TextEncoder();
function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const LONE_SURROGATE = /\p{Cs}/u;

class LoadedTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  readonly addBosToken: boolean;
  readonly specialTokens: SpecialTokenTexts;
  private readonly specialIds: ReadonlySet<number>;
  private readonly bytesCache: (Uint8Array | undefined)[];

  constructor(
    private readonly library: LibraryTokenizer,
    private readonly plan: DecodePlan,
    private readonly options: BuildOptions,
  ) {
    this.vocabSize = options.idToToken.length;
    this.bytesCache = new Array(this.vocabSize);
    this.specialIds = new Set([...library.get_added_tokens_decoder().values()].filter((token) => token.special).map((token) => token.id));
    this.specialTokens = Object.freeze({ ...options.specialTokens });
    this.bosTokenId = options.bosTokenId;
    this.eosTokenIds = Object.freeze([...options.eosTokenIds]);
    this.padTokenId = options.padTokenId;
    this.unkTokenId = options.unkTokenId;
    this.addBosToken = this.bosTokenId !== undefined && this.encode("")[0] === this.bosTokenId;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new InputError({ file: "encode input", field: "text", expected: "a string", actual: show(text) });
    if (LONE_SURROGATE.test(text)) {
      const at = text.search(LONE_SURROGATE);
      throw new InputError({
        file: "encode input", field: "text", expected: "well-formed UTF-16 (no unpaired surrogates)",
        actual: `an unpaired surrogate U+${text.charCodeAt(at).toString(16).toUpperCase()} at index ${at}`,
      });
    }
    const ids: readonly (number | undefined)[] = this.library.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
    // tokenizers.js maps a piece it cannot represent to undefined (no unk token); the Rust crate drops it.
    return ids.filter((id): id is number => id !== undefined);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) throw new InputError({ file: "decode input", field: "ids", expected: "an array of token ids", actual: show(ids) });
    const stream = this.createStreamDecoder(options);
    let text = "";
    ids.forEach((id, i) => {
      this.checkId(id, `ids[${i}]`);
      text += stream.push(id);
    });
    return text + stream.flush();
  }

  idToToken(id: number): string {
    this.checkId(id, "id");
    return this.options.idToToken[id]!;
  }

  tokenToId(token: string): number | undefined {
    return this.library.token_to_id(token);
  }

  isSpecialToken(id: number): boolean {
    this.checkId(id, "id");
    return this.specialIds.has(id);
  }

  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const skipSpecial = options.skipSpecialTokens ?? false;
    let utf8Decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    let atStart = true;
    let stripRemaining = this.plan.stripLeadingSpaces;
    return {
      push: (id: number): string => {
        this.checkId(id, "id");
        if (skipSpecial && this.specialIds.has(id)) return "";
        let bytes = this.tokenBytes(id, atStart);
        atStart = false;
        if (stripRemaining > 0 && bytes.length > 0) {
          let cut = 0;
          while (cut < bytes.length && cut < stripRemaining && bytes[cut] === 0x20) cut++;
          stripRemaining = cut === bytes.length ? stripRemaining - cut : 0;
          bytes = bytes.subarray(cut);
        }
        return utf8Decoder.decode(bytes, { stream: true });
      },
      flush: (): string => {
        const rest = utf8Decoder.decode();
        utf8Decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
        atStart = true;
        stripRemaining = this.plan.stripLeadingSpaces;
        return rest;
      },
    };
  }

  private checkId(id: number, field: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.options.idToToken[id] === undefined) {
      throw new InputError({ file: "token ids", field, expected: `an integer token id in 0..${this.vocabSize - 1}`, actual: show(id) });
    }
  }

  /** The bytes a token stands for; `first` matters only to the Metaspace decoder. */
  private tokenBytes(id: number, first: boolean): Uint8Array {
    const usesFirst = first && this.plan.metaspace !== undefined;
    if (!usesFirst) {
      const cached = this.bytesCache[id];
      if (cached !== undefined) return cached;
    }
    const token = this.options.idToToken[id]!;
    let bytes: Uint8Array;
    if (this.plan.byteLevel) {
      // Like the Rust ByteLevel decoder: a token not spelled in the byte alphabet (an odd added token) is its text.
      bytes = isByteLevelSpelling(token) ? Uint8Array.from(Array.from(token, (char) => CHAR_TO_BYTE.get(char)!)) : utf8(token);
    } else {
      const byteToken = this.plan.byteFallback ? BYTE_TOKEN.exec(token) : null;
      if (byteToken !== null) {
        bytes = Uint8Array.of(parseInt(byteToken[1]!, 16));
      } else {
        let text = token;
        for (const [from, to] of this.plan.replacements) text = text.replaceAll(from, to);
        const metaspace = this.plan.metaspace;
        if (metaspace !== undefined) text = text.replaceAll(metaspace.replacement, first && metaspace.dropInFirstToken ? "" : " ");
        bytes = utf8(text);
      }
    }
    if (!usesFirst) this.bytesCache[id] = bytes;
    return bytes;
  }
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
