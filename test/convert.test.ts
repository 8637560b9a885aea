import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { convertGgufToHf } from "../src/convert.js";
import { type FfnskipError, FormatError, InputError, UnsupportedError } from "../src/errors.js";
import { configFromGguf, configFromHf } from "../src/model/config.js";
import { type GgufFile, readGguf } from "../src/io/gguf.js";
import { type GgufMetadataEntry, writeGguf } from "../src/io/gguf-writer.js";
import { readSafetensors, type SafetensorsFile } from "../src/io/safetensors.js";
import { GLOBAL_TENSORS, LAYER_TENSORS, type LayerTensor, ggufLayerName, ggufRowForHfRow, hfLayerName } from "../src/model/tensor-names.js";
import { convertGgufFile } from "../src/node/convert.js";
import { bf16ToF32, f16ToF32 } from "../src/reference/quant.js";
import { TINY_SHAPE, type TinyGgufDType, type TinyLlama, ggufNameForHf, llamaCppPermuteRows, makeTinyLlama, tinyLlamaFolderFiles, tinyLlamaGgufBytes, writeTinyLlamaFolder } from "./fixtures/tiny-llama.js";
import { findOracle, type OracleResult, runHfReference } from "./oracle/oracle.js";

const REAL_MODEL = new URL("../weights/SmolLM2-135M-Instruct.Q4_1.gguf", import.meta.url).pathname;

