// ffnskip logits / greedy: run the model on token ids (no tokenizer involved), for checking against other
// implementations. --model takes a GGUF file or an HF folder (config.json + safetensors).
import { InputError } from "../errors.js";
import { parseModelSource } from "../load.js";
import { createTransformer } from "../model/load.js";
import type { Transformer } from "../model/transformer.js";
import { readModelSource } from "../node/files.js";
import { DEFAULT_MODEL_PATH } from "../node/pull.js";
import { defaultThreads, spawnNodeHelper } from "../node/threads.js";
import { describeFlags, type FlagSpecs, parseArgs } from "./args.js";
import { kvCacheFlag, MODEL_FLAGS, precisionFlag } from "./model-flags.js";

const COMMON = {
  help: { type: "boolean", help: "show this help" },
  model: MODEL_FLAGS.model,
  tokens: { type: "list", help: "comma-separated token ids, e.g. 1,2,3" },
  json: { type: "boolean", help: "print one JSON object" },
  f32: { type: "boolean", help: "expand weights to f32 at load (exact-comparison path)" },
  precision: { type: "string", help: "exact (default here: f32 activations) or fast (int16 activations, weight tiles)" },
  "max-context": { ...MODEL_FLAGS["max-context"], help: "KV cache positions (default: the positions the run needs)" },
  threads: MODEL_FLAGS.threads,
  "kv-cache": MODEL_FLAGS["kv-cache"],
} as const satisfies FlagSpecs;

type CommonFlags = { model?: string; f32?: boolean; precision?: string; "max-context"?: number; threads?: number; "kv-cache"?: string };

async function open(flags: CommonFlags, contextNeeded: number, command: string): Promise<Transformer> {
  const precision = precisionFlag(flags.precision ?? "exact");
  const kvCache = kvCacheFlag(flags["kv-cache"]);
  const parsed = parseModelSource(await readModelSource(flags.model ?? DEFAULT_MODEL_PATH));
  const { contextLength } = parsed.config;
  const asked = flags["max-context"];
  if (asked !== undefined && asked > contextLength) {
    throw new InputError({ file: `ffnskip ${command}`, field: "--max-context", expected: `at most ${contextLength} (the model's context length)`, actual: String(asked) });
  }
  const maxContext = asked ?? Math.min(contextLength, Math.max(contextNeeded, 1));
  if (contextNeeded > maxContext) {
    const [field, limit] = asked !== undefined ? ["--max-context", `${asked} positions (--max-context)`] : ["--tokens", `${contextLength} positions (the model's context length)`];
    throw new InputError({ file: `ffnskip ${command}`, field, expected: `a run that fits ${limit}`, actual: `${contextNeeded} positions (prompt + generated)` });
  }
  // These commands exist to compare with other implementations, so they default to the exact path.
  return createTransformer(parsed.config, parsed.weights, {
    maxContext, expandToF32: flags.f32 === true, precision, kvCache, threads: flags.threads ?? defaultThreads(), spawnHelper: spawnNodeHelper,
  });
}

function tokenIds(list: string[] | undefined, command: string): number[] {
  if (list === undefined || list.length === 0) throw new InputError({ file: `ffnskip ${command}`, field: "--tokens", expected: "a comma-separated list of token ids", actual: "nothing" });
  return list.map((s, i) => {
    const id = Number(s);
    if (!Number.isSafeInteger(id) || id < 0) throw new InputError({ file: `ffnskip ${command}`, field: `--tokens[${i}]`, expected: "a non-negative integer", actual: JSON.stringify(s) });
    return id;
  });
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

const LOGITS_FLAGS = { ...COMMON, last: { type: "boolean", help: "only the last position's logits" } } as const satisfies FlagSpecs;

export async function logits(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, LOGITS_FLAGS, "logits");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip logits --tokens 1,2,3 [--last] [--json]\n${describeFlags(LOGITS_FLAGS)}\n`);
    return;
  }
  const ids = tokenIds(flags.tokens, "logits");
  const model = await open(flags, ids.length, "logits");
  const vocab = model.config.vocabSize;
  let flat: Float32Array;
  try {
    flat = model.prefill(ids, 0, flags.last ? "last" : "all");
  } finally {
    model.close();
  }
  const rows = Array.from({ length: flat.length / vocab }, (_, r) => flat.subarray(r * vocab, (r + 1) * vocab));
  if (flags.json) {
    process.stdout.write(`{"tokens":${JSON.stringify(ids)},"logits":[${rows.map((r) => `[${Array.from(r).join(",")}]`).join(",")}]}\n`);
  } else {
    const first = flags.last ? ids.length - 1 : 0;
    rows.forEach((row, i) => {
      const top = argmax(row);
      process.stdout.write(`position ${first + i} (token ${ids[first + i]}): argmax ${top} logit ${row[top]!.toFixed(4)}\n`);
    });
  }
}

const GREEDY_FLAGS = { ...COMMON, "max-new": { type: "int", min: 1, help: "tokens to generate (default 64)" } } as const satisfies FlagSpecs;

export async function greedy(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, GREEDY_FLAGS, "greedy");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip greedy --tokens 1,2,3 [--max-new 64] [--json]\n${describeFlags(GREEDY_FLAGS)}\n`);
    return;
  }
  const ids = tokenIds(flags.tokens, "greedy");
  const maxNew = flags["max-new"] ?? 64;
  const model = await open(flags, ids.length + maxNew, "greedy");
  const generated: number[] = [];
  try {
    let last = model.prefill(ids, 0, "last");
    for (let i = 0; i < maxNew; i++) {
      const next = argmax(last);
      generated.push(next);
      if (i + 1 < maxNew) last = model.decode(next, ids.length + i);
    }
  } finally {
    model.close();
  }
  process.stdout.write(flags.json ? `${JSON.stringify({ tokens: generated })}\n` : `${generated.join(",")}\n`);
}
