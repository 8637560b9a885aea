// GGUFs with random weights at the exact shapes of LLaMa-2 7B and 13B (their weights are not reachable here; decode
// speed does not depend on the values), plus a `tiny` shape with the same structure for tests:
//   node --import tsx bench/shapes/make-gguf.ts --shape 7b|13b|tiny --type Q4_0|Q4_K --out FILE [--seed N]
// The file is streamed to disk one tensor at a time (src/io/gguf-writer.ts streamGguf): 7B is 3.79 GB, 13B 7.32 GB.
//
// What is in it, as llama.cpp's convert + quantize would write it:
//   - llama.* metadata of LLaMa-2 (context 4096, RoPE base 10000, RMS eps 1e-5, heads = KV heads, head dim 128);
//   - every matrix in the one --type ("pure", as llama-quantize --pure; its default Q4_0 mix would make output.weight
//     Q6_K), norms F32, an untied output.weight; tensor names and [rows, cols] shapes as in LLaMa-2 GGUFs;
//   - a SentencePiece ("llama") vocabulary of the model's size laid out like LLaMa-2's: <unk>, <s>, </s>, the 256
//     byte tokens <0x00>..<0xFF>, then made-up pieces (single characters, then pairs, then triples) with falling
//     scores, so both our tokenizer and llama.cpp's load it and every text encodes.
// Random quants are random bytes except each block's f16 scales, which are drawn so weights have a standard deviation
// near 1/sqrt(cols) (outputs O(1) for O(1) inputs): random bytes there would include infinities and NaNs, which
// the loader rightly refuses, and denormals.
// Q4_K needs rows of whole 256-value super-blocks. LLaMa-2's widths are all multiples of 256 (4096 = 16 x 256,
// 11008 = 43 x 256, 5120 = 20 x 256, 13824 = 54 x 256), so no tensor falls back; a shape whose rows are not gets
// llama.cpp's fallback for such rows (llama-quant.cpp: Q4_K -> Q5_0), as a real Q4_K file would.

import { open } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { InputError } from "../../src/errors.js";
import { type DType, DTYPES } from "../../src/io/dtype.js";
import { ggufArray, type GgufMetadataEntry, type GgufStreamTensor, type GgufWriteInput, streamGguf } from "../../src/io/gguf-writer.js";
import { f32ToF16 } from "../../src/reference/quant.js";
import { describeFlags, type FlagSpecs, parseArgs } from "../../src/cli/args.js";

export interface LlamaShape {
  readonly name: string;
  readonly hidden: number;
  readonly layers: number;
  readonly ffn: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly context: number;
}

/** LLaMa-2's published configs (config.json of meta-llama/Llama-2-7b-hf and -13b-hf), and a tiny twin. */
export const SHAPES: Readonly<Record<"7b" | "13b" | "tiny", LlamaShape>> = {
  "7b": { name: "LLaMa-2-7B", hidden: 4096, layers: 32, ffn: 11008, heads: 32, kvHeads: 32, vocab: 32000, context: 4096 },
  "13b": { name: "LLaMa-2-13B", hidden: 5120, layers: 40, ffn: 13824, heads: 40, kvHeads: 40, vocab: 32000, context: 4096 },
  // Widths of whole super-blocks, FFN an odd multiple of 256 like 11008 = 43 x 256; 4 heads of 64.
  tiny: { name: "tiny LLaMa-2-like", hidden: 256, layers: 2, ffn: 768, heads: 4, kvHeads: 4, vocab: 512, context: 256 },
};

export type ShapeType = "Q4_0" | "Q4_K";
const TYPES: readonly ShapeType[] = ["Q4_0", "Q4_K"];
/** llama.cpp's general.file_type: MOSTLY_Q4_0 = 2, MOSTLY_Q4_K_S = 14 (the closest label for all-Q4_K matrices). */
const FILE_TYPE: Readonly<Record<ShapeType, number>> = { Q4_0: 2, Q4_K: 14 };
/** llama-quant.cpp's type for rows that are not whole super-blocks. */
const ROW_FALLBACK: Partial<Record<DType, DType>> = { Q4_K: "Q5_0" };

