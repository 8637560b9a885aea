// Streaming a GGUF in chunks gives the same model as loading its bytes at once (same logits, same fingerprint, so
// the shipped skip profile still applies), whatever the chunk sizes; truncated or oversized streams are typed errors.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { FormatError, InputError, loadModel, loadModelFromStream } from "../src/index.js";
import { loadModelFromPath } from "../src/node.js";
import { DEFAULT_MODEL_PATH } from "../src/node/pull.js";
import { tinyLlamaGgufBytes } from "./fixtures/tiny-llama.js";

const test = suite("streaming loader");

async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < bytes.byteLength; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.slice(offset, offset + size);
    offset += size;
  }
}

async function sameModel(bytes: Uint8Array, sizes: number[], prompt: number[]): Promise<void> {
  const whole = await loadModel(bytes, { threads: 1, maxContext: 64 });
  const streamed = await loadModelFromStream(chunked(bytes, sizes), { maxContext: 64, byteLength: bytes.byteLength });
  assert.is(streamed.fingerprint, whole.fingerprint, "same fingerprint");
  const a = whole.transformer.prefill(prompt, 0, "all");
  const b = streamed.transformer.prefill(prompt, 0, "all");
  assert.ok(a.every((v, i) => Object.is(v, b[i])), `identical logits with chunk sizes ${sizes.join(",")}`);
}

test("tiny Q4_1 GGUF: one chunk, byte-sized chunks, odd sizes and a ReadableStream all load the same model", async () => {
  const { bytes } = tinyLlamaGgufBytes({ dtype: "Q4_1", withTokenizer: true });
  for (const sizes of [[bytes.byteLength], [1, 7, 4093], [65536], [333]]) await sameModel(bytes, sizes, [1, 5, 9, 200]);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.byteLength; i += 1000) controller.enqueue(bytes.slice(i, i + 1000));
      controller.close();
    },
  });
  const model = await loadModelFromStream(stream, { maxContext: 32 });
  assert.is(model.config.numLayers, 2);
});

test("a stream that ends early, runs long, or is not a GGUF is a FormatError; non-byte chunks an InputError", async () => {
  const { bytes } = tinyLlamaGgufBytes({ dtype: "Q8_0", withTokenizer: true });
  await loadModelFromStream(chunked(bytes.slice(0, bytes.byteLength - 10), [4096])).then(() => assert.unreachable(), (e) => assert.instance(e, FormatError));
  await loadModelFromStream(chunked(bytes.slice(0, 200), [4096])).then(() => assert.unreachable(), (e) => assert.instance(e, FormatError));
  await loadModelFromStream(chunked(bytes, [4096]), { byteLength: bytes.byteLength - 1 }).then(() => assert.unreachable(), (e) => assert.instance(e, FormatError));
  await loadModelFromStream(chunked(new Uint8Array(5000).fill(7), [512])).then(() => assert.unreachable(), (e) => assert.instance(e, FormatError));
  async function* strings() {
    yield "GGUF" as unknown as Uint8Array;
  }
  await loadModelFromStream(strings()).then(() => assert.unreachable(), (e) => assert.instance(e, InputError));
});

if (existsSync(DEFAULT_MODEL_PATH)) {
  test("SmolLM2 streamed in 64 KiB chunks equals the whole-file load, and the shipped skip profile applies", async () => {
    const bytes = new Uint8Array(readFileSync(DEFAULT_MODEL_PATH));
    await sameModel(bytes, [65536], [1, 504, 3575, 282, 4649, 314]);
    const streamed = await loadModelFromStream(chunked(bytes, [65536]), { maxContext: 64, skip: "on" });
    assert.is(streamed.skip.kind, "paper");
  });
}

test("a GGUF file from disk streams in (loadModelFromPath): same model as its bytes, progress to 1, truncation a FormatError", async () => {
  const { bytes } = tinyLlamaGgufBytes({ dtype: "Q4_1", withTokenizer: true });
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-stream-"));
  try {
    const file = join(dir, "tiny.gguf");
    writeFileSync(file, bytes);
    const progress: number[] = [];
    const fromDisk = await loadModelFromPath(file, { threads: 1, maxContext: 64, onProgress: (f) => progress.push(f) });
    const whole = await loadModel(bytes, { threads: 1, maxContext: 64 });
    assert.is(fromDisk.fingerprint, whole.fingerprint);
    const a = whole.transformer.prefill([1, 5, 9, 200], 0, "all"), b = fromDisk.transformer.prefill([1, 5, 9, 200], 0, "all");
    assert.ok(a.every((v, i) => Object.is(v, b[i])), "identical logits");
    assert.is(progress.at(-1), 1);
    assert.ok(progress.every((f, i) => i === 0 || f >= progress[i - 1]!), "progress only grows");
    const cut = join(dir, "cut.gguf");
    writeFileSync(cut, bytes.subarray(0, bytes.byteLength - 100));
    try {
      await loadModelFromPath(cut, { threads: 1, maxContext: 64 });
      assert.unreachable("a truncated file loaded");
    } catch (error) {
      assert.instance(error, FormatError, String(error));
      assert.match((error as Error).message, /cut\.gguf/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
