// FFN surrogates: per layer, a calibrated low-rank linear map that stands in for the FFN block when the skip
// controller skips it (the `else if` in transformer.ts's layer loop), instead of dropping its contribution:
//
//   FFN(h) ≈ U (Vᵀ h) + b     h = RMSNorm(x) ⊙ ffnNorm, the FFN's own input; U f32[hidden][rank], Vᵀ f32[rank][hidden]
//
// At rank 64 and hidden 576 that is 2 x 64 x 576 multiply-adds against the FFN's 3 x 576 x 1536 (~1/36). How the
// maps are fitted is in skip/surrogate-fit.ts. This file is their file format and their placement in WASM memory.
//
// The file is safetensors (io/safetensors.ts), one per model, keyed by the model fingerprint (model/fingerprint.ts):
//   __metadata__  format "ffnskip-ffn-surrogates/1", fingerprint, model (name), hidden, layers (the model's layer
//                 count), rank, and "fit" (JSON: how the maps were fitted, e.g. lambda, tokens, data, per-layer R²)
//   layers.L.v     [rank, hidden]  Vᵀ, F32 or F16 (the same dtype for every v and u)
//   layers.L.u     [hidden, rank]  U
//   layers.L.bias  [hidden]        b, F32
// for each layer L that has a surrogate (any subset of the layers). Nothing else may be in the file.

import { ConfigError, FormatError, show } from "../errors.js";
import { parseJson } from "../io/byte-reader.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { f16ToF32, f32ToF16 } from "../reference/quant.js";
import type { Arena } from "../runtime/arena.js";
import type { Ptr } from "../runtime/kernels.js";
import type { Config } from "./config.js";
import type { Matrix } from "./weights.js";

export const SURROGATE_FORMAT = "ffnskip-ffn-surrogates/1";

/** One layer's map, values row-major. */
export interface SurrogateLayer {
  readonly layer: number;
  /** Vᵀ: f32[rank][hidden]. */
  readonly v: Float32Array;
  /** U: f32[hidden][rank]. */
  readonly u: Float32Array;
  /** b: f32[hidden]. */
  readonly bias: Float32Array;
}

export interface SurrogateFile {
  readonly format: typeof SURROGATE_FORMAT;
  readonly model: { readonly name: string; readonly fingerprint: string };
  readonly hidden: number;
  /** The model's layer count (not the number of surrogates). */
  readonly layers: number;
  readonly rank: number;
  /** How U and Vᵀ are stored (b is always F32); F16 rounds them to half precision. */
  readonly dtype: "F32" | "F16";
  /** By layer, ascending. */
  readonly surrogates: readonly SurrogateLayer[];
  /** How they were fitted (free-form, JSON-serializable; skip/surrogate-fit.ts documents its fields). */
  readonly fit: Readonly<Record<string, unknown>>;
}

function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

function f16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16(values[i]!);
  return new Uint8Array(out.buffer);
}

/** The file's bytes. F16 files round U and Vᵀ to half precision. */
export function writeSurrogates(file: SurrogateFile): Uint8Array {
  const checked = checkSurrogates(file, "surrogates");
  const tensors = checked.surrogates.flatMap((s) => [
    { name: `layers.${s.layer}.v`, dtype: checked.dtype, shape: [checked.rank, checked.hidden], data: checked.dtype === "F16" ? f16Bytes(s.v) : f32Bytes(s.v) },
    { name: `layers.${s.layer}.u`, dtype: checked.dtype, shape: [checked.hidden, checked.rank], data: checked.dtype === "F16" ? f16Bytes(s.u) : f32Bytes(s.u) },
    { name: `layers.${s.layer}.bias`, dtype: "F32" as const, shape: [checked.hidden], data: f32Bytes(s.bias) },
  ]);
  return writeSafetensors(tensors, {
    format: SURROGATE_FORMAT, fingerprint: checked.model.fingerprint, model: checked.model.name, hidden: String(checked.hidden),
    layers: String(checked.layers), rank: String(checked.rank), fit: JSON.stringify(checked.fit),
  });
}

/** What a surrogate file must match to run on a model. */
export interface SurrogateTarget {
  readonly fingerprint: string;
  readonly config: Pick<Config, "hiddenSize" | "numLayers">;
}

/**
 * Parses and validates a surrogate file: the safetensors container (truncation, bad header: FormatError from the
 * reader), the metadata, every tensor's name, dtype and shape, finite values; with `target`, also that it belongs to
 * that model (fingerprint and sizes: ConfigError). `file` names it in errors.
 */
