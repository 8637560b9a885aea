// The weights table: where each tensor of the model lives in WASM memory, in which format and layout.
//
// Loading happens in two steps so that a model can also be streamed in (never holding the whole file):
//   planWeights  from the tensor table alone (names, formats, shapes) decides every tensor's place in the arena:
//                projections that read the same input are stacked (Q|K|V, gate|up) so one kernel call computes
//                them, and on the fast path quantized matrices get the four-row tile layout;
//   fillTensor / finishTensor  copy a tensor's bytes (all at once, or chunk by chunk as they arrive) to its place,
//                then rearrange them in place: GGUF Q/K rows back in HF order (per head), rows into tiles (per four
//                rows: a tile group occupies exactly the bytes its four rows did), small norm vectors to f32.
// Quantized values are never changed.

import { FormatError, UnsupportedError } from "../errors.js";
import { type DType, DTYPES, nonFiniteScale, rowBytes } from "../io/dtype.js";
import { FAMILIES } from "./family.js";
import type { Arena } from "../runtime/arena.js";
import { FORMAT_KERNELS, type Kernels, type Ptr, Q16_MATVEC } from "../runtime/kernels.js";
import type { Config } from "./config.js";
import { canTile, repackToTiles, type TiledDType } from "../runtime/tiles.js";
import { type AnyLayerTensor, GLOBAL_TENSORS, type GlobalTensor, ggufLayerName, ggufRowForHfRow, hfLayerName, ROPE_FREQS_GGUF } from "./tensor-names.js";

/** A tensor as the file describes it. */
export interface TensorInfo {
  readonly dtype: DType;
  /** Row-major shape, outermost first. */
  readonly shape: readonly number[];
  readonly byteLength: number;
}

/** A tensor as the file holds it: bytes are a view into the file, not a copy. */
export interface SourceTensor extends TensorInfo {
  readonly bytes: Uint8Array;
}

/** The file's tensor table; names follow GGUF or HF conventions (src/model/tensor-names.ts). */
export interface TensorTable {
  readonly file: string;
  readonly naming: "gguf" | "hf";
  info(name: string): TensorInfo | undefined;
}

/** A tensor table whose bytes are all at hand. */
export interface WeightSource extends TensorTable {
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
  /** Decode multiplies this "rows" matrix with int16 activations (kernels/qmatvec.ts; precision "fast"). */
  readonly q16Decode: boolean;
  readonly rows: number;
  readonly cols: number;
  readonly rowBytes: number;
}

/** Matrices applied to the same input whose outputs sit side by side: [rows of part 0 | rows of part 1 | ...]. */
export type Projection = readonly Matrix[];

export interface LayerWeights {
  readonly attnNorm: Ptr; // f32[hidden]
  readonly qkv: Projection; // [numHeads*headDim + 2*numKvHeads*headDim, hidden]: Q, K, V rows (HF RoPE order)
  readonly qkvBias: Ptr | null; // f32[numHeads*headDim + 2*numKvHeads*headDim]: Q, K, V biases (qwen2), else null
  readonly wo: Matrix; // [hidden, numHeads*headDim]
  readonly ffnNorm: Ptr; // f32[hidden]
  readonly gateUp: Projection; // [2*ffnSize, hidden]: gate rows then up rows
  readonly wDown: Matrix; // [hidden, ffnSize]
  readonly qNorm: Ptr | null; // f32[headDim]: RMSNorm weight of every query head (family qkNorm), else null
  readonly kNorm: Ptr | null; // f32[headDim]: of every key head
  readonly attnPostNorm: Ptr | null; // f32[hidden]: on the attention output (family postNorms), else null
  readonly ffnPostNorm: Ptr | null; // f32[hidden]: on the FFN output
}

export interface Weights {
  readonly embed: Matrix; // [vocab, hidden]
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: Ptr; // f32[hidden]
  readonly lmHead: Matrix; // [vocab, hidden]; the embed matrix itself when embeddings are tied
  readonly ropeFactors: Ptr | null; // f32[headDim / 2]: rope_freqs.weight of a "frequencyFactors" config, else null
}

export interface WeightOptions {
  /**
   * "fast" (default): Q4_0/Q4_1/Q8_0 matrices repacked into tiles for the int16-activation kernels. "exact": the
   * file's layout and f32 activations, the path compared with the reference implementation.
   */
  readonly precision?: "fast" | "exact";
  /** Expand every matrix to f32 at load (implies "exact"); for comparisons only. */
  readonly expandToF32?: boolean;
}

