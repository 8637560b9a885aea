// The forward pass of Llama and its relatives (model/family.ts states their deltas). Three plain records (Config,
// Weights, RunState with the KV cache) and one forward() that runs a batch of tokens (a whole prompt chunk, or the
// single token of a decode step) through the model.
// Every step below is one kernel call; the FFN-skip decision is the single `if` in the layer loop (its `else if`:
// a skipped FFN's calibrated surrogate, model/surrogates.ts).

import { InputError } from "../errors.js";
import type { DType } from "../io/dtype.js";
import type { Arena } from "../runtime/arena.js";
import { FORMAT_KERNELS, type Kernels, type MatmulKernel, type Ptr, Q16_MATVEC } from "../runtime/kernels.js";
import type { ThreadPool, TiledKernelName } from "../runtime/pool.js";
import type { TiledDType } from "../runtime/tiles.js";
import type { Config } from "./config.js";
import { FAMILIES, type FamilyTraits } from "./family.js";
import { ropeAngles, ropeInverseFrequencies } from "./rope.js";
import type { LayerSurrogates } from "./surrogates.js";
import type { Matrix, Projection, Weights } from "./weights.js";

/** Decides, layer by layer, whether a token's FFN runs; receives the similarity each FFN that ran produced. */
export interface FfnGate {
  /** Whether layer `layer`'s FFN runs for the tokens of the current forward() call. */
  runFfn(layer: number): boolean;
  /**
   * cos(h, h + FFN(norm(h))) measured for token `token` (index in the batch) at layer `layer` (FFN including its
   * post-norm, if any). During the call, row `token` of state.xb still holds the FFN's input and row `token` of
   * state.proj its output (what was added to the residual): the surrogate fit reads them (skip/surrogate-fit.ts).
   */
  observe(layer: number, token: number, similarity: number): void;
}

/** The full model: every FFN runs. */
export const RUN_ALL_FFNS: FfnGate = Object.freeze({ runFfn: () => true, observe: () => {} });

/** Activation buffers and the KV cache. Batch buffers are token-major: row t belongs to the batch's token t. */
export interface RunState {
  readonly maxContext: number; // positions the KV cache holds
  readonly maxBatch: number; // tokens per forward() call
  readonly x: Ptr; // f32[maxBatch][hidden] residual stream
  readonly xb: Ptr; // f32[maxBatch][hidden] normalized sublayer input
  readonly qkv: Ptr; // f32[maxBatch][qDim + 2 * kvDim] query, key and value projections of each token
  readonly att: Ptr; // f32[maxBatch][qDim] attention output, before wo
  readonly proj: Ptr; // f32[maxBatch][hidden] output of wo or wDown
  readonly gateUp: Ptr; // f32[maxBatch][2 * ffnSize] gate and up projections
  readonly ffnAct: Ptr; // f32[maxBatch][ffnSize] silu(gate) * up
  readonly logits: Ptr; // f32[maxBatch][vocab]
  readonly scores: Ptr; // f32[numHeads][maxContext] attention scores
  readonly ropeCos: Ptr; // f32[maxBatch][headDim / 2]
  readonly ropeSin: Ptr; // f32[maxBatch][headDim / 2]
  readonly ropeCosLocal: Ptr; // f32[maxBatch][headDim / 2] for the sliding-window layers' RoPE base (empty without)
  readonly ropeSinLocal: Ptr; // f32[maxBatch][headDim / 2]
  readonly scratch: Ptr; // f32[4 * widest input] matmul work space (file-layout matrices)
  readonly qx: Ptr; // i16[maxBatch][widest input]: quantized activations for the tiled kernels
  readonly dx: Ptr; // f32[maxBatch][widest / 32] their block scales
  readonly px: Ptr; // f32[maxBatch][widest / 32] their block sums
  readonly kvCache: KvCacheFormat; // element format of the caches
  readonly kCache: readonly Ptr[]; // per layer [maxContext][kvDim] f32 or f16, rows in position order
  readonly vCache: readonly Ptr[]; // per layer, same layout
}

/** Element format of the KV cache: f32, or f16 for half the memory (values rounded to half precision). */
export type KvCacheFormat = "f32" | "f16";

