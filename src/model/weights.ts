// The weights table: where each tensor of the model lives in WASM memory and in which format. Building it is a
// checked copy from the file's bytes (shapes verified against the Config, GGUF Q/K rows put back in HF order);
// the only conversion is of the small norm vectors to f32, which the norm kernel reads.

import { FormatError, UnsupportedError } from "../errors.js";
import { type DType, rowBytes } from "../io/dtype.js";
import type { Arena } from "../runtime/arena.js";
import type { Kernels, Ptr } from "../runtime/kernels.js";
import type { Config } from "./config.js";
import { GLOBAL_TENSORS, type GlobalTensor, ggufLayerName, ggufRowForHfRow, hfLayerName, type LayerTensor } from "./tensor-names.js";

/** A tensor as the file holds it: bytes are a view into the file, not a copy. */
export interface SourceTensor {
  readonly dtype: DType;
  /** Row-major shape, outermost first. */
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** Where tensors come from: names follow GGUF or HF conventions (src/model/tensor-names.ts). */
export interface WeightSource {
  readonly file: string;
  readonly naming: "gguf" | "hf";
  get(name: string): SourceTensor | undefined;
}

/** A weight matrix in WASM memory: rows x cols in `dtype`, row r at ptr + r * rowBytes. */
export interface Matrix {
  readonly ptr: Ptr;
  readonly dtype: DType;
  readonly rows: number;
  readonly cols: number;
  readonly rowBytes: number;
}

export interface LayerWeights {
  readonly attnNorm: Ptr; // f32[hidden]
  readonly wq: Matrix; // [numHeads * headDim, hidden], rows in HF (half-split RoPE) order
  readonly wk: Matrix; // [numKvHeads * headDim, hidden], rows in HF order
  readonly wv: Matrix; // [numKvHeads * headDim, hidden]
  readonly wo: Matrix; // [hidden, numHeads * headDim]
  readonly ffnNorm: Ptr; // f32[hidden]
  readonly wGate: Matrix; // [ffnSize, hidden]
  readonly wUp: Matrix; // [ffnSize, hidden]
  readonly wDown: Matrix; // [hidden, ffnSize]
}

export interface Weights {
  readonly embed: Matrix; // [vocab, hidden]
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Ptr; // f32[hidden]
  readonly lmHead: Matrix; // [vocab, hidden]; the embed matrix itself when embeddings are tied
}

export interface WeightOptions {
  /** Expand every matrix to f32 at load (the exact-comparison path); default keeps the stored format. */
  readonly expandToF32?: boolean;
}

const DEQUANT_ROW: Readonly<Record<DType, keyof Kernels>> = {
  F32: "dequant_row_f32", F16: "dequant_row_f16", BF16: "dequant_row_bf16",
  Q8_0: "dequant_row_q8_0", Q4_0: "dequant_row_q4_0", Q4_1: "dequant_row_q4_1",
};

/** Bytes the weights will take in WASM memory (for planning the arena before allocating). */
export function weightBytes(config: Config, source: WeightSource, options: WeightOptions = {}): number {
  let total = 0;
  const add = (name: string, rows: number, cols: number, isNorm: boolean) => {
    const tensor = checkedTensor(source, name, isNorm ? [cols] : [rows, cols]);
    const needsF32 = (isNorm || options.expandToF32 === true) && tensor.dtype !== "F32";
    total += alignTo64(tensor.bytes.byteLength) + (needsF32 ? alignTo64(rows * cols * 4) : 0);
  };
  const h = config.hiddenSize;
  add(globalName(source, "embed"), config.vocabSize, h, false);
  add(globalName(source, "finalNorm"), 1, h, true);
  if (!config.tiedEmbeddings) add(globalName(source, "lmHead"), config.vocabSize, h, false);
  for (let l = 0; l < config.numLayers; l++) {
    for (const [tensor, rows, cols, isNorm] of layerShapes(config)) add(layerName(source, l, tensor), rows, cols, isNorm);
  }
  return total;
}

/** Copies every tensor into the arena, checking names, formats and shapes against the config. */
export function loadWeights(config: Config, source: WeightSource, arena: Arena, kernels: Kernels, options: WeightOptions = {}): Weights {
  const h = config.hiddenSize;
  const matrix = (name: string, rows: number, cols: number, qkHeads = 0): Matrix => {
    const tensor = checkedTensor(source, name, [rows, cols]);
    if (tensor.dtype !== "F32" && !["F16", "BF16", "Q8_0", "Q4_0", "Q4_1"].includes(tensor.dtype)) {
      throw new UnsupportedError({ file: source.file, field: name, expected: "F32, F16, BF16, Q8_0, Q4_0 or Q4_1", actual: tensor.dtype });
    }
    const stored = copyMatrix(tensor, name, rows, cols, arena, qkHeads > 0 && source.naming === "gguf" ? config.headDim : 0);
    if (!options.expandToF32 || tensor.dtype === "F32") return stored;
    const expanded = arena.alloc(rows * cols * 4, `${name} (f32)`);
    const dequant = kernels[DEQUANT_ROW[tensor.dtype]] as (out: Ptr, w: Ptr, cols: number) => void;
    for (let r = 0; r < rows; r++) dequant(expanded + r * cols * 4, stored.ptr + r * stored.rowBytes, cols);
    return { ptr: expanded, dtype: "F32", rows, cols, rowBytes: cols * 4 };
  };
  const norm = (name: string): Ptr => {
    const tensor = checkedTensor(source, name, [h]);
    if (tensor.dtype !== "F32" && tensor.dtype !== "F16" && tensor.dtype !== "BF16") {
      throw new UnsupportedError({ file: source.file, field: name, expected: "a norm weight in F32, F16 or BF16", actual: tensor.dtype });
    }
    const stored = copyMatrix(tensor, name, 1, h, arena, 0);
    if (tensor.dtype === "F32") return stored.ptr;
    const out = arena.alloc(h * 4, `${name} (f32)`);
    (kernels[DEQUANT_ROW[tensor.dtype]] as (out: Ptr, w: Ptr, cols: number) => void)(out, stored.ptr, h);
    return out;
  };

  const embed = matrix(globalName(source, "embed"), config.vocabSize, h);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const q = config.numHeads * config.headDim;
    const kv = config.numKvHeads * config.headDim;
    layers.push(Object.freeze({
      attnNorm: norm(layerName(source, l, "attnNorm")),
      // WARNING: GGUF stores Q and K rows permuted for interleaved RoPE; matrix() puts them back in HF order.
      wq: matrix(layerName(source, l, "wq"), q, h, config.numHeads),
      wk: matrix(layerName(source, l, "wk"), kv, h, config.numKvHeads),
      wv: matrix(layerName(source, l, "wv"), kv, h),
      wo: matrix(layerName(source, l, "wo"), h, q),
      ffnNorm: norm(layerName(source, l, "ffnNorm")),
      wGate: matrix(layerName(source, l, "wGate"), config.ffnSize, h),
      wUp: matrix(layerName(source, l, "wUp"), config.ffnSize, h),
      wDown: matrix(layerName(source, l, "wDown"), h, config.ffnSize),
    }));
  }
  const finalNorm = norm(globalName(source, "finalNorm"));
  const lmHead = config.tiedEmbeddings ? embed : matrix(globalName(source, "lmHead"), config.vocabSize, h);
  return Object.freeze({ embed, layers: Object.freeze(layers), finalNorm, lmHead });
}

