// Runs fuzz cases on worker threads with a watchdog: a case that runs past its time bound is a hang (the worker is
// terminated and replaced), a worker that dies (heap limit, crash) fails the case it was running. Used by the CLI
// (test/fuzz/campaign.ts, `npm run fuzz`), the CI slice (test/fuzz-slice.test.ts) and the regression replay.

import { Worker } from "node:worker_threads";
import { CaseFactory, type FuzzCase, type TargetName, targetOf } from "./cases.js";
import type { Outcome } from "./run-case.js";
import type { FromWorker, ToWorker, WorkItem } from "./worker.js";
import { existsSync } from "node:fs";
import { Seeds, SMOL_PATH } from "./seeds.js";

export interface TargetStats {
  cases: number;
  ok: number;
  typed: Record<string, number>;
  fail: number;
  maxMs: number;
  totalMs: number;
}

export interface Failure {
  readonly fuzzCase: FuzzCase;
  readonly outcome: Outcome;
}

export interface CampaignResult {
  readonly total: number;
  readonly byTarget: Record<string, TargetStats>;
  readonly failures: Failure[];
  readonly wallMs: number;
}

export interface RunOptions {
  readonly workers?: number;
  /** Per-case time bound by target, in ms. */
  readonly timeoutMs?: (target: TargetName) => number;
  readonly onProgress?: (done: number, total: number, result: CampaignResult) => void;
  readonly campaignSeed?: number;
  /** V8 heap limit per worker (MB). */
  readonly heapMb?: number;
  /** Called with every case's outcome. */
  readonly onOutcome?: (target: TargetName, index: number, outcome: Outcome) => void;
}

export interface CampaignPlan {
  readonly seed: number;
  readonly cases: number;
  /** How many of the cases are the truncation sweep (run first). */
  readonly sweepCases: number;
  /** Restrict random cases to these targets. */
  readonly only?: readonly TargetName[];
  /** Target weights of the random cases (default TARGET_WEIGHTS). */
  readonly weights?: readonly (readonly [number, TargetName])[];
  /** Which seeds' truncation points the sweep takes (default all), in order. */
  readonly sweepSeeds?: readonly string[];
}

/**
 * Default time bounds: 2 s per case; the 98 MB SmolLM2 cases get 15 s (a clean load takes ~0.5 s on an idle core
 * and up to ~7 s was seen on a 2-core box shared with benchmarks; a hang never ends).
 */
export function defaultTimeout(target: TargetName): number {
  if (target === "gguf-smol" || target === "truncate-sweep") return 15_000;
  if (target === "tokenizer-smol") return 8_000;
  return 2_000;
}

export function planItems(plan: CampaignPlan): WorkItem[] {
  const smol = existsSync(SMOL_PATH);
  const items: WorkItem[] = [];
  let sweep = Array.from({ length: plan.sweepCases }, (_, i) => i);
  if (plan.sweepSeeds !== undefined) {
    const points = new CaseFactory(new Seeds(), plan.seed).truncationPoints();
    sweep = points.flatMap((point, i) => (plan.sweepSeeds!.includes(point.seed) ? [i] : [])).slice(0, plan.sweepCases);
  }
  for (const index of sweep) items.push({ target: "truncate-sweep", index });
  for (let i = sweep.length; i < plan.cases; i++) {
    let target = targetOf(plan.seed, i, smol, plan.weights);
    if (plan.only !== undefined) target = plan.only[i % plan.only.length]!;
    items.push({ target, index: i });
  }
  return items;
}

const WORKER_BOOT = (workerUrl: string): string =>
  `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl)}); })` +
  `.catch((error) => { console.error(error); process.exit(1); });`;