export function readSurrogates(bytes: Uint8Array, file = "surrogates.safetensors", target?: SurrogateTarget): SurrogateFile {
  const parsed = readSafetensors(bytes, file);
  const meta = parsed.metadata;
  const fail = (field: string, expected: string, actual: unknown) => new FormatError({ file, field, expected, actual: show(actual) });
  if (meta.format !== SURROGATE_FORMAT) throw fail("__metadata__.format", JSON.stringify(SURROGATE_FORMAT), meta.format);
  const int = (key: string, min: number, max: number) => {
    const text = meta[key];
    const value = Number(text);
    if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) throw fail(`__metadata__.${key}`, `an integer in ${min}..${max}`, text);
    return value;
  };
  if (typeof meta.fingerprint !== "string" || !/^[0-9a-f]{64}$/.test(meta.fingerprint)) throw fail("__metadata__.fingerprint", "a model fingerprint (64 hex digits)", meta.fingerprint);
  const hidden = int("hidden", 1, 1 << 20);
  const layers = int("layers", 1, 1 << 16);
  const rank = int("rank", 1, hidden);
  let fit: unknown = {};
  if (meta.fit !== undefined) fit = parseJson(meta.fit, `${file} __metadata__.fit`);
  if (typeof fit !== "object" || fit === null || Array.isArray(fit)) throw fail("__metadata__.fit", "a JSON object", meta.fit);
  if (target !== undefined) {
    if (meta.fingerprint !== target.fingerprint) {
      throw new ConfigError({ file, field: "__metadata__.fingerprint", expected: `${target.fingerprint} (this model)`, actual: `${meta.fingerprint} (${meta.model ?? "unnamed"})`, detail: "surrogates are fitted per model: run `ffnskip calibrate --surrogates` on this one" });
    }
    if (hidden !== target.config.hiddenSize) throw new ConfigError({ file, field: "__metadata__.hidden", expected: `${target.config.hiddenSize} (this model)`, actual: String(hidden) });
    if (layers !== target.config.numLayers) throw new ConfigError({ file, field: "__metadata__.layers", expected: `${target.config.numLayers} (this model)`, actual: String(layers) });
  }

  const byName = new Map(parsed.tensors.map((t) => [t.name, t]));
  const found = new Set<number>();
  let dtype: "F32" | "F16" | undefined;
  for (const t of parsed.tensors) {
    const match = /^layers\.(0|[1-9]\d*)\.(v|u|bias)$/.exec(t.name);
    if (match === null) throw fail(t.name, "only tensors layers.L.v, layers.L.u and layers.L.bias", "an unknown tensor");
    const layer = Number(match[1]);
    if (layer >= layers) throw fail(t.name, `a layer index below ${layers}`, layer);
    found.add(layer);
    if (match[2] === "bias") {
      if (t.dtype !== "F32") throw fail(`${t.name}.dtype`, "F32", t.dtype);
    } else {
      if (t.dtype !== "F32" && t.dtype !== "F16") throw fail(`${t.name}.dtype`, "F32 or F16", t.dtype);
      if (dtype !== undefined && t.dtype !== dtype) throw fail(`${t.name}.dtype`, `${dtype}, as the other matrices`, t.dtype);
      dtype = t.dtype;
    }
  }
  const surrogates: SurrogateLayer[] = [];
  for (const layer of [...found].sort((a, b) => a - b)) {
    const values = (part: "v" | "u" | "bias", shape: readonly number[]): Float32Array => {
      const name = `layers.${layer}.${part}`;
      const t = byName.get(name);
      if (t === undefined) throw fail(name, `a tensor of shape [${shape.join(", ")}] (every layer has v, u and bias)`, "missing");
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw fail(`${name}.shape`, `[${shape.join(", ")}]`, `[${t.shape.join(", ")}]`);
      const raw = bytes.subarray(t.offset, t.offset + t.byteLength);
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const count = shape.reduce((a, b) => a * b, 1);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = t.dtype === "F16" ? f16ToF32(view.getUint16(2 * i, true)) : view.getFloat32(4 * i, true);
      const bad = out.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw fail(`${name}[${bad}]`, "finite values", out[bad]);
      return out;
    };
    surrogates.push(Object.freeze({ layer, v: values("v", [rank, hidden]), u: values("u", [hidden, rank]), bias: values("bias", [hidden]) }));
  }
  if (surrogates.length === 0) throw fail("tensors", "at least one layer's surrogate", "none");
  return Object.freeze({
    format: SURROGATE_FORMAT, model: { name: meta.model ?? "", fingerprint: meta.fingerprint }, hidden, layers, rank,
    dtype: dtype ?? "F32", surrogates: Object.freeze(surrogates), fit: fit as Record<string, unknown>,
  });
}

