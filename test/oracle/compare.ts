// Our engine against an oracle sequence (test/oracle/oracle.ts): the comparisons every oracle test makes.

import type { Transformer } from "../../src/model/transformer.js";
import { argmax } from "../../src/score.js";
import type { OracleSequence } from "./oracle.js";

/** Max |ours - oracle| over all positions, through prefill and through one-token decode steps. */
export function logitErrors(model: Transformer, seq: OracleSequence): { prefill: number; decode: number } {
  const ids = seq.inputIds;
  const all = model.prefill(ids, 0, "all");
  let prefill = 0;
  for (let i = 0; i < all.length; i++) prefill = Math.max(prefill, Math.abs(all[i]! - seq.logits[i]!));
  let decode = 0;
  for (let p = 0; p < ids.length; p++) {
    const row = model.decode(ids[p]!, p);
    for (let v = 0; v < seq.vocab; v++) decode = Math.max(decode, Math.abs(row[v]! - seq.logits[p * seq.vocab + v]!));
  }
  return { prefill, decode };
}

/** Our greedy continuation (decode path), compared with the oracle's; returns the first divergence or -1. */
export function greedyDivergence(model: Transformer, seq: OracleSequence): { ours: number[]; firstDiff: number } {
  const ids = seq.inputIds;
  let logits = model.prefill(ids, 0, "last");
  const ours: number[] = [];
  for (let i = 0; i < seq.greedyNewIds.length; i++) {
    const next = argmax(logits);
    ours.push(next);
    if (i + 1 < seq.greedyNewIds.length) logits = model.decode(next, ids.length + i);
  }
  return { ours, firstDiff: ours.findIndex((id, i) => id !== seq.greedyNewIds[i]) };
}