async function throwsTyped(fn: () => unknown, type: new (...args: never[]) => FfnskipError, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (error) {
    assert.instance(error, type, `expected ${type.name}, got ${String(error)}`);
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${type.name} matching ${pattern}`);
}

function tinyGguf(dtype: TinyGgufDType, tied = false): { model: TinyLlama; gguf: GgufFile; bytes: Uint8Array } {
  const { model, bytes } = tinyLlamaGgufBytes({ dtype, tied });
  return { model, gguf: readGguf(bytes, `tiny-${dtype}.gguf`), bytes };
}

/** The converted model.safetensors as name -> f32 values (decoding F32 or F16). */
function decodeWeights(bytes: Uint8Array): { file: SafetensorsFile; values: Map<string, Float32Array> } {
  const file = readSafetensors(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Map<string, Float32Array>();
  for (const t of file.tensors) {
    const size = t.dtype === "F32" ? 4 : 2;
    const out = new Float32Array(t.byteLength / size);
    for (let i = 0; i < out.length; i++) out[i] = t.dtype === "F32" ? view.getFloat32(t.offset + 4 * i, true) : f16ToF32(view.getUint16(t.offset + 2 * i, true));
    values.set(t.name, out);
  }
  return { file, values };
}

const json = (bytes: Uint8Array | undefined): Record<string, unknown> => JSON.parse(new TextDecoder().decode(bytes));

test("the fixture's llama.cpp permutation is the inverse of ggufRowForHfRow, and its names match the table", () => {
  for (const [rows, headDim, heads] of [[64, 16, 4], [32, 16, 2], [576, 64, 9], [192, 64, 3], [8, 2, 4]] as const) {
    const cols = 3;
    const hf = new Float32Array(rows * cols).map((_, i) => i);
    const gguf = llamaCppPermuteRows(hf, rows, cols, heads);
    const order = ggufRowForHfRow(rows, headDim);
    for (let r = 0; r < rows; r++) assert.is(gguf[order[r]! * cols], hf[r * cols], `rows ${rows}, hf row ${r}`);
  }
  assert.is(ggufNameForHf(GLOBAL_TENSORS.embed.hf), GLOBAL_TENSORS.embed.gguf);
  assert.is(ggufNameForHf(GLOBAL_TENSORS.finalNorm.hf), GLOBAL_TENSORS.finalNorm.gguf);
  assert.is(ggufNameForHf(GLOBAL_TENSORS.lmHead.hf), GLOBAL_TENSORS.lmHead.gguf);
  for (const role of Object.keys(LAYER_TENSORS) as LayerTensor[]) assert.is(ggufNameForHf(hfLayerName(1, role)), ggufLayerName(1, role));
});

test("the tiny model is deterministic and non-degenerate", () => {
  const a = makeTinyLlama();
  const b = makeTinyLlama();
  assert.equal(a.tensors.map((t) => t.data), b.tensors.map((t) => t.data));
  assert.is.not(makeTinyLlama({ seed: 1 }).tensors[0]!.data[0], a.tensors[0]!.data[0]);
  for (const t of a.tensors) {
    const mean = t.data.reduce((s, v) => s + v, 0) / t.data.length;
    const std = Math.sqrt(t.data.reduce((s, v) => s + (v - mean) ** 2, 0) / t.data.length);
    if (t.shape.length === 1) assert.ok(Math.abs(mean - 1) < 0.05 && std > 0.05 && std < 0.15, `${t.name}: mean ${mean}, std ${std}`);
    else assert.ok(Math.abs(mean) < 0.02 && std > 0.04 && std < 0.12, `${t.name}: mean ${mean}, std ${std}`);
  }
  assert.is(a.tensors.length, 2 + 9 * TINY_SHAPE.layers + 1);
  assert.is(makeTinyLlama({ tied: true }).tensors.length, 2 + 9 * TINY_SHAPE.layers);
});

test("the tiny folder in F16 and BF16 holds the F32 weights rounded to 11 and 8 significant bits", () => {
  const original = makeTinyLlama({ tied: true });
  for (const [dtype, decode, bits] of [["F16", f16ToF32, 11], ["BF16", bf16ToF32, 8]] as const) {
    const { files } = tinyLlamaFolderFiles({ dtype, tied: true });
    assert.is(json(files.get("config.json")).torch_dtype, dtype === "F16" ? "float16" : "bfloat16");
    assert.is(json(files.get("config.json")).tie_word_embeddings, true);
    const bytes = files.get("model.safetensors")!;
    const file = readSafetensors(bytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    assert.equal(file.tensors.map((t) => t.name).sort(), original.tensors.map((t) => t.name).sort());
    for (const t of original.tensors) {
      const stored = file.tensors.find((x) => x.name === t.name)!;
      assert.equal([stored.dtype, [...stored.shape]], [dtype, t.shape]);
      for (let i = 0; i < t.data.length; i++) {
        const got = decode(view.getUint16(stored.offset + 2 * i, true));
        assert.ok(Math.abs(got - t.data[i]!) <= Math.abs(t.data[i]!) * 2 ** -bits + 2 ** -25, `${dtype} ${t.name}[${i}]`);
      }
    }
  }
});

for (const tied of [false, true]) {
  test(`F32 round trip (${tied ? "tied" : "untied"}): HF -> GGUF -> converter gives back the HF tensors exactly`, () => {
    const { model, gguf, bytes } = tinyGguf("F32", tied);
    const { files } = convertGgufToHf(gguf, bytes, { dtype: "F32" });
    assert.equal([...files.keys()].sort(), ["config.json", "generation_config.json", "model.safetensors"]);
    const { file, values } = decodeWeights(files.get("model.safetensors")!);
    assert.equal(file.metadata, { format: "pt" });
    assert.equal([...values.keys()].sort(), model.tensors.map((t) => t.name).sort());
    assert.is(values.has(GLOBAL_TENSORS.lmHead.hf), !tied);
    for (const t of model.tensors) {
      const stored = file.tensors.find((x) => x.name === t.name)!;
      assert.equal([stored.dtype, [...stored.shape]], ["F32", t.shape], t.name);
      assert.equal(values.get(t.name), t.data, t.name);
    }

    const config = json(files.get("config.json"));
    assert.equal(configFromHf(config), configFromHf(model.config), "same Config as the original config.json");
    assert.equal(configFromHf(config), { ...configFromGguf(gguf), rmsEps: 1e-5 }, "FLOAT32 eps written as the decimal it came from");
    assert.equal([config.rms_norm_eps, config.rope_theta, config.torch_dtype, config.architectures, config.model_type], [1e-5, 10000, "float32", ["LlamaForCausalLM"], "llama"]);
    assert.equal(json(files.get("generation_config.json")), { bos_token_id: TINY_SHAPE.bosId, eos_token_id: TINY_SHAPE.eosId });
  });
}

test("F16 output: every value is the original rounded to half precision", () => {
  const { model, gguf, bytes } = tinyGguf("F32");
  const { files } = convertGgufToHf(gguf, bytes, { dtype: "F16" });
  const { file, values } = decodeWeights(files.get("model.safetensors")!);
  assert.ok(file.tensors.every((t) => t.dtype === "F16"));
  assert.is(json(files.get("config.json")).torch_dtype, "float16");
  for (const t of model.tensors) {
    const got = values.get(t.name)!;
    for (let i = 0; i < t.data.length; i++) {
      const x = t.data[i]!;
      // Half precision keeps 11 significant bits: relative error at most 2^-11, plus 2^-25 absolute near zero.
      assert.ok(Math.abs(got[i]! - x) <= Math.abs(x) * 2 ** -11 + 2 ** -25, `${t.name}[${i}]: ${x} -> ${got[i]}`);
    }
  }
});

for (const dtype of ["Q8_0", "Q4_0", "Q4_1"] as const) {
  test(`${dtype} GGUF: converted matrices stay within the format's rounding error of the originals, in HF row order`, () => {
    const { model, gguf, bytes } = tinyGguf(dtype);
    const { values } = decodeWeights(convertGgufToHf(gguf, bytes, { dtype: "F32" }).files.get("model.safetensors")!);
    for (const t of model.tensors) {
      const got = values.get(t.name)!;
      if (t.shape.length === 1) {
        assert.equal(got, t.data, `${t.name} stays F32`);
        continue;
      }
      let sumError = 0;
      for (let b = 0; b < t.data.length / 32; b++) {
        const block = t.data.subarray(32 * b, 32 * b + 32);
        const amax = Math.max(...block.map(Math.abs));
        const min = Math.min(...block);
        const max = Math.max(...block);
        // One quantization step (half a step of rounding, plus clamping and the f16 scale's own rounding).
        const bound = dtype === "Q8_0" ? 0.6 * (amax / 127) : dtype === "Q4_0" ? 1.01 * (amax / 8) : 0.55 * ((max - min) / 15) + amax * 2 ** -10;
        for (let j = 0; j < 32; j++) {
          const error = Math.abs(got[32 * b + j]! - block[j]!);
          sumError += error;
          assert.ok(error <= bound, `${t.name}[${32 * b + j}]: ${block[j]} -> ${got[32 * b + j]} (bound ${bound})`);
        }
      }
      const meanError = sumError / t.data.length;
      assert.ok(meanError < { Q8_0: 0.002, Q4_0: 0.02, Q4_1: 0.015 }[dtype], `${t.name}: mean error ${meanError}`);
    }
  });
}

