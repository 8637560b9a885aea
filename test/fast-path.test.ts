// The fast path (four-row weight tiles x int16 activations) against
//  - the same arithmetic in the plain-TS twins, through the whole model (tiny Llama GGUFs): within 1e-3 (the twins
//    compute in f64, and an activation that lands on a rounding boundary may quantize one step apart);
//  - the exact path (f32 activations): int16 rounding (at most half a step of max|x|/32767 per element of each
//    32-value block) moves logits by well under the 1e-2 the exact path is held to against transformers.
import { existsSync, readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { loadModelFromPath } from "../src/node.js";
import { parseModelSource } from "../src/load.js";
import { createTransformer } from "../src/model/load.js";
import { DEFAULT_MODEL_PATH } from "../src/node/pull.js";
import { TINY_SHAPE, tinyLlamaGgufBytes, type TinyGgufDType } from "./fixtures/tiny-llama.js";
import { mulberry32 } from "./helpers/rng.js";

const test = suite("fast path");
const rand = mulberry32(5);
const ids = Array.from({ length: 40 }, () => Math.floor(rand() * TINY_SHAPE.vocab));

function argmax(values: Float32Array, offset = 0, length = values.length): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}

for (const dtype of ["Q8_0", "Q4_0", "Q4_1"] as TinyGgufDType[]) {
  test(`tiny ${dtype}: WASM tiles equal the TS twins through the whole model; close to the exact path`, async () => {
    const parsed = parseModelSource({ gguf: tinyLlamaGgufBytes({ dtype }).bytes });
    const wasm = await createTransformer(parsed.config, parsed.weights, { maxContext: 64, precision: "fast" });
    const twin = await createTransformer(parsed.config, parsed.weights, { maxContext: 64, precision: "fast", kernels: "reference" });
    const exact = await createTransformer(parsed.config, parsed.weights, { maxContext: 64, precision: "exact" });
    assert.ok(wasm.weights.layers[0]!.qkv[0]!.layout === "tiles4", "quantized matrices are tiled on the fast path");
    assert.ok(exact.weights.layers[0]!.qkv[0]!.layout === "rows", "and kept in the file's layout on the exact path");
    const a = wasm.prefill(ids, 0, "all");
    const b = twin.prefill(ids, 0, "all");
    const e = exact.prefill(ids, 0, "all");
    let twinErr = 0;
    let exactErr = 0;
    for (let i = 0; i < a.length; i++) {
      twinErr = Math.max(twinErr, Math.abs(a[i]! - b[i]!));
      exactErr = Math.max(exactErr, Math.abs(a[i]! - e[i]!));
    }
    assert.ok(twinErr <= 1e-3, `fast WASM vs fast twin: max error ${twinErr}`);
    assert.ok(exactErr <= 1e-3, `fast vs exact: max error ${exactErr} (logits are O(1))`);
    // Decode steps run the same tiles with n = 1: same numbers as prefill's rows (same kernels, same order).
    const row = wasm.decode(ids[0]!, 0);
    for (let v = 0; v < TINY_SHAPE.vocab; v++) assert.ok(Math.abs(row[v]! - a[v]!) <= 1e-6, "decode equals prefill's first row");
  });
}

test("f16 KV cache: WASM equals the twins; close to the f32 cache (keys and values rounded to half precision)", async () => {
  const parsed = parseModelSource({ gguf: tinyLlamaGgufBytes({ dtype: "Q4_1" }).bytes });
  const half = await createTransformer(parsed.config, parsed.weights, { maxContext: 64, kvCache: "f16" });
  const halfTwin = await createTransformer(parsed.config, parsed.weights, { maxContext: 64, kvCache: "f16", kernels: "reference" });
  const full = await createTransformer(parsed.config, parsed.weights, { maxContext: 64, kvCache: "f32" });
  assert.is(half.state.kvCache, "f16");
  const a = half.prefill(ids, 0, "all");
  const b = halfTwin.prefill(ids, 0, "all");
  const f = full.prefill(ids, 0, "all");
  let twinErr = 0;
  let cacheErr = 0;
  for (let i = 0; i < a.length; i++) {
    twinErr = Math.max(twinErr, Math.abs(a[i]! - b[i]!));
    cacheErr = Math.max(cacheErr, Math.abs(a[i]! - f[i]!));
  }
  assert.ok(twinErr <= 1e-3, `f16 cache: WASM vs twin ${twinErr}`);
  // Half precision keeps 11 significant bits: relative rounding <= 2^-11 per cached value.
  assert.ok(cacheErr > 0 && cacheErr <= 1e-2, `f16 vs f32 cache: ${cacheErr}`);
});

if (!existsSync(DEFAULT_MODEL_PATH)) {
  test("SmolLM2 fast vs exact", () => console.log(`  skipped: ${DEFAULT_MODEL_PATH} is missing (npx ffnskip pull smollm2)`));
} else {
  test("SmolLM2: fast path agrees with the exact path on confident tokens and answers the same", async () => {
    const bytes = new Uint8Array(readFileSync(DEFAULT_MODEL_PATH));
    const parsed = parseModelSource({ gguf: bytes });
    const fast = await createTransformer(parsed.config, parsed.weights, { maxContext: 128, precision: "fast" });
    const exact = await createTransformer(parsed.config, parsed.weights, { maxContext: 128, precision: "exact" });
    const model = await loadModelFromPath(DEFAULT_MODEL_PATH, { maxContext: 128 });
    const prompt = model.encode("The Eiffel Tower is located in Paris, the capital of France. It was built for the 1889 World's Fair and was designed by the engineering firm of");
    const vocab = parsed.config.vocabSize;
    const a = fast.prefill(prompt, 0, "all");
    const e = exact.prefill(prompt, 0, "all");
    let confident = 0;
    let agree = 0;
    let maxErr = 0;
    for (let p = 0; p < prompt.length; p++) {
      for (let v = 0; v < vocab; v++) maxErr = Math.max(maxErr, Math.abs(a[p * vocab + v]! - e[p * vocab + v]!));
      const top = argmax(e, p * vocab, vocab);
      let second = -Infinity;
      for (let v = 0; v < vocab; v++) if (v !== top) second = Math.max(second, e[p * vocab + v]!);
      if (e[p * vocab + top]! - second > 1) {
        confident++;
        if (argmax(a, p * vocab, vocab) === top) agree++;
      }
    }
    console.log(`  SmolLM2 fast vs exact over ${prompt.length} positions: max |logit diff| ${maxErr.toFixed(4)}, top-1 agrees on ${agree}/${confident} confident positions`);
    assert.ok(maxErr <= 1e-2, `fast path within the oracle's 1e-2 of the exact path (max ${maxErr})`);
    assert.ok(confident >= 5);
    assert.is(agree, confident, "every position where the exact top-1 leads by more than one logit keeps its top-1");
    const fastReply = await model.chat([{ role: "user", content: "What is the capital of France?" }], { maxTokens: 24 });
    assert.match(fastReply.text, /Paris/);
  });
}

test.run();
