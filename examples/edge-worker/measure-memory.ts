// Measures what the edge worker's model takes in a V8 isolate, for the 128 MB limit of hosted Cloudflare Workers:
// WASM memory (weights + KV cache + activations, exact) and the JS heap after load (tokenizer, chat template,
// tables), with the GGUF bytes dropped and garbage-collected. Node's V8 stands in for workerd's (same engine;
// workerd shows a worker no heap statistics).
//
//   CONFIG=0..4 KV=f32|f16 node --expose-gc --import tsx examples/edge-worker/measure-memory.ts [model.gguf]
//   (CONFIG picks maxContext / maxBatch: 2048/64, 1024/16, 512/8, 256/4, 128/1)

import { readFileSync } from "node:fs";
import { loadModel } from "../../src/index.js";
import { runStateBytes } from "../../src/model/transformer.js";

const path = process.argv[2] ?? "weights/SmolLM2-135M-Instruct.Q4_1.gguf";
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");
const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const settle = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage();
};

const configs: [number, number][] = [[2048, 64], [1024, 16], [512, 8], [256, 4], [128, 1]];
const [maxContext, maxBatch] = configs[Number(process.env.CONFIG ?? 1)]!;
const kvCache = (process.env.KV ?? "f32") as "f32" | "f16";

const before = settle();
let bytes: Uint8Array | null = new Uint8Array(readFileSync(path));
const fileBytes = bytes.byteLength;
const model = await loadModel(bytes, { maxContext, maxBatch, kvCache, variant: "simd" });
const held = settle();
bytes = null;
const after = settle();
const wasm = model.transformer.arena.memory.buffer.byteLength;
const runState = runStateBytes(model.config, maxContext, maxBatch, kvCache);
const kv = 2 * model.config.numLayers * maxContext * model.config.numKvHeads * model.config.headDim * (kvCache === "f16" ? 2 : 4);
const heap = after.heapUsed - before.heapUsed;
const result = {
  file: path, fileBytes, maxContext, maxBatch, kvCache, wasmMemory: wasm, weightsAndStatic: wasm - runState, kvCacheBytes: kv,
  activations: runState - kv, jsHeap: heap, ggufHeld: held.arrayBuffers - before.arrayBuffers, ggufAfterDrop: after.arrayBuffers - before.arrayBuffers,
};
console.log(JSON.stringify(result));
console.error(`${maxContext} / ${maxBatch}, KV ${kvCache}: WASM ${MiB(wasm)} (weights ${MiB(wasm - runState)}, KV cache ${MiB(kv)}, ` +
  `activations ${MiB(runState - kv)}); JS heap ${MiB(heap)}; after load ${MiB(wasm + heap)}; ` +
  `while loading + ${MiB(result.ggufHeld)} of GGUF bytes (${MiB(result.ggufAfterDrop)} left after dropping them)`);
void model;
