// The tokenizer proper: text <-> token ids for a tokenizer.json definition, whatever it was made from (a Hugging
// Face folder, tokenizer-hf.ts, or a GGUF file's metadata, tokenizer-gguf.ts). Encoding runs on
// @huggingface/tokenizers; decoding is ours (token -> bytes -> UTF-8) so that decode and the streaming decoder share
// one byte-exact definition. Strings and objects in, never paths: this runs on edge workers.

import { Tokenizer as LibraryTokenizer } from "@huggingface/tokenizers";
import { ConfigError, FormatError, InputError, UnsupportedError, show } from "../errors.js";

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
  /**
   * Characters in the longest token's spelling: no token covers more text than this (a byte-level spelling has one
   * character per byte, a SentencePiece one a character per character), so it bounds what a prompt can encode to.
   */
  readonly longestTokenLength: number;
  /** The id of a token spelled as in the vocabulary, or undefined. */
  tokenToId(token: string): number | undefined;
  isSpecialToken(id: number): boolean;
  /**
   * Per id, the bytes the token adds to decoded text (as any token after the first), or undefined for special tokens
   * and unused ids: what constrained decoding (sample/json-schema.ts) matches tokens by.
   */
  vocabularyBytes(): readonly (Uint8Array | undefined)[];
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
}

/** Token texts that close a chat turn in common templates. */
export const END_OF_TURN_TEXTS: readonly string[] = [
  "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
];

/**
 * Largest token id a tokenizer.json may use (2^20; real vocabularies stay below 300k). Ids index dense arrays, and a
 * vocabulary with ids up to 2^31 would make every pass over them take seconds.
 */
export const MAX_TOKEN_ID = (1 << 20) - 1;

export type Json = Record<string, unknown>;

/** GPT-2's pre-tokenizer regex (ByteLevel with use_regex). */
export const GPT2_SPLIT = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
/** SentencePiece's space marker. */
export const SPM_SPACE = "\u2581";

// ---------------------------------------------------------------------------------------------------------------
// Shared by both sources: special tokens, end-of-turn ids, the BOS/EOS post-processor

/** A TemplateProcessing post-processor that puts `bos` before and `eos` after each sequence (either may be absent). */
export function templateProcessing(bos: { text: string; id: number } | undefined, eos: { text: string; id: number } | undefined): Json {
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

/** The bos/eos/pad/unk token texts a tokenizer_config.json names (a string, or an AddedToken object). */
export function specialTextsFromConfig(config: Json, file: string): SpecialTokenTexts {
  const text = (name: string): string | undefined => {
    const value = config[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (isRecord(value) && typeof value["content"] === "string") return value["content"];
    throw new ConfigError({ file, field: name, expected: "a token text or { content: string }", actual: show(value) });
  };
  return { bos: text("bos_token"), eos: text("eos_token"), pad: text("pad_token"), unk: text("unk_token") };
}

/** EOS first, then the declared end-of-turn ids, then the specials whose text ends turns in the chat template. */
export function endOfTurnTokenIds(
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

export interface BuildOptions {
  readonly file: string;
  readonly idToToken: readonly (string | undefined)[];
  readonly specialTokens: SpecialTokenTexts;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
}

/** The tokenizer a tokenizer.json definition describes (checked: BPE, a pre-tokenizer and decoder we run exactly). */
export function buildTokenizer(tokenizerJson: Json, options: BuildOptions): Tokenizer {
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

export function isByteLevelSpelling(token: string): boolean {
  for (const char of token) if (!CHAR_TO_BYTE.has(char)) return false;
  return true;
}

export function spellBytes(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += BYTE_TO_CHAR[byte];
  return out;
}

const textEncoder = new TextEncoder();
export function utf8(text: string): Uint8Array {
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
  private longest = 0;

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

  get longestTokenLength(): number {
    if (this.longest === 0) for (const token of this.options.idToToken) this.longest = Math.max(this.longest, token?.length ?? 0, 1);
    return this.longest;
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

  vocabularyBytes(): readonly (Uint8Array | undefined)[] {
    const bytes: (Uint8Array | undefined)[] = new Array(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) {
      bytes[id] = this.options.idToToken[id] === undefined || this.specialIds.has(id) ? undefined : this.tokenBytes(id, false);
    }
    return bytes;
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

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
