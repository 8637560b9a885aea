// ffnskip: a pure-TypeScript Llama inference engine with WASM SIMD kernels and adaptive FFN skipping.
// This entry point needs neither fs nor network: it takes model bytes. `ffnskip/node` adds loading from paths.
//
//   const model = await loadModel(ggufBytes, { skip: "on" });
//   for await (const piece of model.generate("What is the capital of France?", { chat: true })) write(piece.text);

import { FormatError } from "./errors.js";
import { LanguageModel, type SkipSetting } from "./language-model.js";
import { checkLoadOptionKeys, type ModelSource, parseModelSource } from "./load.js";
import { modelFingerprint } from "./model/fingerprint.js";
import { createTransformer, type EngineOptions } from "./model/load.js";
import { chatTemplateFromGguf, chatTemplateFromHf, createChatTemplate, CHATML_TEMPLATE } from "./text/chat-template.js";
import { type Tokenizer, tokenizerFromGguf, tokenizerFromHf } from "./text/tokenizer.js";

export interface LoadOptions extends EngineOptions {
  /** FFN skipping for generation: "off" (default), "on" (shipped profile), a profile, or a policy. */
  readonly skip?: SkipSetting;
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
  return new LanguageModel(parsed.name, parsed.config, transformer, tokenizer, chatTemplate, fingerprint, options.skip);
}

export { LanguageModel } from "./language-model.js";
export type { GenerationStream, ModelGenerateOptions, SkipSetting } from "./language-model.js";
export type { FinishReason, GenerateOptions, GeneratedPiece, GenerationResult, GenerationStats } from "./generate.js";
export type { HfFolderSource, ModelSource } from "./load.js";
export type { EngineOptions } from "./model/load.js";
export type { Config } from "./model/config.js";
export type { ChatMessage } from "./text/chat-template.js";
export type { Tokenizer } from "./text/tokenizer.js";
export type { SamplingOptions } from "./sample/sampler.js";
export { SkipController, type SkipStats, type TokenTrace } from "./skip/controller.js";
export { type SkipPolicy, SKIP_OFF } from "./skip/policies.js";
export { parseSkipProfile, paperPolicy, type SkipProfile } from "./skip/profile.js";
export { DEFAULT_PROFILES, defaultProfileFor } from "./skip/default-profiles.js";
export { fixedPolicyForRatio, randomPolicyForRatio, resolveSkipSpec, type SkipSpec } from "./skip/spec.js";
export { calibrate, coldRegions, type CalibrateOptions, type CalibrationResult, type CalibrationRun, DEFAULT_WARMUP } from "./calibrate.js";
export { similarityPlotSvg } from "./skip/plot.js";
export { evaluatePerplexity, splitWindows, teacherForcedNll, type TeacherForcedOptions, type TeacherForcedResult } from "./score.js";
export { ConfigError, FfnskipError, FormatError, InputError, ResourceError, UnsupportedError } from "./errors.js";
// Lower layers, for learners and tools: file readers and the bare forward pass.
export { readGguf } from "./io/gguf.js";
export { readSafetensors } from "./io/safetensors.js";
export { createTransformer } from "./model/load.js";
export { Transformer, type FfnGate } from "./model/transformer.js";
export { loadModelFromStream, type StreamLoadOptions } from "./load-stream.js";
