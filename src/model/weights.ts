// The weights table: where each tensor of the model lives in WASM memory, in which format and layout. Building it
// is a checked copy from the file's bytes: shapes verified against the Config, GGUF Q/K rows put back in HF order,
// projections that read the same input concatenated (Q|K|V, gate|up) so one kernel call computes them, and, on the
// fast path, quantized matrices repacked into four-row tiles. Quantized values are never changed; the only
// conversion is of the small norm vectors to f32, which the norm kernel reads.

import { FormatError, UnsupportedError } from "../errors.js";
import { type DType, rowBytes } from "../io/dtype.js";
import type { Arena } from "../runtime/arena.js";
import type { Kernels, Ptr } from "../runtime/kernels.js";
import type { Config } from "./config.js";
import { canTile, repackToTiles } from "./repack.js";
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

/**
 * A weight matrix in WASM memory: rows x cols in `dtype`. "rows" layout: row r at ptr + r * rowBytes (the file's
 * layout). "tiles4" layout: four rows interleaved block by block (kernels/qmatmul.ts), for the integer-dot kernels.
 */
export interface Matrix {
  readonly ptr: Ptr;
  readonly dtype: DType;
  readonly layout: "rows" | "tiles4";
  readonly rows: number;
  readonly cols: number;
  readonly rowBytes: number;
}

/** Matrices applied to the same input whose outputs sit side by side: [rows of part 0 | rows of part 1 | ...]. */
export type Projection = readonly Matrix[];

export interface LayerWeights {
  readonly attnNorm: Ptr; // f32[hidden]
  readonly qkv: Projection; // [numHeads*headDim + 2*numKvHeads*headDim, hidden]: Q, K, V rows (HF RoPE order)
  readonly wo: Matrix; // [hidden, numHeads*headDim]
  readonly ffnNorm: Ptr; // f32[hidden]
  readonly gateUp: Projection; // [2*ffnSize, hidden]: gate rows then up rows
  readonly wDown: Matrix; // [hidden, ffnSize]
}

export interface Weights {
  readonly embed: Matrix; // [vocab, hidden]
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Ptr; // f32[hidden]
  readonly lmHead: Matrix; // [vocab, hidden]; the embed matrix itself when embeddings are tied
}

export interface WeightOptions {
  /**
   * "fast" (default): Q4_0/Q4_1/Q8_0 matrices repacked into tiles for the int8-activation kernels. "exact": the
   * file's layout and f32 activations, the path compared with the reference implementation.
   */
  readonly precision?: "fast" | "exact";
  /** Expand every matrix to f32 at load (implies "exact"); for comparisons only. */
  readonly expandToF32?: boolean;
}

const DEQUANT_ROW: Readonly<Record<DType, keyof Kernels>> = {
  F32: "dequant_row_f32", F16: "dequant_row_f16", BF16: "dequant_row_bf16",
  Q8_0: "dequant_row_q8_0", Q4_0: "dequant_row_q4_0", Q4_1: "dequant_row_q4_1",
};

/** One matrix to build: the source tensors whose rows are stacked, each with its expected row count. */
interface MatrixPlan {
  readonly name: string;
  readonly parts: readonly { readonly name: string; readonly rows: number; readonly ropeHeads: boolean }[];
  readonly cols: number;
}

/** Bytes the weights will take in WASM memory (for planning the arena before allocating). */
export function weightBytes(config: Config, source: WeightSource, options: WeightOptions = {}): number {
  let total = 0;
  for (const plan of allMatrixPlans(config, source)) {
    for (const group of groupByDType(plan, source)) {
      const rows = group.reduce((sum, p) => sum + p.rows, 0);
      const dtype = checkedTensor(source, group[0]!.name, [group[0]!.rows, plan.cols]).dtype;
      total += alignTo64((rowBytes(dtype, plan.cols) ?? 0) * rows);
      if (options.expandToF32 && dtype !== "F32") total += alignTo64(rows * plan.cols * 4);
    }
  }
  for (const name of normNames(config, source)) {
    const tensor = checkedTensor(source, name, [config.hiddenSize]);
    total += alignTo64(tensor.bytes.byteLength) + (tensor.dtype !== "F32" ? alignTo64(config.hiddenSize * 4) : 0);
  }
  return total;
}

