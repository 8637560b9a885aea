// Kernel benches (tinybench): every kernel family at SmolLM2-135M shapes, three implementations side by side:
//   scalar   the plain-TS twins (src/reference/kernels.ts; f64, readability first: the oracle, not a fast path)
//   simd     the WASM SIMD build (kernels/*.ts)
//   relaxed  the relaxed-SIMD build, where the runtime validates it and it passes the kernel self-test (Deno, Node >= 22;
//            Node 20's flag-gated relaxed SIMD computes a wrong relaxed dot product and is refused)
// Reported per case and implementation: median time per call, GB/s of weight (or KV-cache) bytes read, GFLOP/s,
// speed-up over scalar, and the largest difference from scalar's output (a check that each build computed the
// same thing). One thread; weights are random quants with sane finite f16 scales (random scale bytes would be
// denormal or huge, and denormal float math runs 2-10x slower on x86).
//
//   npm run bench:kernels                          (Node: scalar, simd; relaxed reported unavailable)
//   npm run bench:kernels:deno                     (Deno: scalar, simd, relaxed)
//   node --import tsx bench/kernels.bench.ts --filter q4_1 --time 500 --no-scalar --out -
//
// Flags: --filter REGEX (case names), --time MS (per simd/relaxed task, default 300), --scalar-iterations N
// (default 3), --no-scalar, --out FILE (default bench/results/kernels[-deno].md; "-" prints only).

import { Bench } from "tinybench";
import { createReferenceKernels } from "../src/reference/kernels.js";
import { instantiateKernels, type Kernels, type KernelVariant, variantBytes } from "../src/runtime/kernels.js";

declare const Deno: { args: string[]; version: { deno: string; v8: string }; osUptime?: () => number; loadavg?: () => number[]; writeTextFileSync(path: string, text: string): void; mkdirSync(path: string, options: { recursive: boolean }): void } | undefined;

// ---- environment (Node or Deno) ----------------------------------------------------------------------------

const isDeno = typeof Deno !== "undefined";
const argv: string[] = isDeno ? Deno!.args : process.argv.slice(2);
const runtime = isDeno ? `Deno ${Deno!.version.deno} (V8 ${Deno!.version.v8})` : `Node ${process.version} (V8 ${process.versions.v8})`;
const os = await import("node:os");
const fs = await import("node:fs");
const path = await import("node:path");
const url = await import("node:url");
const ROOT = path.join(path.dirname(url.fileURLToPath(import.meta.url)), "..");

