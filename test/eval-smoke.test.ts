// CI smoke test of `npm run eval`: every task on 2 rows of the real data (from FFNSKIP_EVAL_DATA, ../shared/data
// next to the checkout, or /work/shared/data) with SmolLM2 (when pulled), checking that the result line is complete and
// well-formed, not what the metrics are. Skips with a message when the model or the data is missing.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { describeResult, runEval } from "../bench/eval/eval.js";
import type { ResultLine } from "../bench/eval/result.js";
import { smolLM2 } from "./helpers/skip-models.js";

const test = suite("eval smoke");
const model = await smolLM2("eval smoke");
// The shared data sits next to the checkout (../shared/data); a clone elsewhere finds it at this machine's place.
const DATA_DIRS = [
  process.env.FFNSKIP_EVAL_DATA,
  join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..", "shared", "data"),
  "/work/shared/data",
].filter((d): d is string => d !== undefined);
const filesIn = (dir: string) => ({
  freebaseqa: join(dir, "freebaseqa_eval", "dev.jsonl"),
  nq: join(dir, "nq_open_dev", "dev.jsonl"),
  wikitext: join(dir, "wikitext2", "wiki.test.raw.nonblank_crlf.txt"),
  cnndm: join(dir, "cnndm_test_frank", "dev.jsonl"),
  mtbench: join(dir, "mt_bench", "question.jsonl"),
});
const DATA = DATA_DIRS.find((dir) => Object.values(filesIn(dir)).every((f) => existsSync(f))) ?? DATA_DIRS[0]!;
const FILES = filesIn(DATA);
const missing = Object.values(FILES).filter((f) => !existsSync(f));
if (model !== undefined && missing.length > 0) console.log(`  [eval smoke] skipping: data missing (${missing.join(", ")}); set FFNSKIP_EVAL_DATA`);
const ready = model !== undefined && missing.length === 0;
const tmp = mkdtempSync(join(tmpdir(), "ffnskip-eval-"));
const quiet = { log: () => {} };

const ratio = (v: unknown) => typeof v === "number" && v >= 0 && v <= 1;

/** The fields every result line carries, with sane types and ranges. */
function checkLine(r: ResultLine, task: string, n: number, config: string): void {
  assert.is(r.task, task);
  assert.is(r.n, n);
  assert.is(r.skip.config, config);
  assert.ok(ratio(r.skip.ratio) && ratio(r.skip.ratioAfterWarmup), JSON.stringify(r.skip));
  assert.ok(r.skip.ratioAfterWarmup >= r.skip.ratio, "the ratio without warm-up steps is the larger");
  assert.ok(Number.isSafeInteger(r.skip.decodeSteps) && r.skip.decodeSteps > 0 && r.skip.warmupSteps <= r.skip.decodeSteps);
  assert.ok(typeof r.skip.policy === "object" && typeof r.skip.warmup === "number");
  if (config !== "full") assert.ok(r.skip.skipped > 0, "something was skipped");
  assert.ok(r.decodeTokensPerSecond > 0);
  assert.match(r.model.fingerprint, /^[0-9a-f]{64}$/);
  assert.is(r.model.layers, 30);
  assert.ok(typeof r.commit === "string" && r.commit.length > 0);
  assert.match(r.command, /^npm run eval -- --task /);
  assert.ok(!Number.isNaN(Date.parse(r.date)));
  for (const [key, value] of Object.entries(r.metrics)) assert.ok(value === null || Number.isFinite(value), `${key}: ${value}`);
  assert.ok(JSON.parse(JSON.stringify(r)), "serialisable");
  assert.ok(describeResult(r).startsWith(`${task} n=${n} ${config}`));
}

test("factoid QA: accuracy, agreement with the full model, skip ratios, the warm-up override", async () => {
  if (!ready) return;
  const fb = await runEval(["--task", "freebaseqa", "--data", FILES.freebaseqa, "--limit", "2", "--skip", "on", "--json"], { model, ...quiet });
  checkLine(fb, "freebaseqa", 2, "on-w6");
  for (const key of ["accuracy", "accuracyFull", "agreement", "gained", "lost"]) assert.ok(typeof fb.metrics[key] === "number", key);
  assert.ok(ratio(fb.metrics.accuracy) && ratio(fb.metrics.agreement));
  assert.ok(typeof fb.full?.accuracy === "number");
  assert.is(fb.generation?.maxTokens, 24);
  const nq = await runEval(["--task", "nq", "--data", FILES.nq, "--limit", "2", "--skip", "random:0.25", "--warmup", "0"], { model, ...quiet });
  checkLine(nq, "nq", 2, "random-0.25-w0");
  assert.is(nq.skip.warmupSteps, 0);
  assert.is(nq.skip.ratio, nq.skip.ratioAfterWarmup, "no warm-up: both ratios agree");
});

