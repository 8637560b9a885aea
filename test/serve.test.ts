// `ffnskip serve` as a client and an attacker see it: the real server on a free port with SmolLM2. Its greedy text
// equals `ffnskip generate`'s (whole and as SSE), keys are checked, bad requests get OpenAI errors naming the
// field, bodies are refused while they arrive, a bounded queue sheds load with Retry-After, and a client that
// leaves (streaming or not, queued or running) stops its generation so the next request is served at once.
// Skips when the model has not been pulled.

import Ajv2020 from "ajv/dist/2020.js";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { freePort, MODEL_PATH, modelMissing, sseEvents } from "./helpers/runtimes.js";

const serve = suite("ffnskip serve");
const ROOT = join(import.meta.dirname, "..");
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
const KEY = "test-key-0123456789";
const CONTEXT = "1024";
const CHAT_PROMPT = "What is the capital of France?";
const RAW_PROMPT = "The three primary colors are";
const missing = modelMissing();

let server: ChildProcess;
let url = "";
let log = "";
const expected = { chat: "", raw: "" };

/** `ffnskip generate --json` with the server's model settings: the reference text. */
function cliGreedy(prompt: string, chat: boolean, maxTokens: number): Promise<string> {
  const args = [...CLI, "generate", "--model", MODEL_PATH, "--max-context", CONTEXT, "--prompt", prompt, "--max-tokens", String(maxTokens), "--json", ...(chat ? ["--chat"] : [])];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 120_000, maxBuffer: 1 << 24 }, (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout).text)));
  });
}

async function startServer(extra: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...CLI, "serve", "--model", MODEL_PATH, "--max-context", CONTEXT, "--port", String(port), "--api-key", KEY, ...extra], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!log.includes(`127.0.0.1:${port}`)) {
    if (child.exitCode !== null) throw new Error(`ffnskip serve exited with ${child.exitCode}:\n${log}`);
    if (Date.now() > deadline) throw new Error(`ffnskip serve did not start within 60 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, url: `http://127.0.0.1:${port}` };
}

const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
const post = (path: string, body: unknown, headers: Record<string, string> = auth, signal?: AbortSignal) =>
  fetch(`${url}${path}`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body), signal });
const chatBody = (content: string, extra: object = {}) => ({ model: "x", messages: [{ role: "user", content }], ...extra });

async function expectError(response: Response, status: number, param: string | null, code?: string): Promise<any> {
  const text = await response.text();
  assert.is(response.status, status, text);
  const error = JSON.parse(text).error;
  assert.type(error.message, "string");
  assert.ok(error.message.length > 0);
  assert.is(error.param, param, text);
  if (code !== undefined) assert.is(error.code, code, text);
  return error;
}

function joinSse(text: string, chat: boolean): { text: string; last: any } {
  const events = sseEvents(text);
  assert.is(events[events.length - 1], "[DONE]", "ends with [DONE]");
  const chunks = events.slice(0, -1);
  const pieces = chunks.map((c: any) => (chat ? (c.choices[0].delta.content ?? "") : c.choices[0].text));
  return { text: pieces.join(""), last: chunks[chunks.length - 1] };
}

