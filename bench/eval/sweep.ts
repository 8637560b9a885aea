// npm run sweep: target skip ratios x policies (paper / fixed / random) on factoid QA (FreebaseQA,
// NQ), WikiText-2 perplexity and CNN/DM summarisation, written to bench/results/skip-sweep.md + .svg with the raw
// result lines and per-row outputs under bench/results/sweep/.
//
// The paper policy at each target ratio needs its own threshold (and k): calibrated on WikiText-2 tokens
// 0..calib-tokens with src/calibrate.ts (never on evaluation questions; perplexity is scored on later tokens),
// cached as bench/results/sweep/profiles/target-R.json. fixed:R and random:R resolve against the same profile.
// Calibration always uses the default warm-up (6); --warmup N only changes the warm-up the policies run with (the
// threshold targets the ratio after warm-up, which does not depend on it much).
//
// Resumable: every (row, configuration) output is appended to rows/<task>--<config>.jsonl as soon as it exists, and
// every finished (task, configuration) is a result line in results/<task>--<config>.json; a rerun skips what exists
// (a result line made with other data settings is redone). Every invocation is logged in runs.jsonl with its
// command and commit, and the report is rewritten after each finished (task, configuration).

import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../../src/errors.js";
import { type GenerationTask, parseText, type TaskName } from "./data.js";
import { defaultMaxTokens, type EvalConfig, FULL_CONFIG, PERPLEXITY_DEFAULTS, perplexityWindows, runGeneration, runPerplexity, summarizeGeneration } from "./harness.js";
import { ARTICLE_TOKENS } from "./prompts.js";
import { resolveConfig, type ResultLine, resultLine } from "./result.js";
import { SWEEP_POLICIES, SWEEP_TARGETS, sweepConfigId, sweepMarkdown, type SweepPolicy, sweepSvg } from "./sweep-report.js";
import type { LanguageModel } from "../../src/language-model.js";
import { calibrate, DEFAULT_WARMUP, DEFAULT_WINDOW } from "../../src/calibrate.js";
import { defaultProfileFor } from "../../src/skip/default-profiles.js";
import { parseSkipProfile, type SkipProfile } from "../../src/skip/profile.js";
import { describeFlags, type FlagSpecs, parseArgs } from "../../src/cli/args.js";
import { formatProfileJson } from "../../src/cli/calibrate.js";
import { commandLine, generationInfo, generationRows, JsonlRowStore } from "./eval.js";
import { gitCommit } from "../../src/cli/git.js";
import { MODEL_FLAGS, openModel } from "../../src/cli/model-flags.js";
import { progressBar } from "../../src/cli/progress.js";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHARED = join(REPO_ROOT, "..", "shared", "data");
const DEFAULT_DATA = {
  freebaseqa: join(SHARED, "freebaseqa_eval", "dev.jsonl"),
  nq: join(SHARED, "nq_open_dev", "dev.jsonl"),
  wikitext: join(SHARED, "wikitext2", "wiki.test.raw.nonblank_crlf.txt"),
  cnndm: join(SHARED, "cnndm_test_frank", "dev.jsonl"),
} as const;
const SWEEP_TASKS = ["freebaseqa", "nq", "cnndm", "wikitext"] as const;
type SweepTask = (typeof SWEEP_TASKS)[number];

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  model: MODEL_FLAGS.model,
  threads: MODEL_FLAGS.threads,
  precision: MODEL_FLAGS.precision,
  "kv-cache": MODEL_FLAGS["kv-cache"],
  targets: { type: "list", help: `target skip ratios (default ${SWEEP_TARGETS.join(",")}; 0 = the full model)` },
  policies: { type: "list", help: `policies (default ${SWEEP_POLICIES.join(",")})` },
  tasks: { type: "list", help: `tasks (default ${SWEEP_TASKS.join(",")})` },
  warmup: { type: "int", min: 0, help: `warm-up decode steps of every policy (default ${DEFAULT_WARMUP}, the calibration's)` },
  "qa-limit": { type: "int", min: 1, help: "questions per QA set (default 300)" },
  "cnndm-limit": { type: "int", min: 1, help: "CNN/DM articles (default 50)" },
  "ppl-tokens": { type: "int", min: 128, help: `WikiText tokens scored (default ${PERPLEXITY_DEFAULTS.tokens})` },
  "ppl-offset": { type: "int", min: 0, help: `first WikiText token scored (default ${PERPLEXITY_DEFAULTS.offset}; must be past the calibration tokens)` },
  "ppl-window": { type: "int", min: 16, help: `tokens per teacher-forced window (default ${PERPLEXITY_DEFAULTS.window})` },
  "article-tokens": { type: "int", min: 64, help: `CNN/DM article tokens kept at most (default ${ARTICLE_TOKENS})` },
  "calib-tokens": { type: "int", min: 256, help: "WikiText tokens (from the start) the paper policy is calibrated on (default 2048)" },
  "calib-k": { type: "list", help: "k candidates for calibration (default 1,2,3)" },
  freebaseqa: { type: "string", help: "FreebaseQA dev.jsonl (default ../shared/data/freebaseqa_eval/dev.jsonl)" },
  nq: { type: "string", help: "NQ-open dev.jsonl (default ../shared/data/nq_open_dev/dev.jsonl)" },
  wikitext: { type: "string", help: "WikiText-2 raw test text (default ../shared/data/wikitext2/wiki.test.raw.nonblank_crlf.txt)" },
  cnndm: { type: "string", help: "CNN/DM dev.jsonl (default ../shared/data/cnndm_test_frank/dev.jsonl)" },
  "out-dir": { type: "string", help: "raw results, rows, profiles (default bench/results/sweep)" },
  report: { type: "string", help: "the markdown report (default bench/results/skip-sweep.md; the SVG next to it)" },
  plan: { type: "boolean", help: "print what would run and a wall-time estimate, run nothing" },
  "decode-rate": { type: "number", min: 1, help: "decode tok/s assumed by --plan (default 55: one thread, idle machine)" },
  "prefill-rate": { type: "number", min: 1, help: "prefill tok/s assumed by --plan (default 55)" },
  "report-only": { type: "boolean", help: "only rewrite the report from the results present" },
} as const satisfies FlagSpecs;