/** Where one file tensor goes and what happens to its bytes once they have all arrived. */
export interface Placement {
  readonly name: string;
  readonly info: TensorInfo;
  /** The tensor's raw bytes land here (its rows inside its matrix, or a norm's own slot). */
  readonly dest: Ptr;
  readonly rows: number;
  readonly cols: number;
  /** > 0: GGUF Q/K rows, to be put back in HF RoPE order within each head of this many rows. */
  readonly reorderHeadDim: number;
  /** Repack into four-row tiles, in place. */
  readonly tile: TiledDType | null;
  /** F16/BF16 norms: where their f32 copy goes (the norm kernel reads f32). */
  readonly normF32: Ptr | null;
  /** expandToF32: where this tensor's rows go as f32. */
  readonly expandF32: Ptr | null;
  /** A norm stored as w whose family multiplies by (1 + w) (family hfNormPlusOne): 1 is added to its f32 values. */
  readonly addOne: boolean;
}

export interface WeightPlan {
  readonly weights: Weights;
  readonly placements: readonly Placement[];
}

/** Hands out addresses: the arena, or a counter when only the total is wanted. */
type Allocate = (bytes: number, what: string) => Ptr;


/** Bytes the weights will take in WASM memory (for planning the arena before allocating). */
export function weightBytes(config: Config, table: TensorTable, options: WeightOptions = {}): number {
  let total = 0;
  planWeightsWith(config, table, (bytes) => {
    const at = total;
    total += alignTo64(bytes);
    return at;
  }, options);
  return total;
}

/** Decides where every tensor goes, allocating from the arena. */
export function planWeights(config: Config, table: TensorTable, arena: Arena, options: WeightOptions = {}): WeightPlan {
  return planWeightsWith(config, table, (bytes, what) => arena.alloc(bytes, what), options);
}

/** Copies `chunk`, which starts `offset` bytes into tensor `p`, to its place. */
export function fillTensor(p: Placement, arena: Arena, chunk: Uint8Array, offset: number): void {
  arena.u8(p.dest + offset, chunk.byteLength).set(chunk);
}

/**
 * Once all of a tensor's bytes are in place: check its block scales, then reorder, tile, convert, as planned.
 * `file` names the model in errors.
 */
export function finishTensor(p: Placement, arena: Arena, kernels: Kernels, file: string): void {
  const perRow = rowBytes(p.info.dtype, p.cols)!;
  const damaged = nonFiniteScale(p.info.dtype, arena.u8(p.dest, perRow * p.rows));
  if (damaged !== undefined) {
    const { blockValues } = DTYPES[p.info.dtype];
    const perRowBlocks = p.cols / blockValues;
    throw new FormatError({
      file, field: `${p.name} block ${damaged.block} (row ${Math.floor(damaged.block / perRowBlocks)}, values ${(damaged.block % perRowBlocks) * blockValues}..) ${damaged.scale}`,
      expected: `a finite f16 ${p.info.dtype} scale`, actual: `0x${damaged.bits.toString(16).padStart(4, "0")} (${(damaged.bits & 0x3ff) === 0 ? "infinite" : "NaN"})`,
    });
  }
  if (p.reorderHeadDim > 0) {
    // WARNING: GGUF stores Q and K rows permuted for interleaved RoPE pairs; put them back in HF's half-split order.
    const head = p.reorderHeadDim;
    const fromRow = ggufRowForHfRow(head, head);
    const staging = new Uint8Array(head * perRow);
    for (let h0 = 0; h0 < p.rows; h0 += head) {
      const rows = arena.u8(p.dest + h0 * perRow, head * perRow);
      staging.set(rows);
      for (let r = 0; r < head; r++) rows.set(staging.subarray(fromRow[r]! * perRow, (fromRow[r]! + 1) * perRow), r * perRow);
    }
  }
  if (p.tile !== null) {
    const staging = new Uint8Array(4 * perRow);
    for (let r0 = 0; r0 < p.rows; r0 += 4) {
      const group = arena.u8(p.dest + r0 * perRow, 4 * perRow);
      staging.set(group);
      repackToTiles(p.tile, staging, 4, p.cols, group);
    }
  }
  if (p.normF32 !== null) (kernels[FORMAT_KERNELS[p.info.dtype].dequantRow] as (out: Ptr, w: Ptr, cols: number) => void)(p.normF32, p.dest, p.cols);
  if (p.addOne) {
    // In f32, as HF computes 1.0 + weight.float(); the norm kernel then multiplies by the sum.
    const values = arena.f32(p.normF32 ?? p.dest, p.cols);
    for (let i = 0; i < p.cols; i++) values[i] = values[i]! + 1;
  }
  if (p.expandF32 !== null) {
    const dequant = kernels[FORMAT_KERNELS[p.info.dtype].dequantRow] as (out: Ptr, w: Ptr, cols: number) => void;
    for (let r = 0; r < p.rows; r++) dequant(p.expandF32 + r * p.cols * 4, p.dest + r * perRow, p.cols);
  }
}