/**
 * How random blocks are made sane, per type: each f16 scale as a multiple of the weights' target standard deviation
 * s, for uniformly random quants; and bytes to mask. Q4_0 d * (q - 8) has std 4.6 d; Q5_0 d * (q - 16) 9.2 d.
 * Q4_K d * sc * q - dmin * m: with the 6-bit sub-block scales and mins masked to 0..15 (the low nibbles of bytes
 * 4..11, the packing of ggml's get_scale_min_k4), std 63.5 d, and dmin = 7.5 d centres it; with the full 0..63 the
 * d needed at 11008 columns (std 0.0095) would be an f16 denormal.
 */
const RANDOM_BLOCKS: Partial<Record<DType, { readonly scalesPerStd: readonly number[]; readonly masks?: readonly (readonly [offset: number, mask: number])[] }>> = {
  Q4_0: { scalesPerStd: [1 / 4.6] },
  Q5_0: { scalesPerStd: [1 / 9.2] },
  Q4_K: { scalesPerStd: [1 / 63.5, 7.5 / 63.5], masks: Array.from({ length: 8 }, (_, i) => [4 + i, 0x0f] as const) },
};

const BYTE_TOKENS = 256;
const SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"];
const SPM_SPACE = "\u2581";
// llama.cpp token types
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const BYTE = 6;

/**
 * A LLaMa-2-style SentencePiece vocabulary of `size` tokens: specials, byte tokens, then pieces by length (single
 * printable characters and the space marker, then marker/letter + letter pairs, then those + a letter), each piece
 * scored below the one before, as SentencePiece orders pieces by score.
 */
export function llamaVocabulary(size: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = [...SPECIAL_TOKENS];
  const types = [UNKNOWN, CONTROL, CONTROL];
  for (let b = 0; b < BYTE_TOKENS; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(BYTE);
  }
  const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
  const capitals = letters.map((l) => l.toUpperCase());
  const singles = [SPM_SPACE, ...Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i))];
  const pairs = [SPM_SPACE, ...letters, ...capitals].flatMap((left) => letters.map((right) => left + right));
  const triples = pairs.flatMap((left) => letters.map((right) => left + right));
  const pieces = [...singles, ...pairs, ...triples];
  const wanted = size - tokens.length;
  if (wanted < singles.length || wanted > pieces.length) {
    throw new InputError({ file: "bench/shapes", field: "vocab", expected: `${tokens.length + singles.length}..${tokens.length + pieces.length} tokens`, actual: String(size) });
  }
  for (const piece of pieces.slice(0, wanted)) {
    tokens.push(piece);
    types.push(NORMAL);
  }
  const scores = tokens.map((_, id) => (id < SPECIAL_TOKENS.length + BYTE_TOKENS ? 0 : -(id - SPECIAL_TOKENS.length - BYTE_TOKENS)));
  return { tokens, scores, types };
}

/** xorshift32 words: fast enough to fill gigabytes, and the same bytes for the same seed. */
function fillRandom(bytes: Uint8Array, seed: number): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
}

/** A seed per tensor, so each tensor's bytes do not depend on the others'. */
function tensorSeed(seed: number, index: number): number {
  return Math.imul((seed ^ 0x5bd1e995) >>> 0, 0x01000193) ^ Math.imul(index + 1, 0x9e3779b1);
}

/**
 * `rows` x `cols` random blocks of `dtype`: random bytes, masked as RANDOM_BLOCKS says, then every block's f16
 * scales set to its multiples of std 1/sqrt(cols), times a factor in [0.75, 1.25) picked by a random byte of the block.
 */
