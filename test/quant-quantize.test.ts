// Our fixture quantizers (src/reference/quant.ts quantize): dequantize(quantize(x)) within each format's
// round-to-nearest error bound, the bytes read back the same by gguf-py's dequantize, and for Q5_0 / Q5_1 the
// bytes identical to gguf-py's own quantizer (llama.cpp's reference one).
// The gguf-py parts run when python3 can import gguf (installed by .ci/run); otherwise they fail with what is missing.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { DTYPES } from "../src/io/dtype.js";
import { type BlockDType, dequantize, quantize } from "../src/reference/quant.js";
import { mulberry32 } from "./helpers/rng.js";

const ORACLE = join(dirname(fileURLToPath(import.meta.url)), "oracle");
const python = spawnSync("python3", ["-c", "import gguf, numpy"], { encoding: "utf8" });
const available = python.status === 0;
const requirePython = () => {
  if (!available) assert.unreachable(`python3 cannot import gguf + numpy (pip install gguf): ${python.stderr.trim().split("\n").at(-1)}`);
};

/**
 * The largest |x - dequantize(quantize(x))| over a 256-value span, as a fraction of the span's largest |x|. Round
 * to nearest costs half a step; a symmetric format's positive side clamps one level short (a full step); the
 * K-quants' 4- or 6-bit sub-block scales add up to half a scale step, times the largest quant.
 *   Q8_0 1/254; Q4_0 one step of 1/8; Q4_1 half of 2/15; Q5_0 one step of 1/16; Q5_1 half of 2/31;
 *   Q2_K half of 2/3 + 1/15; Q3_K one step of 1/4 + 1/32; Q4_K half of 2/15 + 1/63; Q5_K half of 2/31 + 1/63;
 *   Q6_K one step of 1/32 + 1/128.
 */
const ERROR_BOUNDS: Readonly<Record<BlockDType, number>> = {
  Q8_0: 1 / 254 + 1e-3, Q4_0: 1 / 8 + 1e-3, Q4_1: 1 / 15 + 1e-3, Q5_0: 1 / 16 + 1e-3, Q5_1: 1 / 31 + 1e-3,
  Q2_K: 1 / 3 + 1 / 15, Q3_K: 1 / 4 + 1 / 32, Q4_K: 1 / 15 + 1 / 63, Q5_K: 1 / 31 + 1 / 63, Q6_K: 1 / 32 + 1 / 128,
};
const TYPES = Object.keys(ERROR_BOUNDS) as BlockDType[];

/**
 * 64 spans of 256 values: gaussian with a scale that changes every 16 values (so sub-block scales differ), plus
 * spans that are all zero, constant positive, constant negative, a single spike, and all positive.
 */
function testValues(): Float32Array {
  const rand = mulberry32(77);
  const x = new Float32Array(256 * 64);
  for (let i = 0; i < x.length; i++) {
    const gaussian = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    x[i] = gaussian * (0.01 + 0.05 * ((i >> 4) % 7));
  }
  x.fill(0, 0, 256);
  x.fill(0.3, 256, 512);
  x.fill(-0.2, 512, 768);
  x.fill(0, 768, 1024);
  x[900] = -1.5;
  for (let i = 1024; i < 1280; i++) x[i] = Math.abs(x[i]!) + 0.05;
  return x;
}

function quantized(dtype: BlockDType, x: Float32Array): Uint8Array {
  const { blockValues, blockBytes } = DTYPES[dtype];
  // Write at an odd offset inside a larger buffer, as a GGUF writer packs tensors.
  const padded = new Uint8Array((x.length / blockValues) * blockBytes + 5);
  quantize(dtype, x, padded, 5);
  return padded.subarray(5);
}

function worstSpanError(x: Float32Array, y: Float32Array): { worst: number; at: number } {
  let worst = 0;
  let at = 0;
  for (let span = 0; span < x.length; span += 256) {
    let amax = 0;
    for (let j = span; j < span + 256; j++) amax = Math.max(amax, Math.abs(x[j]!));
    for (let j = span; j < span + 256; j++) {
      const error = Math.abs(x[j]! - y[j]!);
      const relative = amax === 0 ? (error === 0 ? 0 : Infinity) : error / amax;
      if (relative > worst) [worst, at] = [relative, j];
    }
  }
  return { worst, at };
}

const test = suite("quantizers");
const x = testValues();

for (const dtype of TYPES) {
  test(`${dtype}: dequantize(quantize(x)) within ${ERROR_BOUNDS[dtype].toFixed(4)} of each span's largest |x|; zero stays zero`, () => {
    const bytes = quantized(dtype, x);
    const y = new Float32Array(x.length);
    dequantize(dtype, bytes, 0, x.length, y);
    const { worst, at } = worstSpanError(x, y);
    assert.ok(worst <= ERROR_BOUNDS[dtype], `${dtype}: value ${at} is ${x[at]}, comes back ${y[at]} (relative error ${worst})`);
    for (let j = 0; j < 256; j++) assert.is(y[j], 0, `${dtype}: an all-zero span comes back zero`);
  });

  test(`${dtype}: gguf-py's dequantize reads our bytes as we do`, () => {
    requirePython();
    const bytes = quantized(dtype, x);
    const ours = new Float32Array(x.length);
    dequantize(dtype, bytes, 0, x.length, ours);
    const work = mkdtempSync(join(tmpdir(), "ffnskip-quantize-"));
    try {
      writeFileSync(join(work, "in.bin"), bytes);
      execFileSync("python3", [join(ORACLE, "gguf_dequantize.py"), dtype, join(work, "in.bin"), join(work, "out.f32")]);
      const theirs = new Float32Array(new Uint8Array(readFileSync(join(work, "out.f32"))).buffer);
      assert.is(theirs.length, x.length);
      let worst = 0;
      let at = 0;
      for (let i = 0; i < x.length; i++) {
        const diff = Math.abs(ours[i]! - theirs[i]!);
        if (diff > worst) [worst, at] = [diff, i];
      }
      // gguf-py multiplies in float32 step by step, we in double.
      assert.ok(worst <= 1e-6, `${dtype}: value ${at} ours ${ours[at]} gguf-py ${theirs[at]}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

for (const dtype of ["Q5_0", "Q5_1"] as const) {
  test(`${dtype}: bytes identical to gguf-py's quantize`, () => {
    requirePython();
    const work = mkdtempSync(join(tmpdir(), "ffnskip-quantize-"));
    try {
      writeFileSync(join(work, "in.f32"), new Uint8Array(x.buffer));
      execFileSync("python3", [join(ORACLE, "gguf_quantize.py"), dtype, join(work, "in.f32"), join(work, "out.bin")]);
      const theirs = new Uint8Array(readFileSync(join(work, "out.bin")));
      const ours = quantized(dtype, x);
      assert.is(ours.length, theirs.length);
      const first = ours.findIndex((b, i) => b !== theirs[i]);
      assert.is(first, -1, `${dtype}: byte ${first} (block ${Math.floor(first / DTYPES[dtype].blockBytes)}) ours ${ours[first]}, gguf-py ${theirs[first]}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

test.run();
