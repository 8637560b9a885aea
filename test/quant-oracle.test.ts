// Our block dequantizers (src/reference/quant.ts, the twin every quantized kernel is tested against) against
// gguf-py's dequantize, on random blocks (test/helpers/quant-blocks.ts).
// Runs when python3 can import gguf (installed by .ci/run); otherwise prints what is missing and fails in CI.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { DTYPES } from "../src/io/dtype.js";
import { dequantize } from "../src/reference/quant.js";
import { BLOCK_DTYPES, randomBlocks } from "./helpers/quant-blocks.js";
import { mulberry32 } from "./helpers/rng.js";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "oracle", "gguf_dequantize.py");

const python = spawnSync("python3", ["-c", "import gguf, numpy"], { encoding: "utf8" });
const available = python.status === 0;

const oracle = suite("block dequantizers vs gguf-py");

for (const dtype of BLOCK_DTYPES) {
  oracle(`${dtype}: equal to gguf-py's dequantize on 37 random blocks`, () => {
    if (!available) {
      assert.unreachable(`python3 cannot import gguf + numpy (pip install gguf): ${python.stderr.trim().split("\n").at(-1)}`);
    }
    const blocks = 37;
    const bytes = randomBlocks(dtype, blocks, mulberry32(11 + dtype.length));
    const count = blocks * DTYPES[dtype].blockValues;
    const ours = new Float32Array(count);
    // Dequantize from an odd offset inside a larger buffer, as the engine does from WASM memory.
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    dequantize(dtype, padded, 3, count, ours);
    const work = mkdtempSync(join(tmpdir(), "ffnskip-quant-"));
    try {
      writeFileSync(join(work, "in.bin"), bytes);
      execFileSync("python3", [SCRIPT, dtype, join(work, "in.bin"), join(work, "out.f32")]);
      const theirs = new Float32Array(new Uint8Array(readFileSync(join(work, "out.f32"))).buffer);
      assert.is(theirs.length, count);
      let scale = 0;
      for (const v of theirs) scale = Math.max(scale, Math.abs(v));
      assert.ok(scale > 0, "the blocks decode to something");
      // gguf-py multiplies in float32 step by step, we in double: equal up to a few float32 roundings.
      let worst = 0;
      let at = 0;
      for (let i = 0; i < count; i++) {
        const diff = Math.abs(ours[i]! - theirs[i]!);
        if (diff > worst) [worst, at] = [diff, i];
      }
      assert.ok(worst <= scale * 1e-6, `${dtype}: value ${at} ours ${ours[at]} gguf-py ${theirs[at]} (scale ${scale})`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

oracle.run();