interface Plan {
  readonly targets: readonly number[];
  readonly policies: readonly SweepPolicy[];
  readonly tasks: readonly SweepTask[];
  readonly warmup: number;
  readonly qaLimit: number;
  readonly cnndmLimit: number;
  readonly ppl: { offset: number; tokens: number; window: number };
  readonly articleTokens: number;
  readonly calibTokens: number;
  readonly calibK: readonly number[];
  readonly data: Record<SweepTask, string>;
  readonly outDir: string;
  readonly report: string;
}

function listOf<T extends string>(values: string[] | undefined, allowed: readonly T[], fallback: readonly T[], flag: string): T[] {
  if (values === undefined) return [...fallback];
  for (const v of values) if (!(allowed as readonly string[]).includes(v)) throw new InputError({ file: "npm run sweep", field: `--${flag}`, expected: allowed.join(", "), actual: JSON.stringify(v) });
  return values as T[];
}

function makePlan(flags: ReturnType<typeof parseArgs<typeof FLAGS>>["flags"]): Plan {
  const targets = (flags.targets?.map(Number) ?? [...SWEEP_TARGETS]).sort((a, b) => a - b);
  for (const t of targets) if (!(t >= 0 && t < 0.95)) throw new InputError({ file: "npm run sweep", field: "--targets", expected: "ratios in [0, 0.95)", actual: String(t) });
  const calibK = (flags["calib-k"] ?? ["1", "2", "3"]).map(Number);
  if (!calibK.every((k) => Number.isSafeInteger(k) && k >= 1)) throw new InputError({ file: "npm run sweep", field: "--calib-k", expected: "integers >= 1", actual: JSON.stringify(flags["calib-k"]) });
  const plan: Plan = {
    targets: [...new Set(targets.map((t) => Math.round(t * 1e4) / 1e4))],
    policies: listOf(flags.policies, SWEEP_POLICIES, SWEEP_POLICIES, "policies"),
    tasks: listOf(flags.tasks, SWEEP_TASKS, SWEEP_TASKS, "tasks"),
    warmup: flags.warmup ?? DEFAULT_WARMUP,
    qaLimit: flags["qa-limit"] ?? 300,
    cnndmLimit: flags["cnndm-limit"] ?? 50,
    ppl: { offset: flags["ppl-offset"] ?? PERPLEXITY_DEFAULTS.offset, tokens: flags["ppl-tokens"] ?? PERPLEXITY_DEFAULTS.tokens, window: flags["ppl-window"] ?? PERPLEXITY_DEFAULTS.window },
    articleTokens: flags["article-tokens"] ?? ARTICLE_TOKENS,
    calibTokens: flags["calib-tokens"] ?? 2048,
    calibK,
    data: { freebaseqa: flags.freebaseqa ?? DEFAULT_DATA.freebaseqa, nq: flags.nq ?? DEFAULT_DATA.nq, wikitext: flags.wikitext ?? DEFAULT_DATA.wikitext, cnndm: flags.cnndm ?? DEFAULT_DATA.cnndm },
    outDir: flags["out-dir"] ?? join(REPO_ROOT, "bench", "results", "sweep"),
    report: flags.report ?? join(REPO_ROOT, "bench", "results", "skip-sweep.md"),
  };
  if (plan.calibTokens > plan.ppl.offset && plan.tasks.includes("wikitext") && plan.policies.includes("paper")) {
    throw new InputError({ file: "npm run sweep", field: "--ppl-offset", expected: `at least --calib-tokens (${plan.calibTokens}): perplexity is scored on tokens calibration never saw`, actual: String(plan.ppl.offset) });
  }
  return plan;
}

