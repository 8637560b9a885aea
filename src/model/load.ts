// From parsed files to a runnable Transformer: wraps GGUF or safetensors tensors as a WeightSource, plans WASM
// memory for weights + KV cache + activations, instantiates the kernels and copies the weights in (all at once,
// or as they stream in: beginTransformer).

import { ConfigError, FormatError, InputError, ResourceError, show } from "../errors.js";
import type { GgufFile } from "../io/gguf.js";
import type { SafetensorsFile } from "../io/safetensors.js";
import { createReferenceKernels } from "../reference/kernels.js";
import { Arena, createMemory, MAX_WASM_BYTES } from "../runtime/arena.js";
import { instantiateKernels, type Kernels, type KernelVariant, pickVariant, variantBytes } from "../runtime/kernels.js";
import { CONTROL_BYTES, type HelperHandle, type SpawnHelper, ThreadPool } from "../runtime/pool.js";
import type { Config } from "./config.js";
import { allocateRunState, kvCacheBytes, type KvCacheFormat, runStateBytes, Transformer } from "./transformer.js";
import { checkRopeFactors } from "./rope.js";
import { fillTensor, finishTensor, type Placement, planWeights, type SourceTensor, type TensorTable, type WeightSource, weightBytes } from "./weights.js";

export interface EngineOptions {
  /** Positions the KV cache holds (prompt + generated). Default: the model's context length, at most 2048. */
  readonly maxContext?: number;
  /** Tokens per forward() call during prefill. Default 64. */
  readonly maxBatch?: number;
  /** KV cache element format: "f32" (default) or "f16" (half the memory; keys and values rounded to half). */
  readonly kvCache?: KvCacheFormat;
  /**
   * "fast" (default): quantized matrices repacked into tiles and multiplied with activations quantized to int16
   * per block (llama.cpp quantizes them to int8; int16 keeps more precision at the same speed here). "exact": weights in the file's layout, dequantized in registers against f32 activations (the
   * path compared with HF transformers to 1e-2).
   */
  readonly precision?: "fast" | "exact";
  /** Expand all weight matrices to f32 at load (implies "exact"). Default false: weights stay as stored. */
  readonly expandToF32?: boolean;
  /** "wasm" (default) runs the SIMD kernels; "reference" runs the plain-TS twins (slow; for checking). */
  readonly kernels?: "wasm" | "reference";
  /** Which WASM build to use; default: the best this runtime validates. */
  readonly variant?: KernelVariant;
  /** A precompiled kernel module, for hosts that forbid compiling WASM at run time (Cloudflare Workers). */
  readonly wasmModule?: WebAssembly.Module;
  /**
   * Threads computing each forward pass (default 1). More than one needs `spawnHelper` (the Node entry point
   * provides worker_threads) and shared WebAssembly memory; results are bit-identical to one thread.
   */
  readonly threads?: number;
  /** Starts a helper thread; see src/node/threads.ts (Node) and src/runtime/helper-thread.ts. */
  readonly spawnHelper?: SpawnHelper;
  /**
   * Most WASM memory the model may take (default and at most 4 GiB, wasm32's limit): a host with a memory budget
   * (an edge isolate) learns at load, before anything is allocated, that the model does not fit.
   */
  readonly maxMemoryBytes?: number;
}

/** Every EngineOptions key, for callers that reject unknown option names. */
export const ENGINE_OPTION_KEYS: readonly string[] = [
  "maxContext", "maxBatch", "kvCache", "precision", "expandToF32", "kernels", "variant", "wasmModule", "threads", "spawnHelper", "maxMemoryBytes",
] satisfies (keyof EngineOptions)[];

/** Checks the value types of engine options that are not checked where they are used. */
function checkEngineOptions(options: EngineOptions): void {
  const fail = (field: string, expected: string, actual: unknown) => new InputError({ file: "engine options", field, expected, actual: show(actual) });
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw fail("options", "an options object (or nothing)", options);
  const oneOf = (field: keyof EngineOptions, values: readonly unknown[]) => {
    if (options[field] !== undefined && !values.includes(options[field])) throw fail(field, values.map((v) => JSON.stringify(v)).join(" or "), options[field]);
  };
  oneOf("kernels", ["wasm", "reference"]);
  oneOf("variant", ["simd", "relaxed", "simd-threads", "relaxed-threads"]);
  oneOf("precision", ["fast", "exact"]);
  oneOf("expandToF32", [true, false]);
  if (options.wasmModule !== undefined && !(options.wasmModule instanceof WebAssembly.Module)) throw fail("wasmModule", "a WebAssembly.Module", options.wasmModule);
  if (options.spawnHelper !== undefined && typeof options.spawnHelper !== "function") throw fail("spawnHelper", "a function", options.spawnHelper);
  const max = options.maxMemoryBytes;
  if (max !== undefined && !(Number.isSafeInteger(max) && max > 0 && max <= MAX_WASM_BYTES)) throw fail("maxMemoryBytes", `an integer in 1..${MAX_WASM_BYTES}`, max);
}

