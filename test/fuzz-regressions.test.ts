// Replays every input that ever failed the fuzz property (test/fixtures/fuzz-regressions/*.json: the case, why it
// failed and how it was fixed, and the outcome it has now), through the same harness and watchdog as the campaign.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { FuzzCase } from "./fuzz/cases.js";
import type { Outcome } from "./fuzz/run-case.js";
import { runItems } from "./fuzz/runner.js";
import { SMOL_PATH } from "./fuzz/seeds.js";

interface Regression {
  readonly why: string;
  /** For typed errors: the class, and the "file: field" the message starts with. */
  readonly expect: { readonly status: "ok" | "typed"; readonly kind?: string; readonly where?: string };
  readonly case: FuzzCase;
}

const DIR = new URL("./fixtures/fuzz-regressions/", import.meta.url).pathname;

function usesSmol(c: FuzzCase): boolean {
  return JSON.stringify([c.gguf, c.hf, c.tokenizerOnly]).includes("smol");
}

test("every fuzz regression now loads or fails with the typed error recorded for it", async () => {
  const names = readdirSync(DIR).filter((name) => name.endsWith(".json")).sort();
  assert.ok(names.length > 0);
  const regressions = names.map((name) => ({ name, ...(JSON.parse(readFileSync(join(DIR, name), "utf8")) as Regression) }));
  for (const r of regressions) assert.ok(r.why.length > 20, `${r.name} says why it failed and how it was fixed`);
  const runnable = regressions.filter((r) => existsSync(SMOL_PATH) || !usesSmol(r.case));
  if (runnable.length < regressions.length) console.log(`  (skipping ${regressions.length - runnable.length} SmolLM2 regressions: model not pulled)`);
  // Renumber: cases from different campaigns may share a target and index.
  const cases = runnable.map((r, i) => ({ ...r.case, index: i }));
  const outcomes = new Map<number, Outcome>();
  await runItems(cases.map((c) => ({ case: c })), { workers: 2, onOutcome: (_target, index, outcome) => outcomes.set(index, outcome) });
  const wrong: string[] = [];
  runnable.forEach((r, i) => {
    const outcome = outcomes.get(i);
    const got = outcome === undefined ? "no outcome" : `${outcome.status} ${outcome.kind}`;
    const expected = r.expect.status === "ok" ? "ok" : `typed ${r.expect.kind} at ${r.expect.where}`;
    const typedMatches = outcome?.kind === r.expect.kind && (r.expect.where === undefined || outcome?.message?.startsWith(`${r.expect.where}: expected`) === true);
    if (outcome === undefined || outcome.status !== r.expect.status || (r.expect.status === "typed" && !typedMatches)) {
      wrong.push(`${r.name}: expected ${expected}, got ${got}${outcome?.message ? `: ${outcome.message.split("\n")[0]}` : ""}`);
    }
  });
  assert.equal(wrong, [], wrong.join("\n"));
});

test.run();