export function randomQuantRows(dtype: DType, rows: number, cols: number, seed: number): Uint8Array {
  const { blockValues, blockBytes, halfScales } = DTYPES[dtype];
  const recipe = RANDOM_BLOCKS[dtype];
  if (recipe === undefined || recipe.scalesPerStd.length !== halfScales.length) {
    throw new InputError({ file: "bench/shapes", field: "dtype", expected: `one of ${Object.keys(RANDOM_BLOCKS).join(", ")}`, actual: dtype });
  }
  const masks = recipe.masks ?? [];
  const blocks = (rows * cols) / blockValues;
  const bytes = new Uint8Array(Math.ceil((blocks * blockBytes) / 4) * 4).subarray(0, blocks * blockBytes);
  fillRandom(bytes, seed);
  const std = 1 / Math.sqrt(cols);
  // 256 f16 bit patterns per scale, indexed by the block's last byte (random quant bits, never a scale).
  const tables = recipe.scalesPerStd.map((k) => Uint16Array.from({ length: 256 }, (_, i) => f32ToF16(k * std * (0.75 + i / 512))));
  const pick = blockBytes - 1;
  for (let at = 0; at < bytes.length; at += blockBytes) {
    const i = bytes[at + pick]!;
    for (const [offset, mask] of masks) bytes[at + offset]! &= mask;
    for (let s = 0; s < halfScales.length; s++) {
      const bits = tables[s]![i]!;
      const p = at + halfScales[s]![1];
      bytes[p] = bits & 0xff;
      bytes[p + 1] = bits >>> 8;
    }
  }
  return bytes;
}

/** Norm weights near 1 (F32). */
function normVector(size: number, seed: number): Uint8Array {
  const noise = new Uint8Array(size);
  fillRandom(noise, seed);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = 0.9 + noise[i]! / 1280;
  return new Uint8Array(values.buffer);
}

/** The type a `cols`-wide matrix gets under `dtype`: itself, or llama.cpp's fallback when rows are not whole blocks. */
export function matrixType(dtype: DType, cols: number): DType {
  if (cols % DTYPES[dtype].blockValues === 0) return dtype;
  const fallback = ROW_FALLBACK[dtype];
  if (fallback !== undefined && cols % DTYPES[fallback].blockValues === 0) return fallback;
  throw new InputError({ file: "bench/shapes", field: "cols", expected: `a multiple of ${DTYPES[dtype].blockValues} for ${dtype}`, actual: String(cols) });
}

/** Metadata and (lazily made) tensors of a random-weight LLaMa-2-shaped GGUF. */
export function llamaShapeGguf(shape: LlamaShape, type: ShapeType, seed = 1): GgufWriteInput<GgufStreamTensor> {
  const headDim = shape.hidden / shape.heads;
  const vocab = llamaVocabulary(shape.vocab);
  const metadata: GgufMetadataEntry[] = [
    ["general.architecture", "STRING", "llama"],
    ["general.name", "STRING", `${shape.name} shape, random ${type} weights (bench/shapes/make-gguf.ts, seed ${seed})`],
    ["general.file_type", "UINT32", FILE_TYPE[type]],
    ["general.quantization_version", "UINT32", 2],
    ["llama.context_length", "UINT32", shape.context],
    ["llama.embedding_length", "UINT32", shape.hidden],
    ["llama.block_count", "UINT32", shape.layers],
    ["llama.feed_forward_length", "UINT32", shape.ffn],
    ["llama.rope.dimension_count", "UINT32", headDim],
    ["llama.attention.head_count", "UINT32", shape.heads],
    ["llama.attention.head_count_kv", "UINT32", shape.kvHeads],
    ["llama.attention.layer_norm_rms_epsilon", "FLOAT32", 1e-5],
    ["llama.rope.freq_base", "FLOAT32", 10000],
    ["tokenizer.ggml.model", "STRING", "llama"],
    ["tokenizer.ggml.tokens", "ARRAY", ggufArray("STRING", vocab.tokens)],
    ["tokenizer.ggml.scores", "ARRAY", ggufArray("FLOAT32", vocab.scores)],
    ["tokenizer.ggml.token_type", "ARRAY", ggufArray("INT32", vocab.types)],
    ["tokenizer.ggml.bos_token_id", "UINT32", 1],
    ["tokenizer.ggml.eos_token_id", "UINT32", 2],
    ["tokenizer.ggml.unknown_token_id", "UINT32", 0],
    ["tokenizer.ggml.add_bos_token", "BOOL", true],
    ["tokenizer.ggml.add_eos_token", "BOOL", false],
  ];
  const tensors: GgufStreamTensor[] = [];
  const matrix = (name: string, rows: number, cols: number): void => {
    const dtype = matrixType(type, cols);
    const index = tensors.length;
    tensors.push({ name, dtype, shape: [rows, cols], data: () => randomQuantRows(dtype, rows, cols, tensorSeed(seed, index)) });
  };
  const norm = (name: string): void => {
    const index = tensors.length;
    tensors.push({ name, dtype: "F32", shape: [shape.hidden], data: () => normVector(shape.hidden, tensorSeed(seed, index)) });
  };
  const kvWidth = shape.kvHeads * headDim;
  matrix("token_embd.weight", shape.vocab, shape.hidden);
  for (let l = 0; l < shape.layers; l++) {
    const p = `blk.${l}.`;
    norm(`${p}attn_norm.weight`);
    matrix(`${p}attn_q.weight`, shape.hidden, shape.hidden);
    matrix(`${p}attn_k.weight`, kvWidth, shape.hidden);
    matrix(`${p}attn_v.weight`, kvWidth, shape.hidden);
    matrix(`${p}attn_output.weight`, shape.hidden, shape.hidden);
    norm(`${p}ffn_norm.weight`);
    matrix(`${p}ffn_gate.weight`, shape.ffn, shape.hidden);
    matrix(`${p}ffn_up.weight`, shape.ffn, shape.hidden);
    matrix(`${p}ffn_down.weight`, shape.hidden, shape.ffn);
  }
  norm("output_norm.weight");
  matrix("output.weight", shape.vocab, shape.hidden);
  return { metadata, tensors };
}

