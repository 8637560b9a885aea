// ffnskip: a pure-TypeScript Llama inference engine with WASM SIMD kernels and adaptive FFN skipping.
// This entry point needs neither fs nor network: it takes model bytes. `ffnskip/node` adds loading from paths.
//
//   const model = await loadModel(ggufBytes, { skip: "on" });
//   for await (const piece of model.generate("What is the capital of France?", { chat: true })) write(piece.text);

export { loadModel, type LoadOptions } from "./load.js";
export { LanguageModel } from "./language-model.js";
export type { GenerationStream, ModelGenerateOptions, SkipSetting } from "./language-model.js";
export type { FinishReason, GenerateOptions, GeneratedPiece, GenerationResult, GenerationStats, ResponseFormat } from "./generate.js";
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
export { createHandler, type ServeHandler, type ServeOptions, type WaitUntil } from "./serve/handler.js";
export { ApiError } from "./serve/openai.js";
