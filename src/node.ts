// ffnskip/node: everything in the portable entry point, plus loading models from the file system.

import { type LoadOptions, loadModel } from "./load.js";
import type { LanguageModel } from "./language-model.js";
import { type LoadProgress, readModelSource } from "./node/files.js";
import { defaultThreads, spawnNodeHelper } from "./node/threads.js";

export interface NodeLoadOptions extends LoadOptions {
  /** Called while files are read: fraction in [0, 1] and the file being read. */
  readonly onProgress?: LoadProgress;
}

/**
 * Loads a GGUF file or a Hugging Face folder (config.json, safetensors, tokenizer.json) from disk. Uses worker
 * threads (one per core, at most 8) unless `threads` says otherwise; call `model.close()` to stop them early.
 */
export async function loadModelFromPath(path: string, options: NodeLoadOptions = {}): Promise<LanguageModel> {
  return loadModel(await readModelSource(path, options.onProgress), { threads: defaultThreads(), spawnHelper: spawnNodeHelper, ...options });
}

export * from "./index.js";
export { DEFAULT_MODEL_PATH, pullModel, PULLABLE_MODELS } from "./node/pull.js";
export { type DownloadProgress, type HubFile, HUB_URL, hubFileUrl, parseHubName, pullUrl, type PullUrlOptions, resolvePullSource } from "./node/download.js";
export { convertGgufFile } from "./node/convert.js";
export { defaultThreads, spawnNodeHelper } from "./node/threads.js";
