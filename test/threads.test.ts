// Helper threads split the big kernel calls; every output element is still computed by one thread with the same
// code, so logits must be bit-identical to one thread, through prefill and decode, for every thread count.
import { existsSync, readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseModelSource } from "../src/load.js";
import { createTransformer } from "../src/model/load.js";
import { DEFAULT_MODEL_PATH } from "../src/node/pull.js";
import { spawnNodeHelper } from "../src/node/threads.js";
import { InputError, ResourceError } from "../src/errors.js";
import { TINY_SHAPE, tinyLlamaGgufBytes } from "./fixtures/tiny-llama.js";
import { mulberry32 } from "./helpers/rng.js";
import { randomTokens, tinyFamilyFiles, tinyGemma3Model } from "./helpers/skip-models.js";

const test = suite("threads");

async function logitsWith(source: Uint8Array | Parameters<typeof parseModelSource>[0], threads: number, ids: number[], vocab: number): Promise<Float32Array[]> {
  const parsed = parseModelSource(source instanceof Uint8Array ? { gguf: source } : source);
  const model = await createTransformer(parsed.config, parsed.weights, { maxContext: 128, maxBatch: 16, threads, spawnHelper: spawnNodeHelper });
  try {
    assert.is(model.threads, threads);
    const out = [model.prefill(ids.slice(0, 40), 0, "all")]; // 40 tokens: three prefill chunks of up to 16
    for (let p = 40; p < ids.length; p++) out.push(model.decode(ids[p]!, p).slice(0, vocab));
    return out;
  } finally {
    model.close();
  }
}

test("tiny Q4_1 model: 1, 2 and 3 threads give bit-identical logits (prefill chunks and decode)", async () => {
  const { bytes } = tinyLlamaGgufBytes({ dtype: "Q4_1" });
  const rand = mulberry32(17);
  const ids = Array.from({ length: 60 }, () => Math.floor(rand() * TINY_SHAPE.vocab));
  const one = await logitsWith(bytes, 1, ids, TINY_SHAPE.vocab);
  for (const threads of [2, 3]) {
    const many = await logitsWith(bytes, threads, ids, TINY_SHAPE.vocab);
    many.forEach((rows, i) => assert.ok(rows.every((v, j) => Object.is(v, one[i]![j])), `${threads} threads, step ${i}: identical`));
  }
});

test("tiny Q4_K_M-style model (Q4_K, Q6_K, Q5_0 rows): 2 threads give bit-identical logits (threaded prefill matmuls, decode rows)", async () => {
  // Rows of whole 256-value super-blocks: hidden 256, ffn 512, four heads of 64.
  const shape = { hidden: 256, ffn: 512, heads: 4, kvHeads: 2, headDim: 64 };
  const { bytes } = tinyLlamaGgufBytes({ shape, dtype: (name) => (name.includes("ffn_down") ? "Q6_K" : name.includes("attn_v") ? "Q5_0" : name.includes("blk.") ? "Q4_K" : "Q8_0") });
  const rand = mulberry32(19);
  const ids = Array.from({ length: 60 }, () => Math.floor(rand() * TINY_SHAPE.vocab));
  const one = await logitsWith(bytes, 1, ids, TINY_SHAPE.vocab);
  const two = await logitsWith(bytes, 2, ids, TINY_SHAPE.vocab);
  two.forEach((rows, i) => assert.ok(rows.every((v, j) => Object.is(v, one[i]![j])), `2 threads, step ${i}: identical`));
});

test("tiny mistral (sliding window 16, shorter than the 40-token prefill) and qwen3: 1 and 2 threads give bit-identical logits", async () => {
  const rand = mulberry32(18);
  const ids = Array.from({ length: 60 }, () => Math.floor(rand() * TINY_SHAPE.vocab));
  for (const family of ["mistral", "qwen3"] as const) {
    const files = tinyFamilyFiles(family, 3);
    const source = { config: files.config, safetensors: files.safetensors };
    const one = await logitsWith(source, 1, ids, TINY_SHAPE.vocab);
    const two = await logitsWith(source, 2, ids, TINY_SHAPE.vocab);
    two.forEach((rows, i) => assert.ok(rows.every((v, j) => Object.is(v, one[i]![j])), `${family}, 2 threads, step ${i}: identical`));
  }
});

test("tiny Gemma 3 (sliding-window layers): 2 threads give logits bit-identical to 1, past the window", async () => {
  const ids = randomTokens(40, 256, 21);
  const runs: Float32Array[][] = [];
  for (const threads of [1, 2]) {
    const { transformer } = await tinyGemma3Model({ maxContext: 64, maxBatch: 16, threads, spawnHelper: spawnNodeHelper });
    try {
      const out = [transformer.prefill(ids.slice(0, 30), 0, "all")]; // windows of 8 inside chunks of 16
      for (let p = 30; p < ids.length; p++) out.push(transformer.decode(ids[p]!, p).slice());
      runs.push(out);
    } finally {
      transformer.close();
    }
  }
  runs[1]!.forEach((rows, i) => assert.ok(rows.every((v, j) => Object.is(v, runs[0]![i]![j])), `step ${i}: identical`));
});

test("threads > 1 without a way to start helpers is an InputError; a helper that cannot start is a ResourceError", async () => {
  const parsed = parseModelSource({ gguf: tinyLlamaGgufBytes({ dtype: "Q8_0" }).bytes });
  await createTransformer(parsed.config, parsed.weights, { threads: 2 }).then(
    () => assert.unreachable("should refuse"),
    (error) => assert.instance(error, InputError),
  );
  const failing = () => ({ ready: Promise.reject(new ResourceError({ field: "helper thread 1", expected: "to start", actual: "refused" })), terminate: () => {} });
  await createTransformer(parsed.config, parsed.weights, { threads: 2, spawnHelper: failing }).then(
    () => assert.unreachable("should fail"),
    (error) => assert.instance(error, ResourceError),
  );
});

if (existsSync(DEFAULT_MODEL_PATH)) {
  test("SmolLM2: 2 threads decode bit-identically to 1 thread", async () => {
    const bytes = new Uint8Array(readFileSync(DEFAULT_MODEL_PATH));
    const ids = Array.from({ length: 48 }, (_, i) => 200 + i * 13);
    const one = await logitsWith(bytes, 1, ids, 49152);
    const two = await logitsWith(bytes, 2, ids, 49152);
    two.forEach((rows, i) => assert.ok(rows.every((v, j) => Object.is(v, one[i]![j])), `step ${i}: identical`));
  });
}

test.run();
