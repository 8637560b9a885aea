// From parsed files to a runnable Transformer: wraps GGUF or safetensors tensors as a WeightSource, plans WASM
// memory for weights + KV cache + activations, instantiates the kernels and copies the weights in.

import { ConfigError, FormatError, InputError } from "../errors.js";
import type { GgufFile } from "../io/gguf.js";
import type { SafetensorsFile } from "../io/safetensors.js";
import { createReferenceKernels } from "../reference/kernels.js";
import { Arena, createMemory } from "../runtime/arena.js";
import { instantiateKernels, type Kernels, type KernelVariant, pickVariant } from "../runtime/kernels.js";
import type { Config } from "./config.js";
import { allocateRunState, runStateBytes, Transformer } from "./transformer.js";
import { loadWeights, type SourceTensor, type WeightSource, weightBytes } from "./weights.js";

export interface EngineOptions {
  /** Positions the KV cache holds (prompt + generated). Default: the model's context length, at most 2048. */
  readonly maxContext?: number;
  /** Tokens per forward() call during prefill. Default 64. */
  readonly maxBatch?: number;
  /**
   * "fast" (default): quantized matrices repacked into tiles and multiplied with int8-quantized activations, as
   * llama.cpp does. "exact": weights in the file's layout, dequantized in registers against f32 activations (the
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
}

export const DEFAULT_MAX_CONTEXT = 2048;
export const DEFAULT_MAX_BATCH = 64;

export function ggufWeightSource(gguf: GgufFile, bytes: Uint8Array): WeightSource {
  const byName = new Map(gguf.tensors.map((t) => [t.name, t]));
  return {
    file: gguf.file,
    naming: "gguf",
    get(name: string): SourceTensor | undefined {
      const t = byName.get(name);
      return t && { dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(t.offset, t.offset + t.byteLength) };
    },
  };
}

/** One source over the shards of a (possibly sharded) safetensors checkpoint. */
export function safetensorsWeightSource(shards: readonly { parsed: SafetensorsFile; bytes: Uint8Array }[]): WeightSource {
  const byName = new Map<string, SourceTensor>();
  for (const { parsed, bytes } of shards) {
    for (const t of parsed.tensors) {
      if (byName.has(t.name)) throw new FormatError({ file: parsed.file, field: t.name, expected: "each tensor in one shard only", actual: "a duplicate" });
      byName.set(t.name, { dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(t.offset, t.offset + t.byteLength) });
    }
  }
  return { file: shards.map((s) => s.parsed.file).join(", "), naming: "hf", get: (name) => byName.get(name) };
}

export async function createTransformer(config: Config, source: WeightSource, options: EngineOptions = {}): Promise<Transformer> {
  const maxContext = options.maxContext ?? Math.min(config.contextLength, DEFAULT_MAX_CONTEXT);
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isSafeInteger(maxContext) || maxContext < 1 || maxContext > config.contextLength) {
    throw new InputError({ file: "engine options", field: "maxContext", expected: `an integer in 1..${config.contextLength} (the model's context length)`, actual: String(maxContext) });
  }
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1 || maxBatch > 4096) {
    throw new InputError({ file: "engine options", field: "maxBatch", expected: "an integer in 1..4096", actual: String(maxBatch) });
  }
  if (config.headDim % 2 !== 0) throw new ConfigError({ field: "headDim", expected: "an even head size for RoPE", actual: String(config.headDim) });

  const planned = weightBytes(config, source, options) + runStateBytes(config, maxContext, maxBatch);
  const lowMemory = 1 << 20; // room for the kernel module's own static data below heap_base
  const memory = createMemory(planned + lowMemory, false);
  let kernels: Kernels;
  let heapBase = lowMemory;
  if (options.kernels === "reference") {
    kernels = createReferenceKernels(memory);
  } else {
    // A host-compiled module (Workers) is used as given; otherwise take the best build this engine runs correctly.
    const variant = options.variant ?? (options.wasmModule !== undefined ? "simd" : await pickVariant(false));
    if (variant === null) {
      kernels = createReferenceKernels(memory);
    } else {
      const instance = await instantiateKernels(memory, variant, options.wasmModule);
      kernels = instance.kernels;
      heapBase = Math.max(instance.heapBase, 64);
    }
  }
  const arena = new Arena(memory, heapBase);
  arena.ensure(heapBase + planned, "model");
  const weights = loadWeights(config, source, arena, kernels, options);
  const state = allocateRunState(config, arena, maxContext, maxBatch);
  return new Transformer(config, weights, state, kernels, arena);
}