/** Bytes allocateRunState() will take, for planning memory before loading. */
export function runStateBytes(config: Config, maxContext: number, maxBatch: number, kvCache: KvCacheFormat = "f32"): number {
  return runStateLayout(config, maxContext, maxBatch, kvCache).reduce((sum, [, bytes]) => sum + Math.ceil(bytes / 64) * 64, 0);
}

/** Bytes of the KV cache alone (keys and values of every layer), the part maxContext and kvCache control. */
export function kvCacheBytes(config: Config, maxContext: number, kvCache: KvCacheFormat = "f32"): number {
  return 2 * config.numLayers * maxContext * config.numKvHeads * config.headDim * (kvCache === "f16" ? 2 : 4);
}

function runStateLayout(config: Config, maxContext: number, maxBatch: number, kvCache: KvCacheFormat): [string, number][] {
  const f = 4;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  const widest = Math.max(config.hiddenSize, qDim, config.ffnSize);
  const layout: [string, number][] = [
    ["x", maxBatch * config.hiddenSize * f], ["xb", maxBatch * config.hiddenSize * f], ["qkv", maxBatch * (qDim + 2 * kvDim) * f],
    ["att", maxBatch * qDim * f], ["proj", maxBatch * config.hiddenSize * f], ["gateUp", maxBatch * 2 * config.ffnSize * f],
    ["ffnAct", maxBatch * config.ffnSize * f], ["logits", maxBatch * config.vocabSize * f],
    ["scores", config.numHeads * maxContext * f], ["ropeCos", maxBatch * (config.headDim / 2) * f],
    ["ropeSin", maxBatch * (config.headDim / 2) * f],
    ["ropeCosLocal", config.slidingWindow === null ? 0 : maxBatch * (config.headDim / 2) * f],
    ["ropeSinLocal", config.slidingWindow === null ? 0 : maxBatch * (config.headDim / 2) * f], ["scratch", 4 * widest * f],
    ["qx", maxBatch * 2 * widest], ["dx", maxBatch * Math.ceil(widest / 32) * f], ["px", maxBatch * Math.ceil(widest / 32) * f],
  ];
  const kv = kvCache === "f16" ? 2 : 4;
  for (let l = 0; l < config.numLayers; l++) layout.push([`kCache${l}`, maxContext * kvDim * kv], [`vCache${l}`, maxContext * kvDim * kv]);
  return layout;
}

export function allocateRunState(config: Config, arena: Arena, maxContext: number, maxBatch: number, kvCache: KvCacheFormat = "f32"): RunState {
  const ptr: Record<string, Ptr> = {};
  for (const [name, bytes] of runStateLayout(config, maxContext, maxBatch, kvCache)) ptr[name] = arena.alloc(bytes, name);
  const layers = Array.from({ length: config.numLayers }, (_, l) => l);
  return Object.freeze({
    maxContext, maxBatch,
    x: ptr.x!, xb: ptr.xb!, qkv: ptr.qkv!, att: ptr.att!, proj: ptr.proj!, gateUp: ptr.gateUp!, ffnAct: ptr.ffnAct!,
    logits: ptr.logits!, scores: ptr.scores!, ropeCos: ptr.ropeCos!, ropeSin: ptr.ropeSin!,
    ropeCosLocal: ptr.ropeCosLocal!, ropeSinLocal: ptr.ropeSinLocal!, scratch: ptr.scratch!,
    qx: ptr.qx!, dx: ptr.dx!, px: ptr.px!, kvCache,
    kCache: layers.map((l) => ptr[`kCache${l}`]!), vCache: layers.map((l) => ptr[`vCache${l}`]!),
  });
}

type MatvecKernel = (out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number) => void;
type Q16MatvecKernel = (out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number) => void;
type TiledKernel = (out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, tile0: number, tile1: number, outStride: number) => void;

const TILED: Readonly<Record<TiledDType, TiledKernelName>> = { Q8_0: "matmul_q8_0x4", Q4_0: "matmul_q4_0x4", Q4_1: "matmul_q4_1x4" };
const DEQUANT_TILED_ROW: Readonly<Record<TiledDType, keyof Kernels>> = { Q8_0: "dequant_row_q8_0x4", Q4_0: "dequant_row_q4_0x4", Q4_1: "dequant_row_q4_1x4" };

