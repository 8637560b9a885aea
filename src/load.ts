// The portable front door: model bytes (no paths, no fetching) to a LanguageModel. A GGUF file carries config,
// weights, tokenizer and chat template; a Hugging Face folder brings them as separate files.

import { FormatError, InputError, show } from "./errors.js";
import { LanguageModel, type SkipSetting, type SurrogateSource } from "./language-model.js";
import { modelFingerprint } from "./model/fingerprint.js";
import { createTransformer, type EngineOptions } from "./model/load.js";
import { chatTemplateFromGguf, chatTemplateFromHf, createChatTemplate, CHATML_TEMPLATE } from "./text/chat-template.js";
import type { Tokenizer } from "./text/tokenizer.js";
import { tokenizerFromGguf } from "./text/tokenizer-gguf.js";
import { tokenizerFromHf } from "./text/tokenizer-hf.js";
import { parseJson } from "./io/byte-reader.js";
import { type GgufFile, readGguf } from "./io/gguf.js";
import { readSafetensors, readSafetensorsIndex } from "./io/safetensors.js";
import { type Config, configFromGguf, configFromHf } from "./model/config.js";
import { ENGINE_OPTION_KEYS, ggufWeightSource, safetensorsWeightSource } from "./model/load.js";
import { FAMILIES } from "./model/family.js";
import { LAYER_TENSORS } from "./model/tensor-names.js";
import type { WeightSource } from "./model/weights.js";

type Bytes = Uint8Array | ArrayBuffer;
type JsonText = string | object;

/** A Hugging Face model folder's files, as bytes and text. */
export interface HfFolderSource {
  /** Names the model in errors (e.g. the folder path). */
  readonly name?: string;
  /** config.json */
  readonly config: JsonText;
  /** model.safetensors bytes, or every shard by file name (with `safetensorsIndex` naming which holds what). */
  readonly safetensors: Bytes | Readonly<Record<string, Bytes>>;
  readonly safetensorsIndex?: JsonText;
  /** tokenizer.json; without it the model runs on token ids only. */
  readonly tokenizer?: JsonText;
  readonly tokenizerConfig?: JsonText;
  readonly generationConfig?: JsonText;
}

/** What loadModel() accepts: GGUF bytes, `{ gguf }`, or an HF folder's files. */
export type ModelSource = Bytes | { readonly gguf: Bytes; readonly name?: string } | HfFolderSource;

export interface LoadOptions extends EngineOptions {
  /** FFN skipping for generation: "off" (default), "on" (shipped profile), a profile, or a policy. */
  readonly skip?: SkipSetting;
  /** FFN surrogates fitted for this model (`ffnskip calibrate --surrogates`): skipped FFNs run them instead of nothing. */
  readonly surrogates?: SurrogateSource;
}

/** Loads a model from bytes: GGUF bytes, `{ gguf }`, or an HF folder's files `{ config, safetensors, tokenizer }`. */
export async function loadModel(source: ModelSource, options: LoadOptions = {}): Promise<LanguageModel> {
  checkLoadOptionKeys(options);
  const parsed = parseModelSource(source);
  let tokenizer: Tokenizer;
  let chatTemplate;
  if (parsed.gguf !== undefined) {
    tokenizer = tokenizerFromGguf(parsed.gguf);
    chatTemplate = chatTemplateFromGguf(parsed.gguf);
  } else {
    const hf = parsed.hf!;
    if (hf.tokenizer === undefined) {
      throw new FormatError({ file: `${parsed.name}/tokenizer.json`, expected: "a tokenizer.json to turn text into token ids", actual: "missing" });
    }
    tokenizer = tokenizerFromHf(hf.tokenizer, hf.tokenizerConfig);
    chatTemplate = hf.tokenizerConfig !== undefined ? chatTemplateFromHf(hf.tokenizerConfig) : createChatTemplate(CHATML_TEMPLATE, {}, "ChatML fallback");
  }
  const [transformer, fingerprint] = await Promise.all([createTransformer(parsed.config, parsed.weights, options), modelFingerprint(parsed.config, parsed.weights)]);
  return new LanguageModel(parsed.name, parsed.config, transformer, tokenizer, chatTemplate, fingerprint, options.skip, options.surrogates);
}

export interface ParsedModel {
  readonly name: string;
  readonly config: Config;
  readonly weights: WeightSource;
  /** Set for GGUF sources: metadata carries tokenizer and chat template. */
  readonly gguf?: GgufFile;
  /** Set for HF sources. */
  readonly hf?: { readonly tokenizer?: JsonText; readonly tokenizerConfig?: JsonText; readonly generationConfig?: object };
}

