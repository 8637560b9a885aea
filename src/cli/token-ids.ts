// ffnskip logits / greedy: run the model on token ids (no tokenizer involved), for checking against other
// implementations. --model takes a GGUF file or an HF folder (config.json + safetensors).
import { InputError } from "../errors.js";
import { parseModelSource } from "../load.js";
import { createTransformer } from "../model/load.js";
import type { Transformer } from "../model/transformer.js";
import { readModelSource } from "../node/files.js";
import { DEFAULT_MODEL_PATH } from "../node/pull.js";
import { describeFlags, type FlagSpecs, parseArgs } from "./args.js";
import { precisionFlag } from "./model-flags.js";

const COMMON = {
  help: { type: "boolean", help: "show this help" },
  model: { type: "string", help: "GGUF file or HF folder (default: the pulled SmolLM2)" },
  tokens: { type: "list", help: "comma-separated token ids, e.g. 1,2,3" },
  json: { type: "boolean", help: "print one JSON object" },
  f32: { type: "boolean", help: "expand weights to f32 at load (exact-comparison path)" },
  precision: { type: "string", help: "exact (default here: f32 activations) or fast (int16 activations, weight tiles)" },
} as const satisfies FlagSpecs;

async function open(flags: { model?: string; f32?: boolean; precision?: string }, contextNeeded: number): Promise<Transformer> {
  const parsed = parseModelSource(await readModelSource(flags.model ?? DEFAULT_MODEL_PATH));
  const maxContext = Math.min(parsed.config.contextLength, Math.max(contextNeeded, 1));
  if (contextNeeded > parsed.config.contextLength) {
    throw new InputError({ file: "ffnskip", field: "--tokens", expected: `at most ${parsed.config.contextLength} positions in all`, actual: String(contextNeeded) });
  }
  // These commands exist to compare with other implementations, so they default to the exact path.
  return createTransformer(parsed.config, parsed.weights, { maxContext, expandToF32: flags.f32 === true, precision: precisionFlag(flags.precision ?? "exact") });
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
  const model = await open(flags, ids.length);
  const vocab = model.config.vocabSize;
  const flat = model.prefill(ids, 0, flags.last ? "last" : "all");
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
  const model = await open(flags, ids.length + maxNew);
  let last = model.prefill(ids, 0, "last");
  const generated: number[] = [];
  for (let i = 0; i < maxNew; i++) {
    const next = argmax(last);
    generated.push(next);
    if (i + 1 < maxNew) last = model.decode(next, ids.length + i);
  }
  process.stdout.write(flags.json ? `${JSON.stringify({ tokens: generated })}\n` : `${generated.join(",")}\n`);
}
