// Same seed, same tokens, everywhere it is meant to run: a greedy and a seeded sampled chat (with the examples'
// FFN-skip setting) give identical token ids / text and the same skip ratio under Node, Deno 2, workerd (the edge
// worker, streaming and not) and headless Chromium (the browser page, whose heat map must have one column per
// generated token). All runtimes run the plain-SIMD kernel build with the same context and batch sizes.
// Skips when the model has not been pulled; the Chromium row skips (with a message) when Chromium is missing.

import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  CASES, chromiumMissing, loadNodeModel, modelMissing, openAiBody, openBrowserPage, PAGE_DEFAULT_VARIANT_QUERY, PAGE_ENGINE_QUERY, postChat, runDeno,
  runInPage, runNode, type RuntimeResult, sseEvents, startWorkerd,
} from "./helpers/runtimes.js";

const matrix = suite("runtime matrix");
const reference = new Map<string, RuntimeResult>();
const speeds: string[] = [];
const missing = modelMissing();

function same(where: string, name: string, got: Pick<RuntimeResult, "tokens" | "text" | "skipRatio">): void {
  const want = reference.get(name)!;
  assert.equal([...got.tokens], [...want.tokens], `${where} ${name}: token ids`);
  assert.is(got.text, want.text, `${where} ${name}: text`);
  assert.ok(Math.abs(got.skipRatio - want.skipRatio) < 1e-6, `${where} ${name}: skip ratio ${got.skipRatio} vs ${want.skipRatio}`);
}

if (missing !== null) {
  matrix("runtime matrix", () => console.log(`  skipped: needs ${missing}`));
} else {
  matrix.before(async () => {
    const { skip } = await loadNodeModel();
    for (const c of CASES) {
      const r = await runNode(c);
      reference.set(c.name, r);
      speeds.push(`node ${process.version} ${c.name}: ${r.tokens.length} tokens, decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s, skip ${(100 * r.skipRatio).toFixed(1)}%`);
    }
    console.log(`  skip setting: ${skip === "on" ? "shipped profile (skip: \"on\")" : "examples' paper policy (no shipped profile)"}`);
  });

  matrix("Node reference runs generate, skip FFNs and differ between greedy and sampled", () => {
    for (const c of CASES) {
      const r = reference.get(c.name)!;
      assert.ok(r.tokens.length > 4, `${c.name}: generated ${r.tokens.length} tokens`);
      assert.ok(r.skipRatio > 0, `${c.name}: some FFNs skipped`);
    }
    assert.not.equal(reference.get("greedy")!.tokens, reference.get("sampled")!.tokens);
  });

  matrix("Deno 2 imports the package and generates the same tokens (plain SIMD and its default build)", async () => {
    const deno = await runDeno(CASES);
    for (const { variant, results } of deno.runs) {
      CASES.forEach((c, i) => {
        same(`deno ${variant}`, c.name, results[i]!);
        speeds.push(`${deno.version} ${variant} ${c.name}: decode ${results[i]!.decodeTokensPerSecond.toFixed(1)} tok/s`);
      });
    }
  });

  matrix("workerd (edge worker) answers with the same text, streamed and not", async () => {
    const worker = await startWorkerd();
    try {
      for (const c of CASES) {
        const want = reference.get(c.name)!;
        const whole = await postChat(worker.url, openAiBody(c, false));
        assert.is(whole.status, 200, whole.text);
        assert.is(whole.json.choices[0].message.content, want.text, `workerd ${c.name}: text`);
        assert.is(whole.json.usage.completion_tokens, want.tokens.length);
        assert.ok(Math.abs(whole.json.usage.ffn_skip_ratio - want.skipRatio) < 1e-6, `workerd ${c.name}: skip ratio`);
        const streamed = await postChat(worker.url, openAiBody(c, true));
        assert.is(streamed.status, 200, streamed.text);
        const events = sseEvents(streamed.text);
        const text = events.filter((e) => e !== "[DONE]").map((e) => e.choices[0].delta.content ?? "").join("");
        assert.is(text, want.text, `workerd ${c.name}: streamed text`);
        const last = events[events.length - 2];
        assert.is(last.usage.completion_tokens, want.tokens.length);
        assert.ok(Math.abs(last.usage.ffn_skip_ratio - want.skipRatio) < 1e-6, `workerd ${c.name}: streamed skip ratio`);
        speeds.push(`workerd ${c.name}: decode ${whole.json.ffnskip.decode_tokens_per_second.toFixed(1)} tok/s (non-streaming), ${last.ffnskip.decode_tokens_per_second.toFixed(1)} tok/s (streaming)`);
      }
    } catch (error) {
      console.log(worker.log());
      throw error;
    } finally {
      await worker.stop();
    }
  });

  const noChromium = chromiumMissing();
  if (noChromium !== null) {
    matrix("Chromium (browser page)", () => console.log(`  skipped: needs ${noChromium}`));
  } else {
    matrix("Chromium (browser page) generates the same tokens (plain SIMD and its default build), one heat-map column per token", async () => {
      for (const [variant, query] of [["simd", PAGE_ENGINE_QUERY], ["default build", PAGE_DEFAULT_VARIANT_QUERY]] as const) {
        const browser = await openBrowserPage(`?autoload=1&${query}`);
        try {
          await browser.page.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 120_000 });
          for (const c of CASES) {
            const r = await runInPage(browser.page, c);
            same(`chromium ${variant}`, c.name, r);
            assert.is(r.columns, r.tokens.length, `chromium ${c.name}: heat map columns = generated tokens`);
            speeds.push(`chromium ${browser.version} ${variant} ${c.name}: decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s`);
          }
          assert.equal(browser.errors, [], "no page errors");
        } finally {
          await browser.stop();
        }
      }
    });
  }

  matrix.after(() => {
    for (const line of speeds) console.log(`  ${line}`);
  });
}

matrix.run();