/** A path for the report: relative to the repository root when inside it. */
function shown(path: string): string {
  const rel = relative(REPO_ROOT, path);
  return rel.startsWith("..") && !rel.startsWith("../shared") ? path : rel;
}

const profilePath = (plan: Plan, target: number) => join(plan.outDir, "profiles", `target-${target.toFixed(2)}.json`);
const resultPath = (plan: Plan, task: TaskName, config: string) => join(plan.outDir, "results", `${task}--${config}.json`);
const rowsPath = (plan: Plan, task: TaskName, config: string) => join(plan.outDir, "rows", `${task}--${config}.jsonl`);

/** The sweep's configurations: the full model, then policy x target (target 0 is the full model for every policy). */
function sweepConfigs(plan: Plan, model: LanguageModel, profiles: Map<number, { profile: SkipProfile; path: string }>): EvalConfig[] {
  const configs: EvalConfig[] = [FULL_CONFIG];
  const shipped = defaultProfileFor(model.fingerprint);
  for (const policy of plan.policies) {
    for (const target of plan.targets) {
      if (target === 0) continue;
      const id = sweepConfigId(policy, target, plan.warmup);
      const own = profiles.get(target);
      const base = own ?? (shipped === undefined ? undefined : { profile: shipped, path: "shipped profile" });
      if (base === undefined) throw new InputError({ file: "npm run sweep", field: "profile", expected: `a profile for target ${target}`, actual: "none (run with the paper policy to calibrate one)" });
      const layers = model.config.numLayers;
      const profileName = shown(base.path);
      if (policy === "paper") configs.push(resolveConfig(base.profile, { id, target, warmup: plan.warmup, layers, settingName: `paper (${profileName})`, profileName }));
      else configs.push(resolveConfig(`${policy}:${target}`, { id, target, warmup: plan.warmup, layers, profile: base.profile, profileName }));
    }
  }
  return configs;
}

