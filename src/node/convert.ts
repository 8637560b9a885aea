// Node front end of the converter: reads a .gguf file, writes a Hugging Face model folder.
// The output folder may be new, empty, or a previous conversion (only files a conversion writes). Anything else is
// refused rather than mixed with or overwritten, so a mistyped path cannot clobber an unrelated folder.

import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CONVERTED_FILES, type ConvertOptions, convertGgufToHf } from "../convert.js";
import { InputError, ResourceError } from "../errors.js";
import { readGguf } from "../io/gguf.js";

export interface ConvertFileResult {
  /** Names of the files written into the output folder. */
  readonly files: readonly string[];
}

/** Converts the GGUF at `inPath` into the Hugging Face folder `outDir` (created if needed). */
export async function convertGgufFile(inPath: string, outDir: string, options: ConvertOptions): Promise<ConvertFileResult> {
  let buffer: Buffer;
  try {
    buffer = await readFile(inPath);
  } catch (error) {
    throw new InputError({ file: inPath, expected: "a readable GGUF file", actual: errorCode(error) });
  }
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const { files } = convertGgufToHf(readGguf(bytes, inPath), bytes, options);

  await prepareFolder(outDir, new Set([...CONVERTED_FILES, ...files.keys()]));
  for (const [name, data] of files) {
    const target = join(outDir, name);
    // Write beside the target and rename, so an interrupted run never leaves a truncated file under the real name.
    const partial = `${target}.partial`;
    try {
      await writeFile(partial, data);
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw new ResourceError({ file: target, expected: `${data.byteLength} bytes written`, actual: errorCode(error) });
    }
  }
  return { files: [...files.keys()] };
}

async function prepareFolder(outDir: string, ours: ReadonlySet<string>): Promise<void> {
  try {
    const info = await stat(outDir);
    if (!info.isDirectory()) throw new InputError({ file: outDir, expected: "a folder (or a path to create one at)", actual: "a file" });
    const strangers = (await readdir(outDir)).filter((entry) => !ours.has(entry) && !(entry.endsWith(".partial") && ours.has(entry.slice(0, -8))));
    if (strangers.length > 0) {
      throw new InputError({ file: outDir, expected: "a new or empty folder, or one holding a previous conversion", actual: `other entries such as ${JSON.stringify(strangers[0])}` });
    }
    return;
  } catch (error) {
    if (error instanceof InputError) throw error;
    if (errorCode(error) !== "ENOENT") throw new InputError({ file: outDir, expected: "an accessible folder", actual: errorCode(error) });
  }
  try {
    await mkdir(outDir, { recursive: true });
  } catch (error) {
    throw new ResourceError({ file: outDir, expected: "a folder created", actual: errorCode(error) });
  }
}

function errorCode(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") return error.code;
  return error instanceof Error ? error.message : String(error);
}
