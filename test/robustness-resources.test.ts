// Resources: sizes a file claims are checked against what it holds before anything is allocated; a model that
// really is too big for wasm32 fails at load with a ResourceError stating the bytes needed, before allocating; a
// failing memory.grow is a ResourceError, not a crash; absurd counts in file headers are refused without allocating.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { FormatError, InputError, ResourceError, loadModel } from "../src/index.js";
import { type GgufMetadataEntry, ggufArray, writeGguf } from "../src/io/gguf-writer.js";
import { readGguf } from "../src/io/gguf.js";
import { readSafetensors } from "../src/io/safetensors.js";
import { Arena, MAX_WASM_BYTES } from "../src/runtime/arena.js";
import { hfTokenizerFilesFromGguf } from "../src/text/tokenizer-gguf.js";
import { tinyLlamaFolderFiles } from "./fixtures/tiny-llama.js";
import { tinyGgufWithTokenizer } from "./fuzz/seeds.js";

const MiB = 1 << 20;

/** Runs `fn` while recording the largest WebAssembly.Memory created or grown to (restored afterwards). */
async function largestWasmMemory(fn: () => Promise<unknown>): Promise<{ error: unknown; largest: number }> {
  const Memory = WebAssembly.Memory;
  const grow = Memory.prototype.grow;
  let largest = 0;
  const proxy: typeof WebAssembly.Memory = new Proxy(Memory, {
    construct(target, args, newTarget) {
      largest = Math.max(largest, Number((args[0] as WebAssembly.MemoryDescriptor).initial) * 65536);
      return Reflect.construct(target, args, newTarget === proxy ? target : newTarget);
    },
  });
  (WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = proxy;
  Memory.prototype.grow = function (this: WebAssembly.Memory, pages: number) {
    largest = Math.max(largest, this.buffer.byteLength + pages * 65536);
    return grow.call(this, pages);
  };
  try {
    await fn();
    return { error: undefined, largest };
  } catch (error) {
    return { error, largest };
  } finally {
    (WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = Memory;
    Memory.prototype.grow = grow;
  }
}

const TINY_GGUF = tinyGgufWithTokenizer("Q4_0");
const TINY_TOKENIZER = hfTokenizerFilesFromGguf(readGguf(TINY_GGUF)).get("tokenizer.json")!;

function tinyFolder(configChanges: Record<string, unknown>) {
  const { files } = tinyLlamaFolderFiles();
  const config = { ...JSON.parse(new TextDecoder().decode(files.get("config.json"))), ...configChanges };
  return { name: "tiny", config, safetensors: files.get("model.safetensors")!, tokenizer: TINY_TOKENIZER };
}

/** The tiny GGUF with some llama.* metadata replaced. */
function tinyGgufWith(changes: Record<string, number>): Uint8Array {
  const gguf = readGguf(TINY_GGUF);
  const metadata = [...gguf.metadata].map(([key, value]): GgufMetadataEntry => {
    const type = gguf.metadataTypes.get(key)!;
    if (Array.isArray(value)) return [key, type, ggufArray(key === "tokenizer.ggml.token_type" ? "INT32" : "STRING", value as (string | number)[])];
    return [key, type, changes[key] ?? (value as string | number | boolean)];
  });
  const tensors = gguf.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: TINY_GGUF.subarray(t.offset, t.offset + t.byteLength) }));
  return writeGguf({ version: 3, metadata, tensors });
}

test("a GGUF whose metadata claims huge dims but whose tensors are tiny: FormatError on a tensor's shape, nothing allocated", async () => {
  const bytes = tinyGgufWith({ "llama.embedding_length": 65536, "llama.rope.dimension_count": 16384, "llama.feed_forward_length": 1 << 20, "llama.context_length": 1 << 20 });
  const { error, largest } = await largestWasmMemory(() => loadModel(bytes, { maxContext: 1 << 16 }));
  assert.instance(error, FormatError, String(error));
  assert.match((error as FormatError).message, /token_embd\.weight: expected shape \[256, 65536\] from the config, got \[256, 64\]/);
  assert.is(largest, 0, "no WASM memory was created");
});

test("an HF config claiming huge dims over tiny tensors: FormatError on shapes, nothing allocated", async () => {
  const { error, largest } = await largestWasmMemory(() => loadModel(tinyFolder({ hidden_size: 65536, intermediate_size: 1 << 20, head_dim: 16 })));
  assert.instance(error, FormatError, String(error));
  assert.match((error as FormatError).message, /model\.embed_tokens\.weight: expected shape \[256, 65536\]/);
  assert.is(largest, 0);
});

test("a consistent model whose weights + KV cache exceed 4 GiB: ResourceError stating the bytes needed, before allocating", async () => {
  // The tiny model's KV cache takes 2 layers x 2 x 32 floats = 512 bytes per position: 2^23 positions are 4 GiB.
  for (const maxContext of [(1 << 23) + 1, 1 << 25]) {
    const source = tinyFolder({ max_position_embeddings: 1 << 30 });
    const { error, largest } = await largestWasmMemory(() => loadModel(source, { maxContext }));
    assert.instance(error, ResourceError, String(error));
    const needed = Number(/(\d+) bytes needed/.exec((error as ResourceError).message)?.[1]);
    assert.ok(needed > MAX_WASM_BYTES && needed >= maxContext * 512, `${(error as Error).message} states the bytes needed`);
    // The KV cache is what overflows here: the message gives its size and the two ways to shrink it.
    assert.match((error as Error).message, new RegExp(`a f32 KV cache of ${maxContext} positions ${maxContext * 512}\\b`));
    assert.match((error as Error).message, /--max-context.*--kv-cache f16/);
    assert.ok(largest < 64 * MiB, `largest WASM memory requested: ${largest} bytes`);
  }
  // Weights that alone exceed the memory (a budget below the tiny model's weights stands in for a 13B model).
  const small = await largestWasmMemory(() => loadModel(tinyFolder({}), { maxContext: 16, maxMemoryBytes: 1 << 20 }));
  assert.instance(small.error, ResourceError, String(small.error));
  assert.match((small.error as Error).message, /the weights alone exceed one 32-bit WebAssembly memory/);
  // The same model through GGUF metadata.
  const { error } = await largestWasmMemory(() => loadModel(tinyGgufWith({ "llama.context_length": 1 << 30 }), { maxContext: 1 << 24 }));
  assert.instance(error, ResourceError, String(error));
});

