// A Hugging Face folder's tokenizer.json (+ tokenizer_config.json) -> the tokenizer, with BOS/EOS and end-of-turn ids
// read the way transformers reads them.

import { ConfigError, FormatError, show } from "../errors.js";
import { buildTokenizer, endOfTurnTokenIds, isRecord, type Json, MAX_TOKEN_ID, specialTextsFromConfig, templateProcessing, type Tokenizer } from "./tokenizer.js";

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
