// Reads a model from disk into the portable ModelSource that loadModel() takes: a GGUF file, or a Hugging Face
// folder (config.json, model.safetensors or an index with shards, tokenizer files).

import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { InputError, ResourceError } from "../errors.js";
import { readSafetensorsIndex } from "../io/safetensors.js";
import type { HfFolderSource, ModelSource } from "../load.js";

export type LoadProgress = (fraction: number, stage: string) => void;

/** Turns a file-system error (EACCES, EISDIR, ENOENT, a string too long for V8, ...) into one of ours naming the path. */
function fileError(path: string, error: unknown): InputError | ResourceError {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_STRING_TOO_LONG" || code === "ERR_FS_FILE_TOO_LARGE" || error instanceof RangeError) {
    return new ResourceError({ file: path, field: "size", expected: "a file small enough to read into memory", actual: message });
  }
  return new InputError({ file: path, field: "read", expected: "a readable file", actual: typeof code === "string" ? `${code}: ${message}` : message });
}

/** Runs a synchronous file-system call, rethrowing its errors as ours. */
function fs<T>(path: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fileError(path, error);
  }
}

/** Whether `path` names something other than a folder (so a GGUF file, or an error when read as one). */
export function isFilePath(path: string): boolean {
  return existsSync(path) && !fs(path, () => statSync(path)).isDirectory();
}

/** A regular file's size, or an InputError naming the path. */
export function regularFileSize(path: string): number {
  const stat = fs(path, () => statSync(path));
  if (!stat.isFile()) throw new InputError({ file: path, field: "read", expected: "a regular file", actual: stat.isDirectory() ? "a directory" : "not a regular file" });
  return stat.size;
}

/**
 * A file's bytes as 8 MiB chunks, reporting progress, for loadModelFromStream: the file goes to WASM memory chunk by
 * chunk and is never held whole in JS (so a 3.8 GB model does not need 3.8 GB of buffer besides its WASM memory).
 */
export async function* readFileChunks(path: string, size: number, onProgress?: LoadProgress, stage = basename(path)): AsyncGenerator<Uint8Array> {
  let offset = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 })) {
      const data = chunk as Buffer;
      offset += data.byteLength;
      if (offset > size) throw new ResourceError({ file: path, field: "size", expected: `${size} bytes`, actual: "a file that grew while being read" });
      onProgress?.(offset / size, stage);
      yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }
  } catch (error) {
    if (error instanceof ResourceError) throw error;
    throw fileError(path, error);
  }
}

/** Reads a whole file, reporting progress, into one ArrayBuffer-backed Uint8Array. */
export async function readFileWithProgress(path: string, onProgress?: LoadProgress, stage = basename(path)): Promise<Uint8Array> {
  const size = regularFileSize(path);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(size);
  } catch {
    throw new ResourceError({ file: path, field: "size", expected: "a file that fits in memory", actual: `${size} bytes` });
  }
  let offset = 0;
  for await (const chunk of readFileChunks(path, size, onProgress, stage)) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  if (offset !== size) throw new ResourceError({ file: path, field: "size", expected: `${size} bytes`, actual: `${offset} bytes read` });
  return bytes;
}

export async function readModelSource(path: string, onProgress?: LoadProgress): Promise<ModelSource> {
  if (!existsSync(path)) throw new InputError({ file: path, field: "model path", expected: "an existing GGUF file or Hugging Face folder", actual: "nothing at that path" });
  if (!fs(path, () => statSync(path)).isDirectory()) return { gguf: await readFileWithProgress(path, onProgress), name: path };

  const text = (name: string) => {
    const file = join(path, name);
    return existsSync(file) ? fs(file, () => readFileSync(file, "utf8")) : undefined;
  };
  const config = text("config.json");
  if (config === undefined) throw new InputError({ file: join(path, "config.json"), field: "config.json", expected: "an HF model folder with config.json", actual: "missing" });
  const shards: Record<string, Uint8Array> = {};
  const indexText = text("model.safetensors.index.json");
  const shardNames = indexText !== undefined ? [...new Set(readSafetensorsIndex(indexText, join(path, "model.safetensors.index.json")).values())] : ["model.safetensors"];
  const total = shardNames.reduce((sum, name) => sum + (existsSync(join(path, name)) ? fs(join(path, name), () => statSync(join(path, name))).size : 0), 0);
  let done = 0;
  for (const name of shardNames) {
    const file = join(path, name);
    if (!existsSync(file)) throw new InputError({ file, field: name, expected: "the safetensors shard the folder names", actual: "missing" });
    const size = fs(file, () => statSync(file)).size;
    shards[name] = await readFileWithProgress(file, onProgress && ((f, stage) => onProgress((done + f * size) / total, stage)));
    done += size;
  }
  const source: HfFolderSource = {
    name: path,
    config,
    safetensors: shards,
    safetensorsIndex: indexText,
    tokenizer: text("tokenizer.json"),
    tokenizerConfig: text("tokenizer_config.json"),
    generationConfig: text("generation_config.json"),
  };
  return source;
}