function flag(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
const filter = new RegExp(flag("filter") ?? ".");
const taskTime = Number(flag("time") ?? 300);
const scalarIterations = Number(flag("scalar-iterations") ?? 3);
const withScalar = !argv.includes("--no-scalar");
const out = flag("out") ?? path.join(ROOT, "bench", "results", isDeno ? "kernels-deno.md" : "kernels.md");
const loadText = () => os.loadavg().map((v) => v.toFixed(2)).join(", ");
const loadBefore = loadText();

// ---- memory, implementations ------------------------------------------------------------------------------

const MiB = 2 ** 20;
const memory = new WebAssembly.Memory({ initial: (96 * MiB) / 65536 });
type Impl = { name: "scalar" | "simd" | "relaxed"; kernels: Kernels | null; why?: string };

async function wasmImpl(name: "simd" | "relaxed", variant: KernelVariant): Promise<Impl & { heapBase: number }> {
  const bytes = variantBytes(variant);
  if (!WebAssembly.validate(bytes)) {
    return { name, kernels: null, heapBase: 0, why: `${runtime} does not validate the ${variant} build${isDeno ? "" : " (relaxed SIMD needs Node >= 22 or Deno; Node 20's --experimental-wasm-relaxed-simd computes a wrong relaxed dot product, which the kernel self-test refuses)"}` };
  }
  try {
    const instance = await instantiateKernels(memory, variant);
    return { name, kernels: instance.kernels, heapBase: instance.heapBase };
  } catch (error) {
    return { name, kernels: null, heapBase: 0, why: error instanceof Error ? error.message : String(error) };
  }
}

const simd = await wasmImpl("simd", "simd");
const relaxed = await wasmImpl("relaxed", "relaxed");
const scalar: Impl = withScalar ? { name: "scalar", kernels: createReferenceKernels(memory) } : { name: "scalar", kernels: null, why: "--no-scalar" };
if (simd.kernels === null) throw new Error(`the SIMD build does not run here: ${simd.why}`);
const impls: Impl[] = [scalar, simd, relaxed];
const K = simd.kernels;

let top = Math.max(simd.heapBase, relaxed.heapBase, 1 * MiB);
function alloc(bytes: number): number {
  const p = Math.ceil(top / 64) * 64;
  top = p + bytes;
  if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
  return p;
}
function resetHeap(): void {
  top = Math.max(simd.heapBase, relaxed.heapBase, 1 * MiB);
}

// ---- data ------------------------------------------------------------------------------------------------

let seed = 0x9e3779b9;
function random(): number {
  // xorshift32: deterministic data, same for every run
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 2 ** 32;
}

/** f32 -> IEEE half bits, round to nearest; for the normal range used here. */
function f16(value: number): number {
  const f = new Float32Array([value]);
  const bits = new Uint32Array(f.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  if (value === 0) return sign;
  if (exp <= 0 || exp >= 31) throw new Error(`f16: ${value} out of the normal range`);
  const mant = bits & 0x7fffff;
  let h = sign | (exp << 10) | (mant >>> 13);
  if ((mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

function bytes(p: number, n: number): Uint8Array {
  return new Uint8Array(memory.buffer, p, n);
}
function view(): DataView {
  return new DataView(memory.buffer);
}
function fillRandomBytes(p: number, n: number): void {
  const b = bytes(p, n);
  for (let i = 0; i < n; i++) b[i] = (random() * 256) | 0;
}
function fillF32(p: number, n: number, scale = 1): number {
  const a = new Float32Array(memory.buffer, p, n);
  for (let i = 0; i < n; i++) a[i] = (random() * 2 - 1) * scale;
  return p;
}
const scaleD = () => f16(0.002 + random() * 0.018); // |w| up to ~0.3, like trained weights
const scaleM = () => f16(-(0.01 + random() * 0.14));

type WFormat = "q4_1x4" | "q8_0x4" | "q4_1" | "q8_0" | "q5_0" | "q4_k" | "q6_k";
const BLOCK_BYTES: Record<WFormat, number> = { q4_1x4: 80, q8_0x4: 136, q4_1: 20, q8_0: 34, q5_0: 22, q4_k: 144, q6_k: 210 };
const BLOCK_VALUES: Record<WFormat, number> = { q4_1x4: 32, q8_0x4: 32, q4_1: 32, q8_0: 32, q5_0: 32, q4_k: 256, q6_k: 256 };

/** A rows x cols weight matrix in `format`, random quants, sane scales. Returns [ptr, bytes]. */
function weights(format: WFormat, rows: number, cols: number): [number, number] {
  const blocks = cols / BLOCK_VALUES[format];
  const tiled = format.endsWith("x4");
  const count = tiled ? (rows / 4) * blocks : rows * blocks;
  const size = count * BLOCK_BYTES[format];
  const p = alloc(size);
  fillRandomBytes(p, size);
  const dv = view();
  for (let b = 0; b < count; b++) {
    const q = p + b * BLOCK_BYTES[format];
    if (format === "q4_1x4") for (let r = 0; r < 4; r++) dv.setUint16(q + 64 + 2 * r, scaleD(), true), dv.setUint16(q + 72 + 2 * r, scaleM(), true);
    else if (format === "q8_0x4") for (let r = 0; r < 4; r++) dv.setUint16(q + 128 + 2 * r, f16((0.002 + random() * 0.018) / 16), true);
    else if (format === "q4_1") dv.setUint16(q, scaleD(), true), dv.setUint16(q + 2, scaleM(), true);
    else if (format === "q5_0") dv.setUint16(q, f16((0.002 + random() * 0.018) / 2), true);
    else if (format === "q4_k") dv.setUint16(q, f16(0.0005), true), dv.setUint16(q + 2, f16(0.0002), true); // 6-bit sub-scales stay random
    else if (format === "q6_k") dv.setUint16(q + 208, f16(0.0002), true); // i8 sub-scales stay random
    else dv.setUint16(q, f16((0.002 + random() * 0.018) / 16), true);
  }
  return [p, size];
}

/** Activations x f32[n][cols] and their int16 quantization (qx, dx, px) made by the SIMD kernel. */
function activations(cols: number, n: number): { x: number; qx: number; dx: number; px: number } {
  const x = fillF32(alloc(n * cols * 4), n * cols, 2);
  const qx = alloc(n * cols * 2), dx = alloc((n * cols) / 8), px = alloc((n * cols) / 8);
  K.quantize_q16(x, qx, dx, px, cols, n);
  return { x, qx, dx, px };
}

// ---- cases -----------------------------------------------------------------------------------------------

interface Case {
  readonly family: string;
  readonly name: string;
  /** Bytes of weights / KV cache streamed per call (for GB/s), 0 when not meaningful. */
  readonly bytes: number;
  readonly flops: number;
  /** The kernel this case calls (skipped for an implementation without it). */
  readonly kernel: keyof Kernels;
  /** Runs the kernel of `k` writing to output buffer `o` (one per implementation). */
  readonly run: (k: Kernels, o: number) => void;
  /** Output floats to compare, at each implementation's output buffer; 0 = in-place kernel, no comparison. */
  readonly outFloats: number;
  /** Refreshes in-place inputs before a comparison run. */
  readonly reset?: () => void;
  readonly outBytes: number;
}

const SMOL = { hidden: 576, ffn: 1536, heads: 9, kvHeads: 3, headDim: 64, vocab: 49152, qkv: 576 + 2 * 192 };

function buildCases(): Case[] {
  const cases: Case[] = [];
  // Fast path: tiled integer-dot matmuls (decode n = 1, prefill n = 32).
  const tiled = (kernel: "matmul_q4_1x4" | "matmul_q8_0x4", fmt: WFormat, rows: number, cols: number, n: number, what: string) => {
    const [w, size] = weights(fmt, rows, cols);
    const a = activations(cols, n);
    cases.push({
      family: "tiled matmul (fast path)", name: `${kernel} ${rows}x${cols} n=${n} (${what})`, bytes: size, flops: 2 * rows * cols * n, kernel,
      run: (k, o) => k[kernel](o, w, a.qx, a.dx, a.px, rows, cols, n, 0, rows / 4, rows), outFloats: rows * n, outBytes: rows * n * 4,
    });
  };
  tiled("matmul_q4_1x4", "q4_1x4", SMOL.hidden, SMOL.ffn, 1, "FFN down, decode");
  tiled("matmul_q4_1x4", "q4_1x4", 2 * SMOL.ffn, SMOL.hidden, 1, "gate|up, decode");
  tiled("matmul_q4_1x4", "q4_1x4", SMOL.qkv, SMOL.hidden, 1, "QKV, decode");
  tiled("matmul_q4_1x4", "q4_1x4", 2 * SMOL.ffn, SMOL.hidden, 32, "gate|up, prefill");
  tiled("matmul_q8_0x4", "q8_0x4", SMOL.vocab, SMOL.hidden, 1, "LM head, decode");
  {
    // The cases above re-read one matrix that stays in cache between calls. Decode streams ~97 MB per token, far
    // more than L3: this case rotates through 60 copies of gate|up (66 MB) so each call reads from DRAM.
    const copies = 60, rows = 2 * SMOL.ffn, cols = SMOL.hidden;
    const mats = Array.from({ length: copies }, () => weights("q4_1x4", rows, cols));
    const a = activations(cols, 1);
    let next = 0;
    cases.push({
      family: "tiled matmul (fast path)", name: `matmul_q4_1x4 ${rows}x${cols} n=1 (gate|up, decode, cold: ${copies} copies, ${((mats[0]![1] * copies) / 1e6).toFixed(0)} MB)`,
      bytes: mats[0]![1], flops: 2 * rows * cols, kernel: "matmul_q4_1x4",
      run: (k, o) => {
        const w = mats[next]![0];
        next = (next + 1) % copies;
        k.matmul_q4_1x4(o, w, a.qx, a.dx, a.px, rows, cols, 1, 0, rows / 4, rows);
      },
      outFloats: 0, outBytes: rows * 4,
    });
  }

  // K-quant file layouts (what a Q4_K_M file holds), decode on int16 activations, at Qwen2.5-0.5B shapes.
  const QWEN = { hidden: 896, ffn: 4864 };
  const kquant = (kernel: "matvec_q16_q5_0" | "matvec_q16_q4_k" | "matvec_q16_q6_k", fmt: WFormat, rows: number, cols: number, what: string) => {
    const [w, size] = weights(fmt, rows, cols);
    const a = activations(cols, 1);
    cases.push({
      family: "file-layout K-quant matvec (int16 activations)", name: `${kernel} ${rows}x${cols} (${what})`, bytes: size, flops: 2 * rows * cols, kernel,
      run: (k, o) => k[kernel](o, w, a.qx, a.dx, a.px, rows, cols), outFloats: rows, outBytes: rows * 4,
    });
  };
  kquant("matvec_q16_q5_0", "q5_0", 2 * QWEN.ffn, QWEN.hidden, "Qwen2.5-0.5B gate|up");
  kquant("matvec_q16_q4_k", "q4_k", QWEN.hidden, QWEN.ffn, "Qwen2.5-0.5B FFN down");
  kquant("matvec_q16_q6_k", "q6_k", QWEN.hidden, QWEN.ffn, "Qwen2.5-0.5B FFN down");

  // Activation quantization for the fast path.
  for (const [cols, n] of [[SMOL.hidden, 1], [SMOL.ffn, 1], [SMOL.hidden, 32]] as const) {
    const x = fillF32(alloc(cols * n * 4), cols * n, 2);
    cases.push({
      family: "quantize", name: `quantize_q16 ${cols} n=${n}`, bytes: cols * n * 4, flops: 0, kernel: "quantize_q16",
      run: (k, o) => k.quantize_q16(x, o, o + cols * n * 2, o + cols * n * 2 + (cols * n) / 8, cols, n), outFloats: 0, outBytes: cols * n * 3,
    });
  }

  // Exact path: file-layout matvec (decode) and matmul (prefill), f32 activations.
  const exact = (kernel: "matvec_q4_1" | "matvec_q8_0" | "matmul_q4_1", fmt: WFormat, rows: number, cols: number, n: number, what: string) => {
    const [w, size] = weights(fmt, rows, cols);
    const x = fillF32(alloc(cols * n * 4), cols * n, 2);
    const scratch = alloc(4 * cols * 4);
    cases.push({
      family: "file-layout matvec/matmul (exact path)", name: `${kernel} ${rows}x${cols}${n > 1 ? ` n=${n}` : ""} (${what})`, bytes: size, flops: 2 * rows * cols * n, kernel,
      run: kernel === "matmul_q4_1" ? (k, o) => k.matmul_q4_1(o, w, x, rows, cols, n, scratch, rows) : (k, o) => k[kernel as "matvec_q4_1"](o, w, x, rows, cols),
      outFloats: rows * n, outBytes: rows * n * 4,
    });
  };
  exact("matvec_q4_1", "q4_1", SMOL.hidden, SMOL.ffn, 1, "FFN down, decode");
  exact("matvec_q8_0", "q8_0", SMOL.vocab, SMOL.hidden, 1, "LM head, decode");
  exact("matmul_q4_1", "q4_1", 2 * SMOL.ffn, SMOL.hidden, 32, "gate|up, prefill");

  // Attention over the KV cache (one query token, all heads), f32 and f16 caches.
  const kvDim = SMOL.kvHeads * SMOL.headDim;
  const maxSeq = 2048;
  const q = fillF32(alloc(SMOL.heads * SMOL.headDim * 4), SMOL.heads * SMOL.headDim, 1);
  const kc = fillF32(alloc(maxSeq * kvDim * 4), maxSeq * kvDim, 1);
  const vc = fillF32(alloc(maxSeq * kvDim * 4), maxSeq * kvDim, 1);
  const kh = alloc(maxSeq * kvDim * 2), vh = alloc(maxSeq * kvDim * 2);
  const halfKv = typeof (K as Partial<Kernels>).store_f16 === "function" && typeof (K as Partial<Kernels>).attention_f16kv === "function";
  if (halfKv) {
    K.store_f16(kh, kc, maxSeq * kvDim);
    K.store_f16(vh, vc, maxSeq * kvDim);
  }
  const scores = alloc(SMOL.heads * maxSeq * 4);
  for (const seq of [128, 512, 2048]) {
    const flops = 4 * SMOL.heads * seq * SMOL.headDim;
    cases.push({
      family: "attention", name: `attention f32 KV, ${seq} positions`, bytes: 2 * seq * kvDim * 4, flops, kernel: "attention",
      run: (k, o) => k.attention(o, q, kc, vc, SMOL.heads, SMOL.kvHeads, SMOL.headDim, kvDim, seq, scores, 0, SMOL.heads), outFloats: SMOL.heads * SMOL.headDim, outBytes: SMOL.heads * SMOL.headDim * 4,
    });
    if (halfKv) {
      cases.push({
        family: "attention", name: `attention_f16kv, ${seq} positions`, bytes: 2 * seq * kvDim * 2, flops, kernel: "attention_f16kv",
        run: (k, o) => k.attention_f16kv(o, q, kh, vh, SMOL.heads, SMOL.kvHeads, SMOL.headDim, kvDim, seq, scores, 0, SMOL.heads), outFloats: SMOL.heads * SMOL.headDim, outBytes: SMOL.heads * SMOL.headDim * 4,
      });
    }
  }

  // Small per-token ops.
  const h = SMOL.hidden;
  const xs = fillF32(alloc(h * 4), h, 2), ws = fillF32(alloc(h * 4), h, 1);
  cases.push({ family: "norm / rope / elementwise", name: `rmsnorm ${h}`, bytes: 0, flops: 4 * h, kernel: "rmsnorm", run: (k, o) => k.rmsnorm(o, xs, ws, h, 1e-5), outFloats: h, outBytes: h * 4 });
  const ropeX = alloc((SMOL.heads + SMOL.kvHeads) * SMOL.headDim * 4), ropeSrc = fillF32(alloc((SMOL.heads + SMOL.kvHeads) * SMOL.headDim * 4), (SMOL.heads + SMOL.kvHeads) * SMOL.headDim, 1);
  const cos = alloc(32 * 4), sin = alloc(32 * 4);
  for (let i = 0; i < 32; i++) view().setFloat32(cos + 4 * i, Math.cos(i), true), view().setFloat32(sin + 4 * i, Math.sin(i), true);
  const ropeReset = () => bytes(ropeX, (SMOL.heads + SMOL.kvHeads) * SMOL.headDim * 4).set(bytes(ropeSrc, (SMOL.heads + SMOL.kvHeads) * SMOL.headDim * 4));
  cases.push({ family: "norm / rope / elementwise", name: `rope ${SMOL.heads + SMOL.kvHeads} heads x ${SMOL.headDim}`, bytes: 0, flops: 6 * (SMOL.heads + SMOL.kvHeads) * SMOL.headDim / 2 * 2, kernel: "rope", run: (k) => k.rope(ropeX, SMOL.heads + SMOL.kvHeads, SMOL.headDim, cos, sin), outFloats: 0, outBytes: 0, reset: ropeReset });
  const sm = fillF32(alloc(maxSeq * 4), maxSeq, 4);
  cases.push({ family: "norm / rope / elementwise", name: `softmax ${maxSeq}`, bytes: 0, flops: 0, kernel: "softmax", run: (k) => k.softmax(sm, maxSeq), outFloats: 0, outBytes: 0 });
  const g = fillF32(alloc(SMOL.ffn * 4), SMOL.ffn, 4), u = fillF32(alloc(SMOL.ffn * 4), SMOL.ffn, 4);
  cases.push({ family: "norm / rope / elementwise", name: `swiglu ${SMOL.ffn}`, bytes: 0, flops: 0, kernel: "swiglu", run: (k, o) => k.swiglu(o, g, u, SMOL.ffn), outFloats: SMOL.ffn, outBytes: SMOL.ffn * 4 });
  cases.push({ family: "norm / rope / elementwise", name: `add ${h}`, bytes: 0, flops: h, kernel: "add", run: (k, o) => k.add(o, xs, ws, h), outFloats: h, outBytes: h * 4 });
  return cases.filter((c) => filter.test(c.name));
}

// ---- run -------------------------------------------------------------------------------------------------

interface Row {
  readonly c: Case;
  readonly impl: Impl["name"];
  readonly ms?: number;
  readonly samples?: number;
  readonly maxDiff?: number;
  readonly why?: string;
}

resetHeap();
const cases = buildCases();
const outputs = new Map<string, number>();
for (const impl of impls) outputs.set(impl.name, alloc(Math.max(...cases.map((c) => c.outBytes), 64)));
const rows: Row[] = [];
const log = (s: string) => (isDeno ? console.error(s) : process.stderr.write(`${s}\n`));
log(`kernels bench: ${runtime}; ${os.cpus()[0]?.model ?? "?"}; load average ${loadBefore}; ${cases.length} cases`);

for (const c of cases) {
  // Compare each implementation's output with scalar's (or simd's without scalar) before timing.
  const reference = scalar.kernels ?? K;
  let expected: Float32Array | null = null;
  if (c.outFloats > 0) {
    c.reset?.();
    c.run(reference, outputs.get(reference === K ? "simd" : "scalar")!);
    expected = new Float32Array(memory.buffer, outputs.get(reference === K ? "simd" : "scalar")!, c.outFloats).slice();
  }
  for (const impl of impls) {
    if (impl.kernels === null) {
      rows.push({ c, impl: impl.name, why: impl.why });
      continue;
    }
    if (typeof (impl.kernels as unknown as Record<string, unknown>)[c.kernel] !== "function") {
      rows.push({ c, impl: impl.name, why: `no ${c.kernel} in this implementation` });
      continue;
    }
    const k = impl.kernels;
    const o = outputs.get(impl.name)!;
    let maxDiff: number | undefined;
    if (expected !== null) {
      c.reset?.();
      c.run(k, o);
      const got = new Float32Array(memory.buffer, o, c.outFloats);
      const scale = Math.max(1e-30, ...expected.map(Math.abs));
      maxDiff = 0;
      for (let i = 0; i < c.outFloats; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - expected[i]!) / scale);
    }
    const bench = impl.name === "scalar"
      ? new Bench({ time: 0, iterations: scalarIterations, warmup: true, warmupIterations: 1, warmupTime: 0 })
      : new Bench({ time: taskTime, warmupTime: Math.min(100, taskTime / 3) });
    bench.add(c.name, () => c.run(k, o));
    await bench.run();
    const task = bench.tasks[0]!;
    const result = task.result as { state: string; latency?: { p50: number; samplesCount: number }; error?: Error };
    if (result.latency === undefined) {
      rows.push({ c, impl: impl.name, why: `tinybench: ${result.state}${result.error ? ` ${result.error.message}` : ""}` });
      continue;
    }
    rows.push({ c, impl: impl.name, ms: result.latency.p50, samples: result.latency.samplesCount, maxDiff });
    log(`  ${c.name.padEnd(48)} ${impl.name.padEnd(8)} ${(result.latency.p50 * 1000).toFixed(1).padStart(10)} µs${c.bytes > 0 ? `  ${(c.bytes / (result.latency.p50 / 1000) / 1e9).toFixed(2)} GB/s` : ""}`);
  }
}

// ---- report ----------------------------------------------------------------------------------------------

const fmt = (v: number, d = 2) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(d));
const lines: string[] = [
  `# Kernel benches (${isDeno ? "Deno" : "Node"})`, ``,
  `Command: \`${isDeno ? "npm run bench:kernels:deno" : "npm run bench:kernels"}${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}\` (bench/kernels.bench.ts, tinybench)`, ``,
  `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
  `- Runtime: ${runtime}; CPU: ${os.cpus()[0]?.model?.trim() ?? "?"}, ${os.cpus().length} cores; one thread`,
  `- Load average (1/5/15 min): before ${loadBefore}; after ${loadText()}${Number(loadBefore.split(",")[0]) > os.cpus().length * 0.5 ? " — **busy machine: numbers are noisy, preliminary**" : ""}`,
  `- Implementations: scalar = src/reference/kernels.ts (plain TS, f64; ${scalarIterations} timed calls after 1 warm-up); simd = WASM SIMD build; relaxed = relaxed-SIMD build (${relaxed.kernels === null ? `unavailable here: ${relaxed.why}` : "available"}). simd/relaxed: tinybench, ${taskTime} ms per task after warm-up.`,
  `- Time = median per call. GB/s = weight (or KV-cache) bytes read per call / time (1e9 B/s). GFLOP/s = 2 x multiply-adds / time (attention: QK and PV products). Max diff = largest \\|output - scalar output\\| / largest \\|scalar output\\| (without scalar: vs simd); the scalar twin computes from the same int16 activations, so differences are f32 rounding. "vs simd": relaxed's speed-up over simd.`,
  `- Shapes: SmolLM2-135M (hidden 576, FFN 1536, 9 query / 3 KV heads of 64, vocab 49152); weights random quants with finite f16 scales in [0.002, 0.02] (Q8_0: /16) and Q4_1 offsets in [-0.15, -0.01].`,
  ``,
];
for (const family of [...new Set(cases.map((c) => c.family))]) {
  lines.push(`## ${family}`, ``, `| case | impl | time | GB/s | GFLOP/s | vs scalar | vs simd | max diff |`, `|---|---|---|---|---|---|---|---|`);
  for (const c of cases.filter((x) => x.family === family)) {
    const scalarRow = rows.find((r) => r.c === c && r.impl === "scalar" && r.ms !== undefined);
    const simdRow = rows.find((r) => r.c === c && r.impl === "simd" && r.ms !== undefined);
    for (const r of rows.filter((x) => x.c === c)) {
      if (r.ms === undefined) {
        lines.push(`| ${c.name} | ${r.impl} | unavailable | | | | | ${r.why?.includes("relaxed") ? "see header" : (r.why ?? "")} |`);
        continue;
      }
      const s = r.ms / 1000;
      const time = r.ms >= 1 ? `${fmt(r.ms)} ms` : `${fmt(r.ms * 1000)} µs`;
      lines.push(`| ${c.name} | ${r.impl} | ${time} | ${c.bytes > 0 ? fmt(c.bytes / s / 1e9) : "-"} | ${c.flops > 0 ? fmt(c.flops / s / 1e9) : "-"} | ${scalarRow && r.impl !== "scalar" ? `${fmt(scalarRow.ms! / r.ms!, 1)}x` : "-"} | ${simdRow && r.impl === "relaxed" ? `${fmt(simdRow.ms! / r.ms!, 2)}x` : "-"} | ${r.maxDiff === undefined ? "-" : r.maxDiff === 0 ? "0" : r.maxDiff.toExponential(1)} |`);
    }
  }
  lines.push(``);
}
const report = lines.join("\n");
console.log(report);
if (out !== "-") {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${report}\n`);
  log(`wrote ${path.relative(process.cwd(), out)}`);
}