/** The data settings a task's result lines record; a result made with other settings is redone. */
function dataSpec(plan: Plan, task: SweepTask): Record<string, unknown> {
  const file = plan.data[task];
  const base = { file: file.split(/[\\/]/).pop()!, path: shown(file) };
  if (task === "wikitext") {
    return { ...base, offset: plan.ppl.offset, tokens: plan.ppl.tokens, window: plan.ppl.window };
  }
  return { ...base, limit: task === "cnndm" ? plan.cnndmLimit : plan.qaLimit, ...(task === "cnndm" ? { articleTokens: plan.articleTokens } : {}) };
}

function readResult(path: string): ResultLine | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ResultLine;
  } catch {
    return undefined;
  }
}

function sameSpec(result: ResultLine, spec: Record<string, unknown>, fingerprint: string): boolean {
  const sweep = (result.data as { sweep?: unknown }).sweep;
  return result.model.fingerprint === fingerprint && JSON.stringify(sweep) === JSON.stringify(spec);
}

function allResults(plan: Plan): ResultLine[] {
  const dir = join(plan.outDir, "results");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => readResult(join(dir, f))).filter((r): r is ResultLine => r !== undefined);
}

function machine(threads: string | undefined): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? "unknown CPU"} x ${cpu.length}, Node ${process.version}, ${threads ?? "default"} thread(s); load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} when the report was written (shared machine)`;
}

function writeReport(plan: Plan, command: string, commit: string, threads: number | undefined, pending: readonly string[]): void {
  const results = allResults(plan);
  writeFileSync(join(plan.outDir, "results.jsonl"), results.map((r) => JSON.stringify(r)).join("\n") + (results.length > 0 ? "\n" : ""));
  const profiles = plan.targets.filter((t) => t > 0 && existsSync(profilePath(plan, t))).map((target) => ({
    target, path: shown(profilePath(plan, target)), profile: parseSkipProfile(readFileSync(profilePath(plan, target), "utf8"), profilePath(plan, target)),
  }));
  const svgPath = plan.report.replace(/\.md$/, "") + ".svg";
  const data = [
    `FreebaseQA: \`${shown(plan.data.freebaseqa)}\`, first ${plan.qaLimit} questions; NQ-open: \`${shown(plan.data.nq)}\`, first ${plan.qaLimit} questions (chat template, greedy, at most ${defaultMaxTokens("nq")} new tokens)`,
    `WikiText-2: \`${shown(plan.data.wikitext)}\`, tokens ${plan.ppl.offset}..${plan.ppl.offset + plan.ppl.tokens - 1} in windows of ${plan.ppl.window} (calibration used tokens 0..${plan.calibTokens - 1})`,
    `CNN/DM: \`${shown(plan.data.cnndm)}\`, first ${plan.cnndmLimit} articles, each cut to at most ${plan.articleTokens} tokens (README "Evaluation"), summaries greedy, at most ${defaultMaxTokens("cnndm")} new tokens`,
    `Raw data: \`${shown(join(plan.outDir, "results.jsonl"))}\` (one result line per task x configuration), per-row outputs in \`${shown(join(plan.outDir, "rows"))}/\`, invocations in \`${shown(join(plan.outDir, "runs.jsonl"))}\``,
  ];
  const used = [...new Set(results.map((r) => r.threads))];
  const machineText = machine(used.length > 0 ? used.join(" and ") : threads === undefined ? undefined : String(threads));
  writeFileSync(plan.report, sweepMarkdown({ results, profiles, command, commit, date: new Date().toISOString(), machine: machineText, data, pending, svgName: svgPath.split(/[\\/]/).pop()! }));
  writeFileSync(svgPath, sweepSvg(results, { warmup: plan.warmup }));
}

/**
 * Work counts and a wall-time estimate at the given decode/prefill rates (tok/s of short-context decoding). Typical
 * lengths, measured on small runs: QA answers ~17 decode steps (FreebaseQA ~19, NQ ~14) and ~40 new prompt tokens per
 * question (the system prompt and instruction stay cached), then 1 prompt token per further configuration; summaries
 * ~127 decode steps (most hit the 128-token limit) at about half the rate (attention over a ~800-token context);
 * articles ~700 tokens (median 686) + ~60 of prompt, prefilled once; perplexity one decode step per token.
 */
