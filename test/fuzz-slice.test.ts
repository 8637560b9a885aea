// The CI slice of the fuzz campaign (test/fuzz/, `npm run fuzz` for the full one): 10,000 seeded cases, each run
// through loadModel (parse, config, tokenizer, chat template, weights) and, when it loads, one generate call
// (prefill + a decode step), on two worker threads with a 2 s bound per case (15 s for SmolLM2 cases).
//
// Composition: every truncation boundary of the tiny Q4_1 GGUF and of the three tiny safetensors files (1,323
// cases), then random cases over all formats. SmolLM2 cases are few here (~0.5% of the random cases for its GGUF
// header, ~0.15% for its tokenizer.json) because each costs ~0.5 s; the full campaign gives them 3% and 1.5%.
// Every case is a full load attempt: none is parse-only.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { TARGET_WEIGHTS, type TargetName } from "./fuzz/cases.js";
import { runCampaign, summarize } from "./fuzz/runner.js";

const CI_WEIGHTS: readonly (readonly [number, TargetName])[] = TARGET_WEIGHTS.map(([w, t]) => [t === "gguf-smol" ? 0.5 : t === "tokenizer-smol" ? 0.15 : w, t] as const);

test("fuzz slice: 10,000 seeded cases, every one loads and runs or fails with a typed error", async () => {
  const result = await runCampaign(
    { seed: 20261128, cases: 10_000, sweepCases: 10_000, sweepSeeds: ["gguf-tiny-Q4_1", "st-tiny-F32", "st-tiny-F16", "st-tiny-BF16"], weights: CI_WEIGHTS },
    { workers: 2 },
  );
  console.log(`\n${summarize(result)}`);
  const failures = result.failures.map(({ fuzzCase, outcome }) => `${fuzzCase.target}-${fuzzCase.index} [${fuzzCase.label}] ${outcome.kind}: ${(outcome.message ?? "").split("\n")[0]}`);
  assert.is(result.total, 10_000);
  assert.equal(failures, [], `failing cases (replay with test/fuzz/campaign.ts --seed 20261128):\n${failures.join("\n")}`);
  // The slice must exercise both sides of the property, in every format.
  for (const [target, stats] of Object.entries(result.byTarget)) {
    const typed = Object.values(stats.typed).reduce((a, b) => a + b, 0);
    if (target !== "truncate-sweep" && target !== "tokenizer-smol" && target !== "gguf-smol") assert.ok(stats.ok > 0 && typed > 0, `${target}: ${stats.ok} loaded, ${typed} typed errors`);
  }
});

test.run();
