// Node side of the transformers oracle (hf_reference.py): finds a Python that can run it, runs it, parses its output.

import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FormatError, InputError } from "../../src/errors.js";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "hf_reference.py");
const PYTHON = "python3";
const OFFLINE_ENV = { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" };

export type OracleAvailability = { readonly python: string } | { readonly missing: string };

let cached: OracleAvailability | undefined;

/** Whether python3 can import torch and transformers; `missing` says exactly what is not there. Cached. */
export function findOracle(): OracleAvailability {
  if (cached !== undefined) return cached;
  const probe = spawnSync(PYTHON, ["-c", "import torch, transformers, numpy"], { encoding: "utf8", env: OFFLINE_ENV, timeout: 120_000 });
  if (probe.error !== undefined) {
    const code = (probe.error as NodeJS.ErrnoException).code;
    cached = { missing: code === "ENOENT" ? `${PYTHON} (not found on PATH)` : `${PYTHON} (could not run: ${probe.error.message})` };
  } else if (probe.status !== 0) {
    const module = /No module named '([^']+)'/.exec(probe.stderr)?.[1];
    const lastLine = probe.stderr.trim().split("\n").at(-1) ?? `exit status ${probe.status}`;
    cached = { missing: module !== undefined ? `the Python package "${module}" (${PYTHON} cannot import it)` : `a working torch + transformers in ${PYTHON} (${lastLine})` };
  } else {
    cached = { python: PYTHON };
  }
  return cached;
}

export interface OracleLoading {
  readonly missingKeys: readonly string[];
  readonly unexpectedKeys: readonly string[];
  readonly mismatchedKeys: readonly string[];
  readonly errorMessages: readonly string[];
}

export interface OracleSequence {
  readonly inputIds: readonly number[];
  /** Logits for every input position, row-major [positions, vocab]. */
  readonly logits: Float32Array;
  readonly positions: number;
  readonly vocab: number;
  /** Exactly greedyNewTokens ids, each the argmax given the ones before. */
  readonly greedyNewIds: readonly number[];
  /** Top-1 minus top-2 logit at each greedy step. */
  readonly greedyTop2Gaps: readonly number[];
}

export interface OracleResult {
  readonly torchVersion: string;
  readonly transformersVersion: string;
  readonly vocabSize: number;
  readonly loading: OracleLoading;
  readonly sequences: readonly OracleSequence[];
}

export interface OracleSource {
  /** A Hugging Face model folder, or a GGUF file read by transformers' own GGUF support. */
  readonly kind: "folder" | "gguf";
  readonly path: string;
}

/**
 * Runs transformers on `sequences` (float32, CPU, eager attention, offline). `model` is a folder path, or
 * { kind: "gguf", path } for transformers' GGUF loading. Call findOracle() first and skip when it reports missing.
 */
export async function runHfReference(
  model: string | OracleSource,
  sequences: readonly (readonly number[])[],
  greedyNewTokens: number,
): Promise<OracleResult> {
  return (await runHfReferences([model], sequences, greedyNewTokens))[0]!;
}

/**
 * runHfReference for several models of one kind in one Python process (its start-up, importing torch and
 * transformers, takes seconds), each on the same `sequences`; results in the order of `models`.
 */
export async function runHfReferences(
  models: readonly (string | OracleSource)[],
  sequences: readonly (readonly number[])[],
  greedyNewTokens: number,
): Promise<OracleResult[]> {
  const sources = models.map((m): OracleSource => (typeof m === "string" ? { kind: "folder", path: m } : m));
  const kind = sources[0]?.kind;
  if (kind === undefined || sources.some((s) => s.kind !== kind)) {
    throw new InputError({ file: "runHfReferences", field: "models", expected: "one or more models, all folders or all GGUF files", actual: sources.map((s) => s.kind).join(", ") || "none" });
  }
  const work = await mkdtemp(join(tmpdir(), "ffnskip-oracle-"));
  try {
    const input = join(work, "in.json");
    const output = join(work, "out.json");
    await writeFile(input, JSON.stringify({ sequences, greedy_new_tokens: greedyNewTokens }));
    const flag = kind === "folder" ? "--model" : "--gguf";
    const paths = sources.map((s) => s.path);
    await new Promise<void>((resolve, reject) => {
      execFile(PYTHON, [SCRIPT, flag, ...paths, "--input", input, "--out", output], { env: OFFLINE_ENV, maxBuffer: 16 << 20, timeout: 900_000 }, (error, _stdout, stderr) => {
        if (error === null) return resolve();
        reject(new InputError({ file: paths.join(", "), field: "hf_reference.py", expected: "exit status 0", actual: String(error.code ?? error.signal ?? error.message), detail: stderr.trim().split("\n").slice(-15).join("\n") }));
      });
    });
    const results: OracleResult[] = [];
    for (let i = 0; i < paths.length; i++) {
      const stem = paths.length === 1 ? join(work, "out") : join(work, `out.${i}`);
      results.push(parseReport(JSON.parse(await readFile(`${stem}.json`, "utf8")) as RawReport, await readFile(`${stem}.logits.f32`), `${stem}.json`));
    }
    return results;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface RawReport {
  format: string;
  torch_version: string;
  transformers_version: string;
  vocab_size: number;
  loading: { missing_keys: string[]; unexpected_keys: string[]; mismatched_keys: string[]; error_msgs: string[] };
  sequences: { input_ids: number[]; logits_offset: number; logits_shape: [number, number]; greedy_new_ids: number[]; greedy_top2_gaps: number[] }[];
}

function parseReport(raw: RawReport, logitsBytes: Buffer, file: string): OracleResult {
  if (raw.format !== "ffnskip-hf-reference/1") throw new FormatError({ file, field: "format", expected: "ffnskip-hf-reference/1", actual: String(raw.format) });
  const view = new DataView(logitsBytes.buffer, logitsBytes.byteOffset, logitsBytes.byteLength);
  const sequences = raw.sequences.map((s, index): OracleSequence => {
    const [positions, vocab] = s.logits_shape;
    const count = positions * vocab;
    if (s.logits_offset + 4 * count > logitsBytes.byteLength) {
      throw new FormatError({ file, field: `sequences[${index}].logits_offset`, expected: `${4 * count} bytes of logits`, actual: `a logits file of ${logitsBytes.byteLength} bytes` });
    }
    const logits = new Float32Array(count);
    for (let i = 0; i < count; i++) logits[i] = view.getFloat32(s.logits_offset + 4 * i, true);
    return { inputIds: s.input_ids, logits, positions, vocab, greedyNewIds: s.greedy_new_ids, greedyTop2Gaps: s.greedy_top2_gaps };
  });
  return {
    torchVersion: raw.torch_version,
    transformersVersion: raw.transformers_version,
    vocabSize: raw.vocab_size,
    loading: {
      missingKeys: raw.loading.missing_keys, unexpectedKeys: raw.loading.unexpected_keys,
      mismatchedKeys: raw.loading.mismatched_keys, errorMessages: raw.loading.error_msgs,
    },
    sequences,
  };
}