/** Bytes per f32 value: buffers are addressed in bytes. */
const F32 = 4;

/** Which positions of a forward() call get logits. */
export type LogitsWanted = "last" | "all" | "none";

export class Transformer {
  private readonly invFreq: Float32Array;
  /** The sliding-window layers' inverse frequencies where they have their own base (Gemma 3's, unscaled), or null. */
  private readonly invFreqLocal: Float32Array | null;
  private readonly family: FamilyTraits;
  /**
   * Calibrated stand-ins for skipped FFNs (model/surrogates.ts), per layer, or null: a skipped FFN whose layer has
   * one adds U (Vᵀ h) + b to the residual instead of nothing. Placed by LanguageModel.useSurrogates().
   */
  surrogates: LayerSurrogates | null = null;

  constructor(
    readonly config: Config,
    readonly weights: Weights,
    readonly state: RunState,
    readonly kernels: Kernels,
    readonly arena: Arena,
    /** Helper threads that split the big kernel calls, or null for one thread. */
    readonly pool: ThreadPool | null = null,
  ) {
    this.invFreq = ropeInverseFrequencies(config, weights.ropeFactors === null ? null : arena.f32(weights.ropeFactors, config.headDim / 2));
    const localTheta = config.slidingWindow?.ropeTheta ?? null;
    this.invFreqLocal = localTheta === null ? null : ropeInverseFrequencies({ ...config, ropeTheta: localTheta, ropeScaling: null }, null);
    this.family = FAMILIES[config.architecture];
  }

  /** Threads computing each forward pass (1 without a pool). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Stops helper threads; the transformer must not be used afterwards. */
  close(): void {
    this.pool?.close();
  }

  /**
   * Prefill: runs a prompt (any length that fits the cache) at positions startPos.. in chunks of maxBatch tokens,
   * always with the batched kernels, so a token's result does not depend on how the prompt was chunked (a cached
   * prefix plus the rest gives what one whole prefill gives). Returns the logits asked for: a view of the last
   * position's row ("last", valid until the next call) or a copy of every position's ([n][vocab], "all").
   */
  prefill(tokens: readonly number[], startPos: number, wanted: LogitsWanted = "last", gate: FfnGate = RUN_ALL_FFNS): Float32Array {
    this.checkInput(tokens, startPos);
    const vocab = this.config.vocabSize;
    const all = wanted === "all" ? new Float32Array(tokens.length * vocab) : null;
    let last: Float32Array = new Float32Array(0);
    for (let start = 0; start < tokens.length; start += this.state.maxBatch) {
      const chunk = tokens.slice(start, start + this.state.maxBatch);
      const isLastChunk = start + chunk.length === tokens.length;
      const mode: LogitsWanted = wanted === "all" ? "all" : wanted === "last" && isLastChunk ? "last" : "none";
      const logits = this.forward(chunk, startPos + start, gate, mode, true);
      if (all !== null) all.set(logits, start * vocab);
      else if (mode === "last") last = logits;
    }
    return all ?? last;
  }

  /** Decode: one token at `position` with the one-token kernels. Returns its logits (a view, valid until the next call). */
  decode(token: number, position: number, gate: FfnGate = RUN_ALL_FFNS): Float32Array {
    this.checkInput([token], position);
    return this.forward([token], position, gate, "last", false);
  }

