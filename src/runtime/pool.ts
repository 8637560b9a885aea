// Threads: helper workers share the kernels' WebAssembly.Memory and split the big kernel calls with the main
// thread. One job at a time, posted through a small control block in shared memory; everyone spins on it (an
// Atomics.wait/notify round trip costs tens of microseconds, a token makes ~150 jobs), and helpers fall asleep
// only after a couple of milliseconds without work. Participants claim the job's work in small chunks from a shared
// counter, so a helper that gets no core (a busy machine) leaves its share to the others instead of holding everyone
// up. Every output element is computed by exactly one participant with the same code, so results are bit-identical
// to a single thread.
//
// Control block (Int32 slots): SEQ job number, DONE finished helpers, SLEEPERS helpers in Atomics.wait,
// KIND the job kind (or STOP), PARTS participants (helpers + main), MAIN_WAITING set while the main thread sleeps
// on DONE (when its helpers are slow, e.g. descheduled on a busy machine), NEXT the next unclaimed work item,
// ARGS.. the job's arguments.

import { ResourceError } from "../errors.js";
import { FORMAT_KERNELS, type Kernels, type MatmulKernel, type Ptr } from "./kernels.js";

export const SEQ = 0;
export const DONE = 1;
export const SLEEPERS = 2;
export const KIND = 3;
export const PARTS = 4;
export const MAIN_WAITING = 5;
export const NEXT = 6;
export const ARGS = 7;
export const CONTROL_SLOTS = 32;
export const CONTROL_BYTES = CONTROL_SLOTS * 4;

/** Job kinds a helper understands (see runShare). */
export const JOB = { stop: 1, tiled: 2, attention: 3, rows: 4, matmul: 5 } as const;
/** Tiled matmul kernels by id, the order is part of the protocol. */
export const TILED_KERNELS = ["matmul_q4_1x4", "matmul_q4_0x4", "matmul_q8_0x4"] as const;
export type TiledKernelName = (typeof TILED_KERNELS)[number];
/** Int16-activation decode kernels on the file's row layout by id (kernels/qmatvec.ts), the order is part of the protocol. */
export const ROW_KERNELS = ["matvec_q16_q5_0", "matvec_q16_q4_k", "matvec_q16_q6_k"] as const;
export type RowKernelName = (typeof ROW_KERNELS)[number];

/** The prefill matmuls on file-layout rows (f32 activations, four dequantized rows of scratch each). */
export const MATMUL_KERNELS: readonly (keyof Kernels)[] = Object.values(FORMAT_KERNELS).map((f) => f.matmul);

/** Rows per claim of a row job. */
const ROWS_PER_CLAIM = 32;

/** Tiles (four rows each) per claim: small enough to balance, large enough that claiming costs nothing. */
const TILES_PER_CLAIM = 16;

/** A tiled matmul: the kernel's arguments but the tile range, which participants claim (kernel: TILED_KERNELS index). */
const TILED_SLOTS = ["kernel", "out", "w", "qx", "dx", "px", "rows", "cols", "n", "outStride"] as const;
/** A decode matvec on file-layout rows: participants claim row ranges (kernel: ROW_KERNELS index). */
const ROW_SLOTS = ["kernel", "out", "w", "qx", "dx", "px", "rows", "cols", "rowBytes"] as const;
/** A prefill matmul on file-layout rows: participants claim row ranges, each with its own panel scratch (kernel: MATMUL_KERNELS index). */
const MATMUL_SLOTS = ["kernel", "out", "w", "x", "rows", "cols", "n", "outStride", "rowBytes"] as const;
/**
 * Attention for n tokens with causal lengths firstSeqLen + t (f16: 1 for an f16 KV cache), each over only the last
 * `window` of those positions when window > 0 (sliding-window layers).
 */
const ATTENTION_SLOTS = ["out", "q", "kCache", "vCache", "nHeads", "nKvHeads", "headDim", "kvStride", "firstSeqLen", "n", "outStride", "qStride", "f16", "window"] as const;

type Job<Slots extends readonly string[]> = Record<Slots[number], number>;

