// Per-layer FFN similarity of the full model, recorded for calibration: cos(h, h + FFN(RMSNorm(h))) for every
// layer and every token of some windows, measured with batched prefill (fast) and every FFN running. From the
// record: the per-layer curve (mean, p10, p90) and a simulation of the paper's rule, which predicts the skip ratio
// a (threshold, k) would reach without running the model (approximately: after a skip, the model's later hidden
// states differ a little from the recorded full-model ones).

import { ConfigError, show } from "../errors.js";
import type { FfnGate, Transformer } from "../model/transformer.js";
import { skipStats } from "./controller.js";

export interface SimilarityRecord {
  readonly layers: number;
  /** Tokens recorded (all windows, in order). */
  readonly count: number;
  /** similarity[layer * count + i] for recorded token i. */
  readonly similarity: Float32Array;
  /** Position of token i in its window. */
  readonly position: Int32Array;
  /** Length of token i's window. */
  readonly windowLength: Int32Array;
}

/** Runs each window through the full model (prefill from position 0) and records every FFN's similarity. */
export function recordSimilarities(transformer: Transformer, windows: readonly (readonly number[])[]): SimilarityRecord {
  const layers = transformer.config.numLayers;
  const count = windows.reduce((sum, w) => sum + w.length, 0);
  const similarity = new Float32Array(layers * count).fill(NaN);
  const position = new Int32Array(count);
  const windowLength = new Int32Array(count);
  const maxBatch = Math.max(1, transformer.state.maxBatch);
  let base = 0;
  let chunkBase = 0;
  // A gate's `token` is the index within one forward() call; prefill runs one call per maxBatch tokens, so calling
  // it with at most maxBatch tokens at a time keeps the index within our chunk (prefill is chunking-independent).
  const gate: FfnGate = {
    runFfn: () => true,
    observe(layer, token, value) {
      similarity[layer * count + chunkBase + token] = value;
    },
  };
  for (const w of windows) {
    for (let start = 0; start < w.length; start += maxBatch) {
      const chunk = w.slice(start, start + maxBatch);
      chunkBase = base + start;
      transformer.prefill(chunk, start, "none", gate);
    }
    for (let p = 0; p < w.length; p++) {
      position[base + p] = p;
      windowLength[base + p] = w.length;
    }
    base += w.length;
  }
  for (let i = 0; i < similarity.length; i++) {
    if (!Number.isFinite(similarity[i]!)) {
      throw new ConfigError({ file: "calibration", field: `similarity of layer ${Math.floor(i / count)}`, expected: "a finite cosine similarity for every token", actual: show(similarity[i]) });
    }
  }
  return { layers, count, similarity, position, windowLength };
}

export interface SimilarityCurve {
  readonly mean: number[];
  readonly p10: number[];
  readonly p90: number[];
}

/** Quantile q of sorted values, linearly interpolated (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Per layer mean, p10, p90 over the recorded tokens `select` accepts (default: all). Rounded to 5 decimals. */
export function similarityCurve(record: SimilarityRecord, select: (i: number) => boolean = () => true): SimilarityCurve {
  const chosen: number[] = [];
  for (let i = 0; i < record.count; i++) if (select(i)) chosen.push(i);
  const round = (v: number) => Math.round(v * 1e5) / 1e5;
  const curve: SimilarityCurve = { mean: [], p10: [], p90: [] };
  for (let l = 0; l < record.layers; l++) {
    const values = Float64Array.from(chosen, (i) => record.similarity[l * record.count + i]!).sort();
    curve.mean.push(round(values.reduce((a, b) => a + b, 0) / values.length));
    curve.p10.push(round(quantile(values, 0.1)));
    curve.p90.push(round(quantile(values, 0.9)));
  }
  return curve;
}

/**
 * The recorded tokens a teacher-forced run (prefix tokens prefilled) scores with a decode step after the warm-up:
 * position p is decode step p - prefix, after the warm-up when that is >= warmup, and the window's last token gets
 * no decode step.
 */
export function decodeStepsAfterWarmup(record: SimilarityRecord, warmup: number, prefix = 1): number[] {
  const out: number[] = [];
  for (let i = 0; i < record.count; i++) {
    const p = record.position[i]!;
    if (p - prefix >= warmup && p <= record.windowLength[i]! - 2) out.push(i);
  }
  return out;
}

/**
 * The paper rule replayed on recorded similarities: the fraction of FFN blocks (of layers x tokens) it would skip
 * on `tokens` (indices into the record).
 */
export function simulatePaperRatio(record: SimilarityRecord, tokens: readonly number[], policy: { coldStart: number; coldEnd: number; threshold: number; k: number }): number {
  if (tokens.length === 0) return 0;
  const { coldStart, coldEnd, threshold, k } = policy;
  let skipped = 0;
  for (const i of tokens) {
    let remaining = 0;
    for (let l = coldStart; l < coldEnd; l++) {
      if (remaining > 0) {
        remaining--;
        skipped++;
      } else if (record.similarity[l * record.count + i]! >= threshold) {
        remaining = k;
      }
    }
  }
  return skipStats(record.layers, tokens.length, 0, skipped).ratio;
}

/**
 * The threshold at which the simulated ratio is closest to `ratio` (the ratio falls as the threshold rises), by
 * bisection over [lo, hi]; rounded to `digits` decimals.
 */
export function simulatedThreshold(
  record: SimilarityRecord, tokens: readonly number[], policy: { coldStart: number; coldEnd: number; k: number }, ratio: number, digits = 4,
): number {
  let lo = -1;
  let hi = 1;
  for (let iter = 0; iter < 50; iter++) {
    const mid = (lo + hi) / 2;
    if (simulatePaperRatio(record, tokens, { ...policy, threshold: mid }) > ratio) lo = mid;
    else hi = mid;
  }
  const scale = 10 ** digits;
  const candidates = [Math.floor(lo * scale) / scale, Math.ceil(hi * scale) / scale, Math.round(((lo + hi) / 2) * scale) / scale];
  let best = candidates[0]!;
  let bestError = Infinity;
  for (const c of candidates) {
    const error = Math.abs(simulatePaperRatio(record, tokens, { ...policy, threshold: c }) - ratio);
    if (error < bestError) {
      bestError = error;
      best = c;
    }
  }
  return Math.max(-1, Math.min(1, best));
}