test("memory.grow failing (a memory with a small maximum) is a ResourceError naming the buffer, and the arena stays usable", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  const arena = new Arena(memory, 64);
  const small = arena.alloc(1000, "small");
  assert.ok(small >= 64);
  try {
    arena.alloc(4 * 65536, "KV cache");
    assert.unreachable("grow beyond the maximum must fail");
  } catch (error) {
    assert.instance(error, ResourceError);
    const e = error as ResourceError;
    assert.is(e.field, "KV cache");
    assert.match(e.expected ?? "", /WASM memory to grow to \d+ bytes/);
    assert.ok((e.actual ?? "").length > 0);
  }
  // Nothing was reserved by the failed call: what fits still fits.
  const next = arena.alloc(30_000, "after");
  assert.is(next, alignUp(small + 1000, 64));
  assert.is(memory.buffer.byteLength, 65536);
  // Beyond the wasm32 address space: refused before trying to grow.
  assert.throws(() => arena.alloc(MAX_WASM_BYTES, "huge"), (e: unknown) => e instanceof ResourceError && /\d+ bytes needed/.test((e as Error).message));
});

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

test("counts and lengths of 2^40 in file headers are refused before allocating anything", () => {
  const huge = 2n ** 40n;
  const u64 = (v: bigint) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, v, true); return b; };
  const concat = (...parts: Uint8Array[]) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0; for (const p of parts) { out.set(p, at); at += p.length; } return out; };
  const magic = Uint8Array.of(0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0);
  const key = (text: string) => concat(u64(BigInt(text.length)), new TextEncoder().encode(text));
  const cases: [string, Uint8Array][] = [
    ["tensor_count", concat(magic, u64(huge), u64(0n))],
    ["kv_count", concat(magic, u64(0n), u64(huge))],
    ["key length", concat(magic, u64(0n), u64(1n), u64(huge), new Uint8Array(16))],
    ["string length", concat(magic, u64(0n), u64(1n), key("k"), Uint8Array.of(8, 0, 0, 0), u64(huge), new Uint8Array(16))],
    ["array count", concat(magic, u64(0n), u64(1n), key("k"), Uint8Array.of(9, 0, 0, 0), Uint8Array.of(4, 0, 0, 0), u64(huge), new Uint8Array(16))],
  ];
  for (const [what, bytes] of cases) {
    const start = performance.now();
    assert.throws(() => readGguf(bytes), (e: unknown) => e instanceof FormatError, what);
    assert.ok(performance.now() - start < 100, `${what} refused quickly`);
  }
  const header = concat(u64(huge), new TextEncoder().encode("{}"));
  assert.throws(() => readSafetensors(header), (e: unknown) => e instanceof FormatError && /header length/.test((e as Error).message));
});

test("a model over the host's maxMemoryBytes budget is a ResourceError stating both numbers, before allocating", async () => {
  const bytes = tinyGgufWithTokenizer("Q4_1");
  const fits = await loadModel(bytes, { maxContext: 16, maxBatch: 1 });
  const needed = fits.transformer.arena.memory.buffer.byteLength;
  await loadModel(bytes, { maxContext: 16, maxBatch: 1, maxMemoryBytes: 1 << 20 }).then(
    () => assert.unreachable("should not fit in 1 MiB"),
    (error) => {
      assert.instance(error, ResourceError);
      assert.match((error as Error).message, /at most 1048576 bytes \(maxMemoryBytes\)/);
      assert.match((error as Error).message, /bytes needed/);
    },
  );
  const roomy = await loadModel(bytes, { maxContext: 16, maxBatch: 1, maxMemoryBytes: needed + (1 << 20) });
  assert.is(roomy.config.numLayers, 2);
});

test("load options: unknown keys and wrongly typed values are InputErrors naming the option", async () => {
  const bytes = tinyGgufWithTokenizer("Q8_0");
  const bad: [object | null, string][] = [
    [null, "options"], [{ maxcontext: 16 }, "maxcontext"], [{ precision: "turbo" }, "precision"], [{ kernels: "gpu" }, "kernels"],
    [{ variant: "bogus" }, "variant"], [{ expandToF32: "yes" }, "expandToF32"], [{ wasmModule: {} }, "wasmModule"],
    [{ spawnHelper: 3 }, "spawnHelper"], [{ maxMemoryBytes: -1 }, "maxMemoryBytes"], [{ maxMemoryBytes: 2 ** 40 }, "maxMemoryBytes"],
  ];
  for (const [options, field] of bad) {
    await loadModel(bytes, options as object).then(
      () => assert.unreachable(`${JSON.stringify(options)} should be refused`),
      (error) => {
        assert.instance(error, InputError, `${JSON.stringify(options)}: ${String(error)}`);
        assert.is((error as InputError).field, field);
      },
    );
  }
});

test.run();