/** Writes a job's arguments into the control block's ARGS slots, in `slots` order. */
function writeJob<Slots extends readonly string[]>(control: Int32Array, slots: Slots, job: Job<Slots>): void {
  slots.forEach((name: Slots[number], i) => {
    control[ARGS + i] = job[name];
  });
}

/** Reads back what writeJob wrote. */
function readJob<Slots extends readonly string[]>(control: Int32Array, slots: Slots): Job<Slots> {
  const job = {} as Job<Slots>;
  slots.forEach((name: Slots[number], i) => {
    job[name] = control[ARGS + i]!;
  });
  return job;
}

/**
 * Runs work of the job described by the control block until none is left unclaimed. `scores` and `panel` are this
 * participant's own scratch: attention scores, and four dequantized rows for a file-layout matmul.
 */
export function runShare(kernels: Kernels, control: Int32Array, scores: Ptr, panel: Ptr): void {
  if (control[KIND] === JOB.tiled) {
    const j = readJob(control, TILED_SLOTS);
    const tiles = j.rows / 4;
    const kernel = kernels[TILED_KERNELS[j.kernel]!];
    for (let tile0 = Atomics.add(control, NEXT, TILES_PER_CLAIM); tile0 < tiles; tile0 = Atomics.add(control, NEXT, TILES_PER_CLAIM)) {
      kernel(j.out, j.w, j.qx, j.dx, j.px, j.rows, j.cols, j.n, tile0, Math.min(tiles, tile0 + TILES_PER_CLAIM), j.outStride);
    }
  } else if (control[KIND] === JOB.rows) {
    const j = readJob(control, ROW_SLOTS);
    const kernel = kernels[ROW_KERNELS[j.kernel]!];
    for (let r0 = Atomics.add(control, NEXT, ROWS_PER_CLAIM); r0 < j.rows; r0 = Atomics.add(control, NEXT, ROWS_PER_CLAIM)) {
      kernel(j.out + r0 * 4, j.w + r0 * j.rowBytes, j.qx, j.dx, j.px, Math.min(ROWS_PER_CLAIM, j.rows - r0), j.cols);
    }
  } else if (control[KIND] === JOB.matmul) {
    const j = readJob(control, MATMUL_SLOTS);
    const kernel = kernels[MATMUL_KERNELS[j.kernel]!] as MatmulKernel;
    for (let r0 = Atomics.add(control, NEXT, ROWS_PER_CLAIM); r0 < j.rows; r0 = Atomics.add(control, NEXT, ROWS_PER_CLAIM)) {
      kernel(j.out + r0 * 4, j.w + r0 * j.rowBytes, j.x, Math.min(ROWS_PER_CLAIM, j.rows - r0), j.cols, j.n, panel, j.outStride);
    }
  } else if (control[KIND] === JOB.attention) {
    const j = readJob(control, ATTENTION_SLOTS);
    // A single token's heads are claimed one by one, a batch's tokens one by one.
    const attention = j.f16 === 1 ? kernels.attention_f16kv : kernels.attention;
    const items = j.n === 1 ? j.nHeads : j.n;
    const rowBytes = j.kvStride * (j.f16 === 1 ? 2 : 4);
    /** The first cache position a query with causal length seqLen sees. */
    const first = (seqLen: number) => (j.window > 0 && seqLen > j.window ? seqLen - j.window : 0);
    for (let item = Atomics.add(control, NEXT, 1); item < items; item = Atomics.add(control, NEXT, 1)) {
      if (j.n === 1) {
        const skip = first(j.firstSeqLen);
        attention(j.out, j.q, j.kCache + skip * rowBytes, j.vCache + skip * rowBytes, j.nHeads, j.nKvHeads, j.headDim, j.kvStride, j.firstSeqLen - skip, scores, item, item + 1);
      } else {
        const skip = first(j.firstSeqLen + item);
        attention(j.out + item * j.outStride * 4, j.q + item * j.qStride * 4, j.kCache + skip * rowBytes, j.vCache + skip * rowBytes, j.nHeads, j.nKvHeads, j.headDim, j.kvStride, j.firstSeqLen + item - skip, scores, 0, j.nHeads);
      }
    }
  }
}

