// How a LanguageModel behaves when its caller walks away or misuses it: leaving a `for await` early stops the
// generation, two readers of one stream both get every piece, a call after close() says the model is closed, a
// caller's abort while queued costs no work, and a huge prompt is refused by its size before it is templated or
// tokenized in full. The tiny model everywhere; SmolLM2 (if pulled) where a generation must outlast the first piece.

import { existsSync, readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { InputError, type LanguageModel, loadModel, ResourceError } from "../src/index.js";
import { loadModelFromPath } from "../src/node.js";
import { SMOL_PATH, tinyGgufWithTokenizer } from "./fuzz/seeds.js";

const lifecycle = suite("model lifecycle");
const TINY = tinyGgufWithTokenizer("Q8_0");
const loadTiny = (): Promise<LanguageModel> => loadModel({ gguf: TINY, name: "tiny" }, { maxContext: 64 });
const SAMPLED = { temperature: 0.8, topP: 0.95, seed: 11, stopOnEos: false } as const;
let smol: Promise<LanguageModel> | null = null;
const loadSmol = () => (smol ??= loadModel(new Uint8Array(readFileSync(SMOL_PATH)), { name: "SmolLM2", maxContext: 1024 }));

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new assert.Assertion({ message: "expected a rejection", operator: "rejects", generated: false, expects: "an error", actual: "none" });
}

if (!existsSync(SMOL_PATH)) {
  lifecycle("break out of for await stops the generation", () => console.log(`  skipped: needs ${SMOL_PATH} (npx ffnskip pull smollm2)`));
} else {
  lifecycle("break out of for await stops the generation at the next token, and the next call runs at once", async () => {
    const model = await loadSmol();
    const stream = model.generate("Write a long story about a lighthouse keeper.", { chat: true, maxTokens: 400, stopOnEos: false });
    let pieces = 0;
    for await (const piece of stream) {
      if (piece.text !== "" && ++pieces === 3) break;
    }
    const left = await stream.result;
    assert.is(left.finishReason, "abort");
    assert.ok(left.tokens.length < 40, `stopped near the break, not after ${left.tokens.length} tokens`);
    const started = performance.now();
    const next = await model.generate("Hi", { chat: true, maxTokens: 2 }).result;
    assert.is(next.tokens.length, 2);
    assert.ok(performance.now() - started < 5000, "the next call did not wait for an abandoned run");
  });

  lifecycle("a call after close() says the model is closed, at once (threaded model)", async () => {
    const model = await loadModelFromPath(SMOL_PATH, { maxContext: 256, threads: 2 });
    await model.generate("Hi", { maxTokens: 2 }).result;
    await model.close();
    const started = performance.now();
    const error = await failure(model.generate("Hi", { maxTokens: 2 }).result);
    assert.instance(error, ResourceError, String(error));
    assert.match((error as Error).message, /closed/);
    assert.ok(performance.now() - started < 1000, "no wait on stopped helper threads");
  });
}

lifecycle("two iterators on one stream both see every piece", async () => {
  const model = await loadTiny();
  const stream = model.generate("hello", { maxTokens: 24, ...SAMPLED });
  const read = async () => {
    let text = "";
    for await (const piece of stream) text += piece.text;
    return text;
  };
  const [a, b] = await Promise.all([read(), read()]);
  const result = await stream.result;
  assert.is(result.finishReason, "length");
  assert.is(a, result.text);
  assert.is(b, result.text);
  assert.ok(result.text.length > 0);
});

lifecycle("one of two readers leaving early does not stop the other", async () => {
  const model = await loadTiny();
  const stream = model.generate("hello", { maxTokens: 24, ...SAMPLED });
  const leave = (async () => {
    for await (const _ of stream) break;
  })();
  let text = "";
  for await (const piece of stream) text += piece.text;
  await leave;
  const result = await stream.result;
  assert.is(result.finishReason, "length");
  assert.is(text, result.text);
});

lifecycle("a call after close() rejects with a ResourceError naming the model; calls made before close() finish", async () => {
  const model = await loadTiny();
  const before = model.generate("hello", { maxTokens: 4, ...SAMPLED });
  const closing = model.close();
  const after = model.generate("hello", { maxTokens: 4, ...SAMPLED });
  assert.is((await before.result).tokens.length, 4);
  await closing;
  const error = await failure(after.result);
  assert.instance(error, ResourceError, String(error));
  assert.is((error as ResourceError).file, "tiny");
  assert.match((error as Error).message, /closed/);
  let thrown: unknown = null;
  try {
    for await (const _ of after) break;
  } catch (e) {
    thrown = e;
  }
  assert.is(thrown, error, "the iterator reports the same error");
});

lifecycle("a caller's signal aborted while the call is queued: no prefill, no tokens", async () => {
  const model = await loadTiny();
  const controller = new AbortController();
  const first = model.generate("hello", { maxTokens: 30, ...SAMPLED });
  const queued = model.generate("a different prompt entirely", { maxTokens: 30, ...SAMPLED, signal: controller.signal });
  controller.abort();
  await first.result;
  const result = await queued.result;
  assert.is(result.finishReason, "abort");
  assert.is(result.tokens.length, 0);
  assert.is(result.stats.prefillMs, 0, "the prompt was not run through the model");
});

lifecycle("a 10 MB user message is an InputError on the prompt's size, not a chat-template error", async () => {
  const model = await loadTiny();
  const started = performance.now();
  const error = await failure(model.generate([{ role: "user", content: "a".repeat(10 << 20) }], { maxTokens: 4 }).result);
  assert.instance(error, InputError, String(error));
  assert.is((error as InputError).field, "prompt");
  assert.match((error as Error).message, /64 tokens/);
  assert.ok(performance.now() - started < 2000, `refused in ${(performance.now() - started).toFixed(0)} ms`);
});

lifecycle("a prompt far beyond the context is refused before it is tokenized in full (string and messages)", async () => {
  const model = await loadTiny();
  let encoded = 0;
  const encode = model.encode.bind(model);
  model.encode = (text, options) => {
    encoded += text.length;
    return encode(text, options);
  };
  const huge = "€".repeat(350_000); // 1.05 MB of UTF-8
  for (const prompt of [huge, [{ role: "user" as const, content: huge }]]) {
    const error = await failure(model.generate(prompt, { maxTokens: 4 }).result);
    assert.instance(error, InputError, String(error));
    assert.is((error as InputError).field, "prompt");
  }
  assert.is(encoded, 0, "nothing was tokenized");
  // The size check refuses only what cannot fit: a prompt just under the bound still reaches the tokenizer.
  const fits = await model.generate("€".repeat(10), { maxTokens: 2, ...SAMPLED }).result;
  assert.is(fits.tokens.length, 2);
  assert.ok(encoded > 0);
});

lifecycle.run();