export const DEFAULT_MAX_CONTEXT = 2048;
export const DEFAULT_MAX_BATCH = 64;

export function ggufWeightSource(gguf: GgufFile, bytes: Uint8Array): WeightSource {
  const byName = new Map(gguf.tensors.map((t) => [t.name, t]));
  return {
    file: gguf.file,
    naming: "gguf",
    info: (name) => byName.get(name),
    get(name: string): SourceTensor | undefined {
      const t = byName.get(name);
      return t && { dtype: t.dtype, shape: t.shape, byteLength: t.byteLength, bytes: bytes.subarray(t.offset, t.offset + t.byteLength) };
    },
  };
}

/** One source over the shards of a (possibly sharded) safetensors checkpoint. */
export function safetensorsWeightSource(shards: readonly { parsed: SafetensorsFile; bytes: Uint8Array }[]): WeightSource {
  const byName = new Map<string, SourceTensor>();
  for (const { parsed, bytes } of shards) {
    for (const t of parsed.tensors) {
      if (byName.has(t.name)) throw new FormatError({ file: parsed.file, field: t.name, expected: "each tensor in one shard only", actual: "a duplicate" });
      byName.set(t.name, { dtype: t.dtype, shape: t.shape, byteLength: t.byteLength, bytes: bytes.subarray(t.offset, t.offset + t.byteLength) });
    }
  }
  return { file: shards.map((s) => s.parsed.file).join(", "), naming: "hf", info: (name) => byName.get(name), get: (name) => byName.get(name) };
}

export async function createTransformer(config: Config, source: WeightSource, options: EngineOptions = {}): Promise<Transformer> {
  const pending = await beginTransformer(config, source, options);
  for (const placement of pending.placements) {
    pending.fill(placement, source.get(placement.name)!.bytes, 0);
    pending.finish(placement);
  }
  return pending.complete();
}

/**
 * A transformer whose memory is planned and allocated but whose weights are still arriving: for each placement,
 * fill() its bytes (in one piece or in chunks, in any order), then finish() it; complete() once all are finished.
 * This is how a model streams in without the whole file ever being held in memory.
 */
export interface PendingTransformer {
  readonly placements: readonly Placement[];
  fill(placement: Placement, chunk: Uint8Array, offset: number): void;
  /** The bytes filled so far for a placement, as they arrived (before finish() rearranges them). */
  raw(placement: Placement, offset: number, length: number): Uint8Array;
  finish(placement: Placement): void;
  complete(): Promise<Transformer>;
}