function estimate(plan: Plan, missing: { task: SweepTask; configs: number }[], calibrations: number, rates: { decode: number; prefill: number }): string[] {
  const lines: string[] = [];
  let total = 0;
  for (const { task, configs } of missing) {
    if (configs === 0) continue;
    let decode = 0;
    let prefill = 0;
    let seconds = 0;
    if (task === "wikitext") {
      // A skipping configuration also runs the full model on its windows, for the KL yardstick.
      decode = 2 * configs * plan.ppl.tokens;
      seconds = decode / rates.decode;
    } else if (task === "cnndm") {
      decode = configs * plan.cnndmLimit * 127;
      prefill = plan.cnndmLimit * (Math.min(plan.articleTokens, 700) + 60) + configs * plan.cnndmLimit;
      seconds = decode / (rates.decode / 2) + prefill / rates.prefill;
    } else {
      decode = configs * plan.qaLimit * 17;
      prefill = plan.qaLimit * 40 + configs * plan.qaLimit;
      seconds = decode / rates.decode + prefill / rates.prefill;
    }
    total += seconds;
    lines.push(`  ${task}: ${configs} configuration(s), ~${Math.round(decode / 1000)}k decode steps + ~${Math.round(prefill / 1000)}k prefill tokens -> ${(seconds / 60).toFixed(0)} min`);
  }
  if (calibrations > 0) {
    // Calibration: a prefill of the text, then 1 full + ~3 teacher-forced runs per k.
    const decode = calibrations * (1 + 3 * plan.calibK.length) * plan.calibTokens;
    const seconds = decode / rates.decode + (calibrations * plan.calibTokens) / rates.prefill;
    total += seconds;
    lines.push(`  calibration: ${calibrations} target(s) x ~${1 + 3 * plan.calibK.length} teacher-forced runs of ${plan.calibTokens} tokens -> ${(seconds / 60).toFixed(0)} min`);
  }
  lines.push(`  total: ~${(total / 3600).toFixed(1)} h at ${rates.decode} decode / ${rates.prefill} prefill tok/s (short-context decode rate; summaries decode at half of it)`);
  return lines;
}