/** Waits until the server log has a line matching `pattern` (after `from` characters). */
async function logLine(pattern: RegExp, from: number, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const line = log.slice(from).split("\n").find((l) => pattern.test(l));
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no log line ${pattern} in:\n${log.slice(from)}`);
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

if (missing !== null) {
  serve("ffnskip serve", () => console.log(`  skipped: needs ${missing}`));
} else {
  serve.before(async () => {
    const [started, chat, raw] = await Promise.all([startServer(["--max-queue", "3"]), cliGreedy(CHAT_PROMPT, true, 24), cliGreedy(RAW_PROMPT, false, 16)]);
    server = started.child;
    url = started.url;
    expected.chat = chat;
    expected.raw = raw;
  });
  serve.after(() => {
    if (server?.exitCode === null) server.kill("SIGKILL");
  });

  serve("refuses to bind beyond loopback without an API key", async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [...CLI, "serve", "--model", MODEL_PATH, "--host", "0.0.0.0", "--port", "0"], { cwd: ROOT, env: { ...process.env, FFNSKIP_API_KEY: "" } }, (error, _out, stderr) => resolve({ code: error ? (error as { code?: number }).code ?? null : 0, stderr }));
    });
    assert.is(result.code, 1, result.stderr);
    assert.match(result.stderr, /--host.*loopback.*API key/);
  });

  serve("401 without a key or with a wrong one; /health needs none; /v1/models lists the model", async () => {
    await expectError(await fetch(`${url}/v1/models`), 401, null, "missing_api_key");
    await expectError(await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer wrong" } }), 401, null, "invalid_api_key");
    await expectError(await post("/v1/chat/completions", chatBody("hi"), { authorization: `Bearer ${KEY}x` }), 401, null, "invalid_api_key");
    const health = await fetch(`${url}/health`);
    assert.is(health.status, 200);
    assert.is((await health.json()).status, "ok");
    const models = await (await fetch(`${url}/v1/models`, { headers: auth })).json();
    assert.equal(models.data.map((m: { id: string }) => m.id), ["SmolLM2-135M-Instruct.Q4_1"]);
    assert.is(models.object, "list");
  });

  serve("chat and completions equal the CLI's greedy text, whole and as SSE ending with [DONE]", async () => {
    const whole = await (await post("/v1/chat/completions", chatBody(CHAT_PROMPT, { max_tokens: 24, temperature: 0 }))).json();
    assert.is(whole.object, "chat.completion");
    assert.is(whole.choices[0].message.content, expected.chat);
    assert.ok(["stop", "length"].includes(whole.choices[0].finish_reason));
    assert.is(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);
    assert.is(whole.ffnskip.skip, "off");
    assert.is(whole.ffnskip.skip_ratio, 0);

    const streamed = await post("/v1/chat/completions", chatBody(CHAT_PROMPT, { max_tokens: 24, stream: true }));
    assert.match(streamed.headers.get("content-type") ?? "", /text\/event-stream/);
    const chat = joinSse(await streamed.text(), true);
    assert.is(chat.text, expected.chat);
    assert.is(chat.last.usage.completion_tokens, whole.usage.completion_tokens);

    const raw = await (await post("/v1/completions", { prompt: RAW_PROMPT, max_tokens: 16 })).json();
    assert.is(raw.object, "text_completion");
    assert.is(raw.choices[0].text, expected.raw);
    assert.is(raw.choices[0].finish_reason, "length");
    const rawStream = joinSse(await (await post("/v1/completions", { prompt: RAW_PROMPT, max_tokens: 16, stream: true })).text(), false);
    assert.is(rawStream.text, expected.raw);
    assert.is(rawStream.last.choices[0].finish_reason, "length");

    // The skip extension: a per-request setting, reported with the measured ratio.
    const skipped = await (await post("/v1/chat/completions", chatBody(CHAT_PROMPT, { max_tokens: 24, ffnskip: { skip: "fixed:0.25" } }))).json();
    assert.is(skipped.ffnskip.skip, "fixed:0.25");
    assert.ok(skipped.ffnskip.skip_ratio > 0.1 && skipped.ffnskip.skip_ratio < 0.4, `skip ratio ${skipped.ffnskip.skip_ratio}`);
    // Nothing leaks between requests: the plain request again gives the plain text.
    const again = await (await post("/v1/chat/completions", chatBody(CHAT_PROMPT, { max_tokens: 24 }))).json();
    assert.is(again.choices[0].message.content, expected.chat);
  });

  serve("400 naming the field for bad JSON and bad parameters; context limits", async () => {
    await expectError(await post("/v1/chat/completions", "{not json"), 400, null, "invalid_json");
    await expectError(await post("/v1/chat/completions", {}), 400, "messages", "missing_required_parameter");
    await expectError(await post("/v1/chat/completions", chatBody("hi", { temperature: 7 })), 400, "temperature");
    await expectError(await post("/v1/chat/completions", chatBody("hi", { max_completion_tokens: 0 })), 400, "max_completion_tokens");
    await expectError(await post("/v1/chat/completions", chatBody("hi", { stop: [1] })), 400, "stop");
    await expectError(await post("/v1/chat/completions", chatBody("hi", { response_format: { type: "xml" } })), 400, "response_format.type");
    await expectError(await post("/v1/chat/completions", chatBody("hi", { response_format: { type: "json_schema", json_schema: { name: "x" } } })), 400, "response_format.json_schema.schema");
    await expectError(await post("/v1/chat/completions", chatBody("hi", { ffnskip: { skip: "sometimes" } })), 400, "ffnskip.skip");
    await expectError(await post("/v1/chat/completions", chatBody("hi", { ffnskip: { ratio: 1 } })), 400, "ffnskip.ratio");
    await expectError(await post("/v1/completions", { prompt: 42 }), 400, "prompt");
    await expectError(await post("/v1/chat/completions", chatBody("word ".repeat(1100))), 400, "messages", "context_length_exceeded");
    await expectError(await post("/v1/chat/completions", chatBody("word ".repeat(700), { max_tokens: 500 })), 400, "max_tokens", "context_length_exceeded");
    // Far beyond the context but under the body limit: refused by its size, fast.
    const started = Date.now();
    await expectError(await post("/v1/completions", { prompt: "€".repeat(300_000) }), 400, "prompt", "context_length_exceeded");
    assert.ok(Date.now() - started < 3000, `refused in ${Date.now() - started} ms`);
  });

  serve("413 for a body over the limit, declared or chunked, read no further than the limit", async () => {
    await expectError(await post("/v1/chat/completions", chatBody("€".repeat(350_000))), 413, null, "request_too_large");
    // 60 MB sent in chunks without a Content-Length: the answer comes while we are still sending.
    const before = rssKb(server.pid!);
    const outcome = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      let sent = 0;
      const req = httpRequest(`${url}/v1/chat/completions`, { method: "POST", headers: { ...auth, "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, sent });
        req.destroy();
      });
      let answered = false;
      req.on("response", () => (answered = true));
      req.on("error", (error) => (sent > 0 ? undefined : reject(error)));
      // A connection closed without an answer must fail the test, not leave it waiting on nothing.
      req.on("close", () => (answered ? undefined : reject(new Error(`connection closed without an answer after ${sent >> 20} MB`))));
      const chunk = Buffer.alloc(1 << 16, 0x61);
      const pump = () => {
        while (sent < 60 << 20) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end();
      };
      req.setTimeout(20_000, () => reject(new Error(`no answer after sending ${sent >> 20} MB`)));
      req.write('{"messages":[{"role":"user","content":"');
      pump();
    });
    assert.is(outcome.status, 413);
    assert.ok(outcome.sent < 30 << 20, `answered after ${outcome.sent >> 20} MB of 60`);
    const grown = rssKb(server.pid!) - before;
    assert.ok(grown < 20_000, `server RSS grew by ${grown} KB`);
  });

  serve("8 concurrent requests: each answered correctly or shed with 429 and Retry-After", async () => {
    const responses = await Promise.all(Array.from({ length: 8 }, () => post("/v1/chat/completions", chatBody(CHAT_PROMPT, { max_tokens: 24 }))));
    let served = 0;
    let shed = 0;
    for (const response of responses) {
      if (response.status === 200) {
        served++;
        assert.is((await response.json()).choices[0].message.content, expected.chat);
      } else {
        shed++;
        await expectError(response, 429, null, "queue_full");
        assert.ok(Number(response.headers.get("retry-after")) >= 1, "Retry-After in seconds");
      }
    }
    // Arrivals are staggered (each body is read and its prompt checked first), so a turn may free up meanwhile.
    assert.ok(served >= 4, `one running and --max-queue 3 waiting are served (${served})`);
    assert.ok(shed >= 1, `the rest are shed (${shed})`);
  });

  serve("a client leaving mid-stream, or a non-streaming one leaving, stops its generation; the next request is served at once", async () => {
    const story = chatBody("Tell me a very long story about a dragon.", { max_tokens: 500, stream: true });
    let from = log.length;
    const leaving = new AbortController();
    const response = await post("/v1/chat/completions", story, auth, leaving.signal);
    const reader = response.body!.getReader();
    await reader.read();
    leaving.abort();
    const line = await logLine(/POST \/v1\/chat\/completions 200 .* finish=abort/, from);
    // Stopped long before its 500 tokens (the bound leaves room for a fast machine: ~150 tok/s here).
    assert.ok(Number(/completion=(\d+)/.exec(line)![1]) < 400, line);
    let started = Date.now();
    const next = await (await post("/v1/chat/completions", chatBody("Hi", { max_tokens: 4 }))).json();
    assert.is(next.usage.completion_tokens, 4);
    assert.ok(Date.now() - started < 5000, `served in ${Date.now() - started} ms`);

    from = log.length;
    const impatient = new AbortController();
    const pending = post("/v1/chat/completions", { ...story, stream: false }, auth, impatient.signal).catch(() => null);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    impatient.abort();
    await pending;
    const whole = await logLine(/finish=abort/, from);
    assert.ok(Number(/completion=(\d+)/.exec(whole)![1]) < 400, whole);
    started = Date.now();
    assert.is((await post("/v1/chat/completions", chatBody("Hi", { max_tokens: 4 }))).status, 200);
    assert.ok(Date.now() - started < 5000, `served in ${Date.now() - started} ms`);
  });

  serve("response_format json_schema and json_object: the answers parse and validate (Ajv), streamed ones too", async () => {
    const schema = {
      type: "object",
      properties: { city: { type: "string", maxLength: 30 }, population: { type: "integer", minimum: 0 }, capital: { type: "boolean" } },
      required: ["city", "population", "capital"], additionalProperties: false,
    };
    const formats = [
      { type: "json_schema", json_schema: { name: "city", schema } },
      { type: "json_object" },
    ];
    const ajv = new Ajv2020({ strict: false });
    for (const response_format of formats) {
      for (const stream of [false, true]) {
        const body = chatBody("Describe Paris as JSON.", { max_tokens: 120, response_format, stream });
        const response = await post("/v1/chat/completions", body);
        assert.is(response.status, 200);
        const content = stream ? joinSse(await response.text(), true).text : (await response.json()).choices[0].message.content;
        const value = JSON.parse(content) as unknown;
        if (response_format.type === "json_schema") assert.ok(ajv.validate(schema, value), `${content}: ${ajv.errorsText()}`);
        else assert.ok(typeof value === "object" && value !== null && !Array.isArray(value), content);
      }
    }
    await expectError(await post("/v1/chat/completions", chatBody("x", { response_format: { type: "json_schema", json_schema: { schema: { type: "string", pattern: "a+" } } } })), 400, "response_format");
  });

  serve("a request aborted while queued never reaches the model", async () => {
    const from = log.length;
    // Long enough (~2 s) that the second request is still queued when it is aborted, on a fast machine too.
    const running = post("/v1/chat/completions", chatBody("Tell me a story about a cat.", { max_tokens: 300 }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const waiting = new AbortController();
    const queued = post("/v1/chat/completions", chatBody("Tell me a story about a dog.", { max_tokens: 40 }), auth, waiting.signal).catch(() => null);
    await new Promise((resolve) => setTimeout(resolve, 300));
    waiting.abort();
    await queued;
    const line = await logLine(/ 499 /, from);
    assert.not.match(line, /completion=/, "no generation ran for it");
    assert.is((await running).status, 200);
  });

  serve("SIGTERM: the running stream finishes, then the server exits 0", async () => {
    const stream = post("/v1/chat/completions", chatBody(CHAT_PROMPT, { max_tokens: 24, stream: true }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
    server.kill("SIGTERM");
    const text = await (await stream).text();
    assert.is(joinSse(text, true).text, expected.chat);
    assert.is(await exited, 0);
    assert.match(log, /stopped/);
  });
}

serve.run();
