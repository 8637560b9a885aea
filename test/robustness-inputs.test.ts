// Robustness fixes found by the fuzzer, each pinned by a direct test: RoPE settings that would make every logit NaN,
// configs claiming more layers than the file has tensors, tokenizer.json merges outside the vocabulary and absurd
// token ids, chat-template work bounds, damaged weights reported as such, generate options checked.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, FfnskipError, FormatError, InputError, UnsupportedError, loadModel } from "../src/index.js";
import { configFromHf, largestRopeFrequency } from "../src/model/config.js";
import { readGguf } from "../src/io/gguf.js";
import type { Config } from "../src/model/config.js";
import { ropeInverseFrequencies } from "../src/model/rope.js";
import { createChatTemplate, CHATML_TEMPLATE } from "../src/text/chat-template.js";
import { hfTokenizerFilesFromGguf } from "../src/text/tokenizer-gguf.js";
import { tokenizerFromHf } from "../src/text/tokenizer-hf.js";
import { readModelSource } from "../src/node/files.js";
import { makeTinyLlama, TINY_SHAPE, tinyLlamaFolderFiles, tinyLlamaGgufBytes } from "./fixtures/tiny-llama.js";
import { parseModelSource } from "../src/load.js";
import { createTransformer } from "../src/model/load.js";
import { tinyGgufWithTokenizer } from "./fuzz/seeds.js";

const TINY_GGUF = tinyGgufWithTokenizer("Q4_1");
const TOKENIZER_FILES = hfTokenizerFilesFromGguf(readGguf(TINY_GGUF));
const TOKENIZER = JSON.parse(TOKENIZER_FILES.get("tokenizer.json")!) as Record<string, unknown>;
const BASE_CONFIG = makeTinyLlama().config;

function throwsTyped(fn: () => unknown, type: Function, where: RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, type, String(error));
    assert.match((error as Error).message, where);
    return;
  }
  assert.unreachable(`expected ${type.name} matching ${where}`);
}

test("largestRopeFrequency bounds the frequencies the model computes (src/model/rope.ts), exactly without llama3 scaling", () => {
  const configs: Partial<Config>[] = [
    {}, { ropeTheta: 500000 }, { ropeTheta: 0.5 }, { ropeTheta: 1e-20 }, { headDim: 128, ropeTheta: 1e6 },
    { ropeScaling: { type: "linear", factor: 4 } }, { ropeScaling: { type: "linear", factor: 0.25 } }, { ropeTheta: 0.01, ropeScaling: { type: "linear", factor: 0.5 } },
    { ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 64 } },
    { ropeTheta: 0.001, ropeScaling: { type: "llama3", factor: 0.5, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8 } },
  ];
  const base = configFromHf(BASE_CONFIG);
  for (const change of configs) {
    const config = { ...base, ...change } as Config;
    const largest = Math.max(...ropeInverseFrequencies(config));
    if (config.ropeScaling?.type === "llama3") assert.ok(largestRopeFrequency(config) >= largest, JSON.stringify(change));
    else assert.is(largestRopeFrequency(config), largest, JSON.stringify(change));
  }
});

test("RoPE settings whose angles overflow float32 are a ConfigError naming the base, for HF and GGUF configs", () => {
  for (const change of [{ rope_theta: 1e-300 }, { rope_theta: 1e-45 }, { max_position_embeddings: 1, rope_scaling: { type: "linear", factor: 1e-39 } }, { rope_scaling: { type: "linear", factor: 1e-300 } }, { rope_scaling: { rope_type: "llama3", factor: 1e-300, low_freq_factor: 1, high_freq_factor: 4 } }]) {
    throwsTyped(() => configFromHf({ ...BASE_CONFIG, ...change }), ConfigError, /config\.json: rope_theta: expected a RoPE base and scaling whose rotation angles are finite/);
  }
  // Extreme but finite settings still load: a base below 1 is odd, not broken.
  assert.is(configFromHf({ ...BASE_CONFIG, rope_theta: 0.5 }).ropeTheta, 0.5);
  assert.is(configFromHf({ ...BASE_CONFIG, rope_theta: 1e30 }).ropeTheta, 1e30);
  assert.is(configFromHf({ ...BASE_CONFIG, rope_theta: 1e-40 }).ropeTheta, 1e-40); // frequencies up to 1e35: finite
});