export async function sweepCommand(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, FLAGS, "sweep");
  if (flags.help) {
    process.stdout.write(`usage: npm run sweep -- [options]\n${describeFlags(FLAGS)}\n`);
    return;
  }
  const plan = makePlan(flags);
  const command = commandLine("sweep", argv);
  const commit = gitCommit();
  const say = (line: string) => process.stderr.write(`sweep: ${line}\n`);
  if (flags["report-only"]) {
    // The report describes the last real run (its command and data settings), not this invocation.
    const runs = existsSync(join(plan.outDir, "runs.jsonl")) ? readFileSync(join(plan.outDir, "runs.jsonl"), "utf8").trim().split("\n").filter((l) => l !== "") : [];
    const last = runs.length > 0 ? (JSON.parse(runs[runs.length - 1]!) as { command: string; commit: string; plan: Plan }) : undefined;
    const described: Plan = last === undefined ? plan : { ...last.plan, outDir: plan.outDir, report: plan.report };
    writeReport(described, last?.command ?? command, last?.commit ?? commit, flags.threads, []);
    say(`wrote ${shown(plan.report)}`);
    return;
  }
  for (const task of plan.tasks) {
    if (!existsSync(plan.data[task])) throw new InputError({ file: "npm run sweep", field: `--${task}`, expected: "a readable data file", actual: JSON.stringify(plan.data[task]) });
  }
  const paperTargets = plan.policies.includes("paper") ? plan.targets.filter((t) => t > 0) : [];

  if (flags.plan) {
    // Counting needs only the ids, not the model: assume the cached results are for this model.
    const ids = [FULL_CONFIG.id, ...plan.policies.flatMap((p) => plan.targets.filter((t) => t > 0).map((t) => sweepConfigId(p, t, plan.warmup)))];
    const missing = plan.tasks.map((task) => ({
      task, configs: ids.filter((id) => { const r = readResult(resultPath(plan, task, id)); return r === undefined || JSON.stringify((r.data as { sweep?: unknown }).sweep) !== JSON.stringify(dataSpec(plan, task)); }).length,
    }));
    const calibrations = paperTargets.filter((t) => !existsSync(profilePath(plan, t))).length;
    const rates = { decode: flags["decode-rate"] ?? 55, prefill: flags["prefill-rate"] ?? 55 };
    process.stdout.write(`${[`sweep plan: ${ids.length} configurations (${ids.join(", ")})`, ...estimate(plan, missing, calibrations, rates)].join("\n")}\n`);
    return;
  }

  mkdirSync(join(plan.outDir, "results"), { recursive: true });
  mkdirSync(join(plan.outDir, "profiles"), { recursive: true });
  appendFileSync(join(plan.outDir, "runs.jsonl"), `${JSON.stringify({ command, commit, date: new Date().toISOString(), cwd: process.cwd(), plan: { ...plan, outDir: shown(plan.outDir), report: shown(plan.report) } })}\n`);
  const started = performance.now();
  const model = await openModel({ model: flags.model, "max-context": 2048, precision: flags.precision, threads: flags.threads, "kv-cache": flags["kv-cache"] });
  try {
    say(`model ${model.name}, ${model.threads} thread(s), commit ${commit}`);
    const wikitext = parseText(readFileSync(plan.data.wikitext, "utf8"));

    // 1. The paper policy's profile per target, calibrated on WikiText tokens 0..calibTokens (cached).
    const profiles = new Map<number, { profile: SkipProfile; path: string }>();
    for (const target of plan.targets.filter((t) => t > 0)) {
      const path = profilePath(plan, target);
      if (existsSync(path)) {
        const profile = parseSkipProfile(readFileSync(path, "utf8"), path);
        if (profile.model.fingerprint === model.fingerprint && profile.target === target) {
          profiles.set(target, { profile, path });
          continue;
        }
        say(`${shown(path)} is for another model or target: recalibrating`);
      }
      if (!paperTargets.includes(target)) continue;
      const { windows, first, last } = perplexityWindows(model, wikitext, { offset: 0, tokens: plan.calibTokens, window: DEFAULT_WINDOW });
      say(`calibrating the paper policy for target ${target} on WikiText tokens ${first}..${last}`);
      const t0 = performance.now();
      const result = await calibrate(model, windows, {
        target, warmup: DEFAULT_WARMUP, kCandidates: plan.calibK, baselines: false,
        data: `${plan.data.wikitext.split(/[\\/]/).pop()}, tokens ${first}..${last}`,
        created: { command, commit, date: new Date().toISOString() },
        onProgress: (line) => say(`  calibrate ${target}: ${line}`),
      });
      writeFileSync(path, formatProfileJson(result.profile));
      profiles.set(target, { profile: result.profile, path });
      say(`calibrated target ${target}: threshold ${result.profile.threshold}, k ${result.profile.k} (${((performance.now() - t0) / 60000).toFixed(1)} min)`);
    }
    const configs = sweepConfigs(plan, model, profiles);
    const pendingOf = () => plan.tasks.flatMap((task) => configs.filter((c) => { const r = readResult(resultPath(plan, task, c.id)); return r === undefined || !sameSpec(r, dataSpec(plan, task), model.fingerprint); }).map((c) => `${task}/${c.id}`));
    const report = () => writeReport(plan, command, commit, flags.threads, pendingOf());
    report();

    // 2. The tasks. Generation tasks run row-major over the configurations still missing (plus the full model,
    // whose rows the comparisons need); WikiText runs one configuration at a time.
    for (const task of plan.tasks) {
      const spec = dataSpec(plan, task);
      const todo = configs.filter((c) => { const r = readResult(resultPath(plan, task, c.id)); return r === undefined || !sameSpec(r, spec, model.fingerprint); });
      if (todo.length === 0) {
        say(`${task}: all ${configs.length} configurations done`);
        continue;
      }
      say(`${task}: ${todo.length} of ${configs.length} configurations to run`);
      const taskStart = performance.now();
      if (task === "wikitext") {
        const { windows, first, last } = perplexityWindows(model, wikitext, plan.ppl);
        for (const config of todo) {
          const bar = progressBar(`wikitext ${config.id}`);
          const t0 = performance.now();
          let lastLog = t0;
          const summary = await runPerplexity(model, windows, config, {
            onWindow: (done, total) => {
              bar.update(done / total, `${done}/${total}`);
              if (performance.now() - lastLog > 60_000) {
                lastLog = performance.now();
                say(`  wikitext ${config.id}: window ${done}/${total}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
              }
            },
          });
          bar.done();
          const line = resultLine({
            task, summary, config, model, commit, command, seconds: summary.seconds,
            data: { ...spec, sweep: spec, tokensScored: `${first}..${last}`, windows: windows.length },
          });
          writeFileSync(resultPath(plan, task, config.id), `${JSON.stringify(line)}\n`);
          say(`  wikitext ${config.id}: perplexity ${line.metrics.perplexity}, skipped ${(100 * line.skip.ratioAfterWarmup).toFixed(1)}% after warm-up, ${summary.seconds} s`);
          report();
        }
        continue;
      }
      const gtask = task as GenerationTask;
      const text = readFileSync(plan.data[task], "utf8");
      const gen = generationRows(gtask, text, plan.data[task], 0, task === "cnndm" ? plan.cnndmLimit : plan.qaLimit);
      const store = new JsonlRowStore((config) => rowsPath(plan, task, config), { task });
      const runConfigs = todo.some((c) => c.id === FULL_CONFIG.id) ? todo : [FULL_CONFIG, ...todo];
      const bar = progressBar(`${task}`);
      let lastLog = performance.now();
      const maxTokens = defaultMaxTokens(gtask);
      await runGeneration(model, gen, runConfigs, store, {
        maxTokens, articleTokens: plan.articleTokens,
        onProgress: (done, total) => {
          bar.update(done / total, `${done}/${total}`);
          if (performance.now() - lastLog > 60_000) {
            lastLog = performance.now();
            const elapsed = (performance.now() - taskStart) / 1000;
            say(`  ${task}: ${done}/${total} (row x configuration), ${(elapsed / 60).toFixed(1)} min`);
          }
        },
      });
      bar.done();
      const full = store.all(FULL_CONFIG.id);
      const layers = model.config.numLayers;
      const rowsIn = new Set(gen.rows.map((r) => r.index));
      const fullHere = full.filter((r) => rowsIn.has(r.row));
      for (const config of todo) {
        const records = store.all(config.id).filter((r) => rowsIn.has(r.row));
        const summary = summarizeGeneration(gtask, records, fullHere, layers);
        const line = resultLine({
          task, summary, config, model, commit, command,
          full: config.id === FULL_CONFIG.id ? undefined : summarizeGeneration(gtask, fullHere, undefined, layers),
          data: { ...spec, sweep: spec, rows: `${gen.rows[0]!.index}..${gen.rows[gen.rows.length - 1]!.index}`, rowsFile: shown(rowsPath(plan, task, config.id)) },
          generation: generationInfo(gtask, maxTokens, plan.articleTokens),
        });
        writeFileSync(resultPath(plan, task, config.id), `${JSON.stringify(line)}\n`);
      }
      say(`${task}: done in ${((performance.now() - taskStart) / 60000).toFixed(1)} min`);
      report();
    }
    report();
  } finally {
    await model.close();
  }
  say(`finished in ${((performance.now() - started) / 60000).toFixed(1)} min; report ${shown(plan.report)}`);
}
