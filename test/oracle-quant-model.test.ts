// Every quantized type through our GGUF writer, against transformers' own GGUF loading of the same file:
// tiny random llama and qwen2 models written by transformers (test/oracle/hf_tiny_model.py: 3 layers, GQA 4/2
// heads, hidden 256, FFN 640), converted to GGUF by test/fixtures/hf-to-gguf.ts with every matrix in one of
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (our quantizers, src/reference/quant.ts). Both sides
// dequantize the same bytes, so logits agree within 1e-4 of the largest logit at every position (prefill and
// decode; WASM kernels, and the TS twins on the shortest prompt) and greedy tokens are identical.
// FFN 640 is not a multiple of 256: ffn_down falls back per tensor as llama-quantize does (Q4_K -> Q5_0, ...), so
// the K-quant files are mixed, like real K-quant files.
// Skips (with the reason) when python/torch/transformers are missing.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseModelSource } from "../src/load.js";
import { createTransformer, type EngineOptions } from "../src/model/load.js";
import { type GgufWeightType, hfFolderToGguf } from "./fixtures/hf-to-gguf.js";
import { greedyDivergence, logitErrors } from "./oracle/compare.js";
import { findOracle, runHfReferences } from "./oracle/oracle.js";
import { mulberry32 } from "./helpers/rng.js";

const oracle = findOracle();
const TINY_MODEL_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "oracle", "hf_tiny_model.py");
const TYPES: readonly GgufWeightType[] = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"];
/** What llama-quantize gives a 640-column row for each type (hf-to-gguf.ts FALLBACK). */
const FFN_DOWN_TYPE: Readonly<Record<string, string>> = { Q2_K: "Q4_0", Q3_K: "Q4_0", Q4_K: "Q5_0", Q5_K: "Q5_1", Q6_K: "Q8_0" };
const VOCAB = 256;
const test = suite("quantized GGUF vs transformers' GGUF loader");

if ("missing" in oracle) {
  test("quantized GGUF oracle", () => {
    console.log(`  skipped: the HF oracle needs ${oracle.missing} (pip install torch==2.13.0 transformers)`);
  });
} else {
  const rand = mulberry32(1313);
  const sequences = [5, 33, 100].map((n) => Array.from({ length: n }, () => Math.floor(rand() * VOCAB)));

  for (const family of ["llama", "qwen2"] as const) {
    test(`${family}: ${TYPES.join(", ")} GGUFs: logits within 1e-4 of the largest (prefill and decode; WASM, and TS twins on the shortest prompt), greedy identical`, async () => {
      const dir = await mkdtemp(join(tmpdir(), `ffnskip-quant-${family}-`));
      try {
        const folder = join(dir, "hf");
        execFileSync("python3", [TINY_MODEL_SCRIPT, "--family", family, "--out", folder, "--hidden-size", "256", "--intermediate-size", "640"], { stdio: ["ignore", "ignore", "pipe"] });
        const paths: string[] = [];
        const files: Uint8Array[] = [];
        for (const type of TYPES) {
          const { bytes, types } = await hfFolderToGguf(folder, type);
          assert.is(types.get("blk.0.attn_q.weight"), type, `${type}: attn_q (256 columns) in the type asked for`);
          assert.is(types.get("blk.0.ffn_down.weight"), FFN_DOWN_TYPE[type] ?? type, `${type}: ffn_down (640 columns) falls back as llama-quantize does`);
          assert.is(types.get("blk.0.attn_norm.weight"), "F32", "norms stay F32");
          const path = join(dir, `${family}-${type}.gguf`);
          await writeFile(path, bytes);
          paths.push(path);
          files.push(bytes);
        }
        const references = await runHfReferences(paths.map((path) => ({ kind: "gguf" as const, path })), sequences, 16);
        for (const [index, type] of TYPES.entries()) {
          const reference = references[index]!;
          assert.equal(reference.loading.missingKeys, [], `${type}: transformers found every tensor`);
          assert.equal(reference.loading.unexpectedKeys, [], `${type}: and no others`);
          for (const kernels of ["wasm", "reference"] as const) {
            const options: EngineOptions = { kernels, maxContext: 128, precision: "exact" };
            const parsed = parseModelSource({ gguf: files[index]!, name: paths[index]! });
            const model = await createTransformer(parsed.config, parsed.weights, options);
            assert.is(model.config.architecture, family);
            // The TS twins (kernels.test.ts checks them against the kernels) are slow: the shortest sequence only.
            for (const seq of kernels === "wasm" ? reference.sequences : reference.sequences.slice(0, 1)) {
              let largest = 0;
              for (const v of seq.logits) largest = Math.max(largest, Math.abs(v));
              const { prefill, decode } = logitErrors(model, seq);
              assert.ok(prefill <= 1e-4 * largest && decode <= 1e-4 * largest, `${family} ${type} ${kernels} ${seq.positions} tokens: max error prefill ${prefill}, decode ${decode}, largest logit ${largest}`);
              assert.equal(greedyDivergence(model, seq).ours, seq.greedyNewIds, `${family} ${type} ${kernels}: greedy tokens identical`);
            }
            model.close();
          }
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

test.run();