/** Streams the file to `path`; `onTensor` hears of each tensor as it is made. Returns the file's length. */
export async function writeShapeGguf(path: string, shape: LlamaShape, type: ShapeType, seed = 1, onTensor?: (done: number, total: number, bytesWritten: number) => void): Promise<number> {
  const input = llamaShapeGguf(shape, type, seed);
  const total = input.tensors.length;
  let written = 0;
  const tensors = input.tensors.map((tensor, i) => ({ ...tensor, data: () => { onTensor?.(i, total, written); return tensor.data(); } }));
  const handle = await open(path, "w");
  try {
    const length = await streamGguf({ ...input, tensors }, async (chunk) => {
      await handle.write(chunk);
      written += chunk.byteLength;
    });
    onTensor?.(total, total, written);
    return length;
  } finally {
    await handle.close();
  }
}

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  shape: { type: "string", help: `${Object.keys(SHAPES).join(", ")} (LLaMa-2 7B / 13B, or a tiny twin for tests)` },
  type: { type: "string", help: `${TYPES.join(" or ")}: the type of every matrix` },
  out: { type: "string", help: "the GGUF file to write" },
  seed: { type: "int", min: 0, max: 0xffffffff, help: "seed of the random weights (default 1)" },
} as const satisfies FlagSpecs;

async function main(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, FLAGS, "bench/shapes/make-gguf.ts");
  if (flags.help) {
    process.stdout.write(`usage: node --import tsx bench/shapes/make-gguf.ts --shape 7b --type Q4_0 --out FILE\n${describeFlags(FLAGS)}\n`);
    return;
  }
  const where = "bench/shapes/make-gguf.ts";
  const shape = SHAPES[flags.shape as keyof typeof SHAPES];
  if (flags.shape === undefined || shape === undefined) throw new InputError({ file: where, field: "--shape", expected: Object.keys(SHAPES).join(", "), actual: JSON.stringify(flags.shape ?? null) });
  const type = flags.type as ShapeType;
  if (!TYPES.includes(type)) throw new InputError({ file: where, field: "--type", expected: TYPES.join(" or "), actual: JSON.stringify(flags.type ?? null) });
  if (flags.out === undefined) throw new InputError({ file: where, field: "--out", expected: "a path for the GGUF file", actual: "nothing" });
  const started = performance.now();
  let lastReport = 0;
  const bytes = await writeShapeGguf(flags.out, shape, type, flags.seed ?? 1, (done, total, written) => {
    if (performance.now() - lastReport < 2000 && done < total) return;
    lastReport = performance.now();
    process.stderr.write(`  ${done}/${total} tensors, ${(written / 1e9).toFixed(2)} GB\n`);
  });
  process.stderr.write(`${flags.out}: ${shape.name} shape, ${type}, ${(bytes / 1e9).toFixed(2)} GB in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`make-gguf: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
