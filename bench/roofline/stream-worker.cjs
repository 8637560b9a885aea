// One roofline probe thread (started by bench/speed.ts): instantiates the probe on the shared memory and, per job,
// streams its own slice `passes` times, reporting its own duration (performance.now() origins differ between
// threads; durations do not).
const { parentPort, workerData } = require("node:worker_threads");
const { probeModule, memory, control, results, index, offset, bytes } = workerData;
const probe = new WebAssembly.Instance(probeModule, { env: { memory } }).exports;
const c = new Int32Array(control), r = new Float64Array(results);
parentPort.postMessage("ready");
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  if (Atomics.load(c, 3) === 1) break;
  const passes = Atomics.load(c, 2);
  const t0 = performance.now();
  const check = probe.sum_v128(offset, bytes, passes);
  r[index] = performance.now() - t0;
  r[64 + index] = check;
  Atomics.add(c, 1, 1);
  Atomics.notify(c, 1);
}