/** One matrix to build: the file tensors whose rows are stacked, each with its expected row count. */
interface MatrixPlan {
  readonly parts: readonly { readonly name: string; readonly rows: number; readonly ropeHeads: boolean }[];
  readonly cols: number;
}

function planWeightsWith(config: Config, table: TensorTable, alloc: Allocate, options: WeightOptions): WeightPlan {
  const fast = (options.precision ?? "fast") === "fast" && !options.expandToF32;
  const expand = options.expandToF32 === true;
  const placements: Placement[] = [];
  const h = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;

  const build = (plan: MatrixPlan): Matrix[] => groupByDType(plan, table).map((group) => {
    const dtype = checkedInfo(table, group[0]!.name, [group[0]!.rows, plan.cols]).dtype;
    const perRow = rowBytes(dtype, plan.cols)!;
    const rows = group.reduce((sum, p) => sum + p.rows, 0);
    const label = group.map((p) => p.name).join(" + ");
    const tiled = fast && canTile(dtype, rows) && group.every((p) => p.rows % 4 === 0);
    const ptr = alloc(perRow * rows, label);
    const expanded = expand && dtype !== "F32" ? alloc(rows * plan.cols * 4, `${label} (f32)`) : null;
    let row0 = 0;
    for (const part of group) {
      placements.push({
        name: part.name, info: checkedInfo(table, part.name, [part.rows, plan.cols]), dest: ptr + row0 * perRow, rows: part.rows, cols: plan.cols,
        reorderHeadDim: part.ropeHeads && table.naming === "gguf" && FAMILIES[config.architecture].ggufPermutesQK ? config.headDim : 0,
        tile: tiled ? (dtype as TiledDType) : null, normF32: null,
        expandF32: expanded === null ? null : expanded + row0 * plan.cols * 4, addOne: false,
      });
      row0 += part.rows;
    }
    if (expanded !== null) return { ptr: expanded, dtype: "F32", layout: "rows", q16Decode: false, rows, cols: plan.cols, rowBytes: plan.cols * 4 };
    return { ptr, dtype, layout: tiled ? "tiles4" : "rows", q16Decode: fast && !tiled && Q16_MATVEC[dtype] !== undefined, rows, cols: plan.cols, rowBytes: perRow };
  });
  const one = (name: string, rows: number, cols: number): MatrixPlan => ({ parts: [{ name, rows, ropeHeads: false }], cols });
  const family = FAMILIES[config.architecture];
  const normsAddOne = table.naming === "hf" && family.hfNormPlusOne;
  /** A vector (norm weight, bias) of `length` values, read as f32; `f32Dest` places it inside a larger buffer. */
  const vector = (name: string, length: number, f32Dest?: Ptr, addOne = false): Ptr => {
    const info = checkedInfo(table, name, [length]);
    if (info.dtype !== "F32" && info.dtype !== "F16" && info.dtype !== "BF16") {
      throw new UnsupportedError({ file: table.file, field: name, expected: "a vector in F32, F16 or BF16", actual: info.dtype });
    }
    const inPlace = info.dtype === "F32" && f32Dest === undefined;
    const dest = inPlace ? alloc(info.byteLength, name) : info.dtype === "F32" ? f32Dest! : alloc(info.byteLength, name);
    const normF32 = info.dtype === "F32" ? null : (f32Dest ?? alloc(length * 4, `${name} (f32)`));
    placements.push({ name, info, dest, rows: 1, cols: length, reorderHeadDim: 0, tile: null, normF32, expandF32: null, addOne });
    return normF32 ?? dest;
  };
  const norm = (name: string, length = h): Ptr => vector(name, length, undefined, normsAddOne);
  const globalName = (tensor: GlobalTensor) => GLOBAL_TENSORS[tensor][table.naming];
  const layerName = (l: number, tensor: AnyLayerTensor) => (table.naming === "gguf" ? ggufLayerName(l, tensor) : hfLayerName(l, tensor, config.architecture));

  const embed = build(one(globalName("embed"), config.vocabSize, h))[0]!;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const attnNorm = norm(layerName(l, "attnNorm"));
    const qkv = build({
      parts: [
        { name: layerName(l, "wq"), rows: q, ropeHeads: true },
        { name: layerName(l, "wk"), rows: kv, ropeHeads: true },
        { name: layerName(l, "wv"), rows: kv, ropeHeads: false },
      ],
      cols: h,
    });
    let qkvBias: Ptr | null = null;
    if (family.qkvBias) {
      qkvBias = alloc((q + 2 * kv) * 4, `layer ${l} Q, K, V biases`);
      vector(layerName(l, "bq"), q, qkvBias);
      vector(layerName(l, "bk"), kv, qkvBias + q * 4);
      vector(layerName(l, "bv"), kv, qkvBias + (q + kv) * 4);
    }
    const wo = build(one(layerName(l, "wo"), h, q))[0]!;
    const ffnNorm = norm(layerName(l, "ffnNorm"));
    const gateUp = build({ parts: [{ name: layerName(l, "wGate"), rows: config.ffnSize, ropeHeads: false }, { name: layerName(l, "wUp"), rows: config.ffnSize, ropeHeads: false }], cols: h });
    const wDown = build(one(layerName(l, "wDown"), h, config.ffnSize))[0]!;
    const qNorm = family.qkNorm ? norm(layerName(l, "qNorm"), config.headDim) : null;
    const kNorm = family.qkNorm ? norm(layerName(l, "kNorm"), config.headDim) : null;
    const attnPostNorm = family.postNorms ? norm(layerName(l, "attnPostNorm")) : null;
    const ffnPostNorm = family.postNorms ? norm(layerName(l, "ffnPostNorm")) : null;
    layers.push(Object.freeze({ attnNorm, qkv: Object.freeze(qkv), qkvBias, wo, ffnNorm, gateUp: Object.freeze(gateUp), wDown, qNorm, kNorm, attnPostNorm, ffnPostNorm }));
  }
  const finalNorm = norm(globalName("finalNorm"));
  const lmHead = config.tiedEmbeddings ? embed : build(one(globalName("lmHead"), config.vocabSize, h))[0]!;
  const ropeFactors = config.ropeScaling?.type === "frequencyFactors" ? vector(ROPE_FREQS_GGUF, config.headDim / 2) : null;
  return { weights: Object.freeze({ embed, layers: Object.freeze(layers), finalNorm, lmHead, ropeFactors }), placements };
}