export async function beginTransformer(config: Config, table: TensorTable, options: EngineOptions = {}): Promise<PendingTransformer> {
  checkEngineOptions(options);
  const maxContext = options.maxContext ?? Math.min(config.contextLength, DEFAULT_MAX_CONTEXT);
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isSafeInteger(maxContext) || maxContext < 1 || maxContext > config.contextLength) {
    throw new InputError({ file: "engine options", field: "maxContext", expected: `an integer in 1..${config.contextLength} (the model's context length)`, actual: String(maxContext) });
  }
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1 || maxBatch > 4096) {
    throw new InputError({ file: "engine options", field: "maxBatch", expected: "an integer in 1..4096", actual: String(maxBatch) });
  }
  if (config.headDim % 2 !== 0) throw new ConfigError({ field: "headDim", expected: "an even head size for RoPE", actual: String(config.headDim) });

  const kvCache = options.kvCache ?? "f32";
  if (kvCache !== "f32" && kvCache !== "f16") {
    throw new InputError({ file: "engine options", field: "kvCache", expected: '"f32" or "f16"', actual: String(kvCache) });
  }
  const threads = options.threads ?? 1;
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 64) {
    throw new InputError({ file: "engine options", field: "threads", expected: "an integer in 1..64", actual: String(threads) });
  }
  const threaded = threads > 1 && options.kernels !== "reference";
  if (threaded && options.spawnHelper === undefined) {
    throw new InputError({ file: "engine options", field: "spawnHelper", expected: "a helper-thread launcher when threads > 1 (use ffnskip/node, or run with threads: 1)", actual: "none" });
  }

  // Each helper's scratch holds attention scores or, for a file-layout prefill matmul, four dequantized rows.
  const helperScratchBytes = Math.max(config.numHeads * maxContext * 4, 16 * Math.max(config.hiddenSize, config.numHeads * config.headDim, config.ffnSize));
  const weightsBytes = weightBytes(config, table, options);
  const planned = weightsBytes + runStateBytes(config, maxContext, maxBatch, kvCache) + (threaded ? CONTROL_BYTES + 64 + (threads - 1) * (helperScratchBytes + 64) : 0);
  const lowMemory = 1 << 20; // room for the kernel module's own static data below heap_base
  const budget = options.maxMemoryBytes ?? MAX_WASM_BYTES;
  if (planned + lowMemory > budget) {
    const kvBytes = kvCacheBytes(config, maxContext, kvCache);
    throw new ResourceError({
      file: table.file, field: "WASM memory", expected: `at most ${budget} bytes (maxMemoryBytes)`,
      actual: `${planned + lowMemory} bytes needed: weights ${weightsBytes}, a ${kvCache} KV cache of ${maxContext} positions ${kvBytes}, activations and scratch ${planned + lowMemory - weightsBytes - kvBytes}`,
      detail: weightsBytes + lowMemory > budget
        ? "the weights alone exceed one 32-bit WebAssembly memory: this model does not run in ffnskip yet"
        : "a shorter maxContext (--max-context) or an f16 KV cache (--kv-cache f16) makes it fit",
    });
  }
  const memory = createMemory(planned + lowMemory, threaded);
  let kernels: Kernels;
  let module: WebAssembly.Module | undefined;
  let heapBase = lowMemory;
  if (options.kernels === "reference") {
    kernels = createReferenceKernels(memory);
  } else {
    // A host-compiled module (Workers) is used as given; otherwise take the best build this engine runs correctly.
    const variant = options.variant ?? (options.wasmModule !== undefined ? "simd" : await pickVariant(threaded));
    if (variant === null) {
      kernels = createReferenceKernels(memory);
    } else {
      module = options.wasmModule ?? (threaded ? await WebAssembly.compile(variantBytes(variant)) : undefined);
      const instance = await instantiateKernels(memory, variant, module);
      kernels = instance.kernels;
      heapBase = Math.max(instance.heapBase, 64);
    }
  }
  const arena = new Arena(memory, heapBase);
  arena.ensure(heapBase + planned, "model");
  const { weights, placements } = planWeights(config, table, arena, options);
  const state = allocateRunState(config, arena, maxContext, maxBatch, kvCache);
  const finished = new Set<Placement>();
  return {
    placements,
    fill: (placement, chunk, offset) => fillTensor(placement, arena, chunk, offset),
    raw: (placement, offset, length) => arena.u8(placement.dest + offset, length),
    finish(placement) {
      finishTensor(placement, arena, kernels, table.file);
      finished.add(placement);
    },
    async complete() {
      const missing = placements.find((p) => !finished.has(p));
      if (missing !== undefined) throw new FormatError({ file: table.file, field: missing.name, expected: "all of this tensor's bytes", actual: "the data ended before it" });
      let pool: ThreadPool | null = null;
      if (threaded && module !== undefined) {
        const control = arena.alloc(CONTROL_BYTES, "thread control block");
        const helpers: HelperHandle[] = [];
        for (let part = 1; part < threads; part++) {
          helpers.push(options.spawnHelper!({ memory, module, control, part, scores: arena.alloc(helperScratchBytes, `scratch, thread ${part}`) }));
        }
        try {
          await Promise.all(helpers.map((helper) => helper.ready));
        } catch (error) {
          for (const helper of helpers) helper.terminate();
          throw error;
        }
        pool = new ThreadPool(memory, kernels, control, helpers, state.scores, state.scratch);
      }
      if (weights.ropeFactors !== null) checkRopeFactors(config, arena.f32(weights.ropeFactors, config.headDim / 2), table.file);
      return new Transformer(config, weights, state, kernels, arena, pool);
    },
  };
}