/** Consistency of an in-memory SurrogateFile (what writeSurrogates accepts); returns it. */
function checkSurrogates(file: SurrogateFile, name: string): SurrogateFile {
  const fail = (field: string, expected: string, actual: unknown) => new ConfigError({ file: name, field, expected, actual: show(actual) });
  const { hidden, rank, layers } = file;
  if (!Number.isSafeInteger(hidden) || hidden < 1) throw fail("hidden", "an integer >= 1", hidden);
  if (!Number.isSafeInteger(rank) || rank < 1 || rank > hidden) throw fail("rank", `an integer in 1..${hidden}`, rank);
  if (!Number.isSafeInteger(layers) || layers < 1) throw fail("layers", "an integer >= 1", layers);
  if (file.dtype !== "F32" && file.dtype !== "F16") throw fail("dtype", "F32 or F16", file.dtype);
  let previous = -1;
  for (const s of file.surrogates) {
    if (!Number.isSafeInteger(s.layer) || s.layer <= previous || s.layer >= layers) throw fail("surrogates.layer", `ascending distinct layers below ${layers}`, s.layer);
    previous = s.layer;
    for (const [part, length] of [["v", rank * hidden], ["u", hidden * rank], ["bias", hidden]] as const) {
      if (!(s[part] instanceof Float32Array) || s[part].length !== length) throw fail(`surrogates[layer ${s.layer}].${part}`, `${length} f32 values`, s[part]?.length);
    }
  }
  return file;
}

/** A layer's surrogate in WASM memory, as the forward pass uses it. */
export interface PlacedSurrogate {
  readonly rank: number;
  /** Vᵀ [rank x hidden] and U [hidden x rank], multiplied by the f32 matvec/matmul kernels of their dtype. */
  readonly v: Matrix;
  readonly u: Matrix;
  /** f32[hidden] */
  readonly bias: Ptr;
}

/** Per layer, its surrogate or null: what Transformer.surrogates holds. */
export type LayerSurrogates = readonly (PlacedSurrogate | null)[];

/**
 * Copies the maps into WASM memory (the arena grows; a bump allocator never frees, so place a file once and keep
 * the result). Checks the file against the model's sizes (use readSurrogates with a target for the fingerprint).
 */
export function placeSurrogates(file: SurrogateFile, config: Config, arena: Arena): LayerSurrogates {
  checkSurrogates(file, "surrogates");
  if (file.hidden !== config.hiddenSize || file.layers !== config.numLayers) {
    throw new ConfigError({ file: "surrogates", field: "hidden, layers", expected: `${config.hiddenSize}, ${config.numLayers} (this model)`, actual: `${file.hidden}, ${file.layers}` });
  }
  // The forward pass keeps Vᵀ h in the gate/up buffer (unused when the FFN is skipped): 2 x ffnSize floats a token.
  if (file.rank > 2 * config.ffnSize) throw new ConfigError({ file: "surrogates", field: "rank", expected: `at most ${2 * config.ffnSize} (twice this model's FFN size)`, actual: String(file.rank) });
  const element = file.dtype === "F16" ? 2 : 4;
  const matrix = (values: Float32Array, rows: number, cols: number, what: string): Matrix => {
    const ptr = arena.alloc(rows * cols * element, what);
    arena.u8(ptr, rows * cols * element).set(file.dtype === "F16" ? f16Bytes(values) : f32Bytes(values));
    return Object.freeze({ ptr, dtype: file.dtype, layout: "rows", q16Decode: false, rows, cols, rowBytes: cols * element });
  };
  const placed: (PlacedSurrogate | null)[] = new Array<PlacedSurrogate | null>(config.numLayers).fill(null);
  for (const s of file.surrogates) {
    const bias = arena.alloc(file.hidden * 4, `surrogate bias ${s.layer}`);
    arena.f32(bias, file.hidden).set(s.bias);
    placed[s.layer] = Object.freeze({
      rank: file.rank, v: matrix(s.v, file.rank, file.hidden, `surrogate v ${s.layer}`), u: matrix(s.u, file.hidden, file.rank, `surrogate u ${s.layer}`), bias,
    });
  }
  return Object.freeze(placed);
}
