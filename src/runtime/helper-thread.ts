// The body of a helper thread, shared by Node's worker_threads and Web Workers: instantiate the kernels on the
// shared memory and serve jobs until the pool stops (src/runtime/pool.ts).
import type { Kernels } from "./kernels.js";
import { CONTROL_SLOTS, type HelperInit, helperLoop } from "./pool.js";

/** `onReady` is called once the kernels are instantiated, just before the (blocking) job loop starts. */
export function runHelper(init: HelperInit, onReady: () => void): void {
  const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const control = new Int32Array(init.memory.buffer, init.control, CONTROL_SLOTS);
  onReady();
  helperLoop(instance.exports as unknown as Kernels, control, init.scores);
}
