// The skip sweep's report: from result lines (one per task x configuration) to the markdown table (the paper's
// Table 3 layout: rows policy x target ratio) and the SVG plot (metric vs achieved skip ratio, one line per policy).
// Portable; bench/eval/sweep.ts runs the configurations and writes the files.

import { skipStats } from "../../src/skip/controller.js";
import type { SkipProfile } from "../../src/skip/profile.js";
import type { TaskName } from "./data.js";
import type { ResultLine } from "./result.js";

export const SWEEP_POLICIES = ["paper", "fixed", "random"] as const;
export type SweepPolicy = (typeof SWEEP_POLICIES)[number];
export const SWEEP_TARGETS: readonly number[] = Object.freeze([0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4]);

/** The configuration id of a sweep point: "full" at target 0, else e.g. "paper-0.25-w6". */
export function sweepConfigId(policy: SweepPolicy, target: number, warmup: number): string {
  return target === 0 ? "full" : `${policy}-${target.toFixed(2)}-w${warmup}`;
}

/** A row of the table: one configuration, with its result line per task. */
interface Row {
  readonly policy: SweepPolicy | "full";
  readonly target: number;
  readonly warmup: number;
  readonly results: Partial<Record<TaskName, ResultLine>>;
}

function policyOf(r: ResultLine): SweepPolicy | "full" {
  if (r.skip.policy.kind === "off") return "full";
  return r.skip.policy.kind as SweepPolicy;
}

/** Groups result lines into table rows: the full model first, then each policy by warm-up and target. */
export function sweepRows(results: readonly ResultLine[]): Row[] {
  const byConfig = new Map<string, { policy: SweepPolicy | "full"; target: number; warmup: number; results: Partial<Record<TaskName, ResultLine>> }>();
  for (const r of results) {
    const id = r.skip.config;
    let row = byConfig.get(id);
    if (row === undefined) {
      row = { policy: policyOf(r), target: r.skip.target ?? 0, warmup: r.skip.warmup, results: {} };
      byConfig.set(id, row);
    }
    row.results[r.task] = r;
  }
  const order = (p: string) => ["full", ...SWEEP_POLICIES].indexOf(p);
  return [...byConfig.values()].sort((a, b) => order(a.policy) - order(b.policy) || b.warmup - a.warmup || a.target - b.target);
}

/** Skip statistics of several result lines pooled (e.g. FreebaseQA + NQ). */
export function pooledRatio(lines: readonly (ResultLine | undefined)[]): { ratio: number; ratioAfterWarmup: number } | undefined {
  const present = lines.filter((l): l is ResultLine => l !== undefined);
  if (present.length === 0) return undefined;
  const layers = present[0]!.model.layers;
  const steps = present.reduce((a, l) => a + l.skip.decodeSteps, 0);
  const warm = present.reduce((a, l) => a + l.skip.warmupSteps, 0);
  const skipped = present.reduce((a, l) => a + l.skip.skipped, 0);
  const { ratio, ratioAfterWarmup } = skipStats(layers, steps, warm, skipped);
  return { ratio, ratioAfterWarmup };
}

/** Mean of the present values (undefined if none). */
function meanOf(values: readonly (number | null | undefined)[]): number | undefined {
  const v = values.filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  return v.length === 0 ? undefined : v.reduce((a, b) => a + b, 0) / v.length;
}

const pct = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : (100 * v).toFixed(digits));
const pair = (r: { ratio: number; ratioAfterWarmup: number } | undefined) => (r === undefined ? "–" : `${pct(r.ratio)} / ${pct(r.ratioAfterWarmup)}`);
const fixed = (v: number | null | undefined, digits: number) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits));

function ratioOf(line: ResultLine | undefined) {
  return line === undefined ? undefined : { ratio: line.skip.ratio, ratioAfterWarmup: line.skip.ratioAfterWarmup };
}

/** The QA agreement of a row: FreebaseQA and NQ, as "fb / nq". */
function agreement(row: Row): string {
  const fb = row.results.freebaseqa?.metrics.agreement;
  const nq = row.results.nq?.metrics.agreement;
  if (row.policy === "full") return row.results.freebaseqa || row.results.nq ? "100 / 100" : "–";
  return `${pct(fb)} / ${pct(nq)}`;
}

