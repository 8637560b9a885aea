// Fuzz cases: what each target mutates and how a case is described. A case is plain JSON (seed names, edits,
// encoded prompt and options), so a failing one can be written to test/fixtures/fuzz-regressions/ and replayed
// without the fuzzer's random choices.

import { diffText, type Edit } from "./edits.js";
import { ggufLayout, type GgufLayout } from "./gguf-layout.js";
import { type JsonDictionary, mutateJson } from "./mutate-json.js";
import { mutateGguf } from "./mutate-gguf.js";
import { mutateSafetensors, safetensorsLayout, type SafetensorsLayout } from "./mutate-safetensors.js";
import { Rng } from "./rng.js";
import { GGUF_TINY_SEEDS, type SeedName, Seeds, ST_TINY_SEEDS } from "./seeds.js";

export interface FileSpec {
  readonly seed: SeedName;
  readonly edits: readonly Edit[];
}

export type TargetName =
  | "gguf-tiny" | "gguf-smol" | "truncate-sweep" | "safetensors" | "config" | "tokenizer" | "tokenizer-config" | "tokenizer-smol"
  | "chat" | "options";

export interface LoadSpec {
  /** undefined: the engine's default (the model's context, at most 2048). */
  readonly maxContext?: number;
  /** Pass the precompiled kernel module (as Workers do) instead of compiling per load. */
  readonly precompiled: boolean;
}

export interface FuzzCase {
  readonly target: TargetName;
  readonly index: number;
  readonly label: string;
  /** The input's tensor data may have changed: non-finite logits are then an allowed (typed) outcome. */
  readonly touchesData: boolean;
  readonly gguf?: FileSpec;
  readonly hf?: { readonly config: FileSpec; readonly safetensors: FileSpec; readonly tokenizer: FileSpec; readonly tokenizerConfig: FileSpec | null };
  readonly tokenizerOnly?: { readonly tokenizer: FileSpec; readonly tokenizerConfig: FileSpec };
  /** Runs on the worker's shared tiny model (chat messages, generate options). */
  readonly session?: boolean;
  readonly load?: LoadSpec;
  /** Encoded (see encode()): a string or chat messages. */
  readonly prompt: unknown;
  /** Encoded generate options. */
  readonly options: unknown;
}

// -------------------------------------------------------------------------------------------------------------
// Values JSON cannot hold (NaN, -0, undefined, AbortSignals) are tagged objects { "$": ... }.

