// Node worker_threads entry of a helper thread (spawned by src/node/threads.ts).
import { parentPort, workerData } from "node:worker_threads";
import { runHelper } from "../runtime/helper-thread.js";
import type { HelperInit } from "../runtime/pool.js";

runHelper(workerData as HelperInit, () => parentPort?.postMessage("ready"));
