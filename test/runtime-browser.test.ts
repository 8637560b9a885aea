// The browser page in headless Chromium: the user picks the model file, chats, and the FFN-skip heat map fills in
// live with one column (of one cell per layer) per generated token; hovering a cell explains it. With
// FFNSKIP_SCREENSHOT=path the test also saves a screenshot of the page (docs/browser-heatmap.png is made so, with
// FFNSKIP_SCREENSHOT_PROMPT and FFNSKIP_SCREENSHOT_TOKENS choosing the prompt and length).
// Skips (with a message) when the model has not been pulled or Chromium is missing.

import { suite } from "uvu";
import * as assert from "uvu/assert";
import { chromiumMissing, modelMissing, MODEL_PATH, openBrowserPage, PAGE_ENGINE_QUERY, type BrowserPage } from "./helpers/runtimes.js";

const page = suite("browser page (Chromium)");
const missing = modelMissing() ?? chromiumMissing();
let browser: BrowserPage;

if (missing !== null) {
  page("browser page", () => console.log(`  skipped: needs ${missing}`));
} else {
  page.before(async () => {
    browser = await openBrowserPage(`?${PAGE_ENGINE_QUERY}`);
  });
  page.after(async () => {
    await browser?.stop();
  });

  page("loads a model file the user picks", async () => {
    const p = browser.page;
    assert.is(await p.getAttribute("body", "data-state"), "empty");
    assert.ok(await p.isDisabled("#send"), "nothing to send to before a model is loaded");
    await p.setInputFiles("#file", MODEL_PATH);
    await p.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 120_000 });
    assert.match((await p.textContent("#model-status")) ?? "", /30 layers/);
  });

  page("the heat map fills in live, one column per generated token, 30 cells each", async () => {
    const p = browser.page;
    await p.evaluate(() => {
      (document.getElementById("settings") as HTMLDetailsElement).open = true;
    });
    await p.fill("#max-tokens", process.env.FFNSKIP_SCREENSHOT_TOKENS ?? "20");
    await p.fill("#temperature", "0");
    await p.fill("#prompt", process.env.FFNSKIP_SCREENSHOT_PROMPT ?? "Name three primary colors.");
    await p.click("#send");
    // Live: columns appear while the reply is still being generated.
    await p.waitForFunction(() => document.body.dataset.state === "generating" && document.querySelectorAll("#heatmap .hm-col").length >= 3, null, { timeout: 60_000 });
    await p.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 120_000 });
    const state = await p.evaluate(() => {
      const demo = (globalThis as unknown as { ffnskipDemo: { lastResult: { tokens: number[]; text: string; trace: unknown[] }; lastPolicy: { warmup?: number } } }).ffnskipDemo;
      const result = demo.lastResult;
      const columns = [...document.querySelectorAll("#heatmap .hm-col")];
      return {
        policyWarmup: demo.lastPolicy.warmup ?? 0, tokens: result.tokens.length, traceRows: result.trace.length, text: result.text,
        columns: columns.length, cellsPerColumn: [...new Set(columns.map((c) => c.querySelectorAll(".hm-cell").length))],
        skipped: document.querySelectorAll("#heatmap .hm-cell.skipped").length, triggers: document.querySelectorAll("#heatmap .hm-cell.trigger").length,
        warmup: document.querySelectorAll("#heatmap .hm-col.warmup").length, labels: columns.map((c) => c.querySelector(".hm-label")?.textContent ?? ""),
        reply: document.querySelector(".msg.assistant:last-child")?.textContent ?? "", stats: document.getElementById("stats")?.textContent ?? "",
      };
    });
    assert.ok(state.tokens > 3, `generated ${state.tokens} tokens`);
    assert.is(state.columns, state.tokens, "one column per generated token");
    assert.equal(state.cellsPerColumn, [30], "one cell per layer");
    assert.is(state.warmup, Math.min(state.policyWarmup, state.traceRows), "the warm-up tokens are marked");
    assert.ok(state.skipped > 0 && state.triggers > 0, `skipped cells ${state.skipped}, trigger cells ${state.triggers}`);
    assert.is(state.reply, state.text, "the chat shows the reply");
    assert.ok(state.labels.every((l) => l.length > 0), "every column is labelled with its token");
    assert.match(state.stats, /decode [\d.]+ tok\/s/);
    assert.match(state.stats, /FFNs skipped/);
    console.log(`  ${state.tokens} tokens, ${state.skipped} FFNs skipped; ${state.stats}`);
  });

  page("hovering a cell explains why its FFN ran or was skipped", async () => {
    const p = browser.page;
    await p.hover("#heatmap .hm-col.warmup .hm-cell[data-layer='10']");
    assert.match((await p.textContent("#tooltip")) ?? "", /layer 10.*FFN ran, similarity 0\.\d{4}: a warm-up token/s);
    await p.hover("#heatmap .hm-cell.skipped");
    const skipped = (await p.textContent("#tooltip")) ?? "";
    assert.match(skipped, /FFN skipped: layer \d+'s FFN barely changed the hidden state \(similarity 0\.\d{4} ≥ 0\.\d+\)/);
    assert.ok(await p.isVisible("#tooltip"));
    if (process.env.FFNSKIP_SCREENSHOT) {
      await p.screenshot({ path: process.env.FFNSKIP_SCREENSHOT });
      console.log(`  screenshot: ${process.env.FFNSKIP_SCREENSHOT}`);
    }
    await p.mouse.move(0, 0);
    assert.equal(browser.errors, [], "no page errors");
  });
}

page.run();