export function parseModelSource(source: ModelSource): ParsedModel {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return parseGguf(asBytes(source), "model.gguf");
  if (typeof source !== "object" || source === null) {
    throw new InputError({ file: "loadModel", field: "source", expected: "GGUF bytes, { gguf }, or { config, safetensors }", actual: String(source) });
  }
  if ("gguf" in source) return parseGguf(asBytes(source.gguf), source.name ?? "model.gguf");
  if ("config" in source && "safetensors" in source) return parseHf(source);
  throw new InputError({ file: "loadModel", field: "source", expected: "GGUF bytes, { gguf }, or { config, safetensors }", actual: `an object with keys ${Object.keys(source).join(", ")}` });
}

function parseGguf(bytes: Uint8Array, name: string): ParsedModel {
  const gguf = readGguf(bytes, name);
  const config = configFromGguf(gguf);
  checkLayerCount(config, gguf.tensors.length, name, `${FAMILIES[config.architecture].ggufArchitecture}.block_count`);
  return { name, config, weights: ggufWeightSource(gguf, bytes), gguf };
}

/**
 * A model needs LAYER_TENSORS per layer plus the embedding and final norm. Checked before anything loops over the
 * layers (the fingerprint, the weight planner), so a file claiming 2^31 layers fails at once instead of hanging.
 */
function checkLayerCount(config: Config, tensorCount: number, file: string, field: string): void {
  const perLayer = Object.keys(LAYER_TENSORS).length;
  const most = Math.max(0, Math.floor((tensorCount - 2) / perLayer));
  if (config.numLayers > most) {
    throw new FormatError({ file, field, expected: `at most ${most} layers (the file has ${tensorCount} tensors, ${perLayer} per layer)`, actual: String(config.numLayers) });
  }
}

function parseHf(source: HfFolderSource): ParsedModel {
  const name = source.name ?? "model folder";
  const config = configFromHf(json(source.config, `${name}/config.json`), `${name}/config.json`);
  const shardBytes = source.safetensors instanceof Uint8Array || source.safetensors instanceof ArrayBuffer
    ? { "model.safetensors": source.safetensors }
    : source.safetensors;
  if (typeof shardBytes !== "object" || shardBytes === null) {
    throw new InputError({ file: name, field: "safetensors", expected: "bytes or { fileName: bytes }", actual: String(shardBytes) });
  }
  const names = Object.keys(shardBytes);
  if (source.safetensorsIndex !== undefined) {
    const indexText = typeof source.safetensorsIndex === "string" ? source.safetensorsIndex : JSON.stringify(source.safetensorsIndex);
    const index = readSafetensorsIndex(indexText, `${name}/model.safetensors.index.json`);
    for (const shard of new Set(index.values())) {
      if (!(shard in shardBytes)) throw new FormatError({ file: `${name}/model.safetensors.index.json`, field: shard, expected: "bytes for every shard the index names", actual: "missing" });
    }
  }
  if (names.length === 0) throw new InputError({ file: name, field: "safetensors", expected: "at least one safetensors file", actual: "none" });
  const shards = names.map((shard) => {
    const bytes = asBytes(shardBytes[shard]!);
    return { parsed: readSafetensors(bytes, `${name}/${shard}`), bytes };
  });
  checkLayerCount(config, shards.reduce((sum, shard) => sum + shard.parsed.tensors.length, 0), `${name}/config.json`, "num_hidden_layers");
  const generationConfig = source.generationConfig === undefined ? undefined : json(source.generationConfig, `${name}/generation_config.json`);
  return {
    name,
    config,
    weights: safetensorsWeightSource(shards),
    hf: { tokenizer: source.tokenizer, tokenizerConfig: source.tokenizerConfig, generationConfig: generationConfig as object | undefined },
  };
}

function json(value: JsonText, file: string): unknown {
  return typeof value === "string" ? parseJson(value, file) : value;
}

function asBytes(value: Bytes): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new InputError({ file: "loadModel", field: "bytes", expected: "a Uint8Array or ArrayBuffer", actual: typeof value });
}

/** Option names loadModel and its relatives accept (engine options, skip, and the Node/stream extras). */
const LOAD_OPTION_KEYS: ReadonlySet<string> = new Set([...ENGINE_OPTION_KEYS, "skip", "surrogates", "onProgress", "name", "byteLength"]);

/** Rejects option objects with misspelt or unknown keys, which would otherwise be ignored silently. */
export function checkLoadOptionKeys(options: object): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InputError({ file: "load options", field: "options", expected: "an options object (or nothing)", actual: show(options) });
  }
  for (const key of Object.keys(options)) {
    if (!LOAD_OPTION_KEYS.has(key)) throw new InputError({ file: "load options", field: key, expected: `one of ${[...LOAD_OPTION_KEYS].join(", ")}`, actual: "an unknown option" });
  }
}
