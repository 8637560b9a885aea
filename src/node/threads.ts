// Helper threads on Node: one worker_threads Worker per helper, running src/node/thread-worker.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ResourceError } from "../errors.js";
import type { SpawnHelper } from "../runtime/pool.js";

/** Threads a Node process should use by default: every core the OS offers, at most 8. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

export const spawnNodeHelper: SpawnHelper = (init) => {
  const fromSources = import.meta.url.endsWith(".ts");
  const entry = new URL(`./thread-worker${fromSources ? ".ts" : ".js"}`, import.meta.url);
  // Run from TypeScript sources (tests, tsx), the worker registers tsx's loader before importing its entry.
  const worker = fromSources
    ? new Worker(`import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true, workerData: init })
    : new Worker(entry, { workerData: init });
  worker.unref(); // a pool left open must not keep the process alive
  const ready = new Promise<void>((resolve, reject) => {
    const fail = (why: string) => reject(new ResourceError({ field: `helper thread ${init.part}`, expected: "to start", actual: why }));
    worker.once("message", () => resolve());
    worker.once("error", (error) => fail(error.message));
    worker.once("exit", (code) => fail(`exited with code ${code}`));
  });
  return { ready, terminate: () => void worker.terminate() };
};
