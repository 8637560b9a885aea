// Malformed quantized blocks, for every block type the engine reads (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the K-quants
// Q2_K..Q6_K, from the fuzz seeds of test/fuzz/seeds.ts): each damage is a typed error naming the tensor and the
// field, at load, never a crash, an out-of-bounds read or output computed from the damage.
//   - the file cut inside one of the tensor's blocks (a truncated super-block);
//   - a row length that is not whole blocks (a Q4_K tensor of 300 columns), or a type whose rows do not fit it;
//   - an Inf or NaN f16 scale (d, dmin, m) in one block.
// The fuzz campaign (test/fuzz/mutate-gguf.ts "block-damage") makes the same edits at random.

import { suite } from "uvu";
import * as assert from "uvu/assert";
import { FormatError, type FfnskipError, loadModel } from "../src/index.js";
import { DTYPES } from "../src/io/dtype.js";
import { readGguf, GGML_TYPE_ID, type GgufTensor } from "../src/io/gguf.js";
import { ggufLayout } from "./fuzz/gguf-layout.js";
import { type SeedName, Seeds } from "./fuzz/seeds.js";

const seeds = new Seeds();
const SEED_OF: Readonly<Record<string, SeedName>> = {
  Q8_0: "gguf-tiny-Q8_0", Q4_0: "gguf-tiny-Q4_0", Q4_1: "gguf-tiny-Q4_1", Q5_0: "gguf-tiny-Q5_0", Q5_1: "gguf-tiny-Q5_1",
  Q2_K: "gguf-tiny-kquant", Q3_K: "gguf-tiny-kquant", Q4_K: "gguf-tiny-kquant", Q5_K: "gguf-tiny-kquant", Q6_K: "gguf-tiny-kquant",
};
const test = suite("malformed quantized blocks");

/** Loads and runs two tokens; returns the typed error, or fails the test if the file loads or throws anything else. */
async function typedError(bytes: Uint8Array, what: string): Promise<FfnskipError> {
  try {
    const model = await loadModel({ gguf: bytes, name: "damaged.gguf" }, { maxContext: 16 });
    const result = await model.generate("hello", { maxTokens: 2 }).result;
    assert.unreachable(`${what}: loaded and generated ${JSON.stringify(result.tokens)}`);
  } catch (error) {
    if (error instanceof Error && error.name === "Assertion") throw error;
    assert.instance(error, FormatError, `${what}: ${String(error)}`);
    return error as FfnskipError;
  }
  throw new Error("unreachable");
}

/** A matrix of `dtype` in its seed, not the last in the file (so that data follows it). */
function victim(dtype: string): { seed: Uint8Array; tensor: GgufTensor } {
  const seed = seeds.bytes(SEED_OF[dtype]!);
  const tensors = readGguf(seed).tensors;
  const tensor = tensors.find((t, i) => t.dtype === dtype && t.shape.length === 2 && i < tensors.length - 1);
  assert.ok(tensor !== undefined, `${dtype}: the seed has a ${dtype} matrix`);
  return { seed, tensor: tensor! };
}