/** The host side of a worker: how to start one and hand it the memory and module. */
export interface HelperHandle {
  /** Settles when the helper has instantiated the kernels and entered its loop (rejects if it failed to). */
  readonly ready: Promise<void>;
  terminate(): void;
}

export type SpawnHelper = (init: HelperInit) => HelperHandle;

export interface HelperInit {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly control: Ptr;
  /** This helper's number (1..helpers), for messages. */
  readonly part: number;
  /** This helper's scratch, for attention scores or a matmul's four dequantized rows (helperScratchBytes). */
  readonly scores: Ptr;
}

const HELPER_TIMEOUT_MS = 30_000;
/** Consecutive jobs with lagging helpers before the main thread works alone, and for how many jobs (~15 tokens). */
const LAGGING_JOBS_BEFORE_SOLO = 8;
const SOLO_JOBS = 2048;

export class ThreadPool {
  private readonly control: Int32Array;
  private seq = 0;
  private canWait = true;
  private laggingJobs = 0;
  private soloJobs = 0;

  constructor(
    readonly memory: WebAssembly.Memory,
    private readonly kernels: Kernels,
    controlPtr: Ptr,
    private readonly helpers: readonly HelperHandle[],
    /** The main thread's attention scratch. */
    private readonly mainScores: Ptr,
    /** The main thread's matmul panel scratch (f32[4 * widest]). */
    private readonly mainPanel: Ptr,
  ) {
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      throw new ResourceError({ field: "threads", expected: "a shared WebAssembly.Memory", actual: "an unshared one" });
    }
    this.control = new Int32Array(memory.buffer, controlPtr, CONTROL_SLOTS);
  }

  /** Participants: the main thread and its helpers. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  tiled(kernel: TiledKernelName, out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, n: number, outStride: number): void {
    writeJob(this.control, TILED_SLOTS, { kernel: TILED_KERNELS.indexOf(kernel), out, w, qx, dx, px, rows, cols, n, outStride });
    this.run(JOB.tiled);
  }

  /** out f32[rows] = W · the quantized activations, W in the file's row layout (rowBytes per row). */
  rows(kernel: RowKernelName, out: Ptr, w: Ptr, qx: Ptr, dx: Ptr, px: Ptr, rows: number, cols: number, rowBytes: number): void {
    writeJob(this.control, ROW_SLOTS, { kernel: ROW_KERNELS.indexOf(kernel), out, w, qx, dx, px, rows, cols, rowBytes });
    this.run(JOB.rows);
  }

  /** Prefill out[t] = W · x[t] for W in the file's row layout (rowBytes per row), rows split between threads. */
  matmul(kernel: keyof Kernels, out: Ptr, w: Ptr, x: Ptr, rows: number, cols: number, n: number, outStride: number, rowBytes: number): void {
    writeJob(this.control, MATMUL_SLOTS, { kernel: MATMUL_KERNELS.indexOf(kernel), out, w, x, rows, cols, n, outStride, rowBytes });
    this.run(JOB.matmul);
  }

  /**
   * Attention for n tokens: token t's query at q + t*qStride floats, output at out + t*outStride floats; window > 0
   * limits each to the last `window` positions.
   */
  attention(f16Cache: boolean, out: Ptr, q: Ptr, kCache: Ptr, vCache: Ptr, nHeads: number, nKvHeads: number, headDim: number, kvStride: number, firstSeqLen: number, n: number, outStride: number, qStride: number, window: number): void {
    writeJob(this.control, ATTENTION_SLOTS, { out, q, kCache, vCache, nHeads, nKvHeads, headDim, kvStride, firstSeqLen, n, outStride, qStride, f16: f16Cache ? 1 : 0, window });
    this.run(JOB.attention);
  }

  /** Stops the helpers; the pool cannot be used afterwards. */
  close(): void {
    const c = this.control;
    c[KIND] = JOB.stop;
    Atomics.store(c, SEQ, ++this.seq);
    Atomics.notify(c, SEQ);
    for (const helper of this.helpers) helper.terminate();
  }

  /** Runs the job whose arguments writeJob() has put in the control block. */
  private run(kind: number): void {
    const c = this.control;
    c[KIND] = kind;
    if (this.soloJobs > 0) {
      // Helpers have been lagging (no free core): run whole jobs here for a while, same numbers either way.
      this.soloJobs--;
      c[PARTS] = 1;
      c[NEXT] = 0;
      runShare(this.kernels, c, this.mainScores, this.mainPanel);
      return;
    }
    c[PARTS] = this.threads;
    Atomics.store(c, NEXT, 0);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, SEQ, ++this.seq);
    if (Atomics.load(c, SLEEPERS) > 0) Atomics.notify(c, SEQ);
    const start = performance.now();
    runShare(this.kernels, c, this.mainScores, this.mainPanel);
    const ownDone = performance.now();
    this.waitForHelpers();
    // A helper finishing far later than we did is not getting a core (a busy machine): waiting for it would make
    // threads slower than one thread, so after several such jobs in a row, go solo for a while, then try again.
    const lag = performance.now() - ownDone;
    if (lag > 4 * (ownDone - start) + 0.05) {
      if (++this.laggingJobs >= LAGGING_JOBS_BEFORE_SOLO) {
        this.soloJobs = SOLO_JOBS;
        this.laggingJobs = 0;
      }
    } else {
      this.laggingJobs = 0;
    }
  }

  private waitForHelpers(): void {
    const c = this.control;
    const helpers = this.helpers.length;
    // Spin: the helpers are on other cores and usually finish within microseconds of us. If they do not (a busy
    // machine descheduled them), sleep on DONE instead of burning the core they need, where the host allows it.
    // A helper that died would hang us (its error event cannot arrive while we block), so give up eventually.
    let spins = 0;
    let started = 0;
    while (Atomics.load(c, DONE) < helpers) {
      if (++spins % 4096 !== 0) continue;
      const now = performance.now();
      if (started === 0) started = now;
      else if (now - started > HELPER_TIMEOUT_MS) {
        throw new ResourceError({ field: "helper threads", expected: `every helper to finish a job within ${HELPER_TIMEOUT_MS / 1000} s`, actual: `${Atomics.load(c, DONE)} of ${helpers} finished` });
      } else if (now - started > 0.2 && this.canWait) {
        const done = Atomics.load(c, DONE);
        Atomics.store(c, MAIN_WAITING, 1);
        if (done < helpers) {
          try {
            Atomics.wait(c, DONE, done, 5);
          } catch {
            this.canWait = false; // a browser's main thread may not block
          }
        }
        Atomics.store(c, MAIN_WAITING, 0);
      }
    }
  }
}

