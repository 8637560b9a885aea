// The sweep's report from hand-made result lines: row order, the pooled QA skip ratios, the quality-bar reading,
// and an SVG that is well-formed XML with one line per policy in every panel.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { TaskName } from "../bench/eval/data.js";
import type { ResultLine } from "../bench/eval/result.js";
import { pooledRatio, qualityBar, sweepConfigId, sweepMarkdown, sweepRows, sweepSvg, sweepTable } from "../bench/eval/sweep-report.js";
import type { SkipPolicy } from "../src/skip/policies.js";
import { parseXml } from "./helpers/xml.js";

const test = suite("eval sweep report");

function line(task: TaskName, policy: "off" | "paper" | "fixed" | "random", target: number, metrics: Record<string, number>, skip: { steps: number; warm: number; skipped: number }): ResultLine {
  const p: SkipPolicy =
    policy === "off" ? { kind: "off" }
    : policy === "paper" ? { kind: "paper", warmup: 6, coldStart: 1, coldEnd: 29, threshold: 0.97, k: 2 }
    : policy === "fixed" ? { kind: "fixed", warmup: 6, layers: [11, 12] }
    : { kind: "random", warmup: 6, coldStart: 1, coldEnd: 29, count: 8, seed: 0 };
  const id = policy === "off" ? "full" : sweepConfigId(policy, target, 6);
  return {
    task, n: 300, metrics,
    skip: {
      config: id, setting: policy, policy: p, warmup: policy === "off" ? 0 : 6, ...(policy === "off" ? {} : { target }),
      ratio: skip.steps === 0 ? 0 : skip.skipped / (30 * skip.steps), ratioAfterWarmup: skip.steps === skip.warm ? 0 : skip.skipped / (30 * (skip.steps - skip.warm)),
      decodeSteps: skip.steps, warmupSteps: skip.warm, skipped: skip.skipped,
    },
    decodeTokensPerSecond: 55, data: {}, model: { name: "m", fingerprint: "f", layers: 30 }, threads: 1, commit: "c", command: "x", date: "d",
  };
}

const none = { steps: 1000, warm: 400, skipped: 0 };
const results: ResultLine[] = [
  line("freebaseqa", "off", 0, { accuracy: 0.1, accuracyStderr: 0.017 }, none),
  line("nq", "off", 0, { accuracy: 0.04, accuracyStderr: 0.011 }, none),
  line("wikitext", "off", 0, { perplexity: 60 }, { steps: 20000, warm: 960, skipped: 0 }),
  line("cnndm", "off", 0, { rougeL: 0.2 }, { steps: 6000, warm: 300, skipped: 0 }),
  line("freebaseqa", "paper", 0.25, { accuracy: 0.09, accuracyStderr: 0.017, agreement: 0.6 }, { steps: 1000, warm: 400, skipped: 4500 }),
  line("nq", "paper", 0.25, { accuracy: 0.03, accuracyStderr: 0.01, agreement: 0.5, gained: 3, lost: 6 }, { steps: 1000, warm: 400, skipped: 4500 }),
  line("wikitext", "paper", 0.25, { perplexity: 200 }, { steps: 20000, warm: 960, skipped: 142800 }),
  line("cnndm", "paper", 0.25, { rougeL: 0.18, rougeLVsFull: 0.4 }, { steps: 6000, warm: 300, skipped: 42750 }),
  line("freebaseqa", "random", 0.25, { accuracy: 0.05, accuracyStderr: 0.013, agreement: 0.3 }, { steps: 1000, warm: 400, skipped: 4800 }),
  line("nq", "random", 0.25, { accuracy: 0.02, accuracyStderr: 0.008, agreement: 0.2 }, { steps: 1000, warm: 400, skipped: 4800 }),
  line("freebaseqa", "paper", 0.1, { accuracy: 0.1, accuracyStderr: 0.017, agreement: 0.9 }, { steps: 1000, warm: 400, skipped: 1800 }),
  line("nq", "paper", 0.1, { accuracy: 0.04, accuracyStderr: 0.011, agreement: 0.9 }, { steps: 1000, warm: 400, skipped: 1800 }),
];

test("rows: the full model first, then each policy by target; QA ratios pooled over both sets", () => {
  const rows = sweepRows(results);
  assert.equal(rows.map((r) => `${r.policy}@${r.target}`), ["full@0", "paper@0.1", "paper@0.25", "random@0.25"]);
  const pooled = pooledRatio([results[4], results[5]])!;
  assert.ok(Math.abs(pooled.ratio - 9000 / (30 * 2000)) < 1e-12);
  assert.ok(Math.abs(pooled.ratioAfterWarmup - 0.25) < 1e-12);
  assert.is(pooledRatio([undefined]), undefined);
});

test("table: one line per configuration, with the ratios, metrics and dashes for what is missing", () => {
  const table = sweepTable(results).split("\n");
  assert.is(table.length, 2 + 4);
  assert.ok(table[2]!.startsWith("| full model | 0 | – | 0.0 / 0.0 | 10.0 ± 1.7 | 4.0 ± 1.1 | 100 / 100 | 0.0 / 0.0 | 60.00 |"), table[2]);
  assert.ok(table[4]!.startsWith("| paper | 25 | 6 | 15.0 / 25.0 | 9.0 ± 1.7 | 3.0 ± 1.0 | 60.0 / 50.0 | 23.8 / 25.0 | 200.00 |"), table[4]);
  assert.ok(table[5]!.includes("| random | 25 | 6 | 16.0 / 26.7 |") && table[5]!.includes("| – |"), table[5]);
});

test("quality bar: points lost at 25%, the comparison with random, where the paper policy breaks", () => {
  const text = qualityBar(results).join("\n");
  assert.match(text, /lost 1\.0 points of QA accuracy/);
  assert.match(text, /\*\*met\*\*/);
  assert.match(text, /\+2\.5 points \(± 1\.2\) \(better\)/);
  assert.not.match(text, /paired standard error/, "FreebaseQA has no gained/lost counts");
  assert.match(text, /first breaks .* at target 25%/);
  const md = sweepMarkdown({ results, profiles: [], command: "ffnskip sweep", commit: "abc", date: "now", machine: "m", data: ["d"], pending: ["cnndm/random-0.25-w6"], svgName: "s.svg" });
  assert.match(md, /\*\*Incomplete:\*\* 1 task x configuration/);
  assert.match(md, /!\[metrics vs skip ratio\]\(s\.svg\)/);
});

test("SVG: well-formed, six panels, a line per policy where measured, 'not measured' otherwise", () => {
  const svg = sweepSvg(results);
  const elements = parseXml(svg);
  assert.is(elements[0]!.name, "svg");
  const paths = elements.filter((e) => e.name === "path");
  // FreebaseQA, NQ, agreement: paper + random; WikiText and both CNN/DM panels: paper only.
  assert.is(paths.length, 3 * 2 + 3);
  assert.ok(paths.every((p) => /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/.test(p.attributes.d!)), "each line has at least two points");
  assert.is(elements.filter((e) => e.name === "text" && e.text === "not measured yet").length, 0);
  const empty = parseXml(sweepSvg(results.filter((r) => r.task !== "wikitext")));
  assert.is(empty.filter((e) => e.name === "text" && e.text === "not measured yet").length, 1);
  assert.ok(elements.some((e) => e.name === "text" && e.text.includes("WikiText-2 perplexity")));
});

test.run();
