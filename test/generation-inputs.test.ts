// Generation under awkward inputs: empty prompts, prompts and budgets beyond the context, malformed UTF-16, invalid
// sampling parameters, aborted and concurrent calls. The tiny model (test/fuzz/seeds.ts: the tiny Llama as a GGUF
// with a 256-token byte-level tokenizer and SmolLM2's chat template) everywhere, SmolLM2 for the abort test when
// it has been pulled.

import { existsSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FfnskipError, InputError, type LanguageModel, loadModel } from "../src/index.js";
import { readGguf } from "../src/io/gguf.js";
import { hfTokenizerFilesFromGguf } from "../src/text/tokenizer-gguf.js";
import { tinyLlamaFolderFiles } from "./fixtures/tiny-llama.js";
import { SMOL_PATH, tinyGgufWithTokenizer } from "./fuzz/seeds.js";

const TINY = tinyGgufWithTokenizer("Q8_0");
const CONTEXT = 32;
const loadTiny = (maxContext = CONTEXT): Promise<LanguageModel> => loadModel({ gguf: TINY, name: "tiny" }, { maxContext });
const SAMPLED = { temperature: 0.8, topP: 0.95, seed: 11, stopOnEos: false } as const;

async function rejects(promise: Promise<unknown>, field: string, ...mentions: string[]): Promise<InputError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, InputError, `expected InputError, got ${String(error)}`);
    const e = error as InputError;
    assert.is(e.field, field, e.message);
    for (const text of mentions) assert.ok(e.message.includes(text), `"${e.message}" mentions ${text}`);
    return e;
  }
  throw new assert.Assertion({ message: `expected an InputError on ${field}`, operator: "rejects", generated: false, expects: field, actual: "no error" });
}

test("empty prompt: starts from the BOS token (unconditional generation)", async () => {
  const model = await loadTiny();
  assert.is(model.tokenizer.bosTokenId, 1);
  assert.equal(model.promptIds(""), [1]);
  const fromEmpty = await model.generate("", { maxTokens: 4, ...SAMPLED }).result;
  assert.is(fromEmpty.stats.promptTokens, 1);
  assert.is(fromEmpty.tokens.length, 4);
  // The same as a prompt that is just the BOS token's text.
  const fromBos = await model.generate("<|im_start|>", { maxTokens: 4, ...SAMPLED }).result;
  assert.equal(fromBos.tokens, fromEmpty.tokens);
});

test("empty prompt: a model without a BOS token refuses it with InputError", async () => {
  const tokenizerFiles = hfTokenizerFilesFromGguf(readGguf(TINY));
  const tokenizerConfig = { ...JSON.parse(tokenizerFiles.get("tokenizer_config.json")!), bos_token: null };
  const { files } = tinyLlamaFolderFiles();
  const model = await loadModel({
    name: "tiny-folder", config: new TextDecoder().decode(files.get("config.json")), safetensors: files.get("model.safetensors")!,
    tokenizer: tokenizerFiles.get("tokenizer.json")!, tokenizerConfig,
  }, { maxContext: CONTEXT });
  assert.is(model.tokenizer.bosTokenId, undefined);
  await rejects(model.generate("").result, "prompt", "at least one token");
  // Non-empty prompts still work.
  assert.is((await model.generate("hi", { maxTokens: 2 }).result).tokens.length, 2);
});

test("a prompt as long as the context or longer is an InputError naming its length and the context", async () => {
  const model = await loadTiny();
  const text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF"; // one byte-level token per character
  assert.is(model.encode(text).length, 42);
  await rejects(model.generate(text, { maxTokens: 1 }).result, "prompt", "42 tokens", String(CONTEXT));
  await rejects(model.generate(text.slice(0, CONTEXT), { maxTokens: 1 }).result, "prompt", `${CONTEXT} tokens`);
  // One token shorter fits: prefill, then the single position left is filled and the context is full.
  const last = await model.generate(text.slice(0, CONTEXT - 1), { maxTokens: 5, stopOnEos: false }).result;
  assert.is(last.tokens.length, 1);
  assert.is(last.finishReason, "context");
});

test("maxTokens beyond the context: generation stops with finishReason 'context' when the cache is full", async () => {
  const model = await loadTiny();
  const result = await model.generate("abcd", { maxTokens: 1000, ...SAMPLED }).result;
  assert.is(result.finishReason, "context");
  assert.is(result.stats.promptTokens, 4);
  assert.is(result.tokens.length, CONTEXT - 4);
  assert.is(result.stats.generatedTokens, CONTEXT - 4);
});

test("lone UTF-16 surrogates in prompts, chat messages and stop strings are InputErrors", async () => {
  const model = await loadTiny();
  for (const bad of ["a\ud800b", "\udc00", "x\ud83d", "\ude00\ud83d"]) {
    await rejects(model.generate(bad, { maxTokens: 1 }).result, "text", "surrogate");
    await rejects(model.generate(bad, { maxTokens: 1, chat: true }).result, "messages[0]", "surrogate");
    await rejects(model.generate([{ role: "user", content: "ok" }, { role: "assistant", content: bad }], { maxTokens: 1 }).result, "messages[1]");
    await rejects(model.generate([{ role: bad, content: "ok" }], { maxTokens: 1 }).result, "messages[0]");
    await rejects(model.generate("ok", { maxTokens: 1, stop: [bad] }).result, "[0]", "surrogate");
    assert.throws(() => model.encode(bad), (e: unknown) => e instanceof InputError);
  }
  // A well-formed pair is fine.
  assert.is((await model.generate("smile 😀", { maxTokens: 1 }).result).tokens.length, 1);
});