/** Copies every tensor into the arena, checking names, formats and shapes against the config. */
export function loadWeights(config: Config, source: WeightSource, arena: Arena, kernels: Kernels, options: WeightOptions = {}): Weights {
  const fast = (options.precision ?? "fast") === "fast" && !options.expandToF32;
  const build = (plan: MatrixPlan): Projection => groupByDType(plan, source).map((group) => buildMatrix(config, source, arena, kernels, plan, group, fast, options.expandToF32 === true));
  const norm = (name: string): Ptr => loadNorm(config, source, arena, kernels, name);
  const plans = layerPlans(config, source);

  const embed = build(globalPlan(config, source, "embed"))[0]!;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = plans(l);
    layers.push(Object.freeze({
      attnNorm: norm(layerName(source, l, "attnNorm")),
      qkv: Object.freeze(build(p.qkv)),
      wo: build(p.wo)[0]!,
      ffnNorm: norm(layerName(source, l, "ffnNorm")),
      gateUp: Object.freeze(build(p.gateUp)),
      wDown: build(p.wDown)[0]!,
    }));
  }
  const finalNorm = norm(globalName(source, "finalNorm"));
  const lmHead = config.tiedEmbeddings ? embed : build(globalPlan(config, source, "lmHead"))[0]!;
  return Object.freeze({ embed, layers: Object.freeze(layers), finalNorm, lmHead });
}

function layerPlans(config: Config, source: WeightSource): (layer: number) => { qkv: MatrixPlan; wo: MatrixPlan; gateUp: MatrixPlan; wDown: MatrixPlan } {
  const h = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  const one = (name: string, rows: number, cols: number): MatrixPlan => ({ name, parts: [{ name, rows, ropeHeads: false }], cols });
  return (l) => ({
    qkv: {
      name: `${layerName(source, l, "wq")} + k + v`,
      parts: [
        { name: layerName(source, l, "wq"), rows: q, ropeHeads: true },
        { name: layerName(source, l, "wk"), rows: kv, ropeHeads: true },
        { name: layerName(source, l, "wv"), rows: kv, ropeHeads: false },
      ],
      cols: h,
    },
    wo: one(layerName(source, l, "wo"), h, q),
    gateUp: {
      name: `${layerName(source, l, "wGate")} + up`,
      parts: [{ name: layerName(source, l, "wGate"), rows: config.ffnSize, ropeHeads: false }, { name: layerName(source, l, "wUp"), rows: config.ffnSize, ropeHeads: false }],
      cols: h,
    },
    wDown: one(layerName(source, l, "wDown"), h, config.ffnSize),
  });
}

function globalPlan(config: Config, source: WeightSource, tensor: "embed" | "lmHead"): MatrixPlan {
  const name = globalName(source, tensor);
  return { name, parts: [{ name, rows: config.vocabSize, ropeHeads: false }], cols: config.hiddenSize };
}

function allMatrixPlans(config: Config, source: WeightSource): MatrixPlan[] {
  const plans = [globalPlan(config, source, "embed")];
  if (!config.tiedEmbeddings) plans.push(globalPlan(config, source, "lmHead"));
  const perLayer = layerPlans(config, source);
  for (let l = 0; l < config.numLayers; l++) {
    const p = perLayer(l);
    plans.push(p.qkv, p.wo, p.gateUp, p.wDown);
  }
  return plans;
}

function normNames(config: Config, source: WeightSource): string[] {
  const names = [globalName(source, "finalNorm")];
  for (let l = 0; l < config.numLayers; l++) names.push(layerName(source, l, "attnNorm"), layerName(source, l, "ffnNorm"));
  return names;
}

/** Consecutive parts stored in the same format become one matrix; a format change starts a new one. */
function groupByDType(plan: MatrixPlan, source: WeightSource): MatrixPlan["parts"][] {
  const groups: MatrixPlan["parts"][number][][] = [];
  let last: DType | null = null;
  for (const part of plan.parts) {
    const dtype = checkedTensor(source, part.name, [part.rows, plan.cols]).dtype;
    if (dtype === last) groups[groups.length - 1]!.push(part);
    else groups.push([part]);
    last = dtype;
  }
  return groups;
}