  /**
   * Runs `tokens` (at most maxBatch) at positions startPos, startPos + 1, ... : writes their keys and values into
   * every layer's KV cache and computes logits for the positions asked for, as a view into WASM memory
   * ([1][vocab] for "last", [n][vocab] for "all"). `batched` picks the matmul kernels (prefill) or matvec (decode).
   */
  private forward(tokens: readonly number[], startPos: number, gate: FfnGate, wanted: LogitsWanted, batched: boolean): Float32Array {
    const { config: c, weights: w, state: s, kernels: k } = this;
    const n = tokens.length;
    const h = c.hiddenSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const qkvDim = qDim + 2 * kvDim;
    const rowOf = (buffer: Ptr, width: number, t: number) => buffer + t * width * F32;
    const half = c.headDim / 2;
    this.writeRopeAngles(this.invFreq, s.ropeCos, s.ropeSin, startPos, n);
    if (this.invFreqLocal !== null) this.writeRopeAngles(this.invFreqLocal, s.ropeCosLocal, s.ropeSinLocal, startPos, n);
    // Scores are q·k / sqrt(queryPreAttnScalar), the attention kernel divides by sqrt(headDim): scale q by the ratio.
    const qScale = c.queryPreAttnScalar === c.headDim ? 1 : Math.sqrt(c.headDim / c.queryPreAttnScalar);

    // Token embeddings: one row of the embedding table per token (times sqrt(hidden) in f32 where the family says).
    for (let t = 0; t < n; t++) this.dequantRow(w.embed, tokens[t]!, rowOf(s.x, h, t));
    if (this.family.scalesEmbeddings) k.scale(s.x, s.x, Math.fround(Math.sqrt(h)), n * h);

    for (let l = 0; l < c.numLayers; l++) {
      const layer = w.layers[l]!;
      const local = c.slidingWindow?.layers[l] === true;
      const localRope = local && this.invFreqLocal !== null;
      const ropeCos = localRope ? s.ropeCosLocal : s.ropeCos;
      const ropeSin = localRope ? s.ropeSinLocal : s.ropeSin;

      // Attention sublayer. RMSNorm, then the Q, K and V projections (one fused matrix when they share a format).
      for (let t = 0; t < n; t++) k.rmsnorm(rowOf(s.xb, h, t), rowOf(s.x, h, t), layer.attnNorm, h, c.rmsEps);
      this.project(batched, layer.qkv, s.qkv, qkvDim, s.xb, n);
      for (let t = 0; t < n; t++) {
        const qkv = rowOf(s.qkv, qkvDim, t);
        // Families with Q/K/V biases (qwen2) add them before RoPE.
        if (layer.qkvBias !== null) k.add(qkv, qkv, layer.qkvBias, qkvDim);
        // Families with per-head Q and K norms (qwen3, gemma3) normalize every head before RoPE.
        if (layer.qNorm !== null && layer.kNorm !== null) {
          k.rmsnorm_heads(qkv, layer.qNorm, c.numHeads, c.headDim, c.rmsEps);
          k.rmsnorm_heads(qkv + qDim * F32, layer.kNorm, c.numKvHeads, c.headDim, c.rmsEps);
        }
        if (qScale !== 1) k.scale(qkv, qkv, qScale, qDim);
        // RoPE on the query heads and the key heads, which sit next to each other in the row.
        k.rope(qkv, c.numHeads + c.numKvHeads, c.headDim, rowOf(ropeCos, half, t), rowOf(ropeSin, half, t));
        // Keys and values into this position's row of the layer's KV cache.
        this.storeKv(s.kCache[l]!, startPos + t, qkv + qDim * F32);
        this.storeKv(s.vCache[l]!, startPos + t, qkv + (qDim + kvDim) * F32);
      }
      // Causal attention: token t attends to positions 0 .. startPos + t (the last window.size of them in local layers).
      this.attend(l, startPos, n, local ? c.slidingWindow!.size : 0);
      // Output projection (and the family's post-attention norm) and residual.
      this.project(batched, [layer.wo], s.proj, h, s.att, n);
      if (layer.attnPostNorm !== null) for (let t = 0; t < n; t++) k.rmsnorm(rowOf(s.proj, h, t), rowOf(s.proj, h, t), layer.attnPostNorm, h, c.rmsEps);
      k.add(s.x, s.x, s.proj, n * h);

      // FFN sublayer, unless the skip controller says this layer's FFN is redundant for these tokens; then its
      // calibrated low-rank surrogate runs if the layer has one, else nothing does.
      // Attention above ran regardless, so the KV cache stays complete for later tokens.
      const surrogate = this.surrogates?.[l] ?? null;
      if (gate.runFfn(l)) {
        for (let t = 0; t < n; t++) k.rmsnorm(rowOf(s.xb, h, t), rowOf(s.x, h, t), layer.ffnNorm, h, c.rmsEps);
        this.project(batched, layer.gateUp, s.gateUp, 2 * c.ffnSize, s.xb, n);
        const activation = this.family.activation === "gelu_tanh" ? k.geglu : k.swiglu;
        for (let t = 0; t < n; t++) {
          const gateUp = rowOf(s.gateUp, 2 * c.ffnSize, t);
          activation(rowOf(s.ffnAct, c.ffnSize, t), gateUp, gateUp + c.ffnSize * F32, c.ffnSize);
        }
        this.project(batched, [layer.wDown], s.proj, h, s.ffnAct, n);
        if (layer.ffnPostNorm !== null) for (let t = 0; t < n; t++) k.rmsnorm(rowOf(s.proj, h, t), rowOf(s.proj, h, t), layer.ffnPostNorm, h, c.rmsEps);
        // Residual add, measuring cos(h, h + FFN(norm(h))) for the skip controller in the same pass.
        for (let t = 0; t < n; t++) gate.observe(l, t, k.residual_add_cosine(rowOf(s.x, h, t), rowOf(s.proj, h, t), h));
      } else if (surrogate !== null) {
        // The surrogate: FFN(h) ≈ U (Vᵀ h) + b on the FFN's own input h, fitted by least squares on calibration text
        // (skip/surrogate-fit.ts). Vᵀ h (rank floats a token) goes into the gate/up buffer, unused when the FFN is
        // skipped. Its output is not observed: the skip decisions stay the controller's, from FFNs that ran.
        for (let t = 0; t < n; t++) k.rmsnorm(rowOf(s.xb, h, t), rowOf(s.x, h, t), layer.ffnNorm, h, c.rmsEps);
        this.project(batched, [surrogate.v], s.gateUp, surrogate.rank, s.xb, n);
        this.project(batched, [surrogate.u], s.proj, h, s.gateUp, n);
        for (let t = 0; t < n; t++) k.add(rowOf(s.proj, h, t), rowOf(s.proj, h, t), surrogate.bias, h);
        k.add(s.x, s.x, s.proj, n * h);
      }
    }

    // Final RMSNorm and LM head, for the positions whose logits are wanted.
    if (wanted === "none") return new Float32Array(0);
    const first = wanted === "last" ? n - 1 : 0;
    const count = n - first;
    for (let t = first; t < n; t++) k.rmsnorm(rowOf(s.xb, h, t - first), rowOf(s.x, h, t), w.finalNorm, h, c.rmsEps);
    this.project(batched, [w.lmHead], s.logits, c.vocabSize, s.xb, count);
    return this.arena.f32(s.logits, count * c.vocabSize);
  }

