// Replays fuzz cases from JSON files (a campaign's failure dumps or regression fixtures) and prints each outcome.
// With --add DIR --why TEXT, stores each case as a regression fixture expecting the outcome it has now.
//
//   node --import tsx test/fuzz/replay.ts /tmp/failures/*.json
//   node --import tsx test/fuzz/replay.ts --add test/fixtures/fuzz-regressions --why "root cause; fix" failure.json

import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { FuzzCase } from "./cases.js";
import type { Outcome } from "./run-case.js";
import { runItems } from "./runner.js";

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const addDir = option("add");
const why = option("why");
const files = args;
const cases = files.map((file) => (JSON.parse(readFileSync(file, "utf8")) as { case: FuzzCase }).case);
const result = await runItems(cases.map((c) => ({ case: c })), { workers: 1 });
const outcomes = new Map<string, string>();
for (const [target, stats] of Object.entries(result.byTarget)) outcomes.set(target, JSON.stringify(stats.typed));
for (const failure of result.failures) console.log(`FAIL ${failure.fuzzCase.target}-${failure.fuzzCase.index} ${failure.outcome.kind}: ${(failure.outcome.message ?? "").split("\n")[0]}`);
console.log(`${cases.length} cases, ${result.failures.length} failures; typed outcomes by target: ${[...outcomes].map(([t, o]) => `${t} ${o}`).join("; ")}`);

if (addDir !== undefined) {
  if (result.failures.length > 0) {
    console.error("not adding: some cases still fail");
    process.exit(1);
  }
  // Run one by one to learn each case's own outcome.
  for (let i = 0; i < cases.length; i++) {
    let outcome: Outcome | undefined;
    await runItems([{ case: cases[i]! }], { workers: 1, onOutcome: (_t, _i, o) => { outcome = o; } });
    // For a typed error: its class and where it points (the "file: field" before ": expected").
    const where = outcome?.message?.split(": expected")[0];
    const expect = outcome?.status === "ok" ? { status: "ok" } : { status: "typed", kind: outcome?.kind, where };
    const name = basename(files[i]!);
    writeFileSync(join(addDir, name), `${JSON.stringify({ why, expect, case: cases[i] }, null, 1)}\n`);
    console.log(`added ${name}: ${JSON.stringify(expect)}`);
  }
}