test("rope_freqs.weight (Llama 3 GGUFs): factors of 1 change nothing, 2 halve every frequency; zero, negative, NaN or angle-overflowing factors are a FormatError naming the tensor", async () => {
  const half = TINY_SHAPE.headDim / 2;
  const logitsWith = async (ropeFactors?: Float32Array) => {
    const parsed = parseModelSource(tinyLlamaGgufBytes({ dtype: "F32", ropeFactors }).bytes);
    const model = await createTransformer(parsed.config, parsed.weights, { maxContext: 64, precision: "exact" });
    return { config: model.config, logits: model.prefill([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4], 0, "all") };
  };
  const plain = await logitsWith();
  const ones = await logitsWith(new Float32Array(half).fill(1));
  assert.is(ones.config.ropeScaling?.type, "frequencyFactors");
  assert.equal(Array.from(ones.logits), Array.from(plain.logits));
  const steep = await logitsWith(new Float32Array(half).fill(1).map((_, i) => 1 + i));
  assert.ok(steep.logits.some((v, i) => Math.abs(v - plain.logits[i]!) > 1e-3), "the factors are applied");
  const base = { ...plain.config, ropeScaling: { type: "frequencyFactors" } } as Config;
  assert.equal(Array.from(ropeInverseFrequencies(base, new Float32Array(half).fill(2))), Array.from(ropeInverseFrequencies({ ...plain.config, ropeScaling: { type: "linear", factor: 2 } })));
  for (const bad of [0, -1, NaN, Infinity, 1e-44]) {
    const factors = new Float32Array(half).fill(1);
    factors[half - 1] = bad;
    const error = await logitsWith(factors).then(() => null, (e: unknown) => e);
    assert.instance(error, FormatError, `factor ${bad}: ${String(error)}`);
    assert.match((error as Error).message, new RegExp(`model\\.gguf: rope_freqs\\.weight\\[${half - 1}\\]: expected a positive finite factor`));
  }
});

test("a config claiming more layers than the file has tensors fails at once (no loop over 2^31 layers)", async () => {
  const { files } = tinyLlamaFolderFiles();
  const source = (layers: number) => ({
    config: { ...BASE_CONFIG, num_hidden_layers: layers, max_position_embeddings: 16 }, safetensors: files.get("model.safetensors")!,
    tokenizer: TOKENIZER_FILES.get("tokenizer.json")!,
  });
  for (const layers of [3, 2 ** 31, 2 ** 40]) {
    const start = performance.now();
    try {
      await loadModel(source(layers));
      assert.unreachable("must not load");
    } catch (error) {
      assert.instance(error, FormatError, String(error));
      assert.match((error as Error).message, /config\.json: num_hidden_layers: expected at most 2 layers \(the file has 21 tensors, 9 per layer\)/);
    }
    assert.ok(performance.now() - start < 500, `${layers} layers refused quickly`);
  }
  // Beyond that, the KV cache size itself no longer fits a double exactly: a ConfigError from the config alone.
  try {
    await loadModel(source(2 ** 50));
    assert.unreachable("must not load");
  } catch (error) {
    assert.instance(error, ConfigError, String(error));
  }
});

test("tokenizer.json merges must combine vocabulary tokens into a vocabulary token (as the Rust tokenizers crate requires)", () => {
  const model = TOKENIZER["model"] as { merges: unknown[] };
  const withMerges = (merges: unknown[]) => ({ ...TOKENIZER, model: { ...model, merges } });
  assert.equal(model.merges[0], ["Ġ", "t"]);
  assert.equal(tokenizerFromHf(withMerges(model.merges)).encode(" the inner"), [8, 32, 5, 110, 6]); // "Ġthe" "Ġ" "in" "n" "er"
  // Without the check, tokenizers.js merged "t"+"h" into a piece with no id and dropped it: " the" lost its "th".
  throwsTyped(() => tokenizerFromHf(withMerges([["t", "h"], ...model.merges])), FormatError, /model\.merges\[0\]: expected a merge of vocabulary tokens into a vocabulary token, got "th" is not in model\.vocab/);
  throwsTyped(() => tokenizerFromHf(withMerges([["Ġ", "t"], ["zz", "q"]])), FormatError, /merges\[1\].*"zz" is not in model\.vocab/);
  throwsTyped(() => tokenizerFromHf(withMerges(["Ġ t", "a b c"])), FormatError, /merges\[1\]: expected two tokens separated by one space/);
  throwsTyped(() => tokenizerFromHf(withMerges(["Ġ t", ["h", "e"]])), FormatError, /merges\[1\]: expected a string "left right" like the merges before it/);
  throwsTyped(() => tokenizerFromHf(withMerges([["Ġ", "t"], "h e"])), FormatError, /merges\[1\]: expected a pair/);
  throwsTyped(() => tokenizerFromHf(withMerges([["Ġ", "t", "x"]])), FormatError, /merges\[0\]: expected a pair/);
  assert.equal(tokenizerFromHf(withMerges([["Ġ", "t"], ["h", "e"]])).encode(" the"), tokenizerFromHf(withMerges(["Ġ t", "h e"])).encode(" the"));
  throwsTyped(() => tokenizerFromHf({ ...TOKENIZER, model: { ...model, continuing_subword_prefix: "##" } }), UnsupportedError, /continuing_subword_prefix/);
});

