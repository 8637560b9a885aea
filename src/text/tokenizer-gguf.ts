// A GGUF file's tokenizer.ggml.* metadata -> a tokenizer.json definition -> the tokenizer; also written out as HF
// files by the converter. Follows transformers' own GGUF conversion (integrations/gguf/gguf_tokenizer_mapping.py),
// which is our test oracle, except where transformers has no entry for a pre-tokenizer name and llama.cpp does;
// there we follow llama.cpp and the model's original tokenizer.json (see BYTE_LEVEL_PRE_TOKENIZERS).

import { FormatError, UnsupportedError, show } from "../errors.js";
import type { GgufFile, GgufValue } from "../io/gguf.js";
import {
  buildTokenizer, endOfTurnTokenIds, GPT2_SPLIT, isByteLevelSpelling, isRecord, type Json, MAX_TOKEN_ID, specialTextsFromConfig, spellBytes, SPM_SPACE, templateProcessing,
  type Tokenizer, utf8,
} from "./tokenizer.js";

// Pre-tokenizer regexes of the byte-level BPE families (their tokenizer.json files spell the same).
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

/** Architectures whose "llama" (SentencePiece) vocabularies need their own conversion in transformers. */
const SENTENCEPIECE_ARCHITECTURES_WITH_OWN_RULES: readonly string[] = ["gemma4", "phi3"];
/** Architectures whose vocabularies transformers converts with its gemma_tokenizer rules (see below). */
const GEMMA_ARCHITECTURES: readonly string[] = ["gemma", "gemma2", "gemma3"];

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
  let normalizer: object | null = null;
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
  } else if (GEMMA_ARCHITECTURES.includes(meta.optionalString("general.architecture") ?? "")) {
    // transformers' gemma_tokenizer (integrations/gguf/gguf_tokenizer_mapping.py) and GemmaTokenizer: tokens made of
    // spaces only are stored with real spaces but looked up as U+2581 runs; the merges come from the vocabulary in
    // file order (Gemma's scores do not follow its merge order); spaces become U+2581 in a normalizer, with no
    // prefix space and no pre-tokenizer split.
    spelled = tokens.map((token) => (token.includes(" ") && token.trim() === "" ? SPM_SPACE.repeat(Array.from(token).length) : token));
    modelJson = {
      type: "BPE", dropout: null, unk_token: unk === undefined ? null : spelled[unk], continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab: vocabObject(spelled), merges: mergesFromScores(spelled, spelled.map((_, id) => -id)),
    };
    normalizer = { type: "Replace", pattern: { String: " " }, content: SPM_SPACE };
    preTokenizer = null;
    decoder = { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: SPM_SPACE }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }] };
    addBos = meta.optionalBool("tokenizer.ggml.add_bos_token") ?? true;
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
    normalizer,
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