test("a saved full-model run stands in for running the full model (--out, then --reference)", async () => {
  if (!ready) return;
  const rows = join(tmp, "nq-full.jsonl");
  const full = await runEval(["--task", "nq", "--data", FILES.nq, "--limit", "2", "--offset", "2", "--out", rows], { model, ...quiet });
  checkLine(full, "nq", 2, "full");
  assert.is(full.skip.skipped, 0);
  assert.is(readFileSync(rows, "utf8").trim().split("\n").length, 2);
  const skip = await runEval(["--task", "nq", "--data", FILES.nq, "--limit", "2", "--offset", "2", "--skip", "fixed:0.2", "--reference", rows], { model, ...quiet });
  checkLine(skip, "nq", 2, "fixed-0.2-w6");
  assert.ok(ratio(skip.metrics.agreement));
  assert.is(skip.data.reference, rows);
});

test("perplexity: teacher-forced windows past the calibration text", async () => {
  if (!ready) return;
  const r = await runEval(["--task", "wikitext", "--data", FILES.wikitext, "--limit", "2", "--window", "48", "--skip", "on"], { model, ...quiet });
  checkLine(r, "wikitext", 2, "on-w6");
  assert.is(r.metrics.windows, 2);
  assert.is(r.metrics.tokens, 2 * 47);
  assert.ok((r.metrics.perplexity as number) > 1);
  assert.is(r.data.tokens, "4096..4191");
  // The yardstick next to perplexity: KL against the full model (run alongside), top-1 agreement, speed-up.
  assert.ok((r.metrics.kl as number) > 0 && (r.metrics.klAfterWarmup as number) > (r.metrics.kl as number) && (r.metrics.klP99 as number) > 0);
  assert.ok(ratio(r.metrics.top1) && ratio(r.metrics.top1AfterWarmup) && (r.metrics.top1 as number) < 1);
  assert.ok((r.metrics.perplexityFull as number) > 1 && (r.metrics.decodeSpeedup as number) > 0);
  assert.match(describeResult(r), /KL \d+\.\d{4} nats/);
});

test("summaries: ROUGE-L against the reference and the full model, articles truncated to fit", async () => {
  if (!ready) return;
  const r = await runEval(["--task", "cnndm", "--data", FILES.cnndm, "--limit", "2", "--skip", "on", "--article-tokens", "96", "--max-tokens", "12"], { model, ...quiet });
  checkLine(r, "cnndm", 2, "on-w6");
  for (const key of ["rougeL", "rougeLVsFull", "rougeLFullReference", "identicalToFull", "repeated3gramFraction", "decodeSpeedup"]) assert.ok(typeof r.metrics[key] === "number", key);
  assert.ok(ratio(r.metrics.repeated3gramFraction) && ratio(r.full?.repeated3gramFraction));
  assert.ok((r.metrics.longestRunMax as number) >= 1 && (r.full?.longestRunMax as number) >= 1);
  assert.is(r.metrics.truncatedArticles, 2);
  assert.ok((r.metrics.meanArticleTokens as number) <= 96);
});

test("conversation: both MT-Bench turns, answers saved for a judge, ROUGE-L against the full model", async () => {
  if (!ready) return;
  const out = join(tmp, "mt.jsonl");
  const r = await runEval(["--task", "mtbench", "--data", FILES.mtbench, "--limit", "2", "--skip", "on", "--warmup", "2", "--max-tokens", "10", "--out", out], { model, ...quiet });
  checkLine(r, "mtbench", 2, "on-w2");
  for (const key of ["rougeLVsFull", "rougeLVsFullTurn1", "rougeLVsFullTurn2"]) assert.ok(ratio(r.metrics[key]), key);
  assert.is(r.metrics.turns, 4);
  const answers = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.is(answers.length, 4, "2 questions x (full, on)");
  for (const a of answers) {
    assert.ok(a.question_id === 81 || a.question_id === 82);
    assert.is(a.choices[0].turns.length, 2);
    assert.match(a.model_id, /-(full|on-w2)$/);
  }
});

test.run();