test("token ids above 2^20 in tokenizer.json are refused at once (a sparse 2^31-long id table took minutes)", () => {
  const added = TOKENIZER["added_tokens"] as unknown[];
  for (const id of [2 ** 31 - 1, 2 ** 20, 1e300]) {
    const start = performance.now();
    throwsTyped(() => tokenizerFromHf({ ...TOKENIZER, added_tokens: [...added, { id, content: "far", special: true }] }), FormatError, /added_tokens\[3\]: expected \{ id: integer in 0\.\.1048575/);
    const vocab = { ...(TOKENIZER["model"] as { vocab: object }).vocab, far: id };
    throwsTyped(() => tokenizerFromHf({ ...TOKENIZER, model: { ...(TOKENIZER["model"] as object), vocab } }), FormatError, /model\.vocab\["far"\]: expected an integer id in 0\.\.1048575/);
    assert.ok(performance.now() - start < 1000);
  }
  // Holes below the bound are fine (and fast).
  const tokenizer = tokenizerFromHf({ ...TOKENIZER, added_tokens: [...added, { id: 2 ** 20 - 1, content: "<far>", special: true }] });
  assert.is(tokenizer.vocabSize, 2 ** 20);
  assert.equal(tokenizer.encode("<far>"), [2 ** 20 - 1]);
});

test("a tokenizer whose ids the model has no embedding for is a FormatError at generation, not a forward-pass error", async () => {
  const added = TOKENIZER["added_tokens"] as unknown[];
  const tokenizer = { ...TOKENIZER, added_tokens: [...added, { id: 300, content: "<big>", special: true }] };
  const { files } = tinyLlamaFolderFiles();
  const model = await loadModel({ config: new TextDecoder().decode(files.get("config.json")), safetensors: files.get("model.safetensors")!, tokenizer }, { maxContext: 16 });
  try {
    await model.generate("a <big> b", { maxTokens: 1 }).result;
    assert.unreachable("id 300 has no embedding");
  } catch (error) {
    assert.instance(error, FormatError, String(error));
    assert.match((error as Error).message, /tokenizer: expected token ids below the model's vocab_size 256, got id 300/);
  }
  assert.is((await model.generate("a b", { maxTokens: 1 }).result).tokens.length, 1);
});

test("a model vocabulary padded beyond the tokenizer's: sampled ids the tokenizer lacks decode to no text", async () => {
  // Keep only ids below 100 in the tokenizer ("abc" = 97, 98, 99 in the byte alphabet); the model has 256 rows.
  const model = TOKENIZER["model"] as { vocab: Record<string, number> };
  const vocab = Object.fromEntries(Object.entries(model.vocab).filter(([, id]) => id < 100));
  const tokenizer = { ...TOKENIZER, model: { ...model, vocab, merges: [] } };
  const { files } = tinyLlamaFolderFiles();
  const lm = await loadModel({ config: new TextDecoder().decode(files.get("config.json")), safetensors: files.get("model.safetensors")!, tokenizer }, { maxContext: 64 });
  assert.is(lm.tokenizer.vocabSize, 100);
  const result = await lm.generate("abc", { maxTokens: 20, temperature: 1, seed: 5, stopOnEos: false }).result;
  assert.is(result.tokens.length, 20);
  const known = result.tokens.filter((id) => id < 100);
  assert.ok(known.length < result.tokens.length, "some sampled ids are beyond the tokenizer");
  assert.is(result.text, lm.decode(known, { skipSpecialTokens: true }));
});

test("chat templates: loops, ranges, string growth and indent widths are bounded; real conversations are not affected", () => {
  const render = (template: string) => createChatTemplate(template).render([{ role: "user", content: "hi" }]);
  for (const [template, reason] of [
    ["{% for i in range(100000) %}{% endfor %}", /range\(\) of 100000 numbers/],
    ["{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", /more than 300000 evaluation steps/],
    ["{% for a in range(60000) %}{% for b in range(60000) %}{% break %}{% endfor %}{% endfor %}", /more than 300000 evaluation steps/],
    ["{% set s = 'xxxxxxxx' %}{% for i in range(30) %}{% set s = s + s %}{% endfor %}{{ s }}", /a value of \d+ characters/],
    ["{{ 'a\nb' | indent(100000) }}", /indent\(\) with a width of 100000/],
    ["{{ messages | tojson(indent=5000) }}", /tojson\(\) with a width of 5000/],
    ["{{ range(1.5) }}", /range\(\) stop: expected an integer/],
  ] as const) {
    const start = performance.now();
    throwsTyped(() => render(template), UnsupportedError, reason);
    assert.ok(performance.now() - start < 5000, `${template}: ${performance.now() - start} ms (bounded; ~0.5 s on an idle core)`);
  }
  assert.is(render("{{ messages | tojson(indent=2) }}").split("\n").length, 6);
  const conversation = Array.from({ length: 5000 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: `message ${i}` }));
  assert.ok(createChatTemplate(CHATML_TEMPLATE).render(conversation).length > 100_000);
});

test("non-finite logits from the weights are a FormatError on the weights, not a sampler InputError", async () => {
  // The tiny GGUF's output norm is F32: make one weight NaN.
  const bytes = TINY_GGUF.slice();
  const norm = readGguf(bytes).tensors.find((t) => t.name === "output_norm.weight")!;
  new DataView(bytes.buffer).setFloat32(norm.offset, NaN, true);
  const model = await loadModel({ gguf: bytes, name: "damaged" }, { maxContext: 16 });
  try {
    await model.generate("hi", { maxTokens: 2 }).result;
    assert.unreachable("NaN logits");
  } catch (error) {
    assert.instance(error, FormatError, String(error));
    assert.match((error as Error).message, /^damaged: weights: expected weights that give finite logits, got NaN for token 0 after the prompt/);
  }
});

test("generate options: an object of known keys with boolean flags", async () => {
  const model = await loadModel({ gguf: TINY_GGUF }, { maxContext: 16 });
  for (const [options, field] of [[null, "options"], [[], "options"], ["x", "options"], [{ maxToken: 3 }, "maxToken"], [{ chat: "yes" }, "chat"], [{ stopOnEos: 1 }, "stopOnEos"]] as const) {
    try {
      await model.generate("hi", options as never).result;
      assert.unreachable(JSON.stringify(options));
    } catch (error) {
      assert.instance(error, InputError, String(error));
      assert.is((error as InputError).field, field);
    }
  }
  assert.is((await model.generate("hi", { maxTokens: 2, chat: false, stopOnEos: false, addSpecialTokens: true }).result).tokens.length, 2);
  assert.is((await model.generate("hi").result).tokens.length > 0, true);
});

test("loadModel sources of the wrong shape fail with our typed errors", async () => {
  const { files } = tinyLlamaFolderFiles();
  const sources: unknown[] = [
    null, undefined, 5, "model.gguf", [], {}, { gguf: "bytes" }, { gguf: null }, { gguf: [1, 2, 3] }, new Uint8Array(0), new ArrayBuffer(3),
    { config: "{}", safetensors: null }, { config: 5, safetensors: files.get("model.safetensors") }, { config: "{", safetensors: files.get("model.safetensors") },
    { config: BASE_CONFIG, safetensors: {} }, { config: BASE_CONFIG, safetensors: { "model.safetensors": "x" } },
    { config: BASE_CONFIG, safetensors: files.get("model.safetensors") }, // no tokenizer
    { config: BASE_CONFIG, safetensors: files.get("model.safetensors"), tokenizer: "[]" },
    { config: BASE_CONFIG, safetensors: files.get("model.safetensors"), safetensorsIndex: { weight_map: { x: "../etc/passwd" } }, tokenizer: TOKENIZER },
  ];
  for (const source of sources) {
    try {
      await loadModel(source as never, { maxContext: 8 });
      assert.unreachable(`loaded ${String(source)}`);
    } catch (error) {
      assert.instance(error, FfnskipError, `${JSON.stringify(source)?.slice(0, 80)}: ${String(error)}`);
    }
  }
});

test("readModelSource: folders with unreadable entries fail with typed errors naming the path", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-files-"));
  try {
    const { files } = tinyLlamaFolderFiles();
    for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
    mkdirSync(join(dir, "tokenizer.json")); // a directory where a file should be: EISDIR
    const attempts: [string, RegExp][] = [
      [dir, /tokenizer\.json: read: expected a readable file, got EISDIR/],
      [join(dir, "missing.gguf"), /nothing at that path/],
      [join(dir, "tokenizer.json", "."), /config\.json: expected an HF model folder with config\.json/],
    ];
    for (const [path, message] of attempts) {
      try {
        await readModelSource(path);
        assert.unreachable(path);
      } catch (error) {
        assert.instance(error, InputError, String(error));
        assert.match((error as Error).message, message);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