/**
 * A helper's loop: wait for a new job, run its share, report done; sleep in Atomics.wait after ~2 ms idle.
 * Returns when the pool posts STOP.
 */
export function helperLoop(kernels: Kernels, control: Int32Array, scratch: Ptr): void {
  // Jobs are numbered from 1; starting from 0 (not from whatever SEQ holds now) makes a job posted before this
  // helper got here still count as new.
  let seen = 0;
  while (true) {
    let spins = 0;
    let idleSince = 0;
    while (Atomics.load(control, SEQ) === seen) {
      if (++spins % 4096 !== 0) continue;
      const now = performance.now();
      if (idleSince === 0) idleSince = now;
      else if (now - idleSince > 2) {
        Atomics.add(control, SLEEPERS, 1);
        if (Atomics.load(control, SEQ) === seen) Atomics.wait(control, SEQ, seen);
        Atomics.sub(control, SLEEPERS, 1);
        idleSince = 0;
      }
    }
    seen = Atomics.load(control, SEQ);
    if (control[KIND] === JOB.stop) return;
    runShare(kernels, control, scratch, scratch); // one buffer serves both: a helper runs one job at a time
    Atomics.add(control, DONE, 1);
    if (Atomics.load(control, MAIN_WAITING) !== 0) Atomics.notify(control, DONE);
  }
}
