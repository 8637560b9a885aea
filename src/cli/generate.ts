// ffnskip generate: stream a reply to stdout, a one-line summary to stderr (or one JSON object with --json).
// ffnskip demo: pull the default model if needed and answer one question (what `npm start` runs).
import { readFileSync, writeFileSync } from "node:fs";
import { InputError } from "../errors.js";
import type { GenerationResult, ResponseFormat } from "../generate.js";
import type { LanguageModel, ModelGenerateOptions } from "../language-model.js";
import { DEFAULT_MODEL_PATH, pullModel } from "../node/pull.js";
import { describeFlags, type FlagSpecs, parseArgs } from "./args.js";
import { kvCacheFlag, MODEL_FLAGS, openModel, SAMPLING_FLAGS, samplingOptions } from "./model-flags.js";
import { renderTrace, traceJson, traceLabels } from "./trace.js";

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  ...MODEL_FLAGS,
  prompt: { type: "string", help: "the prompt text" },
  chat: { type: "boolean", help: "wrap the prompt as a user message with the chat template" },
  ...SAMPLING_FLAGS,
  json: { type: "boolean", help: "print one JSON object instead of streaming" },
  "json-schema": { type: "string", help: "constrain the reply to JSON this schema file validates" },
  "json-object": { type: "boolean", help: "constrain the reply to a JSON object" },
  trace: { type: "boolean", help: "print the decode-step x layer FFN-skip map after the reply (stderr)" },
  "trace-json": { type: "string", help: "write the FFN-skip trace as JSON to this file" },
} as const satisfies FlagSpecs;

export function summaryLine(result: GenerationResult): string {
  const s = result.stats;
  const skip = s.skip.tokens > 0 ? `, FFN skipped ${(100 * s.skip.ratio).toFixed(1)}% (${(100 * s.skip.ratioAfterWarmup).toFixed(1)}% after warm-up)` : "";
  return `[${s.promptTokens} prompt tokens${s.cachedPromptTokens > 0 ? ` (${s.cachedPromptTokens} cached)` : ""}, ${s.generatedTokens} generated, prefill ${s.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s${skip}; finish: ${result.finishReason}]`;
}

/** --json-schema FILE / --json-object as a response format (undefined: free text). */
function responseFormat(flags: { "json-schema"?: string; "json-object"?: boolean }): ResponseFormat | undefined {
  const path = flags["json-schema"];
  if (path !== undefined && flags["json-object"]) throw new InputError({ file: "ffnskip generate", field: "--json-object", expected: "either --json-schema or --json-object", actual: "both" });
  if (flags["json-object"]) return { type: "json_object" };
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new InputError({ file: "--json-schema", field: path, expected: "a readable JSON schema file", actual: "no such file" });
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new InputError({ file: "--json-schema", field: path, expected: "a JSON schema", actual: `invalid JSON (${(error as Error).message})` });
  }
  return { type: "json_schema", json_schema: { name: path, schema: schema as object } };
}

async function streamReply(model: LanguageModel, prompt: string, options: ModelGenerateOptions, json: boolean): Promise<GenerationResult> {
  const stream = model.generate(prompt, options);
  for await (const piece of stream) if (!json) process.stdout.write(piece.text);
  return stream.result;
}

export async function generate(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, FLAGS, "generate");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip generate --prompt TEXT [--chat] [options]\n${describeFlags(FLAGS)}\n`);
    return;
  }
  if (flags.prompt === undefined) throw new InputError({ file: "ffnskip generate", field: "--prompt", expected: "the prompt text", actual: "nothing" });
  const format = responseFormat(flags);
  const model = await openModel(flags);
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  const result = await streamReply(model, flags.prompt, { ...samplingOptions(flags), chat: flags.chat === true, signal: abort.signal, ...(format === undefined ? {} : { responseFormat: format }) }, flags.json === true);
  const labels = traceLabels(result, (ids) => model.decode(ids));
  if (flags["trace-json"] !== undefined) writeFileSync(flags["trace-json"], `${JSON.stringify(traceJson(result.trace, labels))}\n`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ text: result.text, tokens: result.tokens, finishReason: result.finishReason, stats: result.stats })}\n`);
  } else {
    process.stdout.write("\n");
    if (flags.trace) process.stderr.write(renderTrace(result.trace, labels, process.stderr.isTTY === true));
    process.stderr.write(`${summaryLine(result)}\n`);
  }
}

const DEMO_QUESTION = "What is the capital of France?";
const DEMO_FLAGS = {
  help: { type: "boolean", help: "show this help" },
  skip: MODEL_FLAGS.skip,
  threads: MODEL_FLAGS.threads,
  "max-context": MODEL_FLAGS["max-context"],
  "kv-cache": MODEL_FLAGS["kv-cache"],
} as const satisfies FlagSpecs;

export async function demo(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, DEMO_FLAGS, "demo");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip demo   (pulls SmolLM2 if missing, then answers one question)\n${describeFlags(DEMO_FLAGS)}\n`);
    return;
  }
  kvCacheFlag(flags["kv-cache"]); // a bad value is refused before the download
  await pullModel("smollm2", undefined, (line) => process.stderr.write(`${line}\n`));
  const model = await openModel({ ...flags, model: DEFAULT_MODEL_PATH });
  process.stdout.write(`> ${DEMO_QUESTION}\n`);
  const result = await streamReply(model, DEMO_QUESTION, { chat: true, maxTokens: 64 }, false);
  process.stdout.write("\n");
  process.stderr.write(`${summaryLine(result)}\n`);
}
