// Node side of the tokenizer / chat-template oracle (hf_tokenizer.py). One run per test process, shared by the
// tokenizer and chat-template tests:
//   1. python makes vocabulary-only GGUFs (SmolLM2's vocabulary under other pre-tokenizer names, small SentencePiece
//      vocabularies) with the gguf package's GGUFWriter;
//   2. we write Hugging Face folders for some of them with hfTokenizerFilesFromGguf;
//   3. python runs transformers on every GGUF and folder over the corpus and the chat cases.
// When python3, one of its packages or the model file is missing, loadTokenizerOracle prints one line saying which
// and returns undefined; callers skip only the tests that need it.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../../src/errors.js";
import { readGguf, type GgufFile } from "../../src/io/gguf.js";
import { hfTokenizerFilesFromGguf } from "../../src/text/tokenizer-gguf.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCRIPT = join(ROOT, "test/oracle/hf_tokenizer.py");
export const MODEL_PATH = join(ROOT, "weights/SmolLM2-135M-Instruct.Q4_1.gguf");
export const CORPUS_PATH = join(ROOT, "test/fixtures/tokenizer-corpus.json");
export const CHAT_CASES_PATH = join(ROOT, "test/fixtures/chat-cases.json");
const PYTHON = "python3";
const PYTHON_MODULES = ["transformers", "tokenizers", "jinja2", "gguf"];
const PYTHON_ENV = { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error", TOKENIZERS_PARALLELISM: "false" };

/** GGUFs made by hf_tokenizer.py make-ggufs besides the real model. */
export const BYTE_LEVEL_VARIANTS = ["bpe-default", "bpe-llama-bpe", "bpe-qwen2", "bpe-gpt-4o", "bpe-tekken"] as const;
export const SENTENCEPIECE_VARIANTS = ["spm", "spm-noprefix", "spm-gemma"] as const;
/** GGUFs that also get a Hugging Face folder written by hfTokenizerFilesFromGguf and loaded by AutoTokenizer. */
export const WITH_HF_FOLDER = ["smollm", "bpe-llama-bpe", "spm", "spm-noprefix", "spm-gemma"] as const;

export interface OracleString {
  readonly ids: number[];
  readonly ids_with_special: number[];
  readonly decoded: string;
  readonly decoded_skip_special: string;
  readonly prefix_decodes?: string[];
}

export interface OracleTokenizer {
  readonly vocab_size: number;
  readonly bos_token_id: number | null;
  readonly eos_token_id: number | null;
  readonly pad_token_id: number | null;
  readonly unk_token_id: number | null;
  readonly bos_token: string | null;
  readonly eos_token: string | null;
  readonly added_tokens: { id: number; content: string; special: boolean }[];
  readonly strings: OracleString[];
  /** "template/conversation/gen|nogen" -> rendered text or the template's raise_exception message. */
  readonly chat?: Record<string, { text?: string; error?: string }>;
}

export interface TokenizerOracle {
  readonly corpus: readonly string[];
  /** Oracle results by name: "smollm" (transformers' GGUF loader), "smollm-official" (SmolLM2's own pre-tokenizer),
   *  each variant, and "hf:<name>" for the folders written by hfTokenizerFilesFromGguf. */
  readonly results: Readonly<Record<string, OracleTokenizer>>;
  readonly ggufs: Readonly<Record<string, GgufFile>>;
  /** The files hfTokenizerFilesFromGguf wrote for each name in WITH_HF_FOLDER. */
  readonly hfFiles: Readonly<Record<string, Map<string, string>>>;
}

let loaded: { readonly oracle: TokenizerOracle | undefined } | undefined;

/** Runs the oracle once per process (synchronously: test files are loaded as CommonJS, without top-level await). */
export function loadTokenizerOracle(): TokenizerOracle | undefined {
  loaded ??= { oracle: load() };
  return loaded.oracle;
}

export function readCorpus(): string[] {
  return JSON.parse(readFileSync(CORPUS_PATH, "utf8")) as string[];
}

function load(): TokenizerOracle | undefined {
  const missing = whatIsMissing();
  if (missing !== undefined) {
    console.log(`skipping transformers tokenizer/chat-template oracle tests: ${missing}`);
    return undefined;
  }
  const work = mkdtempSync(join(tmpdir(), "ffnskip-tokenizer-oracle-"));
  process.on("exit", () => rmSync(work, { recursive: true, force: true }));

  const manifest = JSON.parse(runPython(["make-ggufs", MODEL_PATH, CORPUS_PATH, join(work, "gguf")])) as Record<string, string>;
  const paths: Record<string, string> = { smollm: MODEL_PATH, ...manifest };
  const ggufs: Record<string, GgufFile> = {};
  for (const [name, path] of Object.entries(paths)) ggufs[name] = readGguf(new Uint8Array(readFileSync(path)), path);

  const hfFiles: Record<string, Map<string, string>> = {};
  const tokenizers: Record<string, unknown>[] = [
    { name: "smollm", gguf: MODEL_PATH, prefix_decodes: true, chat: true },
    { name: "smollm-official", gguf: MODEL_PATH, pre_tokenizer: "smollm-official", prefix_decodes: true },
    ...BYTE_LEVEL_VARIANTS.map((name) => ({ name, gguf: paths[name] })),
    // Gemma's conversion has no space prefix to honour (its GemmaTokenizer adds none).
    ...SENTENCEPIECE_VARIANTS.map((name) => ({ name, gguf: paths[name], sentencepiece_prefix_from_file: name !== "spm-gemma" })),
  ];
  for (const name of WITH_HF_FOLDER) {
    const files = hfTokenizerFilesFromGguf(ggufs[name]!);
    const folder = join(work, "hf", name);
    mkdirSync(folder, { recursive: true });
    for (const [file, text] of files) writeFileSync(join(folder, file), text);
    hfFiles[name] = files;
    tokenizers.push({ name: `hf:${name}`, hf_dir: folder });
  }
  const job = join(work, "job.json");
  const out = join(work, "out.json");
  writeFileSync(job, JSON.stringify({ corpus: CORPUS_PATH, chat_cases: CHAT_CASES_PATH, tokenizers }));
  runPython(["run", job, out]);
  const results = JSON.parse(readFileSync(out, "utf8")) as Record<string, OracleTokenizer>;
  return { corpus: readCorpus(), results, ggufs, hfFiles };
}

function whatIsMissing(): string | undefined {
  if (!existsSync(MODEL_PATH)) return `the model file ${MODEL_PATH} is missing`;
  const probe = spawnSync(
    PYTHON,
    ["-c", "import importlib, sys\nfor name in sys.argv[1:]:\n    try:\n        importlib.import_module(name)\n    except Exception:\n        print(name)", ...PYTHON_MODULES],
    { encoding: "utf8", env: PYTHON_ENV, timeout: 120_000 },
  );
  if (probe.error !== undefined) {
    const code = (probe.error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `${PYTHON} is not on PATH` : `${PYTHON} could not run (${probe.error.message})`;
  }
  if (probe.status !== 0) return `${PYTHON} failed (${probe.stderr.trim().split("\n").at(-1) ?? `exit status ${probe.status}`})`;
  const modules = probe.stdout.split("\n").filter((line) => line !== "");
  if (modules.length > 0) return `${PYTHON} cannot import ${modules.join(", ")} (CI installs: pip install torch==2.13.0 transformers gguf)`;
  return undefined;
}

function runPython(args: string[]): string {
  const result = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: "utf8", env: PYTHON_ENV, timeout: 900_000, maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    throw new InputError({
      file: SCRIPT, field: args[0], expected: "exit status 0", actual: String(result.status ?? result.signal),
      detail: result.error?.message ?? result.stderr.trim().split("\n").slice(-20).join("\n"),
    });
  }
  return result.stdout;
}