test("NaN, infinite, negative and non-integer sampling parameters are InputErrors naming the parameter", async () => {
  const model = await loadTiny();
  const bad: Record<string, unknown[]> = {
    temperature: [NaN, Infinity, -Infinity, -1, -0.1, "0.5", null],
    topK: [NaN, Infinity, -1, 1.5, "5"],
    topP: [NaN, Infinity, -0.5, 0, 1.5],
    minP: [NaN, Infinity, -0.1, 1],
    repetitionPenalty: [NaN, Infinity, -1, 0],
    repetitionWindow: [NaN, Infinity, -1, 0, 2.5],
    seed: [NaN, Infinity, -1, 0.5, 2 ** 53],
    maxTokens: [NaN, Infinity, -1, 0, 2.5, "3"],
    stopOnEos: ["no", 0],
    chat: ["yes"],
    addSpecialTokens: [1],
  };
  let checked = 0;
  for (const [field, values] of Object.entries(bad)) {
    for (const value of values) {
      await rejects(model.generate("hello", { [field]: value } as never).result, field, field);
      checked++;
    }
  }
  assert.ok(checked > 40);
  // A misspelt option is an error too (it would otherwise be ignored silently).
  await rejects(model.generate("hello", { max_tokens: 3 } as never).result, "max_tokens", "unknown option");
  await rejects(model.generate("hello", null as never).result, "options");
  // None of this left the model unusable.
  const fresh = await (await loadTiny()).generate("hello", { maxTokens: 6, ...SAMPLED }).result;
  assert.equal((await model.generate("hello", { maxTokens: 6, ...SAMPLED }).result).tokens, fresh.tokens);
});

/** Aborts a generation from inside its own loop at decode step `at`, then checks the model against a fresh one. */
async function abortLeavesModelUsable(load: () => Promise<LanguageModel>, prompt: string, at: number): Promise<void> {
  const model = await load();
  const controller = new AbortController();
  const aborted = await model.generate(prompt, {
    maxTokens: 200, ...SAMPLED, signal: controller.signal, onTrace: (_row, step) => { if (step === at) controller.abort(); },
  }).result;
  assert.is(aborted.finishReason, "abort");
  // Decode step i feeds generated token i back; the loop checks the signal before sampling the next token, so
  // tokens 0..at exist.
  assert.is(aborted.tokens.length, at + 1);

  const fresh = await load();
  for (const next of [prompt, `${prompt} again`, "something else"]) {
    const expected = await fresh.generate(next, { maxTokens: 12, ...SAMPLED }).result;
    const actual = await model.generate(next, { maxTokens: 12, ...SAMPLED }).result;
    assert.equal(actual.tokens, expected.tokens, `after the abort, "${next}" gives what a fresh model gives`);
    assert.is(actual.text, expected.text);
  }
  // An already-aborted signal: nothing generated, model still fine.
  const none = await model.generate(prompt, { maxTokens: 5, signal: AbortSignal.abort() }).result;
  assert.is(none.finishReason, "abort");
  assert.is(none.tokens.length, 0);
}

test("an aborted generation leaves the tiny model usable: the next calls match a fresh model", async () => {
  await abortLeavesModelUsable(() => loadTiny(128), "hello there", 5);
});

test("an aborted generation leaves SmolLM2 usable: the next calls match a fresh model", async () => {
  if (!existsSync(SMOL_PATH)) {
    console.log("  (skipped: weights/SmolLM2-135M-Instruct.Q4_1.gguf not pulled)");
    return;
  }
  const bytes = new Uint8Array(readFileSync(SMOL_PATH));
  await abortLeavesModelUsable(() => loadModel({ gguf: bytes, name: "smollm2" }, { maxContext: 96 }), "The capital of France is", 3);
});

test("concurrent generate calls on one model run one after another and each gives what it would alone", async () => {
  const calls = [
    { prompt: "hello there", options: { maxTokens: 8, ...SAMPLED } },
    { prompt: "hello there, the", options: { maxTokens: 6, temperature: 0 } }, // shares a prefix with the first
    { prompt: "abc", options: { maxTokens: 7, ...SAMPLED, seed: 99 } },
    { prompt: "bad", options: { maxTokens: -1 } }, // fails on its own, must not disturb the others
    { prompt: "hello there", options: { maxTokens: 8, ...SAMPLED } },
  ];
  const alone: (readonly number[] | string)[] = [];
  for (const { prompt, options } of calls) {
    const model = await loadTiny(64);
    alone.push(await model.generate(prompt, options).result.then((r) => r.tokens, (e: FfnskipError) => e.name));
  }

  const model = await loadTiny(64);
  const log: number[] = [];
  const streams = calls.map(({ prompt, options }, i) => model.generate(prompt, { ...options, onTrace: () => log.push(i) } as never));
  const together = await Promise.all(streams.map((s) => s.result.then((r) => r.tokens, (e: FfnskipError) => e.name)));
  assert.equal(together, alone);
  // Serialized: each call's decode steps all come before the next call's.
  const order = log.filter((call, i) => i === 0 || log[i - 1] !== call);
  assert.equal(order, [0, 1, 2, 4]);
  // Streams deliver their own pieces.
  const texts = await Promise.all(streams.map(async (s) => {
    let text = "";
    try {
      for await (const piece of s) text += piece.text;
    } catch {
      return null;
    }
    return text;
  }));
  const results = await Promise.all(streams.map((s) => s.result.catch(() => null)));
  assert.equal(texts, results.map((r) => r?.text ?? null));
});

test.run();
