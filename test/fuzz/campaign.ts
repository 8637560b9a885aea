// `npm run fuzz`: a seeded fuzz campaign over every input format (see test/fuzz/cases.ts), on worker threads with a
// per-case time bound. Prints per-target statistics; writes each failing case as JSON into --out, ready to be
// triaged and moved into test/fixtures/fuzz-regressions/ (whose replay test runs them all).
//
//   npm run fuzz -- [--cases 100000] [--seed 1] [--workers 2] [--sweep all|N] [--only gguf-tiny,config] [--out DIR]

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TargetName } from "./cases.js";
import { CaseFactory } from "./cases.js";
import { runCampaign, summarize } from "./runner.js";
import { Seeds } from "./seeds.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const cases = Number(flag("cases", "100000"));
const seed = Number(flag("seed", "1"));
const workers = Number(flag("workers", "2"));
const out = flag("out", new URL("../fixtures/fuzz-regressions/new", import.meta.url).pathname);
const only = process.argv.includes("--only") ? (flag("only", "").split(",") as TargetName[]) : undefined;
const sweepFlag = flag("sweep", "all");
const sweepAll = new CaseFactory(new Seeds(), seed).truncationPoints().length;
const sweepCases = only !== undefined ? 0 : Math.min(cases, sweepFlag === "all" ? sweepAll : Number(sweepFlag));

console.log(`fuzz: ${cases} cases (${sweepCases} truncation sweep), seed ${seed}, ${workers} workers`);
const result = await runCampaign({ seed, cases, sweepCases, only }, {
  workers,
  onProgress: (done, total, partial) => {
    const rate = done / (partial.wallMs / 1000);
    process.stderr.write(`\r${done}/${total} cases, ${partial.failures.length} failures, ${rate.toFixed(0)} cases/s   `);
  },
});
process.stderr.write("\n");
console.log(summarize(result));
if (result.failures.length > 0) {
  mkdirSync(out, { recursive: true });
  const seen = new Set<string>();
  for (const { fuzzCase, outcome } of result.failures) {
    const name = `${fuzzCase.target}-${fuzzCase.index}.json`;
    const key = `${outcome.kind}:${(outcome.message ?? "").split("\n")[0]!.replace(/\d+/g, "N")}`;
    const first = !seen.has(key);
    seen.add(key);
    writeFileSync(join(out, name), `${JSON.stringify({ outcome, case: fuzzCase }, null, 1)}\n`);
    if (first) console.log(`FAIL ${name} [${fuzzCase.label}] ${outcome.kind}: ${(outcome.message ?? "").split("\n").slice(0, 3).join(" | ")}`);
  }
  console.log(`${result.failures.length} failing cases written to ${out} (${seen.size} distinct)`);
  process.exitCode = 1;
}
// A worker terminated for hanging inside a native builtin (say, a search over a 2^31-long sparse array) only stops
// when that builtin returns; do not wait for it.
process.exit(process.exitCode ?? 0);