function buildMatrix(config: Config, source: WeightSource, arena: Arena, kernels: Kernels, plan: MatrixPlan, group: MatrixPlan["parts"], fast: boolean, expand: boolean): Matrix {
  const tensors = group.map((part) => checkedTensor(source, part.name, [part.rows, plan.cols]));
  const dtype = tensors[0]!.dtype;
  if (!["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1"].includes(dtype)) {
    throw new UnsupportedError({ file: source.file, field: group[0]!.name, expected: "F32, F16, BF16, Q8_0, Q4_0 or Q4_1", actual: dtype });
  }
  const perRow = rowBytes(dtype, plan.cols)!;
  const rows = group.reduce((sum, p) => sum + p.rows, 0);
  const label = group.map((p) => p.name).join(" + ");
  const tiled = fast && canTile(dtype, rows);
  const ptr = arena.alloc(perRow * rows, label);
  // Rows of all parts, stacked: straight into place, or through a staging copy when they get repacked.
  const stacked = tiled ? new Uint8Array(perRow * rows) : arena.u8(ptr, perRow * rows);
  let row0 = 0;
  group.forEach((part, i) => {
    // WARNING: GGUF stores Q and K rows permuted for interleaved RoPE pairs; put them back in HF's half-split order.
    const reorder = part.ropeHeads && source.naming === "gguf" ? ggufRowForHfRow(part.rows, config.headDim) : null;
    const bytes = tensors[i]!.bytes;
    if (reorder === null) stacked.set(bytes, row0 * perRow);
    else for (let r = 0; r < part.rows; r++) stacked.set(bytes.subarray(reorder[r]! * perRow, (reorder[r]! + 1) * perRow), (row0 + r) * perRow);
    row0 += part.rows;
  });
  if (tiled) {
    repackToTiles(dtype, stacked, rows, plan.cols, arena.u8(ptr, perRow * rows));
    return { ptr, dtype, layout: "tiles4", rows, cols: plan.cols, rowBytes: perRow };
  }
  if (!expand || dtype === "F32") return { ptr, dtype, layout: "rows", rows, cols: plan.cols, rowBytes: perRow };
  const expanded = arena.alloc(rows * plan.cols * 4, `${label} (f32)`);
  const dequant = kernels[DEQUANT_ROW[dtype]] as (out: Ptr, w: Ptr, cols: number) => void;
  for (let r = 0; r < rows; r++) dequant(expanded + r * plan.cols * 4, ptr + r * perRow, plan.cols);
  return { ptr: expanded, dtype: "F32", layout: "rows", rows, cols: plan.cols, rowBytes: plan.cols * 4 };
}

function loadNorm(config: Config, source: WeightSource, arena: Arena, kernels: Kernels, name: string): Ptr {
  const h = config.hiddenSize;
  const tensor = checkedTensor(source, name, [h]);
  if (tensor.dtype !== "F32" && tensor.dtype !== "F16" && tensor.dtype !== "BF16") {
    throw new UnsupportedError({ file: source.file, field: name, expected: "a norm weight in F32, F16 or BF16", actual: tensor.dtype });
  }
  const stored = arena.alloc(tensor.bytes.byteLength, name);
  arena.u8(stored, tensor.bytes.byteLength).set(tensor.bytes);
  if (tensor.dtype === "F32") return stored;
  const out = arena.alloc(h * 4, `${name} (f32)`);
  (kernels[DEQUANT_ROW[tensor.dtype]] as (out: Ptr, w: Ptr, cols: number) => void)(out, stored, h);
  return out;
}

function globalName(source: WeightSource, tensor: GlobalTensor): string {
  return GLOBAL_TENSORS[tensor][source.naming];
}

function layerName(source: WeightSource, layer: number, tensor: LayerTensor): string {
  return source.naming === "gguf" ? ggufLayerName(layer, tensor) : hfLayerName(layer, tensor);
}

function checkedTensor(source: WeightSource, name: string, shape: number[]): SourceTensor {
  const tensor = source.get(name);
  if (tensor === undefined) throw new FormatError({ file: source.file, field: name, expected: "this tensor to be present", actual: "missing" });
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

function alignTo64(n: number): number {
  return Math.ceil(n / 64) * 64;
}
