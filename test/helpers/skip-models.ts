// Models for the FFN-skip tests: a deeper variant of the tiny random Llama (its layers drawn from the fixture's
// generator with different seeds, so no new weight code), wrapped as a LanguageModel with a stub tokenizer (the skip
// code works on token ids), and SmolLM2 when its weights have been pulled (loaded once per test process).
import { existsSync } from "node:fs";
import { LanguageModel } from "../../src/language-model.js";
import { parseModelSource } from "../../src/load.js";
import { modelFingerprint } from "../../src/model/fingerprint.js";
import { createTransformer, type EngineOptions } from "../../src/model/load.js";
import { writeSafetensors } from "../../src/io/safetensors.js";
import { loadModelFromPath } from "../../src/node.js";
import { DEFAULT_MODEL_PATH } from "../../src/node/pull.js";
import { CHATML_TEMPLATE, createChatTemplate } from "../../src/text/chat-template.js";
import type { Tokenizer } from "../../src/text/tokenizer.js";
import { encodeFloats, makeTinyLlama } from "../fixtures/tiny-llama.js";

/** config.json and model.safetensors of a tiny random Llama with `layers` layers (hidden 64, vocab 256). */
export function deepTinyFiles(layers: number): { config: Record<string, unknown>; safetensors: Uint8Array } {
  const base = makeTinyLlama();
  const tensors = base.tensors.filter((t) => !t.name.startsWith("model.layers."));
  for (let l = 0; l < layers; l++) {
    const donor = l < 2 ? base : makeTinyLlama({ seed: 1000 + Math.floor(l / 2) });
    for (const t of donor.tensors) {
      const match = /^model\.layers\.(\d+)\.(.+)$/.exec(t.name);
      if (match !== null && Number(match[1]) === l % 2) tensors.push({ ...t, name: `model.layers.${l}.${match[2]}` });
    }
  }
  const safetensors = writeSafetensors(tensors.map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: encodeFloats(t.data, "F32") })), { format: "pt" });
  return { config: { ...base.config, num_hidden_layers: layers }, safetensors };
}

const STUB_TOKENIZER = { eosTokenIds: [], bosTokenId: undefined } as unknown as Tokenizer;

/** The deep tiny model as a LanguageModel (token ids only: its tokenizer is a stub). */
export async function deepTinyModel(layers: number, options: EngineOptions = {}): Promise<LanguageModel> {
  const files = deepTinyFiles(layers);
  const parsed = parseModelSource({ name: `tiny-llama-${layers}`, config: files.config, safetensors: files.safetensors });
  const [transformer, fingerprint] = await Promise.all([createTransformer(parsed.config, parsed.weights, options), modelFingerprint(parsed.config, parsed.weights)]);
  return new LanguageModel(parsed.name, parsed.config, transformer, STUB_TOKENIZER, createChatTemplate(CHATML_TEMPLATE), fingerprint);
}

let smol: Promise<LanguageModel> | undefined;

/** SmolLM2-135M-Instruct (256-token context), or undefined with the reason printed when it has not been pulled. */
export async function smolLM2(suite: string): Promise<LanguageModel | undefined> {
  if (!existsSync(DEFAULT_MODEL_PATH)) {
    console.log(`  [${suite}] skipping the SmolLM2 checks: ${DEFAULT_MODEL_PATH} is missing (run \`ffnskip pull smollm2\`)`);
    return undefined;
  }
  smol ??= loadModelFromPath(DEFAULT_MODEL_PATH, { maxContext: 256 });
  return smol;
}

/** Random token ids in [0, vocab), reproducible. */
export function randomTokens(count: number, vocab: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % vocab;
  });
}
