// Fuzz worker thread: builds seeds once, then runs the cases the runner sends, reporting each one's start (so the
// runner's watchdog can time it and name it if it hangs) and outcome.

import { parentPort, workerData } from "node:worker_threads";
import { pickVariant, variantBytes } from "../../src/runtime/kernels.js";
import { CaseFactory, type FuzzCase, type TargetName } from "./cases.js";
import { installAllocationGuard } from "./guard.js";
import { CaseRunner } from "./run-case.js";
import { Seeds } from "./seeds.js";

export type WorkItem = { readonly target: TargetName; readonly index: number } | { readonly case: FuzzCase };

export type ToWorker = { type: "run"; items: WorkItem[] } | { type: "stop" };
export type FromWorker =
  | { type: "ready" }
  | { type: "start"; fuzzCase: FuzzCase }
  | { type: "done"; target: TargetName; index: number; outcome: import("./run-case.js").Outcome; fuzzCase?: FuzzCase }
  | { type: "idle" };

const port = parentPort!;
const { campaignSeed } = workerData as { campaignSeed: number };

installAllocationGuard();
const seeds = new Seeds();
const factory = new CaseFactory(seeds, campaignSeed);
const variant = await pickVariant(false);
const wasmModule = variant === null ? undefined : await WebAssembly.compile(variantBytes(variant));
const runner = new CaseRunner(seeds, wasmModule);

let queue: WorkItem[] = [];
let running = false;

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  while (queue.length > 0) {
    const item = queue.shift()!;
    const fuzzCase = "case" in item ? item.case : factory.make(item.target, item.index);
    port.postMessage({ type: "start", fuzzCase } satisfies FromWorker);
    const outcome = await runner.run(fuzzCase);
    port.postMessage({
      type: "done", target: fuzzCase.target, index: fuzzCase.index, outcome, fuzzCase: outcome.status === "fail" ? fuzzCase : undefined,
    } satisfies FromWorker);
  }
  running = false;
  port.postMessage({ type: "idle" } satisfies FromWorker);
}

port.on("message", (message: ToWorker) => {
  if (message.type === "stop") process.exit(0);
  queue.push(...message.items);
  void drain();
});
port.postMessage({ type: "ready" } satisfies FromWorker);