/** Runs work items (generated cases or explicit ones) and collects statistics and failures. */
export async function runItems(items: readonly WorkItem[], options: RunOptions = {}): Promise<CampaignResult> {
  const started = performance.now();
  const workerCount = Math.max(1, options.workers ?? 2);
  const timeout = options.timeoutMs ?? defaultTimeout;
  const byTarget: Record<string, TargetStats> = {};
  const failures: Failure[] = [];
  const pending = items.slice().reverse(); // pop() from the end = run in order
  let done = 0;
  const result = (): CampaignResult => ({ total: done, byTarget, failures, wallMs: performance.now() - started });

  const record = (target: string, outcome: Outcome, fuzzCase?: FuzzCase): void => {
    const stats = (byTarget[target] ??= { cases: 0, ok: 0, typed: {}, fail: 0, maxMs: 0, totalMs: 0 });
    stats.cases++;
    stats.maxMs = Math.max(stats.maxMs, outcome.ms);
    stats.totalMs += outcome.ms;
    if (outcome.status === "ok") stats.ok++;
    else if (outcome.status === "typed") stats.typed[outcome.kind] = (stats.typed[outcome.kind] ?? 0) + 1;
    else {
      stats.fail++;
      if (fuzzCase !== undefined) failures.push({ fuzzCase, outcome });
    }
    done++;
    if (options.onProgress !== undefined && (done % 500 === 0 || done === items.length)) options.onProgress(done, items.length, result());
  };

  await new Promise<void>((resolve, reject) => {
    let live = 0;
    const spawn = (): void => {
      live++;
      const worker = new Worker(WORKER_BOOT(new URL("./worker.ts", import.meta.url).href), {
        eval: true, workerData: { campaignSeed: options.campaignSeed ?? 0 },
        resourceLimits: { maxOldGenerationSizeMb: options.heapMb ?? 3072 },
      });
      let current: { fuzzCase: FuzzCase; since: number } | null = null;
      let inFlight: WorkItem[] = [];
      let finished = false;
      const feed = (): void => {
        if (pending.length === 0) {
          finished = true;
          worker.postMessage({ type: "stop" } satisfies ToWorker);
          return;
        }
        inFlight = [];
        for (let i = 0; i < 8 && pending.length > 0; i++) inFlight.push(pending.pop()!);
        worker.postMessage({ type: "run", items: inFlight } satisfies ToWorker);
      };
      const watchdog = setInterval(() => {
        if (current === null) return;
        const elapsed = performance.now() - current.since;
        if (elapsed > timeout(current.fuzzCase.target)) {
          const hung = current;
          current = null;
          die({ status: "fail", kind: "hang", message: `no result after ${Math.round(elapsed)} ms`, ms: elapsed }, hung.fuzzCase);
          void worker.terminate();
        }
      }, 100);
      let dead = false;
      const die = (outcome: Outcome, fuzzCase: FuzzCase | undefined): void => {
        if (dead) return;
        dead = true;
        clearInterval(watchdog);
        if (fuzzCase !== undefined) {
          options.onOutcome?.(fuzzCase.target, fuzzCase.index, outcome);
          record(fuzzCase.target, outcome, fuzzCase);
          // Requeue what the dead worker had not started yet.
          const startedIndex = inFlight.findIndex((item) => {
            const { target, index } = "case" in item ? item.case : item;
            return target === fuzzCase.target && index === fuzzCase.index;
          });
          for (const item of inFlight.slice(startedIndex + 1).reverse()) pending.push(item);
        }
        live--;
        spawn();
      };
      worker.on("message", (message: FromWorker) => {
        switch (message.type) {
          case "ready": feed(); break;
          case "start": current = { fuzzCase: message.fuzzCase, since: performance.now() }; break;
          case "done":
            current = null;
            options.onOutcome?.(message.target, message.index, message.outcome);
            record(message.target, message.outcome, message.fuzzCase);
            break;
          case "idle": feed(); break;
        }
      });
      worker.on("error", (error) => {
        if (current !== null) {
          const crashed = current;
          current = null;
          die({ status: "fail", kind: `worker-died:${(error as { code?: string }).code ?? error.name}`, message: String(error), ms: performance.now() - crashed.since }, crashed.fuzzCase);
        } else if (!dead) {
          clearInterval(watchdog);
          reject(error);
        }
      });
      worker.on("exit", () => {
        if (dead) return;
        if (current !== null) {
          const crashed = current;
          current = null;
          die({ status: "fail", kind: "worker-exit", message: "worker exited mid-case", ms: performance.now() - crashed.since }, crashed.fuzzCase);
          return;
        }
        dead = true;
        clearInterval(watchdog);
        live--;
        if (!finished && pending.length > 0) spawn();
        else if (live === 0) resolve();
      });
    };
    for (let i = 0; i < workerCount; i++) spawn();
  });
  return result();
}

export function runCampaign(plan: CampaignPlan, options: RunOptions = {}): Promise<CampaignResult> {
  return runItems(planItems(plan), { ...options, campaignSeed: plan.seed });
}

export function summarize(result: CampaignResult): string {
  const lines: string[] = [];
  const targets = Object.keys(result.byTarget).sort();
  lines.push(`${"target".padEnd(18)} ${"cases".padStart(7)} ${"loaded".padStart(7)} ${"fail".padStart(5)} ${"max ms".padStart(7)} ${"avg ms".padStart(7)}  typed errors`);
  for (const target of targets) {
    const s = result.byTarget[target]!;
    const typed = Object.entries(s.typed).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
    lines.push(`${target.padEnd(18)} ${String(s.cases).padStart(7)} ${String(s.ok).padStart(7)} ${String(s.fail).padStart(5)} ${s.maxMs.toFixed(0).padStart(7)} ${(s.totalMs / Math.max(1, s.cases)).toFixed(1).padStart(7)}  ${typed}`);
  }
  lines.push(`total ${result.total} cases, ${result.failures.length} failures, ${(result.wallMs / 1000).toFixed(1)} s wall`);
  return lines.join("\n");
}
