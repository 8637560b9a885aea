// ffnskip/node: everything in the portable entry point, plus loading models from the file system.

import { type LoadOptions, loadModel } from "./load.js";
import type { LanguageModel } from "./language-model.js";
import { loadModelFromStream } from "./load-stream.js";
import { isFilePath, type LoadProgress, readFileChunks, readModelSource, regularFileSize } from "./node/files.js";
import { defaultThreads, spawnNodeHelper } from "./node/threads.js";

export interface NodeLoadOptions extends LoadOptions {
  /** Called while files are read: fraction in [0, 1] and the file being read. */
  readonly onProgress?: LoadProgress;
}

/**
 * Loads a GGUF file or a Hugging Face folder (config.json, safetensors, tokenizer.json) from disk. Uses worker
 * threads (one per core, at most 8) unless `threads` says otherwise; call `model.close()` to stop them early.
 * A GGUF file streams into WASM memory in one pass (peak memory: the model's WASM memory plus one read chunk).
 */
export async function loadModelFromPath(path: string, options: NodeLoadOptions = {}): Promise<LanguageModel> {
  const { onProgress, ...rest } = options;
  const engine = { threads: defaultThreads(), spawnHelper: spawnNodeHelper, ...rest };
  if (isFilePath(path)) {
    const size = regularFileSize(path);
    return loadModelFromStream(readFileChunks(path, size, onProgress), { ...engine, name: path, byteLength: size });
  }
  return loadModel(await readModelSource(path, onProgress), engine);
}

export * from "./index.js";
export { DEFAULT_MODEL_PATH, pullModel, PULLABLE_MODELS } from "./node/pull.js";
export { type DownloadProgress, type HubFile, HUB_URL, hubFileUrl, parseHubName, pullUrl, type PullUrlOptions, resolvePullSource } from "./node/download.js";
export { convertGgufFile } from "./node/convert.js";
export { defaultThreads, spawnNodeHelper } from "./node/threads.js";