function layerShapes(config: Config): [LayerTensor, number, number, boolean][] {
  const h = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  return [
    ["attnNorm", 1, h, true], ["wq", q, h, false], ["wk", kv, h, false], ["wv", kv, h, false], ["wo", h, q, false],
    ["ffnNorm", 1, h, true], ["wGate", config.ffnSize, h, false], ["wUp", config.ffnSize, h, false],
    ["wDown", h, config.ffnSize, false],
  ];
}

function globalName(source: WeightSource, tensor: GlobalTensor): string {
  return GLOBAL_TENSORS[tensor][source.naming];
}

function layerName(source: WeightSource, layer: number, tensor: LayerTensor): string {
  return source.naming === "gguf" ? ggufLayerName(layer, tensor) : hfLayerName(layer, tensor);
}

function requireTensor(source: WeightSource, name: string): SourceTensor {
  const tensor = source.get(name);
  if (tensor === undefined) throw new FormatError({ file: source.file, field: name, expected: "this tensor to be present", actual: "missing" });
  return tensor;
}

function checkedTensor(source: WeightSource, name: string, shape: number[]): SourceTensor {
  const tensor = requireTensor(source, name);
  // A 1-D norm may be stored as [h] or [1, h]; matrices must match exactly.
  const actual = tensor.shape.length === 2 && tensor.shape[0] === 1 && shape.length === 1 ? [tensor.shape[1]!] : tensor.shape;
  if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
    throw new FormatError({ file: source.file, field: name, expected: `shape [${shape.join(", ")}] from the config`, actual: `[${tensor.shape.join(", ")}]` });
  }
  const expectedBytes = (rowBytes(tensor.dtype, shape[shape.length - 1]!) ?? NaN) * (shape.length === 2 ? shape[0]! : 1);
  if (tensor.bytes.byteLength !== expectedBytes) {
    throw new FormatError({ file: source.file, field: name, expected: `${expectedBytes} bytes of ${tensor.dtype}`, actual: `${tensor.bytes.byteLength} bytes` });
  }
  return tensor;
}

/** Copies a tensor's rows into the arena; with headDim > 0, rows are reordered from GGUF to HF RoPE order. */
function copyMatrix(tensor: SourceTensor, name: string, rows: number, cols: number, arena: Arena, headDim: number): Matrix {
  const perRow = rowBytes(tensor.dtype, cols)!;
  const ptr = arena.alloc(perRow * rows, name);
  const target = arena.u8(ptr, perRow * rows);
  if (headDim === 0) {
    target.set(tensor.bytes);
  } else {
    const fromRow = ggufRowForHfRow(rows, headDim);
    for (let r = 0; r < rows; r++) target.set(tensor.bytes.subarray(fromRow[r]! * perRow, (fromRow[r]! + 1) * perRow), r * perRow);
  }
  return { ptr, dtype: tensor.dtype, rows, cols, rowBytes: perRow };
}

function alignTo64(n: number): number {
  return Math.ceil(n / 64) * 64;
}
