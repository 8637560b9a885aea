// The model flags every command that runs a model takes (--threads, --max-context, --kv-cache; src/cli/model-flags.ts):
// each command parses them with the same bounds and refuses a bad value with an InputError naming the flag, before it
// loads anything; and on SmolLM2 they do what they say through the real command line: logits with 2 threads equal 1
// thread's to the bit, greedy ids with an f16 KV cache equal the f32 cache's over a short run, a --max-context below
// the positions a run needs (or above the model's context) is refused.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { calibrate } from "../src/cli/calibrate.js";
import { chat } from "../src/cli/chat.js";
import { demo, generate } from "../src/cli/generate.js";
import { serve } from "../src/cli/serve.js";
import { greedy, logits } from "../src/cli/token-ids.js";
import { InputError } from "../src/errors.js";
import { DEFAULT_MODEL_PATH } from "../src/node/pull.js";

const test = suite("cli model flags");
const ROOT = join(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "ffnskip-cli-flags-"));
const data = join(work, "data.txt");
writeFileSync(data, "Some calibration text.\n");

async function rejectsTyped(run: () => Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.instance(error, InputError, `${what}: expected an InputError, got ${String(error)}`);
    assert.match((error as Error).message, pattern, what);
    return;
  }
  assert.unreachable(`${what}: expected an InputError matching ${pattern}`);
}

/** Each command with the arguments it needs to get as far as opening a model. */
const COMMANDS: readonly (readonly [string, (argv: string[]) => Promise<void>, readonly string[]])[] = [
  ["generate", generate, ["--prompt", "hi"]],
  ["chat", chat, []],
  ["serve", serve, ["--port", "0"]],
  ["demo", demo, []],
  ["calibrate", calibrate, ["--data", data, "--target", "0.25", "--out", join(work, "profile.json")]],
  ["logits", logits, ["--tokens", "1,2"]],
  ["greedy", greedy, ["--tokens", "1,2"]],
];

test("every command that runs a model takes --threads, --max-context and --kv-cache, and refuses bad values naming the flag", async () => {
  for (const [name, run, needed] of COMMANDS) {
    // A flag the command did not declare would be refused as unknown ("expected one of ..."), not by its bounds.
    await rejectsTyped(() => run([...needed, "--threads", "0"]), /--threads: expected a number in \[1, 64\], got "0"/, `${name} --threads 0`);
    await rejectsTyped(() => run([...needed, "--threads", "two"]), /--threads: expected a finite number/, `${name} --threads two`);
    await rejectsTyped(() => run([...needed, "--max-context", "0"]), /--max-context: expected a number in \[1, inf\]/, `${name} --max-context 0`);
    await rejectsTyped(() => run([...needed, "--max-context", "1.5"]), /--max-context: expected an integer/, `${name} --max-context 1.5`);
    await rejectsTyped(() => run([...needed, "--kv-cache", "f8"]), /--kv-cache: kv-cache: expected f32 or f16, got "f8"/, `${name} --kv-cache f8`);
  }
});

test("calibrate: a --max-context shorter than --window is refused before the model loads", async () => {
  await rejectsTyped(
    () => calibrate(["--data", data, "--target", "0.25", "--out", join(work, "p.json"), "--window", "64", "--max-context", "32"]),
    /--max-context: expected at least --window \(64 positions per sequence\), got 32/, "calibrate --max-context 32",
  );
});

function cli(...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
  return { stdout: run.stdout, stderr: run.stderr, status: run.status };
}

if (!existsSync(DEFAULT_MODEL_PATH)) {
  test("SmolLM2 through the command line", () => console.log(`  skipped: ${DEFAULT_MODEL_PATH} is missing (npx ffnskip pull smollm2)`));
} else {
  // "The capital of France is" with BOS, in SmolLM2's ids.
  const tokens = ["--tokens", "1,504,3255,282,4649,314"];

  test("SmolLM2: logits with --threads 2 equal --threads 1 to the bit, on the exact and the fast path", () => {
    for (const precision of ["exact", "fast"]) {
      const one = cli("logits", ...tokens, "--json", "--precision", precision, "--threads", "1");
      const two = cli("logits", ...tokens, "--json", "--precision", precision, "--threads", "2");
      assert.is(one.status, 0, one.stderr);
      assert.is(two.status, 0, two.stderr);
      const parsed = JSON.parse(one.stdout) as { logits: number[][] };
      assert.is(parsed.logits.length, 6);
      assert.is(parsed.logits[0]!.length, 49152);
      assert.is(two.stdout, one.stdout, `${precision}: 2 threads print the same logits as 1`);
    }
  });

  test("SmolLM2: greedy with --kv-cache f16 gives the f32 cache's ids over 24 tokens; threads do not change them", () => {
    const f32 = cli("greedy", ...tokens, "--max-new", "24", "--json", "--kv-cache", "f32", "--threads", "1");
    const f16 = cli("greedy", ...tokens, "--max-new", "24", "--json", "--kv-cache", "f16", "--threads", "1");
    const f16Threads = cli("greedy", ...tokens, "--max-new", "24", "--json", "--kv-cache", "f16", "--threads", "2", "--max-context", "64");
    for (const run of [f32, f16, f16Threads]) assert.is(run.status, 0, run.stderr);
    const ids = (JSON.parse(f32.stdout) as { tokens: number[] }).tokens;
    assert.is(ids.length, 24);
    assert.equal((JSON.parse(f16.stdout) as { tokens: number[] }).tokens, ids);
    assert.is(f16Threads.stdout, f16.stdout);
  });

  test("SmolLM2: a --max-context below the run's positions, or above the model's context, is an InputError naming it", async () => {
    await rejectsTyped(() => greedy([...tokens, "--max-new", "8", "--max-context", "10"]), /--max-context: expected a run that fits 10 positions \(--max-context\), got 14 positions/, "greedy --max-context 10");
    await rejectsTyped(() => logits([...tokens, "--max-context", "5"]), /--max-context: expected a run that fits 5 positions/, "logits --max-context 5");
    await rejectsTyped(() => logits([...tokens, "--max-context", "100000"]), /--max-context: expected at most 8192 \(the model's context length\), got 100000/, "logits --max-context 100000");
    const fits = cli("greedy", ...tokens, "--max-new", "8", "--max-context", "14", "--json", "--threads", "1");
    assert.is(fits.status, 0, `exactly the positions needed fit: ${fits.stderr}`);
  });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