for (const dtype of Object.keys(SEED_OF)) {
  const { blockValues, blockBytes, halfScales } = DTYPES[dtype as keyof typeof DTYPES];

  test(`${dtype}: the seed loads and runs undamaged`, async () => {
    const model = await loadModel({ gguf: victim(dtype).seed, name: "seed.gguf" }, { maxContext: 16 });
    assert.is((await model.generate("hello", { maxTokens: 2 }).result).tokens.length, 2);
  });

  test(`${dtype}: the file cut inside a block of the tensor: FormatError naming it`, async () => {
    const { seed, tensor } = victim(dtype);
    for (const cut of [tensor.offset + blockBytes - 1, tensor.offset + tensor.byteLength - Math.floor(blockBytes / 2), tensor.offset + tensor.byteLength - 1]) {
      const error = await typedError(seed.slice(0, cut), `${tensor.name} cut at ${cut - tensor.offset}`);
      // A file shorter than the tensor itself may as well have wrong dims: either way, this tensor is named.
      if (error.field === `${tensor.name}.dims`) assert.ok(cut < tensor.byteLength, error.message);
      else assert.is(error.field, `${tensor.name}.offset`, error.message);
      assert.match(error.message, /truncated\?|no larger than the file/);
    }
  });

  test(`${dtype}: rows that are not whole blocks, or another type over the same bytes: FormatError naming the tensor`, async () => {
    const { seed, tensor } = victim(dtype);
    const layout = ggufLayout(seed);
    const field = (kind: string) => layout.fields.find((f) => f.kind === kind && f.owner === tensor.name)!;
    for (const cols of [300, blockValues + 16, blockValues / 2]) {
      const bytes = seed.slice();
      new DataView(bytes.buffer).setBigUint64(field("dim").at, BigInt(cols), true);
      const error = await typedError(bytes, `${tensor.name} with ${cols} columns`);
      assert.is(error.field, `${tensor.name}.dims[0]`, error.message);
      assert.match(error.message, new RegExp(`expected a multiple of ${blockValues} for ${dtype}, got ${cols}`));
    }
    // Twice the columns: the data would run into the next tensor's.
    const wider = seed.slice();
    new DataView(wider.buffer).setBigUint64(field("dim").at, BigInt(2 * tensor.shape[1]!), true);
    assert.match((await typedError(wider, `${tensor.name} twice as wide`)).message, new RegExp(`after ${tensor.name.replaceAll(".", "\\.")} ends at \\d+, got overlapping data`));
    // A K-quant type on 64-column rows, or a larger block type than the one written.
    const other = tensor.shape[1]! % 256 !== 0 ? "Q4_K" : dtype === "Q6_K" ? "Q8_0" : "Q6_K";
    const retyped = seed.slice();
    new DataView(retyped.buffer).setUint32(field("ggml_type").at, GGML_TYPE_ID[other as keyof typeof GGML_TYPE_ID], true);
    const error = await typedError(retyped, `${tensor.name} as ${other}`);
    assert.ok(error.field === `${tensor.name}.dims[0]` || /overlapping data/.test(error.message), error.message);
  });

  for (const [scale, offset] of halfScales) {
    test(`${dtype}: an Inf or NaN ${scale} in one block: FormatError naming the tensor, block and scale`, async () => {
      const { seed, tensor } = victim(dtype);
      const blocks = tensor.byteLength / blockBytes;
      const block = Math.floor(blocks / 2) + 1;
      const row = Math.floor(block / (tensor.shape[1]! / blockValues));
      for (const bits of [0x7c00, 0xfc00, 0x7e00, 0xffff]) {
        const bytes = seed.slice();
        new DataView(bytes.buffer).setUint16(tensor.offset + block * blockBytes + offset, bits, true);
        const error = await typedError(bytes, `${tensor.name} block ${block} ${scale} = 0x${bits.toString(16)}`);
        assert.ok(error.field?.startsWith(`${tensor.name} block ${block} (row ${row}, `) && error.field.endsWith(` ${scale}`), error.message);
        assert.match(error.message, (bits & 0x3ff) === 0 ? /infinite/ : /NaN/);
      }
    });
  }
}

test("a finite but huge or subnormal scale is valid data: the file loads and gives finite logits", async () => {
  const { seed, tensor } = victim("Q4_K");
  for (const bits of [0x7bff, 0x0001, 0x8000]) {
    const bytes = seed.slice();
    new DataView(bytes.buffer).setUint16(tensor.offset + blockBytesOf("Q4_K"), bits, true);
    const model = await loadModel({ gguf: bytes, name: "scaled.gguf" }, { maxContext: 16 });
    assert.is((await model.generate("hello", { maxTokens: 2 }).result).tokens.length, 2);
  }
});

function blockBytesOf(dtype: keyof typeof DTYPES): number {
  return DTYPES[dtype].blockBytes;
}

test.run();
