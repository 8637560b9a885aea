// ffnskip/node: everything in the portable entry point, plus loading models from the file system.

import { type LoadOptions, loadModel } from "./index.js";
import type { LanguageModel } from "./language-model.js";
import { type LoadProgress, readModelSource } from "./node/files.js";

export interface NodeLoadOptions extends LoadOptions {
  /** Called while files are read: fraction in [0, 1] and the file being read. */
  readonly onProgress?: LoadProgress;
}

/** Loads a GGUF file or a Hugging Face folder (config.json, safetensors, tokenizer.json) from disk. */
export async function loadModelFromPath(path: string, options: NodeLoadOptions = {}): Promise<LanguageModel> {
  return loadModel(await readModelSource(path, options.onProgress), options);
}

export * from "./index.js";
export { DEFAULT_MODEL_PATH, pullModel, PULLABLE_MODELS } from "./node/pull.js";
export { convertGgufFile } from "./node/convert.js";
