// A model fingerprint: SHA-256 over the resolved config, the tensor table (names, formats, shapes) and the first
// and last 4 KiB of every tensor's bytes. Cheap (no full-file hash) yet different for different checkpoints or
// quantizations; skip profiles record it so a profile is only applied to the model it was calibrated on.

import type { Config } from "./config.js";
import { GLOBAL_TENSORS, LAYER_TENSORS, ggufLayerName, hfLayerName, type LayerTensor } from "./tensor-names.js";
import type { WeightSource } from "./weights.js";

const SAMPLE = 4096;

export async function modelFingerprint(config: Config, source: WeightSource): Promise<string> {
  const names = [GLOBAL_TENSORS.embed[source.naming], GLOBAL_TENSORS.finalNorm[source.naming], GLOBAL_TENSORS.lmHead[source.naming]];
  for (let l = 0; l < config.numLayers; l++) {
    for (const tensor of Object.keys(LAYER_TENSORS) as LayerTensor[]) names.push(source.naming === "gguf" ? ggufLayerName(l, tensor) : hfLayerName(l, tensor));
  }
  const parts: Uint8Array[] = [new TextEncoder().encode(JSON.stringify(config))];
  for (const name of names) {
    const tensor = source.get(name);
    if (tensor === undefined) continue;
    parts.push(new TextEncoder().encode(`${name}:${tensor.dtype}:${tensor.shape.join("x")};`));
    parts.push(tensor.bytes.subarray(0, SAMPLE), tensor.bytes.subarray(Math.max(0, tensor.bytes.byteLength - SAMPLE)));
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