  /**
   * out[t] = [part 0 | part 1 | ...] · in[t] for t < n, each token's output row `stride` floats wide. Tiled matrices
   * run the integer-dot kernels on the input quantized once to int16, and so do file-layout ones marked q16Decode
   * when decoding; other file-layout ones run matvec (decode) or the weight-reusing matmul (prefill) on f32.
   */
  private project(batched: boolean, parts: Projection, out: Ptr, stride: number, input: Ptr, n: number): void {
    const { kernels: k, state: s } = this;
    const cols = parts[0]!.cols;
    if (parts.some((m) => m.layout === "tiles4" || (m.q16Decode && !batched))) k.quantize_q16(input, s.qx, s.dx, s.px, cols, n);
    let offset = 0;
    for (const m of parts) {
      const target = out + offset * F32;
      if (m.layout === "tiles4" && this.pool !== null) this.pool.tiled(TILED[m.dtype as TiledDType], target, m.ptr, s.qx, s.dx, s.px, m.rows, cols, n, stride);
      else if (m.layout === "tiles4") (k[TILED[m.dtype as TiledDType]] as TiledKernel)(target, m.ptr, s.qx, s.dx, s.px, m.rows, cols, n, 0, m.rows / 4, stride);
      else if (m.q16Decode && !batched && this.pool !== null) this.pool.rows(Q16_MATVEC[m.dtype]!, target, m.ptr, s.qx, s.dx, s.px, m.rows, cols, m.rowBytes);
      else if (m.q16Decode && !batched) (k[Q16_MATVEC[m.dtype]!] as Q16MatvecKernel)(target, m.ptr, s.qx, s.dx, s.px, m.rows, cols);
      else if (batched && this.pool !== null) this.pool.matmul(FORMAT_KERNELS[m.dtype].matmul, target, m.ptr, input, m.rows, cols, n, stride, m.rowBytes);
      else if (batched) (k[FORMAT_KERNELS[m.dtype].matmul] as MatmulKernel)(target, m.ptr, input, m.rows, cols, n, s.scratch, stride);
      else (k[FORMAT_KERNELS[m.dtype].matvec] as MatvecKernel)(target, m.ptr, input, m.rows, cols);
      offset += m.rows;
    }
  }