/** Consecutive parts stored in the same format become one matrix; a format change starts a new one. */
function groupByDType(plan: MatrixPlan, table: TensorTable): MatrixPlan["parts"][] {
  const groups: MatrixPlan["parts"][number][][] = [];
  let last: DType | null = null;
  for (const part of plan.parts) {
    const dtype = checkedInfo(table, part.name, [part.rows, plan.cols]).dtype;
    if (dtype === last) groups[groups.length - 1]!.push(part);
    else groups.push([part]);
    last = dtype;
  }
  return groups;
}

function checkedInfo(table: TensorTable, name: string, shape: number[]): TensorInfo {
  const info = table.info(name);
  if (info === undefined) throw new FormatError({ file: table.file, field: name, expected: "this tensor to be present", actual: "missing" });
  // A 1-D norm may be stored as [h] or [1, h]; matrices must match exactly.
  const actual = info.shape.length === 2 && info.shape[0] === 1 && shape.length === 1 ? [info.shape[1]!] : info.shape;
  if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
    throw new FormatError({ file: table.file, field: name, expected: `shape [${shape.join(", ")}] from the config`, actual: `[${info.shape.join(", ")}]` });
  }
  if (!(info.dtype in DTYPES)) {
    throw new UnsupportedError({ file: table.file, field: name, expected: `one of ${Object.keys(DTYPES).join(", ")}`, actual: String(info.dtype) });
  }
  const perRow = rowBytes(info.dtype, shape[shape.length - 1]!);
  if (perRow === undefined) {
    throw new FormatError({ file: table.file, field: name, expected: `rows of whole ${info.dtype} blocks (${DTYPES[info.dtype].blockValues} values)`, actual: `${shape[shape.length - 1]} values per row` });
  }
  const expectedBytes = perRow * (shape.length === 2 ? shape[0]! : 1);
  if (info.byteLength !== expectedBytes) {
    throw new FormatError({ file: table.file, field: name, expected: `${expectedBytes} bytes of ${info.dtype}`, actual: `${info.byteLength} bytes` });
  }
  return info;
}

function alignTo64(n: number): number {
  return Math.ceil(n / 64) * 64;
}
