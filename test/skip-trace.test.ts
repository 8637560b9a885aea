// The FFN-skip trace as the CLI shows it: traceJson's structure, the ANSI/plain map, the row labels (each decode
// step labelled with the token it produced), and `ffnskip generate --skip fixed:R --trace --trace-json` end to end.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { renderTrace, traceJson, traceLabels } from "../src/cli/trace.js";
import { SkipController } from "../src/skip/controller.js";
import { defaultProfileFor } from "../src/skip/default-profiles.js";
import { smolLM2 } from "./helpers/skip-models.js";

const test = suite("skip trace");

/** A trace of 3 decode steps over 6 layers: warm-up 1, then fixed layers 2 and 4 skipped. */
function sampleTrace() {
  const c = new SkipController({ kind: "fixed", warmup: 1, layers: [2, 4] }, 6);
  for (let t = 0; t < 3; t++) {
    c.beginToken();
    for (let l = 0; l < 6; l++) if (c.runFfn(l)) c.observe(l, 0, 0.9 + l / 100 + t / 1000 + 1e-7);
    c.endToken();
  }
  return c.trace;
}

test("traceJson: one row per decode step with ran, similarity (null where skipped), warm-up and label", () => {
  const json = traceJson(sampleTrace(), ["a", "b", "c"]);
  assert.is(json.layers, 6);
  assert.is(json.tokens.length, 3);
  assert.equal(json.tokens.map((r) => r.text), ["a", "b", "c"]);
  assert.equal(json.tokens.map((r) => r.warmup), [true, false, false]);
  assert.equal(json.tokens[0]!.ran, [1, 1, 1, 1, 1, 1]);
  assert.equal(json.tokens[1]!.ran, [1, 1, 0, 1, 0, 1]);
  assert.equal(json.tokens[2]!.similarity, [0.902, 0.912, null, 0.932, null, 0.952]);
  // Plain JSON: survives a round trip unchanged.
  assert.equal(JSON.parse(JSON.stringify(json)), json);
  assert.equal(traceJson([], []), { layers: 0, tokens: [] });
});

test("renderTrace: a header, one line per step with · where skipped, the legend with the count", () => {
  const text = renderTrace(sampleTrace(), ["a", "b", "c"], false);
  const lines = text.trimEnd().split("\n");
  assert.is(lines.length, 2 + 3 + 1);
  assert.ok(lines[2]!.startsWith("w "));
  assert.ok(lines[3]!.endsWith("▒▒·▒·▒"), lines[3]);
  assert.ok(lines[5]!.includes("4 of 18 FFNs skipped"));
  assert.not.ok(text.includes("\x1b["));
  assert.ok(renderTrace(sampleTrace(), [], true).includes("\x1b[2m·"));
  assert.is(renderTrace([], [], false), "(no decode steps traced)\n");
});

test("traceLabels: each decode step is labelled with the token it produced", () => {
  const trace = sampleTrace();
  const decode = (ids: number[]) => `<${ids.join(",")}>`;
  // Stopped by length: 4 tokens generated, 3 decode steps (the last token was never fed back).
  assert.equal(traceLabels({ tokens: [10, 11, 12, 13], trace, finishReason: "length" }, decode), ["<11>", "<12>", "<13>"]);
  // Stopped by EOS: every generated token was fed back, the last step produced the EOS.
  assert.equal(traceLabels({ tokens: [10, 11, 12], trace, finishReason: "eos" }, decode), ["<11>", "<12>", "<eos>"]);
});

test("ffnskip generate --skip fixed:0.25 --trace --trace-json (SmolLM2)", async () => {
  const smol = await smolLM2("skip-trace");
  if (smol === undefined) return;
  const profile = defaultProfileFor(smol.fingerprint);
  if (profile === undefined) {
    console.log("  [skip-trace] no shipped profile for this SmolLM2 yet: skipping the CLI check");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-trace-"));
  try {
    const file = join(dir, "trace.json");
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "generate", "--prompt", "Tell me about the moon.", "--chat", "--max-tokens", "14", "--skip", "fixed:0.25", "--trace", "--trace-json", file], { encoding: "utf8", cwd: join(import.meta.dirname, ".."), timeout: 120_000 });
    assert.is(run.status, 0, run.stderr);
    const trace = JSON.parse(readFileSync(file, "utf8")) as ReturnType<typeof traceJson>;
    assert.is(trace.layers, 30);
    assert.ok(trace.tokens.length >= 1 && trace.tokens.length <= 13);
    for (const row of trace.tokens) {
      const skipped = row.ran.flatMap((r, l) => (r === 0 ? [l] : []));
      assert.equal(skipped, row.warmup ? [] : profile.fixedLayers);
      row.similarity.forEach((s, l) => assert.is(s === null, row.ran[l] === 0));
    }
    assert.equal(trace.tokens.map((r) => r.warmup), trace.tokens.map((_, t) => t < profile.warmup));
    assert.ok(run.stderr.includes("FFNs skipped"), "the map is printed");
    assert.match(run.stderr, /FFN skipped \d+\.\d% \(\d+\.\d% after warm-up\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