  /**
   * Attention of the batch's n queries (in the qkv rows) over layer l's cache, into the att rows. With a window
   * (> 0) a query sees only the last `window` positions: the kernel gets the cache from the first of them on.
   */
  private attend(l: number, startPos: number, n: number, window: number): void {
    const { config: c, state: s, kernels: k } = this;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const qkvDim = qDim + 2 * kvDim;
    const f16 = s.kvCache === "f16";
    if (this.pool !== null) {
      this.pool.attention(f16, s.att, s.qkv, s.kCache[l]!, s.vCache[l]!, c.numHeads, c.numKvHeads, c.headDim, kvDim, startPos + 1, n, qDim, qkvDim, window);
      return;
    }
    const attention = f16 ? k.attention_f16kv : k.attention;
    const rowBytes = kvDim * (f16 ? 2 : 4);
    for (let t = 0; t < n; t++) {
      const seqLen = startPos + t + 1;
      const first = window > 0 && seqLen > window ? seqLen - window : 0;
      attention(s.att + t * qDim * F32, s.qkv + t * qkvDim * F32, s.kCache[l]! + first * rowBytes, s.vCache[l]! + first * rowBytes, c.numHeads, c.numKvHeads, c.headDim, kvDim, seqLen - first, s.scores, 0, c.numHeads);
    }
  }

  private dequantRow(m: Matrix, row: number, out: Ptr): void {
    if (m.layout === "tiles4") (this.kernels[DEQUANT_TILED_ROW[m.dtype as TiledDType]] as (o: Ptr, w: Ptr, r: number, c: number) => void)(out, m.ptr, row, m.cols);
    else (this.kernels[FORMAT_KERNELS[m.dtype].dequantRow] as (o: Ptr, w: Ptr, c: number) => void)(out, m.ptr + row * m.rowBytes, m.cols);
  }

  /** Writes one position's keys or values (kvDim f32 at `from`) into row `position` of a cache. */
  private storeKv(cache: Ptr, position: number, from: Ptr): void {
    const kvDim = this.config.numKvHeads * this.config.headDim;
    if (this.state.kvCache === "f16") this.kernels.store_f16(cache + position * kvDim * 2, from, kvDim);
    else new Uint8Array(this.arena.memory.buffer).copyWithin(cache + position * kvDim * 4, from, from + kvDim * 4);
  }

  private writeRopeAngles(invFreq: Float32Array, cosPtr: Ptr, sinPtr: Ptr, startPos: number, n: number): void {
    const half = this.config.headDim / 2;
    const cos = this.arena.f32(cosPtr, n * half);
    const sin = this.arena.f32(sinPtr, n * half);
    for (let t = 0; t < n; t++) ropeAngles(invFreq, startPos + t, cos.subarray(t * half, (t + 1) * half), sin.subarray(t * half, (t + 1) * half));
  }

  private checkInput(tokens: readonly number[], startPos: number): void {
    const n = tokens.length;
    if (n < 1) throw new InputError({ file: "forward", field: "tokens", expected: "at least one token", actual: "none" });
    if (!Number.isInteger(startPos) || startPos < 0 || startPos + n > this.state.maxContext) {
      throw new InputError({
        file: "forward", field: "position", expected: `positions within the context of ${this.state.maxContext}`,
        actual: `${startPos}..${startPos + n - 1}`,
      });
    }
    for (let t = 0; t < n; t++) {
      const id = tokens[t]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new InputError({ file: "forward", field: `tokens[${t}]`, expected: `a token id in 0..${this.config.vocabSize - 1}`, actual: String(id) });
      }
    }
  }
}
