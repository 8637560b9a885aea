// A model fingerprint: SHA-256 over the resolved config, the tensor table (names, formats, shapes) and the first
// and last 4 KiB of every tensor's bytes. Cheap (no full-file hash) yet different for different checkpoints or
// quantizations; skip profiles record it so a profile is only applied to the model it was calibrated on.

import type { Config } from "./config.js";
import { GLOBAL_TENSORS, LAYER_TENSORS, ggufLayerName, hfLayerName, type LayerTensor } from "./tensor-names.js";
import type { TensorTable, WeightSource } from "./weights.js";

/** Bytes taken from the start and from the end of each tensor. */
export const FINGERPRINT_SAMPLE = 4096;

/** The first and last FINGERPRINT_SAMPLE bytes of a tensor (overlapping for small tensors). */
export interface TensorSample {
  readonly head: Uint8Array;
  readonly tail: Uint8Array;
}

export function sampleOf(bytes: Uint8Array): TensorSample {
  return { head: bytes.subarray(0, FINGERPRINT_SAMPLE), tail: bytes.subarray(Math.max(0, bytes.byteLength - FINGERPRINT_SAMPLE)) };
}

export async function modelFingerprint(config: Config, source: WeightSource): Promise<string> {
  return fingerprintFromSamples(config, source, (name) => {
    const tensor = source.get(name);
    return tensor && sampleOf(tensor.bytes);
  });
}

/** The fingerprint from samples taken while a model streamed in (see sampleOf). */
export async function fingerprintFromSamples(config: Config, source: TensorTable, sample: (name: string) => TensorSample | undefined): Promise<string> {
  const names = [GLOBAL_TENSORS.embed[source.naming], GLOBAL_TENSORS.finalNorm[source.naming], GLOBAL_TENSORS.lmHead[source.naming]];
  for (let l = 0; l < config.numLayers; l++) {
    for (const tensor of Object.keys(LAYER_TENSORS) as LayerTensor[]) names.push(source.naming === "gguf" ? ggufLayerName(l, tensor) : hfLayerName(l, tensor));
  }
  // The config's fields in a fixed order: adding a field to Config later must not change every fingerprint (and so
  // orphan every shipped skip profile).
  const c = config;
  const fields = {
    architecture: c.architecture, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, numKvHeads: c.numKvHeads,
    headDim: c.headDim, ffnSize: c.ffnSize, vocabSize: c.vocabSize, ropeTheta: c.ropeTheta, ropeScaling: c.ropeScaling,
    rmsEps: c.rmsEps, tiedEmbeddings: c.tiedEmbeddings, contextLength: c.contextLength,
  };
  const parts: Uint8Array[] = [new TextEncoder().encode(JSON.stringify(fields))];
  for (const name of names) {
    const tensor = source.info(name);
    const bytes = sample(name);
    if (tensor === undefined || bytes === undefined) continue;
    parts.push(new TextEncoder().encode(`${name}:${tensor.dtype}:${tensor.shape.join("x")};`));
    parts.push(bytes.head, bytes.tail);
  }
  const total = parts.reduce((sum, p) => sum + p.byteLength, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    joined.set(p, offset);
    offset += p.byteLength;
  }
  const digest = await crypto.subtle.digest("SHA-256", joined);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