test("converter errors: missing, misshapen and unknown tensors; the extra-files hook", async () => {
  const rebuild = (edit: (tensors: { name: string; dtype: "F32"; shape: readonly number[]; data: Uint8Array }[]) => void) => {
    const { bytes } = tinyLlamaGgufBytes({ dtype: "F32" });
    const parsed = readGguf(bytes, "edited.gguf");
    const tensors = parsed.tensors.map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
    edit(tensors);
    const metadata = [...parsed.metadata].map(([key, value]): GgufMetadataEntry => {
      assert.ok(!Array.isArray(value), "the tiny GGUF has only scalar metadata");
      return [key, parsed.metadataTypes.get(key)!, value as Exclude<typeof value, unknown[]>];
    });
    const out = writeGguf({ metadata, tensors });
    return { gguf: readGguf(out, "edited.gguf"), bytes: out };
  };
  const convert = (x: { gguf: GgufFile; bytes: Uint8Array }) => () => convertGgufToHf(x.gguf, x.bytes, { dtype: "F32" });
  await throwsTyped(convert(rebuild((ts) => ts.splice(ts.findIndex((t) => t.name === "blk.1.ffn_down.weight"), 1))), FormatError, /edited\.gguf: blk\.1\.ffn_down\.weight: expected a tensor of shape \[64, 160\], got no such tensor/);
  await throwsTyped(convert(rebuild((ts) => {
    const i = ts.findIndex((t) => t.name === "blk.0.attn_k.weight");
    ts[i] = { ...ts[i]!, shape: [64, 32] };
  })), FormatError, /blk\.0\.attn_k\.weight: expected shape \[32, 64\], got \[64, 32\]/);
  await throwsTyped(convert(rebuild((ts) => ts.push({ name: "blk.0.attn_q.bias", dtype: "F32", shape: [64], data: new Uint8Array(256) }))), UnsupportedError, /blk\.0\.attn_q\.bias: .*no Hugging Face name/);
  // Llama 3 GGUF scaling: config.json states it by parameters the per-frequency factors do not give back exactly.
  const ones = new Uint8Array(new Float32Array(TINY_SHAPE.headDim / 2).fill(1).buffer);
  await throwsTyped(convert(rebuild((ts) => ts.push({ name: "rope_freqs.weight", dtype: "F32", shape: [TINY_SHAPE.headDim / 2], data: ones }))), UnsupportedError, /edited\.gguf: rope_freqs\.weight: expected no per-frequency RoPE factors/);
  const f16Overflow = rebuild((ts) => {
    const i = ts.findIndex((t) => t.name === "output_norm.weight");
    const data = ts[i]!.data.slice();
    new DataView(data.buffer).setFloat32(12, 1e5, true);
    ts[i] = { ...ts[i]!, data };
  });
  assert.ok(convertGgufToHf(f16Overflow.gguf, f16Overflow.bytes, { dtype: "F32" }).files.has("model.safetensors"), "F32 holds it");
  await throwsTyped(() => convertGgufToHf(f16Overflow.gguf, f16Overflow.bytes, { dtype: "F16" }), InputError, /edited\.gguf: output_norm\.weight: expected values that F16 holds \(\|x\| < 65520\) for dtype F16, got 100000 \(convert with dtype F32\)/);
  await throwsTyped(() => convertGgufToHf(f16Overflow.gguf, f16Overflow.bytes, { dtype: "BF16" as "F16" }), InputError, /dtype/);

  const { gguf, bytes } = tinyGguf("F32");
  await throwsTyped(() => convertGgufToHf(gguf, bytes.subarray(0, bytes.length - 100), { dtype: "F32" }), FormatError, /bytes are not the parsed file/);
  const seen: string[] = [];
  const withExtra = convertGgufToHf(gguf, bytes, {
    dtype: "F32",
    extraFiles: (source) => {
      seen.push(`${source.config.vocabSize} ${source.gguf.file} ${source.bytes.length}`);
      return new Map([["tokenizer.json", new TextEncoder().encode("{}")]]);
    },
  });
  assert.equal(seen, [`256 tiny-F32.gguf ${bytes.length}`]);
  assert.equal([...withExtra.files.keys()].sort(), ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json"]);
  for (const name of ["config.json", "../x.json", "a/b.json", ""]) {
    await throwsTyped(() => convertGgufToHf(gguf, bytes, { dtype: "F32", extraFiles: () => new Map([[name, new Uint8Array()]]) }), InputError, /extraFiles/);
  }
});

test("convertGgufFile: writes a folder, re-converts over its own output, refuses unrelated folders", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ffnskip-convert-"));
  try {
    const input = join(dir, "tiny.gguf");
    await writeFile(input, tinyLlamaGgufBytes({ dtype: "Q8_0" }).bytes);
    const out = join(dir, "nested", "hf");
    const result = await convertGgufFile(input, out, { dtype: "F16" });
    assert.equal([...result.files].sort(), ["config.json", "generation_config.json", "model.safetensors"]);
    assert.equal((await readdir(out)).sort(), ["config.json", "generation_config.json", "model.safetensors"]);
    const first = await readFile(join(out, "model.safetensors"));
    assert.is(readSafetensors(new Uint8Array(first)).tensors.length, 21);
    await convertGgufFile(input, out, { dtype: "F16" });
    assert.equal(await readFile(join(out, "model.safetensors")), first, "deterministic output, overwritten in place");

    await writeFile(join(out, "notes.txt"), "mine");
    await throwsTyped(() => convertGgufFile(input, out, { dtype: "F16" }), InputError, /hf: expected a new or empty folder, or one holding a previous conversion, got other entries such as "notes\.txt"/);
    await throwsTyped(() => convertGgufFile(input, input, { dtype: "F16" }), InputError, /tiny\.gguf: expected a folder/);
    await throwsTyped(() => convertGgufFile(join(dir, "absent.gguf"), join(dir, "x"), { dtype: "F16" }), InputError, /absent\.gguf: expected a readable GGUF file, got ENOENT/);
    await writeFile(join(dir, "bad.gguf"), "not a gguf");
    await throwsTyped(() => convertGgufFile(join(dir, "bad.gguf"), join(dir, "y"), { dtype: "F16" }), FormatError, /bad\.gguf: magic/);
    await mkdir(join(dir, "empty"));
    await convertGgufFile(input, join(dir, "empty"), { dtype: "F32" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---- transformers as the oracle ----

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.is(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function assertCleanLoad(result: OracleResult, what: string): void {
  const { missingKeys, unexpectedKeys, mismatchedKeys, errorMessages } = result.loading;
  assert.equal({ missingKeys, unexpectedKeys, mismatchedKeys, errorMessages }, { missingKeys: [], unexpectedKeys: [], mismatchedKeys: [], errorMessages: [] }, what);
}

/** Greedy ids must agree wherever neither run was at a near-tie. */
function assertSameGreedy(a: OracleResult, b: OracleResult, tolerance: number): void {
  a.sequences.forEach((sa, s) => {
    const sb = b.sequences[s]!;
    for (let i = 0; i < sa.greedyNewIds.length; i++) {
      if (sa.greedyNewIds[i] !== sb.greedyNewIds[i]) {
        assert.ok(sa.greedyTop2Gaps[i]! < tolerance, `sequence ${s} step ${i}: ${sa.greedyNewIds[i]} vs ${sb.greedyNewIds[i]} with gap ${sa.greedyTop2Gaps[i]}`);
        return; // after a legitimate flip the continuations diverge
      }
    }
  });
}

const SEQUENCES = [[1, 5, 9, 200, 17, 33, 64, 128], [3], [255, 0, 255, 0, 7, 7, 7, 7, 7, 7, 100, 101, 102]];

test("transformers: the converted tiny folder loads cleanly and computes what the original folder computes", async () => {
  const oracle = findOracle();
  if ("missing" in oracle) {
    console.log(`  skip: transformers tiny-model check: missing ${oracle.missing}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "ffnskip-convert-hf-"));
  try {
    await writeTinyLlamaFolder(join(dir, "original"));
    await writeFile(join(dir, "tiny.gguf"), tinyLlamaGgufBytes({ dtype: "F32" }).bytes);
    await convertGgufFile(join(dir, "tiny.gguf"), join(dir, "converted"), { dtype: "F32" });
    const [original, converted] = await Promise.all([runHfReference(join(dir, "original"), SEQUENCES, 8), runHfReference(join(dir, "converted"), SEQUENCES, 8)]);
    assertCleanLoad(original, "original folder");
    assertCleanLoad(converted, "converted folder");
    original.sequences.forEach((s, i) => {
      assert.equal([s.positions, s.vocab], [SEQUENCES[i]!.length, TINY_SHAPE.vocab]);
      assert.is(maxAbsDiff(s.logits, converted.sequences[i]!.logits), 0, `sequence ${i}: same weights, same config, same logits`);
      assert.equal(s.greedyNewIds, converted.sequences[i]!.greedyNewIds);
      assert.is(s.greedyNewIds.length, 8);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("transformers: a tied Q4_1 tiny GGUF read by transformers' own GGUF loader matches our conversion of it", async () => {
  const oracle = findOracle();
  if ("missing" in oracle) {
    console.log(`  skip: transformers GGUF-loader check: missing ${oracle.missing}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "ffnskip-convert-q4-"));
  try {
    const ggufPath = join(dir, "tiny-q4_1.gguf");
    await writeFile(ggufPath, tinyLlamaGgufBytes({ dtype: "Q4_1", tied: true }).bytes);
    await convertGgufFile(ggufPath, join(dir, "converted"), { dtype: "F32" });
    const [ours, theirs] = await Promise.all([runHfReference(join(dir, "converted"), SEQUENCES, 8), runHfReference({ kind: "gguf", path: ggufPath }, SEQUENCES, 8)]);
    assertCleanLoad(ours, "converted folder");
    assertCleanLoad(theirs, "transformers GGUF loader");
    ours.sequences.forEach((s, i) => {
      const diff = maxAbsDiff(s.logits, theirs.sequences[i]!.logits);
      assert.ok(diff < 1e-4, `sequence ${i}: logits differ by ${diff}`);
    });
    assertSameGreedy(ours, theirs, 1e-3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("transformers: the converted real SmolLM2 loads cleanly, matches transformers' GGUF loader, and knows Paris", async () => {
  if (!existsSync(REAL_MODEL)) {
    console.log(`  skip: real model conversion: ${REAL_MODEL} is absent`);
    return;
  }
  const oracle = findOracle();
  if ("missing" in oracle) {
    console.log(`  skip: real model conversion check: missing ${oracle.missing}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "ffnskip-convert-smollm2-"));
  try {
    await convertGgufFile(REAL_MODEL, dir, { dtype: "F32" });
    const gguf = readGguf(new Uint8Array(await readFile(REAL_MODEL)), REAL_MODEL);
    const tokens = gguf.metadata.get("tokenizer.ggml.tokens") as string[];
    const id = (token: string): number => {
      const found = tokens.indexOf(token);
      assert.ok(found >= 0, `token ${token}`);
      return found;
    };
    const prompt = ["The", "Ġcapital", "Ġof", "ĠFrance", "Ġis"].map(id);
    const [ours, theirs] = await Promise.all([runHfReference(dir, [prompt], 4), runHfReference({ kind: "gguf", path: REAL_MODEL }, [prompt], 4)]);
    assertCleanLoad(ours, "converted SmolLM2");
    assertCleanLoad(theirs, "transformers GGUF loader");
    const diff = maxAbsDiff(ours.sequences[0]!.logits, theirs.sequences[0]!.logits);
    assert.ok(diff < 1e-3, `logits differ by ${diff}`);
    assertSameGreedy(ours, theirs, 1e-2);
    const next = ours.sequences[0]!.greedyNewIds[0]!;
    console.log(`  SmolLM2 (converted): "The capital of France is" -> ${JSON.stringify(tokens[next])}; max logit diff vs transformers' GGUF loader ${diff.toExponential(2)}`);
    assert.is(tokens[next], "ĠParis");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