/** The table: one row per configuration (see the header of skip-sweep.md for the columns). */
export function sweepTable(results: readonly ResultLine[]): string {
  const head = [
    "Policy", "Target", "Warm-up", "Skipped, QA (% with / after warm-up)", "FreebaseQA acc %", "NQ acc %", "Agreement w/ full % (FB / NQ)",
    "Skipped, WikiText %", "WikiText ppl", "Skipped, CNN/DM %", "CNN/DM ROUGE-L vs ref", "ROUGE-L vs full", "Decode tok/s (QA)",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i < 3 ? "---" : "---:")).join("|")}|`];
  for (const row of sweepRows(results)) {
    const r = row.results;
    const qaSpeed = meanOf([r.freebaseqa?.decodeTokensPerSecond, r.nq?.decodeTokensPerSecond]);
    const acc = (line: ResultLine | undefined) => (line === undefined ? "–" : `${pct(line.metrics.accuracy)} ± ${pct(line.metrics.accuracyStderr)}`);
    lines.push(`| ${[
      row.policy === "full" ? "full model" : row.policy,
      row.policy === "full" ? "0" : pct(row.target, 0),
      row.policy === "full" ? "–" : String(row.warmup),
      pair(pooledRatio([r.freebaseqa, r.nq])),
      acc(r.freebaseqa),
      acc(r.nq),
      agreement(row),
      pair(ratioOf(r.wikitext)),
      fixed(r.wikitext?.metrics.perplexity, 2),
      pair(ratioOf(r.cnndm)),
      pct(r.cnndm?.metrics.rougeL),
      row.policy === "full" ? (r.cnndm ? "100.0" : "–") : pct(r.cnndm?.metrics.rougeLVsFull),
      qaSpeed === undefined ? "–" : qaSpeed.toFixed(1),
    ].join(" | ")} |`);
  }
  return lines.join("\n");
}

// ---- the plot ------------------------------------------------------------------------------------------------

interface Panel {
  readonly title: string;
  /** Value and achieved skip ratio (after warm-up) of a row, if measured. */
  readonly point: (row: Row) => { x: number; y: number } | undefined;
  readonly log?: boolean;
  readonly percent?: boolean;
}

const QA_POINT = (task: "freebaseqa" | "nq") => (row: Row) => {
  const line = row.results[task];
  const ratio = pooledRatio([row.results.freebaseqa, row.results.nq]);
  return line?.metrics.accuracy == null || ratio === undefined ? undefined : { x: ratio.ratioAfterWarmup, y: line.metrics.accuracy };
};

const PANELS: readonly Panel[] = [
  { title: "FreebaseQA accuracy (%)", point: QA_POINT("freebaseqa"), percent: true },
  { title: "NQ accuracy (%)", point: QA_POINT("nq"), percent: true },
  {
    title: "QA agreement with the full model (%)", percent: true,
    point: (row) => {
      const ratio = pooledRatio([row.results.freebaseqa, row.results.nq]);
      const value = row.policy === "full" ? (ratio === undefined ? undefined : 1) : meanOf([row.results.freebaseqa?.metrics.agreement, row.results.nq?.metrics.agreement]);
      return ratio === undefined || value === undefined ? undefined : { x: ratio.ratioAfterWarmup, y: value };
    },
  },
  {
    title: "WikiText-2 perplexity (log scale)", log: true,
    point: (row) => (row.results.wikitext?.metrics.perplexity == null ? undefined : { x: row.results.wikitext.skip.ratioAfterWarmup, y: row.results.wikitext.metrics.perplexity }),
  },
  {
    title: "CNN/DM ROUGE-L vs reference (%)", percent: true,
    point: (row) => (row.results.cnndm?.metrics.rougeL == null ? undefined : { x: row.results.cnndm.skip.ratioAfterWarmup, y: row.results.cnndm.metrics.rougeL }),
  },
  {
    title: "CNN/DM ROUGE-L vs full model (%)", percent: true,
    point: (row) => {
      const line = row.results.cnndm;
      if (line === undefined) return undefined;
      const y = row.policy === "full" ? 1 : line.metrics.rougeLVsFull;
      return y == null ? undefined : { x: line.skip.ratioAfterWarmup, y };
    },
  },
];

const COLORS: Record<SweepPolicy, string> = { paper: "#1f77b4", fixed: "#ff7f0e", random: "#2ca02c" };
const DASH: Record<SweepPolicy, string> = { paper: "", fixed: "6 3", random: "2 3" };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const f1 = (v: number) => (Math.round(v * 10) / 10).toString();

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

/**
 * The plot: one panel per metric, x = FFN blocks skipped after warm-up (as measured on that task), one line per
 * policy (the full model is each line's first point, at x = 0), for the warm-up `warmup` (default: the most common).
 */
export function sweepSvg(results: readonly ResultLine[], options: { warmup?: number; title?: string } = {}): string {
  const rows = sweepRows(results);
  const warmups = rows.filter((r) => r.policy !== "full").map((r) => r.warmup);
  const warmup = options.warmup ?? (warmups.length === 0 ? 0 : [...warmups].sort((a, b) => warmups.filter((w) => w === b).length - warmups.filter((w) => w === a).length)[0]!);
  const full = rows.find((r) => r.policy === "full");
  const cols = 3;
  const pw = 300;
  const ph = 200;
  const m = { left: 52, right: 14, top: 28, bottom: 40 };
  const cellW = pw + m.left + m.right;
  const cellH = ph + m.top + m.bottom;
  const top = 56;
  const width = cols * cellW + 10;
  const height = top + Math.ceil(PANELS.length / cols) * cellH + 10;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="12" y="22" font-size="15" font-weight="bold">${esc(options.title ?? "FFN skipping on SmolLM2-135M-Instruct: quality vs FFN blocks skipped")}</text>`);
  // Legend.
  let lx = 12;
  for (const p of SWEEP_POLICIES) {
    out.push(`<line x1="${lx}" y1="40" x2="${lx + 26}" y2="40" stroke="${COLORS[p]}" stroke-width="2"${DASH[p] ? ` stroke-dasharray="${DASH[p]}"` : ""}/>`);
    out.push(`<circle cx="${lx + 13}" cy="40" r="3" fill="${COLORS[p]}"/>`);
    const label = p === "paper" ? "paper (FFN-SkipLLM, adaptive)" : p === "fixed" ? "fixed layers" : "random layers";
    out.push(`<text x="${lx + 32}" y="44">${esc(label)}</text>`);
    lx += 44 + label.length * 6;
  }
  out.push(`<text x="${lx + 10}" y="44" fill="#555">${esc(`x: FFN blocks skipped after the warm-up (${warmup} decode steps), measured per task; first point = full model`)}</text>`);

  PANELS.forEach((panel, index) => {
    const ox = (index % cols) * cellW + m.left;
    const oy = top + Math.floor(index / cols) * cellH + m.top;
    const valid = (p: { x: number; y: number } | undefined): p is { x: number; y: number } => p !== undefined && Number.isFinite(p.x) && Number.isFinite(p.y) && (!panel.log || p.y > 0);
    const series = SWEEP_POLICIES.map((policy) => {
      const own = rows.filter((r) => r.policy === policy && r.warmup === warmup).map((r) => panel.point(r)).filter(valid);
      const start = full === undefined ? undefined : panel.point(full);
      // A policy with no point of its own draws nothing (not a lone full-model dot).
      const points = own.length === 0 ? [] : [...(valid(start) ? [start] : []), ...own].sort((a, b) => a.x - b.x);
      return { policy, points };
    });
    const all = series.flatMap((s) => s.points);
    out.push(`<text x="${ox}" y="${oy - 10}" font-size="12" font-weight="bold">${esc(panel.title)}</text>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    if (all.length === 0) {
      out.push(`<text x="${ox + pw / 2}" y="${oy + ph / 2}" text-anchor="middle" fill="#999">not measured yet</text>`);
      return;
    }
    const xMax = Math.max(0.45, ...all.map((p) => p.x)) * 1.02;
    const ty = (v: number) => (panel.log ? Math.log10(v) : v);
    let yLo = Math.min(...all.map((p) => ty(p.y)));
    let yHi = Math.max(...all.map((p) => ty(p.y)));
    if (!panel.log) yLo = Math.min(0, yLo);
    if (yHi - yLo < 1e-9) yHi = yLo + (panel.log ? 1 : 0.1);
    const pad = (yHi - yLo) * 0.06;
    yHi += pad;
    if (panel.log) yLo -= pad;
    const sx = (x: number) => ox + (x / xMax) * pw;
    const sy = (v: number) => oy + ph - ((ty(v) - yLo) / (yHi - yLo)) * ph;
    // Axes: x ticks in %, y ticks (decades and 2x/5x for the log panel).
    for (const t of niceTicks(0, xMax, 5)) {
      out.push(`<line x1="${f1(sx(t))}" y1="${oy + ph}" x2="${f1(sx(t))}" y2="${oy + ph + 4}" stroke="#333"/>`);
      out.push(`<text x="${f1(sx(t))}" y="${oy + ph + 16}" text-anchor="middle">${Math.round(t * 100)}%</text>`);
    }
    out.push(`<text x="${ox + pw / 2}" y="${oy + ph + 32}" text-anchor="middle" fill="#555">FFN blocks skipped (after warm-up)</text>`);
    const yTicks = panel.log
      ? (() => {
          const ticks: number[] = [];
          for (let e = Math.floor(yLo); e <= Math.ceil(yHi); e++) for (const k of [1, 2, 5]) if (Math.log10(k * 10 ** e) >= yLo && Math.log10(k * 10 ** e) <= yHi) ticks.push(k * 10 ** e);
          return ticks;
        })()
      : niceTicks(yLo, yHi, 5);
    for (const t of yTicks) {
      const y = f1(sy(t));
      out.push(`<line x1="${ox}" y1="${y}" x2="${ox + pw}" y2="${y}" stroke="#eee"/>`);
      out.push(`<text x="${ox - 5}" y="${Number(y) + 4}" text-anchor="end">${panel.percent ? String(Math.round(t * 1000) / 10) : t >= 100 ? t.toFixed(0) : String(Number(t.toPrecision(2)))}</text>`);
    }
    for (const { policy, points } of series) {
      if (points.length === 0) continue;
      const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${f1(sx(p.x))},${f1(sy(p.y))}`).join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${COLORS[policy]}" stroke-width="1.8"${DASH[policy] ? ` stroke-dasharray="${DASH[policy]}"` : ""}/>`);
      for (const p of points) out.push(`<circle cx="${f1(sx(p.x))}" cy="${f1(sy(p.y))}" r="2.8" fill="${COLORS[policy]}"><title>${esc(`${policy}: ${(100 * p.x).toFixed(1)}% skipped -> ${panel.percent ? `${(100 * p.y).toFixed(1)}%` : p.y.toFixed(2)}`)}</title></circle>`);
    }
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

// ---- the report ----------------------------------------------------------------------------------------------

export interface SweepReportInput {
  readonly results: readonly ResultLine[];
  /** The paper policy's profile per target (threshold, k, calibration ratio and perplexity). */
  readonly profiles: readonly { readonly target: number; readonly path: string; readonly profile: SkipProfile }[];
  readonly command: string;
  readonly commit: string;
  readonly date: string;
  readonly machine: string;
  /** Data files and sizes, one line each. */
  readonly data: readonly string[];
  /** Configurations planned but without results yet. */
  readonly pending: readonly string[];
  readonly svgName: string;
}

/** Standard error (points) of the mean-of-two-sets accuracy drop, from the paired gained/lost counts per set. */
function pairedDropSe(row: Row): number | undefined {
  const parts = [row.results.freebaseqa, row.results.nq].map((line) => {
    const g = line?.metrics.gained;
    const l = line?.metrics.lost;
    const n = line?.n;
    if (g == null || l == null || n === undefined || n < 2) return undefined;
    const m = (l - g) / n;
    return ((l + g) / n - m * m) * (n / (n - 1)) / n; // variance of the mean paired difference
  });
  const present = parts.filter((p): p is number => p !== undefined);
  if (present.length !== parts.length) return undefined;
  return (100 * Math.sqrt(present.reduce((a, b) => a + b, 0))) / present.length;
}

/** Standard error (points) of the difference of two rows' mean-of-two-sets accuracies (independent runs). */
function unpairedSe(a: Row, b: Row): number | undefined {
  const ses = [a.results.freebaseqa, a.results.nq, b.results.freebaseqa, b.results.nq].map((l) => l?.metrics.accuracyStderr);
  const present = ses.filter((s): s is number => typeof s === "number");
  if (present.length !== ses.length) return undefined;
  return (100 * Math.sqrt(present.reduce((acc, s) => acc + s * s, 0))) / 2;
}

/** The automatic reading of the table against the quality bar (at ~25%: <= 1 point of QA accuracy lost, > random). */
export function qualityBar(results: readonly ResultLine[]): string[] {
  const rows = sweepRows(results);
  const full = rows.find((r) => r.policy === "full");
  const lines: string[] = [];
  if (full === undefined) return ["The full model's results are not in yet."];
  const qaAcc = (row: Row | undefined) => meanOf([row?.results.freebaseqa?.metrics.accuracy, row?.results.nq?.metrics.accuracy]);
  const fullAcc = qaAcc(full);
  for (const warmup of [...new Set(rows.filter((r) => r.policy !== "full").map((r) => r.warmup))].sort((a, b) => b - a)) {
    const at = (policy: SweepPolicy, target: number) => rows.find((r) => r.policy === policy && r.target === target && r.warmup === warmup);
    const paper = at("paper", 0.25);
    const random = at("random", 0.25);
    if (paper !== undefined && fullAcc !== undefined && qaAcc(paper) !== undefined) {
      const drop = 100 * (fullAcc - qaAcc(paper)!);
      const ratio = pooledRatio([paper.results.freebaseqa, paper.results.nq]);
      const vsRandom = random !== undefined && qaAcc(random) !== undefined ? 100 * (qaAcc(paper)! - qaAcc(random)!) : undefined;
      const dropSe = pairedDropSe(paper);
      const randomSe = random === undefined ? undefined : unpairedSe(paper, random);
      const fullText = `full model ${pct(full.results.freebaseqa?.metrics.accuracy)}% FreebaseQA, ${pct(full.results.nq?.metrics.accuracy)}% NQ`;
      lines.push(
        `- Warm-up ${warmup}, target 25%: the paper policy skipped ${pct(ratio?.ratioAfterWarmup)}% of FFN blocks after warm-up on QA ` +
          `(${pct(ratio?.ratio)}% with it) and lost ${drop.toFixed(1)} points of QA accuracy${dropSe === undefined ? "" : ` (± ${dropSe.toFixed(1)}, paired standard error)`} ` +
          `(mean of FreebaseQA and NQ; ${fullText}; bar: at most 1) -> **${drop <= 1 + 1e-9 ? "met" : "not met"}**` +
          (vsRandom === undefined ? "." : `; against random skipping at the same target it is ${vsRandom >= 0 ? "+" : ""}${vsRandom.toFixed(1)} points` +
            `${randomSe === undefined ? "" : ` (± ${randomSe.toFixed(1)})`} (${vsRandom > 0 ? "better" : "not better"}${randomSe !== undefined && Math.abs(vsRandom) < 2 * randomSe ? ", within two standard errors" : ""}).`),
      );
      if (fullAcc < 0.2) lines.push(`  The full model answers few of these questions at all, so accuracy moves in steps of ${(100 / (paper.results.freebaseqa?.n ?? 300)).toFixed(2)} points per question and the bar says little; agreement and perplexity show the damage better.`);
      const pAgree = meanOf([paper.results.freebaseqa?.metrics.agreement, paper.results.nq?.metrics.agreement]);
      const rAgree = meanOf([random?.results.freebaseqa?.metrics.agreement, random?.results.nq?.metrics.agreement]);
      if (pAgree !== undefined) lines.push(`  Agreement with the full model's answers: paper ${pct(pAgree)}%${rAgree !== undefined ? `, random ${pct(rAgree)}%` : ""}.`);
    }
    // Where it breaks: the first target at which the paper policy loses more than 1 point or perplexity rises > 10%.
    const paperRows = rows.filter((r) => r.policy === "paper" && r.warmup === warmup).sort((a, b) => a.target - b.target);
    const fullPpl = full.results.wikitext?.metrics.perplexity;
    const broken = paperRows.find((r) => {
      const acc = qaAcc(r);
      const ppl = r.results.wikitext?.metrics.perplexity;
      return (acc !== undefined && fullAcc !== undefined && 100 * (fullAcc - acc) > 1) || (ppl != null && fullPpl != null && ppl > 1.1 * fullPpl);
    });
    if (broken !== undefined) {
      const ppl = broken.results.wikitext?.metrics.perplexity;
      lines.push(
        `- Warm-up ${warmup}: the paper policy first breaks (more than 1 point of QA accuracy lost, or WikiText perplexity up more than 10%) at target ${pct(broken.target, 0)}%: ` +
          `QA accuracy ${pct(qaAcc(broken))}% vs ${pct(fullAcc)}% full` + (ppl != null && fullPpl != null ? `, perplexity ${ppl.toFixed(1)} vs ${fullPpl.toFixed(1)}.` : "."),
      );
    } else if (paperRows.length > 0) {
      lines.push(`- Warm-up ${warmup}: the paper policy stays within 1 point of QA accuracy and 10% of perplexity at every target measured.`);
    }
  }
  return lines;
}

export function sweepMarkdown(input: SweepReportInput): string {
  const out: string[] = [];
  out.push("# FFN-skip sweep: SmolLM2-135M-Instruct (Q4_1)", "");
  out.push("Generated by `npm run sweep` (bench/eval/sweep.ts); do not edit by hand, rerun the sweep (it resumes and rewrites this file).", "");
  out.push(`- Command: \`${input.command}\``);
  out.push(`- Commit: \`${input.commit}\` (the working tree may hold uncommitted changes); written ${input.date}`);
  out.push(`- Machine: ${input.machine}`);
  for (const d of input.data) out.push(`- ${d}`);
  if (input.pending.length > 0) out.push(`- **Incomplete:** ${input.pending.length} task x configuration results still missing (${input.pending.slice(0, 6).join(", ")}${input.pending.length > 6 ? ", ..." : ""}); rerun the same command to resume.`);
  out.push("");
  out.push("## Results", "");
  out.push(sweepTable(input.results), "");
  out.push(
    "Columns. *Skipped*: FFN blocks skipped / (30 layers x decode steps), first with the warm-up steps counted, then without them " +
      "(QA pools FreebaseQA and NQ). Short QA answers spend a large share of their decode steps in the warm-up, so their ratio *with* " +
      "warm-up is far below the target. *Accuracy*: an answer alias appears in the SQuAD-normalised output (± one standard error). " +
      "*Agreement*: share of questions whose output is identical to the full model's. *WikiText ppl*: teacher-forced, every scored token " +
      "decided by the controller as in generation, warm-up from each window's start. *ROUGE-L*: F1 of the LCS on lower-cased " +
      "alphanumeric tokens, against the reference highlights and against the full model's summary. *Decode tok/s*: QA decode steps per second " +
      "(configurations run interleaved row by row, so load on the shared machine affects them alike; noisy all the same).",
    "",
  );
  out.push(`![metrics vs skip ratio](${input.svgName})`, "");
  out.push("## Against the quality bar", "");
  out.push(...qualityBar(input.results), "");
  if (input.profiles.length > 0) {
    out.push("## Paper-policy thresholds per target (calibrated on WikiText-2, not on the evaluation questions)", "");
    out.push("| Target | Profile | Threshold | k | Middle layers | Calibration skip % (after warm-up) | Calibration ppl (full -> skip) |", "|---:|---|---:|---:|---|---:|---|");
    for (const { target, path, profile } of [...input.profiles].sort((a, b) => a.target - b.target)) {
      const m = profile.measured;
      out.push(`| ${pct(target, 0)} | \`${path}\` | ${profile.threshold} | ${profile.k} | ${profile.coldStart}..${profile.coldEnd - 1} | ${pct(m.ratioAfterWarmup)} | ${m.perplexityFull ?? "–"} -> ${m.perplexitySkip ?? "–"} |`);
    }
    out.push("");
    out.push(
      "The fixed and random baselines at target R are `fixed:R` and `random:R` (seed 0) resolved against the same profile: round(R x 30) " +
        "middle layers (so 25% is 8 layers, 26.7%), the most redundant by mean similarity for `fixed`, drawn per token for `random`.",
      "",
    );
  }
  return `${out.join("\n")}\n`;
}
