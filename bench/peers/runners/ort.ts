// Runner: onnxruntime-web's WASM backend in Node, single thread, on the ONNX export of the same model
// (bench/peers/export_onnx.py: f32 weights dequantized from the GGUF; model_q4.onnx: MatMulNBits 4-bit).
//   node --import tsx bench/peers/runners/ort.ts MODEL.onnx      (prompt ids in env BENCH_PROMPT_IDS, JSON)
// The model has past key values (optimum "text-generation-with-past"): prefill runs the prompt with empty past,
// then one session.run per decode step with the presents fed back. Greedy by argmax over the last logits row.
// Timing: wall clock around session.run (+ argmax): prefill = prompt tokens / first run; decode = (generated - 1)
// / the remaining runs.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-web";
import { argmax, failStart, serve } from "../protocol.js";

const [modelPath] = process.argv.slice(2);

try {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
  const config = JSON.parse(readFileSync(join(dirname(modelPath!), "config.json"), "utf8")) as { num_hidden_layers: number; num_key_value_heads: number; hidden_size: number; num_attention_heads: number; head_dim?: number };
  const layers = config.num_hidden_layers;
  const kvHeads = config.num_key_value_heads;
  const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  const session = await ort.InferenceSession.create(readFileSync(modelPath!), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const info = JSON.parse(readFileSync(join(dirname(modelPath!), "export-info.json"), "utf8")) as Record<string, unknown>;
  const promptIds = JSON.parse(process.env.BENCH_PROMPT_IDS ?? "[]") as number[];
  const i64 = (values: number[]) => BigInt64Array.from(values, (v) => BigInt(v));
  const q4 = modelPath!.endsWith("_q4.onnx");

  const step = async (ids: number[], past: number, cache: Record<string, ort.Tensor> | null): Promise<{ next: number; cache: Record<string, ort.Tensor> }> => {
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", i64(ids), [1, n]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(past + n).fill(1n), [1, past + n]),
      position_ids: new ort.Tensor("int64", i64(ids.map((_, i) => past + i)), [1, n]),
    };
    for (let l = 0; l < layers; l++) {
      for (const kv of ["key", "value"]) {
        feeds[`past_key_values.${l}.${kv}`] = cache?.[`present.${l}.${kv}`] ?? new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
      }
    }
    const out = await session.run(feeds);
    const logits = out.logits!.data as Float32Array;
    const vocab = out.logits!.dims[2]!;
    return { next: argmax(logits, (n - 1) * vocab, vocab), cache: out };
  };

  await serve(
    {
      engine: "onnxruntime-web", version: `${ort.env.versions.web ?? "?"} (wasm backend, ${info.exporter} opset ${info.opset}, torch ${info.torch}, transformers ${info.transformers}, optimum-onnx ${info["optimum-onnx"] ?? "?"}, optimum ${info.optimum})`,
      runtime: `Node ${process.version}, WASM SIMD`, threads: 1,
      weights: q4 ? "MatMulNBits 4-bit, blocks of 32, asymmetric (Q4_1-like), accuracy_level 4; f32 embedding" : "f32 (dequantized from the GGUF), embedding and LM head stored separately",
      promptIds, promptTokens: promptIds.length,
    },
    async ({ promptIds: ids, generated }) => {
      const out: number[] = [];
      const start = performance.now();
      let r = await step([...ids], 0, null);
      out.push(r.next);
      const first = performance.now();
      while (out.length < generated) {
        r = await step([out[out.length - 1]!], ids.length + out.length - 1, r.cache);
        out.push(r.next);
      }
      const end = performance.now();
      return {
        prefillTokensPerSecond: (ids.length * 1000) / (first - start), decodeTokensPerSecond: ((out.length - 1) * 1000) / (end - first),
        promptTokens: ids.length, generatedTokens: out.length, timing: "wall clock around session.run + argmax", tokens: out,
      };
    },
    () => session.release(),
  );
} catch (error) {
  failStart(error);
}