export function encode(value: unknown): unknown {
  if (value === undefined) return { $: "undefined" };
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { $: "NaN" };
    if (value === Infinity) return { $: "Infinity" };
    if (value === -Infinity) return { $: "-Infinity" };
    if (Object.is(value, -0)) return { $: "-0" };
    return value;
  }
  if (typeof value === "bigint") return { $: "bigint", v: String(value) };
  if (typeof AbortSignal !== "undefined" && value instanceof AbortSignal) return { $: value.aborted ? "aborted-signal" : "signal" };
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: encode(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

export function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    const tag = (value as { $?: unknown }).$;
    if (typeof tag === "string" && Object.keys(value).length <= 2) {
      switch (tag) {
        case "undefined": return undefined;
        case "NaN": return NaN;
        case "Infinity": return Infinity;
        case "-Infinity": return -Infinity;
        case "-0": return -0;
        case "bigint": return BigInt((value as { v: string }).v);
        case "aborted-signal": return AbortSignal.abort();
        case "signal": return new AbortController().signal;
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: decode(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

// -------------------------------------------------------------------------------------------------------------
// Dictionaries of the formats' own vocabulary.

const CONFIG_DICTIONARY: JsonDictionary = {
  keys: [
    "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size", "vocab_size",
    "max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_scaling", "rope_parameters", "partial_rotary_factor",
    "tie_word_embeddings", "hidden_act", "attention_bias", "mlp_bias", "model_type", "architectures", "sliding_window",
    "original_max_position_embeddings", "torch_dtype", "bos_token_id", "eos_token_id",
  ],
  values: [
    "llama", "mistral", "gemma", ["LlamaForCausalLM"], ["MistralForCausalLM"], ["GPT2LMHeadModel"], "silu", "gelu", 64, 160, 256, 16, 4, 2,
    8, 32, 128, 10000, 1e-5, 1e-6, 0.25, 1, null, true, false,
    { type: "linear", factor: 2 }, { rope_type: "linear", factor: 0 }, { rope_type: "default" }, { rope_type: "yarn", factor: 4 },
    { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    { rope_type: "llama3", factor: 8, low_freq_factor: 4, high_freq_factor: 1 }, { rope_theta: 500000 }, { factor: 1e-300, type: "linear" },
    { rope_type: "llama3", factor: 1e-300, low_freq_factor: 1, high_freq_factor: 4 }, { partial_rotary_factor: 0.5 }, {},
  ],
  strings: ["llama", "mistral", "silu", "linear", "llama3", "LlamaForCausalLM", "float32"],
};

const TOKENIZER_DICTIONARY: JsonDictionary = {
  keys: [
    "model", "vocab", "merges", "added_tokens", "pre_tokenizer", "normalizer", "post_processor", "decoder", "type", "id", "content",
    "special", "byte_fallback", "ignore_merges", "unk_token", "fuse_unk", "dropout", "pretokenizers", "decoders", "pattern",
    "behavior", "invert", "add_prefix_space", "use_regex", "individual_digits", "continuing_subword_prefix", "end_of_word_suffix",
  ],
  values: [
    "BPE", "WordPiece", "Unigram", "WordLevel", "ByteLevel", "Metaspace", "Sequence", "Split", "Digits", "Whitespace", "NFC", "NFKC",
    "Lowercase", "Replace", "Strip", "Fuse", "ByteFallback", "TemplateProcessing", "RobertaProcessing", "Isolated", "Removed",
    "MergedWithPrevious", { Regex: "(" }, { Regex: "\\p{Foo}" }, { Regex: "(a+)+$" }, { Regex: "" }, { Regex: "(?<=a)b" }, { String: "" },
    { String: " " }, { type: "ByteLevel", add_prefix_space: true, use_regex: true }, { type: "Split", pattern: { Regex: "\\s+" }, behavior: "Isolated", invert: true },
    { type: "Sequence", pretokenizers: [] }, { type: "Sequence", decoders: [{ type: "Fuse" }, { type: "ByteLevel" }] }, { type: "Metaspace", replacement: "▁" },
    { type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "Strip", content: " ", start: 1, stop: 0 }, { type: "Digits", individual_digits: true },
    { id: 300, content: "<big>", special: true }, { id: -1, content: "x" }, { id: 5, content: "he", special: true }, { id: 2 ** 31 - 1, content: "far" },
    { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<|im_start|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [], special_tokens: { "<|im_start|>": { id: "<|im_start|>", ids: [99999], tokens: ["<|im_start|>"] } } },
    ["Ġ", "t"], ["x", "y"], "Ġ t", "h e", "a b c", " ", "Ġt he", 2 ** 31 - 1, 300, 255, 256, -1,
  ],
  strings: ["Ġt", "he", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "Ġ", "▁", "<0x41>", "ByteLevel", "BPE", "Ġ t"],
};

const MALICIOUS_TEMPLATES = [
  "{{ messages.constructor.constructor('return process')() }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
  "{{ messages.__proto__ }}", "{{ raise_exception.constructor('return globalThis')() }}", "{{ range.constructor('return process')() }}",
  "{% for i in range(1000000000) %}x{% endfor %}", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
  "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "{% set s = 'xxxxxxxx' %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s }}",
  "{{ 'x' | indent(1000000000) }}", "{{ messages | tojson(indent=100000000) }}", "{{ raise_exception('bad') }}", "{{ strftime_now('%Y-%m-%d') }}",
  "{{ 1 / 0 }}", "{{ messages[100]['content'] }}", "{{ messages[0].content.split('') | join(',') }}", "{% if %}", "{{", "{% endfor %}",
  "{{ bos_token ~ eos_token }}", "{{ x.y.z }}", "{% for m in messages %}{{ m['role'] | upper }}{% endfor %}", "{{ range(-5) }}",
  "{{ range(0, 10, 0) }}", "{{ messages | length }}", "{{ (messages | first)['content'] * 3 }}", "{% set ns = namespace(a=1) %}{{ ns.a }}",
];

const TOKENIZER_CONFIG_DICTIONARY: JsonDictionary = {
  keys: ["add_bos_token", "add_eos_token", "bos_token", "eos_token", "pad_token", "unk_token", "chat_template", "added_tokens_decoder", "model_max_length", "clean_up_tokenization_spaces", "tokenizer_class"],
  values: [
    true, false, "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<not-a-token>", { content: "<|im_end|>" }, { content: 5 }, [], 1e30,
    [{ name: "default", template: "{{ messages[0]['content'] }}" }], [{ name: "tool_use", template: "x" }], [{ name: "default" }], ...MALICIOUS_TEMPLATES,
  ],
  strings: ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "", ...MALICIOUS_TEMPLATES.slice(0, 8)],
};

/** Jinja-level damage to a chat template: snippets spliced in, ranges removed, delimiters swapped. */
function mutateTemplate(rng: Rng, template: string): string {
  const at = rng.int(template.length + 1);
  switch (rng.int(6)) {
    case 0: return template.slice(0, at) + rng.pick(MALICIOUS_TEMPLATES) + template.slice(at);
    case 1: return template.slice(0, at) + template.slice(Math.min(template.length, at + rng.range(1, 20)));
    case 2: return template.replace(/\{\{ ?'<\|im_start\|>'/, rng.pick(["{{ '<|im_start|>' * 2", "{{ message.role.x", "{{ messages.pop()", "{{ message"]));
    case 3: return template.replaceAll(rng.pick(["{%", "{{", "%}", "}}", "message", "'"]), rng.pick(["{{", "{%", "}}", "", "m", '"']));
    case 4: return template.slice(0, at) + rng.pick(["{{ ", " }}", "{% ", " %}", "{# ", " #}", "{%- ", " -%}", "\\", "'", "\u0000", "\ud800"]) + template.slice(at);
    default: return rng.pick(MALICIOUS_TEMPLATES);
  }
}

// -------------------------------------------------------------------------------------------------------------
// Prompts and options.

const TEXT_PIECES = [
  "", "Hello", "What is 2+2?", "the", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "\ud800", "\udc00x", "x\ud83d", "😀", "\u0000",
  "{{ messages }}", "{% if %}", " ", "\n", "é", "\u202e", "Ġ", "\ufeff", "a".repeat(300), "hello there, the inner ll",
];

function randomText(rng: Rng): string {
  let out = "";
  const n = rng.weighted([[30, 1], [30, 2], [20, 3], [5, 0], [15, 4]] as const);
  for (let i = 0; i < n; i++) out += rng.pick(TEXT_PIECES);
  return out;
}

function randomMessages(rng: Rng): unknown {
  if (rng.chance(0.05)) return rng.pick([null, "hi", 42, {}, [], { role: "user", content: "x" }, undefined, [[]]]);
  const count = rng.weighted([[40, 1], [30, 2], [15, 3], [5, 0], [5, 6], [5, 20]] as const);
  const messages: unknown[] = [];
  for (let i = 0; i < count; i++) {
    if (rng.chance(0.06)) {
      messages.push(rng.pick([
        null, "user", 1, [], { role: "user" }, { content: "x" }, { role: 1, content: "x" }, { role: "user", content: 5 }, { role: "user", content: null },
        { role: "user", content: ["a"] }, { role: "", content: "x" }, { role: "user", content: "x", __proto__: { admin: true } },
      ]));
      continue;
    }
    const message: Record<string, unknown> = {
      role: rng.pick(["system", "user", "assistant", "user", "assistant", "tool", "developer", "<|im_start|>", "user\n", "\ud800", "x".repeat(50)]),
      content: randomText(rng),
    };
    if (rng.chance(0.05)) message["name"] = rng.pick(["bob", 5, null]);
    if (rng.chance(0.03)) message["tool_calls"] = [{ function: { name: "f", arguments: "{}" } }];
    messages.push(message);
  }
  return messages;
}

const OPTION_VALUES: Readonly<Record<string, readonly unknown[]>> = {
  maxTokens: [1, 2, 3, 5, 0, -1, 1.5, NaN, Infinity, "3", null, 2 ** 53, 1e9, -0, true],
  temperature: [0, 0.7, 1, 2, -1, NaN, Infinity, -Infinity, "0.5", null, 1e-30, 1e30, -0],
  topK: [0, 1, 5, 300, -1, 1.5, NaN, Infinity, "5", 2 ** 53],
  topP: [1, 0.9, 0.5, 0, 1.5, -0.1, NaN, Infinity, 1e-30, "0.9"],
  minP: [0, 0.05, 0.99, 1, -0.5, NaN, Infinity],
  repetitionPenalty: [1, 1.1, 2, 0, -1, NaN, Infinity, 1e-30, 1e30],
  repetitionWindow: [null, 1, 64, 0, -1, 1.5, NaN, Infinity, "64"],
  seed: [0, 1, 42, 2 ** 53 - 1, 2 ** 53, -1, 1.5, NaN, Infinity, "1", null],
  stop: [[], ["\n"], ["the"], [""], ["\ud800"], "stop", [5], null, Array.from({ length: 100 }, (_, i) => `s${i}`), ["a", "a"], ["<|im_end|>"]],
  stopOnEos: [true, false, "no", 0, null],
  signal: [AbortSignal.abort(), new AbortController().signal, { aborted: true }, "signal", null, 5],
  skip: ["off", "on", "paper", null, 5, { kind: "off" }, { kind: "fixed", warmup: 0, layers: [0] }, { kind: "fixed", warmup: 0, layers: [99] },
    { kind: "random", warmup: 0, coldStart: 0, coldEnd: 2, count: 1, seed: 1 }, { kind: "paper", warmup: NaN, coldStart: 0, coldEnd: 2, threshold: 0.5, k: 1 },
    { kind: "paper", warmup: 0, coldStart: 1, coldEnd: 1, threshold: 0.5, k: 1 }, { kind: "x" }, { kind: "fixed", warmup: 0, layers: [0, 0] }],
  chat: [true, false, "yes", 1, null],
  addSpecialTokens: [true, false, "no", 0, null],
  max_tokens: [5],
  temp: [0.5],
};

function randomOptions(rng: Rng, maxTokens: number): Record<string, unknown> {
  const options: Record<string, unknown> = { maxTokens };
  const keys = Object.keys(OPTION_VALUES);
  const count = rng.weighted([[30, 1], [30, 2], [20, 3], [10, 5], [10, 0]] as const);
  for (let i = 0; i < count; i++) {
    const key = rng.pick(keys);
    options[key] = rng.pick(OPTION_VALUES[key]!);
  }
  if (rng.chance(0.03)) return rng.pick([null, "x", [], 5]) as never;
  return options;
}

function modelPrompt(rng: Rng): unknown {
  return rng.weighted<unknown>([[50, "Hello"], [10, ""], [10, "the inner"], [20, [{ role: "user", content: "Hi" }]], [10, "\n\n"]]);
}

// -------------------------------------------------------------------------------------------------------------
// Case generation.

/** Target weights of a random campaign. */
export const TARGET_WEIGHTS: readonly (readonly [number, TargetName])[] = [
  [30, "gguf-tiny"], [3, "gguf-smol"], [14, "safetensors"], [12, "config"], [10, "tokenizer"], [10, "tokenizer-config"],
  [1.5, "tokenizer-smol"], [9, "chat"], [9, "options"],
];

/** Everything the generators need, parsed once per worker. */
export class CaseFactory {
  private readonly ggufLayouts = new Map<SeedName, GgufLayout>();
  private readonly stLayouts = new Map<SeedName, SafetensorsLayout>();
  private readonly parsedText = new Map<SeedName, unknown>();
  private sweep: { seed: SeedName; at: number }[] | undefined;

  constructor(readonly seeds: Seeds, readonly campaignSeed: number) {}

  ggufLayout(seed: SeedName): GgufLayout {
    let layout = this.ggufLayouts.get(seed);
    if (layout === undefined) this.ggufLayouts.set(seed, (layout = ggufLayout(this.seeds.bytes(seed))));
    return layout;
  }

  private stLayout(seed: SeedName): SafetensorsLayout {
    let layout = this.stLayouts.get(seed);
    if (layout === undefined) this.stLayouts.set(seed, (layout = safetensorsLayout(this.seeds.bytes(seed))));
    return layout;
  }

  private parsed(seed: SeedName): unknown {
    let value = this.parsedText.get(seed);
    if (value === undefined) this.parsedText.set(seed, (value = JSON.parse(this.seeds.string(seed))));
    return value;
  }

  /**
   * Truncation at every field boundary of the tiny GGUFs and safetensors files, and at every boundary of the
   * SmolLM2 header outside its three 49k-element arrays (of which the first and last 32 elements are kept).
   */
  truncationPoints(): { seed: SeedName; at: number }[] {
    if (this.sweep !== undefined) return this.sweep;
    const points: { seed: SeedName; at: number }[] = [];
    const ggufSeeds: SeedName[] = [...GGUF_TINY_SEEDS];
    if (this.seeds.smolAvailable) ggufSeeds.push("gguf-smol");
    for (const seed of ggufSeeds) {
      const layout = this.ggufLayout(seed);
      const seen = new Set<number>();
      for (const f of layout.fields) {
        if (seed === "gguf-smol" && f.index !== undefined && f.index >= 32 && f.index < 49152 - 32 && (f.owner.startsWith("tokenizer.ggml."))) continue;
        for (const at of [f.at, f.at + f.size]) if (!seen.has(at)) { seen.add(at); points.push({ seed, at }); }
      }
      // And inside the tensor data: at each tensor's start and end.
      const bytes = this.seeds.bytes(seed);
      for (const t of layout.tensors) {
        const start = layout.dataStart + Number(t.offset);
        for (const at of [start, start + 1]) if (at < bytes.length && !seen.has(at)) { seen.add(at); points.push({ seed, at }); }
      }
      points.push({ seed, at: bytes.length - 1 });
    }
    for (const seed of ST_TINY_SEEDS) {
      const layout = this.stLayout(seed);
      const bytes = this.seeds.bytes(seed);
      const cuts = new Set<number>([0, 1, 4, 7, 8, 9, layout.dataStart - 1, layout.dataStart, bytes.length - 1]);
      // Every 64th byte of the header and each tensor boundary.
      for (let at = 8; at < layout.dataStart; at += 64) cuts.add(at);
      for (const [b, e] of layout.spans) { cuts.add(b); cuts.add(e); cuts.add(b + 1); }
      for (const at of [...cuts].sort((a, b) => a - b)) if (at < bytes.length) points.push({ seed, at });
    }
    this.sweep = points;
    return points;
  }

  /** The case at `index` of target `target` (deterministic in campaign seed, target and index). */
  make(target: TargetName, index: number): FuzzCase {
    const rng = new Rng(Rng.seedOf(this.campaignSeed, target, index));
    const load: LoadSpec = { maxContext: rng.weighted([[60, 8], [25, undefined], [15, 16]] as const), precompiled: rng.chance(0.85) };
    const base = { target, index, prompt: encode(modelPrompt(rng)), options: encode({ maxTokens: 2 }), load };
    switch (target) {
      case "gguf-tiny":
      case "gguf-smol": {
        const seed: SeedName = target === "gguf-smol" ? "gguf-smol" : rng.pick(GGUF_TINY_SEEDS);
        const m = mutateGguf(rng, this.seeds.bytes(seed), this.ggufLayout(seed));
        const smolLoad = { maxContext: rng.chance(0.85) ? 8 : 64, precompiled: true };
        return { ...base, load: target === "gguf-smol" ? smolLoad : load, label: `${seed} ${m.label}`, touchesData: m.touchesData, gguf: { seed, edits: m.edits } };
      }
      case "truncate-sweep": {
        const points = this.truncationPoints();
        const { seed, at } = points[index % points.length]!;
        const length = this.seeds.bytes(seed).length;
        const file: FileSpec = { seed, edits: [{ at, del: length - at, ins: "" }] };
        const smolLoad = { maxContext: 8, precompiled: true };
        if (seed.startsWith("gguf")) return { ...base, load: seed === "gguf-smol" ? smolLoad : load, label: `${seed} truncate@${at}`, touchesData: true, gguf: file };
        return { ...base, label: `${seed} truncate@${at}`, touchesData: true, hf: this.hfFiles(seed, { safetensors: file }) };
      }
      case "safetensors": {
        const seed = rng.pick(ST_TINY_SEEDS);
        const m = mutateSafetensors(rng, this.seeds.bytes(seed), this.stLayout(seed));
        return { ...base, label: `${seed} ${m.label}`, touchesData: m.touchesData, hf: this.hfFiles(seed, { safetensors: { seed, edits: m.edits } }) };
      }
      case "config":
      case "tokenizer":
      case "tokenizer-config": {
        // A third of tokenizer cases use the SentencePiece-style vocabulary (with its own tokenizer_config.json).
        const spm = target !== "config" && rng.chance(1 / 3);
        const seed: SeedName = target === "config" ? "config-tiny" : target === "tokenizer" ? (spm ? "tokenizer-spm" : "tokenizer-tiny") : (spm ? "tokenizer-config-spm" : "tokenizer-config-tiny");
        const dict = target === "config" ? CONFIG_DICTIONARY : target === "tokenizer" ? TOKENIZER_DICTIONARY : TOKENIZER_CONFIG_DICTIONARY;
        const text = this.seeds.string(seed);
        let mutated: string;
        let label: string;
        if (target === "tokenizer-config" && rng.chance(0.35)) {
          const config = { ...(this.parsed(seed) as Record<string, unknown>) };
          config["chat_template"] = mutateTemplate(rng, String(config["chat_template"]));
          mutated = JSON.stringify(config);
          label = "template";
        } else {
          mutated = mutateJson(rng, text, this.parsed(seed), dict);
          label = "json";
        }
        const slot = target === "config" ? "config" : target === "tokenizer" ? "tokenizer" : "tokenizerConfig";
        const stSeed = rng.pick(ST_TINY_SEEDS);
        const spmPair: Partial<Record<"tokenizer" | "tokenizerConfig", FileSpec>> = spm ? { tokenizer: { seed: "tokenizer-spm", edits: [] }, tokenizerConfig: { seed: "tokenizer-config-spm", edits: [] } } : {};
        const hf = this.hfFiles(stSeed, { ...spmPair, [slot]: { seed, edits: diffText(text, mutated) } });
        const prompt = target === "tokenizer-config" && rng.chance(0.5) ? encode(randomMessages(rng)) : base.prompt;
        return { ...base, prompt, label: `${target}${spm ? " spm" : ""} ${label}`, touchesData: false, hf };
      }
      case "tokenizer-smol": {
        const text = this.seeds.string("tokenizer-smol");
        const mutated = mutateJson(rng, text, this.parsed("tokenizer-smol"), TOKENIZER_DICTIONARY);
        return {
          ...base, label: "tokenizer-smol json", touchesData: false, prompt: encode(rng.pick(["Hello world", "What is 2+2?", "  a  1 😀 é"])),
          tokenizerOnly: { tokenizer: { seed: "tokenizer-smol", edits: diffText(text, mutated) }, tokenizerConfig: { seed: "tokenizer-config-smol", edits: [] } },
        };
      }
      case "chat": {
        const options = encode({ maxTokens: rng.range(1, 3) });
        return { ...base, label: "chat", touchesData: false, session: true, prompt: encode(randomMessages(rng)), options };
      }
      case "options": {
        const prompt = rng.chance(0.8) ? rng.pick(["Hello", "the", "", "\ud800"]) : randomMessages(rng);
        return { ...base, label: "options", touchesData: false, session: true, prompt: encode(prompt), options: encode(randomOptions(rng, rng.range(1, 4))) };
      }
    }
  }

  private hfFiles(st: SeedName, override: Partial<Record<"config" | "safetensors" | "tokenizer" | "tokenizerConfig", FileSpec>>): NonNullable<FuzzCase["hf"]> {
    return {
      config: override.config ?? { seed: "config-tiny", edits: [] },
      safetensors: override.safetensors ?? { seed: st, edits: [] },
      tokenizer: override.tokenizer ?? { seed: "tokenizer-tiny", edits: [] },
      tokenizerConfig: override.tokenizerConfig ?? { seed: "tokenizer-config-tiny", edits: [] },
    };
  }
}

/** Which target case `index` of a random campaign belongs to, and its index within that target. */
export function targetOf(campaignSeed: number, index: number, smolAvailable: boolean, weights = TARGET_WEIGHTS): TargetName {
  const rng = new Rng(Rng.seedOf(campaignSeed, "target", index));
  return rng.weighted(smolAvailable ? weights : weights.filter(([, t]) => t !== "gguf-smol" && t !== "tokenizer-smol"));
}
