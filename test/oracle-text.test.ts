// Text in, text out, against transformers end to end: the CLI's greedy generation on a text prompt (plain and
// through the chat template) gives the same prompt ids, the same 64 new tokens and the same text as transformers
// (its own GGUF tokenizer and chat template, the model converted to an f32 folder). Skips when the oracle or the
// model is missing.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadModelFromPath } from "../src/node.js";
import { convertGgufFile } from "../src/node/convert.js";
import { DEFAULT_MODEL_PATH } from "../src/node/pull.js";
import { findOracle } from "./oracle/oracle.js";

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const oracle = findOracle();
const PROMPTS = [
  { text: "What is the capital of France?", chat: true },
  { text: "Write a short story about a robot who learns to paint.", chat: true },
  { text: "The three primary colors are", chat: false },
];

if ("missing" in oracle || !existsSync(DEFAULT_MODEL_PATH)) {
  test("text oracle", () => console.log(`  skipped: needs ${"missing" in oracle ? oracle.missing : `${DEFAULT_MODEL_PATH} (npx ffnskip pull smollm2)`}`));
} else {
  test("CLI greedy text generation equals transformers' generate() for 64 tokens", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ffnskip-text-oracle-"));
    try {
      await convertGgufFile(DEFAULT_MODEL_PATH, join(dir, "hf"), { dtype: "F32" });
      await writeFile(join(dir, "in.json"), JSON.stringify({ prompts: PROMPTS, max_new_tokens: 64 }));
      await run("python3", [join(root, "test/oracle/hf_generate_text.py"), "--model", join(dir, "hf"), "--gguf", DEFAULT_MODEL_PATH, "--input", join(dir, "in.json"), "--out", join(dir, "out.json")], { maxBuffer: 1 << 24, timeout: 600_000 });
      const { results } = JSON.parse(await readFile(join(dir, "out.json"), "utf8")) as { results: { input_ids: number[]; new_ids: number[]; text: string; stopped_on_eos: boolean }[] };
      const model = await loadModelFromPath(DEFAULT_MODEL_PATH, { precision: "exact" });
      for (const [i, prompt] of PROMPTS.entries()) {
        const expected = results[i]!;
        assert.equal(model.promptIds(prompt.text, { chat: prompt.chat }), expected.input_ids, `prompt ids for ${JSON.stringify(prompt.text)}`);
        const args = ["--import", "tsx", join(root, "src/cli/main.ts"), "generate", "--prompt", prompt.text, "--max-tokens", "64", "--precision", "exact", "--json"];
        if (prompt.chat) args.push("--chat");
        const { stdout } = await run(process.execPath, args, { cwd: root, maxBuffer: 1 << 24, timeout: 600_000 });
        const ours = JSON.parse(stdout) as { text: string; tokens: number[]; finishReason: string };
        assert.equal(ours.tokens, expected.new_ids, `new tokens for ${JSON.stringify(prompt.text)}`);
        assert.is(ours.text, expected.text, "decoded text");
        assert.is(ours.finishReason, expected.stopped_on_eos ? "eos" : "length");
        console.log(`  ${JSON.stringify(prompt.text)} -> ${ours.tokens.length} tokens, identical: ${JSON.stringify(ours.text.slice(0, 60))}...`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test.run();
