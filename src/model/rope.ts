// RoPE angles: the inverse frequencies of each half-split pair (with the config's scaling) and the cos/sin of
// position * frequency. Computed in f32 steps the way HF's LlamaRotaryEmbedding does, so angles match it.

import { FormatError } from "../errors.js";
import type { Config } from "./config.js";
import { ROPE_FREQS_GGUF } from "./tensor-names.js";

/**
 * Inverse frequency of each rotated pair i in [0, headDim/2), scaling applied (HF rope_init_fn). `factors` are the
 * rope_freqs.weight values of a "frequencyFactors" config (llama.cpp: theta_i = position * base^(-2i/d) / factor_i).
 */
export function ropeInverseFrequencies(config: Config, factors: Float32Array | null = null): Float32Array {
  const half = config.headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = Math.fround((2 * i) / config.headDim);
    inv[i] = Math.fround(1 / Math.fround(config.ropeTheta ** exponent));
  }
  const scaling = config.ropeScaling;
  if (scaling === null) return inv;
  if (scaling.type === "linear") return inv.map((f) => f / scaling.factor);
  if (scaling.type === "frequencyFactors") {
    if (factors === null || factors.length !== half) {
      throw new FormatError({ field: ROPE_FREQS_GGUF, expected: `${half} per-frequency factors`, actual: factors === null ? "none" : `${factors.length}` });
    }
    return inv.map((f, i) => f / factors[i]!);
  }
  // llama3: long wavelengths are slowed by `factor`, short ones kept, the band between interpolated smoothly.
  const lowWavelen = scaling.originalContextLength / scaling.lowFreqFactor;
  const highWavelen = scaling.originalContextLength / scaling.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / scaling.factor;
    const smooth = (scaling.originalContextLength / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
    return (1 - smooth) * (f / scaling.factor) + smooth * f;
  });
}

/** Writes cos and sin of position * invFreq[i] into the two arrays (each headDim/2 long). */
export function ropeAngles(invFreq: Float32Array, position: number, cos: Float32Array, sin: Float32Array): void {
  for (let i = 0; i < invFreq.length; i++) {
    const angle = Math.fround(position * invFreq[i]!);
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
}

/**
 * rope_freqs.weight must hold positive finite divisors whose frequencies keep every rotation angle over the context
 * finite in float32 (a factor of 1e-40 would make position * frequency infinite and the logits NaN).
 */
export function checkRopeFactors(config: Config, factors: Float32Array, file: string): void {
  const frequencies = ropeInverseFrequencies(config, factors);
  for (let i = 0; i < factors.length; i++) {
    const factor = factors[i]!;
    if (!(Number.isFinite(factor) && factor > 0) || !Number.isFinite(Math.fround((config.contextLength - 1) * frequencies[i]!))) {
      throw new FormatError({
        file, field: `${ROPE_FREQS_GGUF}[${i}]`,
        expected: `a positive finite factor whose frequency keeps the angles over ${config.contextLength} positions finite`, actual: String(factor),
      });
    }
  }
}
