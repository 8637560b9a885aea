// The shared OpenAI handler under Deno 2 (Deno.serve, request.signal from Deno): the same greedy text as the
// library gives under Node, whole and as SSE, auth and a bad request, and a client leaving mid-stream stops its
// generation so the next request is served at once. Skips when the model has not been pulled.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { loadModel } from "../src/index.js";
import { DENO, freePort, MODEL_PATH, modelMissing, ROOT, sseEvents } from "./helpers/runtimes.js";

const deno = suite("serve handler (Deno)");
const missing = modelMissing();
const KEY = "deno-key";
const PROMPT = [{ role: "user", content: "What is the capital of France?" }];

if (missing !== null) {
  deno("serve handler under Deno", () => console.log(`  skipped: needs ${missing}`));
} else {
  deno("Deno.serve + createHandler: library-equal text, SSE, 401, 400, and a mid-stream disconnect stops generation", async () => {
    const port = await freePort();
    let log = "";
    const child = spawn(DENO, ["run", "--no-lock", "--sloppy-imports", "--node-modules-dir=manual", `--allow-read=${ROOT}`, `--allow-net=127.0.0.1:${port}`, "--no-prompt", join(ROOT, "test", "helpers", "deno-serve.ts"), MODEL_PATH, String(port), KEY], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    try {
      const model = await loadModel(new Uint8Array(readFileSync(MODEL_PATH)), { maxContext: 1024 });
      const want = (await model.chat(PROMPT, { maxTokens: 24 })).text;
      const deadline = Date.now() + 60_000;
      while (!log.includes(`listening ${port}`)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`deno serve did not start:\n${log}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const url = `http://127.0.0.1:${port}/v1/chat/completions`;
      const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
      const post = (body: object, signal?: AbortSignal) => fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal });

      assert.is((await fetch(url, { method: "POST", body: "{}" })).status, 401);
      const bad = await post({ messages: PROMPT, top_p: 0 });
      assert.is(bad.status, 400);
      assert.is((await bad.json()).error.param, "top_p");
      const whole = await (await post({ messages: PROMPT, max_tokens: 24 })).json();
      assert.is(whole.choices[0].message.content, want);
      const events = sseEvents(await (await post({ messages: PROMPT, max_tokens: 24, stream: true })).text());
      assert.is(events.pop(), "[DONE]");
      assert.is(events.map((e: any) => e.choices[0].delta.content ?? "").join(""), want);

      const leaving = new AbortController();
      const story = await post({ messages: [{ role: "user", content: "Tell me a very long story about a dragon." }], max_tokens: 500, stream: true }, leaving.signal);
      await story.body!.getReader().read();
      leaving.abort();
      const started = Date.now();
      const next = await (await post({ messages: PROMPT, max_tokens: 4 })).json();
      assert.is(next.usage.completion_tokens, 4);
      assert.ok(Date.now() - started < 5000, `served in ${Date.now() - started} ms`);
      const line = log.split("\n").find((l) => l.includes("finish=abort"));
      assert.ok(line !== undefined && Number(/completion=(\d+)/.exec(line)![1]) < 100, `the abandoned stream was aborted:\n${log}`);
    } finally {
      child.kill("SIGTERM");
    }
  });
}

deno.run();
