// The edge worker under real workerd: the OpenAI chat-completions shape (whole and as Server-Sent Events, with the
// FFN-skip ratio in usage), OpenAI-style errors for bad requests, and a model that keeps serving after a client
// walks away mid-stream. Skips when the model has not been pulled.

import { suite } from "uvu";
import * as assert from "uvu/assert";
import { modelMissing, postChat, sseEvents, startWorkerd, type Workerd } from "./helpers/runtimes.js";

const api = suite("edge worker (workerd)");
const missing = modelMissing();
let worker: Workerd;
const hello = [{ role: "user", content: "What is the capital of France?" }];

function assertError(response: { status: number; json: any; text: string }, status: number, param: string | null, code?: string): void {
  assert.is(response.status, status, response.text);
  const error = response.json?.error;
  assert.type(error, "object", `OpenAI error body: ${response.text}`);
  assert.type(error.message, "string");
  assert.ok(error.message.length > 0);
  assert.type(error.type, "string");
  assert.ok("param" in error && "code" in error, "param and code present");
  assert.is(error.param, param);
  if (code !== undefined) assert.is(error.code, code);
}

if (missing !== null) {
  api("edge worker", () => console.log(`  skipped: needs ${missing}`));
} else {
  api.before(async () => {
    worker = await startWorkerd();
  });
  api.after(async () => {
    await worker?.stop();
  });

  api("non-streaming: a chat.completion with usage and the FFN-skip ratios", async () => {
    const r = await postChat(worker.url, { messages: hello, max_tokens: 16, temperature: 0 });
    assert.is(r.status, 200, r.text);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    const body = r.json;
    assert.match(body.id, /^chatcmpl-[0-9a-f]+$/);
    assert.is(body.object, "chat.completion");
    assert.type(body.created, "number");
    assert.ok(Math.abs(body.created - Date.now() / 1000) < 600, "created is a unix time in seconds");
    assert.is(body.model, "SmolLM2-135M-Instruct");
    assert.is(body.choices.length, 1);
    const [choice] = body.choices;
    assert.is(choice.index, 0);
    assert.is(choice.message.role, "assistant");
    assert.type(choice.message.content, "string");
    assert.ok(choice.message.content.length > 0);
    assert.ok(["stop", "length"].includes(choice.finish_reason));
    const u = body.usage;
    assert.ok(u.prompt_tokens > 10 && u.completion_tokens > 0);
    assert.is(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert.ok(u.ffn_skip_ratio > 0 && u.ffn_skip_ratio < 1, `ffn_skip_ratio ${u.ffn_skip_ratio}`);
    assert.ok(u.ffn_skip_ratio_after_warmup >= u.ffn_skip_ratio);
  });

  api("streaming: role chunk, content chunks, a final chunk with finish_reason and usage, then [DONE]", async () => {
    const response = await fetch(`${worker.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "Tell me a short story about a robot." }], max_tokens: 32, stream: true }) });
    assert.is(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    // Read as it arrives: the events must come while generating, not all at once at the end.
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let raw = "";
    let reads = 0;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      raw += decoder.decode(chunk.value, { stream: true });
      reads++;
    }
    assert.ok(raw.endsWith("data: [DONE]\n\n"), "ends with [DONE]");
    const events = sseEvents(raw);
    assert.ok(reads >= events.length / 3, `events arrive as they are generated: ${events.length} events in ${reads} reads`);
    assert.is(events[events.length - 1], "[DONE]");
    const chunks = events.slice(0, -1);
    assert.ok(chunks.length >= 3);
    const id = chunks[0].id;
    for (const chunk of chunks) {
      assert.is(chunk.object, "chat.completion.chunk");
      assert.is(chunk.id, id, "one id for the whole stream");
      assert.is(chunk.model, "SmolLM2-135M-Instruct");
      assert.is(chunk.choices[0].index, 0);
    }
    assert.is(chunks[0].choices[0].delta.role, "assistant");
    const middle = chunks.slice(1, -1);
    assert.ok(middle.every((c: any) => typeof c.choices[0].delta.content === "string" && c.choices[0].finish_reason === null));
    const last = chunks[chunks.length - 1];
    assert.equal(last.choices[0].delta, {});
    assert.ok(["stop", "length"].includes(last.choices[0].finish_reason));
    assert.ok(last.usage.completion_tokens > 0 && last.usage.ffn_skip_ratio > 0 && "ffn_skip_ratio_after_warmup" in last.usage);
    const whole = await postChat(worker.url, { messages: [{ role: "user", content: "Tell me a short story about a robot." }], max_tokens: 32 });
    assert.is(middle.map((c: any) => c.choices[0].delta.content).join(""), whole.json.choices[0].message.content, "streamed text = whole text");
  });

  api("bad requests get 400 with an OpenAI error body", async () => {
    assertError(await postChat(worker.url, "{not json"), 400, null, "invalid_json");
    assertError(await postChat(worker.url, "[1, 2]"), 400, null);
    assertError(await postChat(worker.url, {}), 400, "messages", "missing_required_parameter");
    assertError(await postChat(worker.url, { messages: "hi" }), 400, "messages");
    assertError(await postChat(worker.url, { messages: [] }), 400, "messages");
    assertError(await postChat(worker.url, { messages: [{ role: "wizard", content: "hi" }] }), 400, "messages[0].role");
    assertError(await postChat(worker.url, { messages: [{ role: "user" }] }), 400, "messages[0].content");
    assertError(await postChat(worker.url, { messages: [{ role: "user", content: 42 }] }), 400, "messages[0].content");
    for (const bad of [0, -3, 1.5, "16", true]) assertError(await postChat(worker.url, { messages: hello, max_tokens: bad }), 400, "max_tokens");
    assertError(await postChat(worker.url, { messages: hello, max_tokens: 100_000 }), 400, "max_tokens", "invalid_value");
    assertError(await postChat(worker.url, { messages: hello, max_completion_tokens: 0 }), 400, "max_completion_tokens");
    assertError(await postChat(worker.url, { messages: hello, temperature: 7 }), 400, "temperature");
    assertError(await postChat(worker.url, { messages: hello, top_p: 0 }), 400, "top_p");
    assertError(await postChat(worker.url, { messages: hello, seed: -1 }), 400, "seed");
    assertError(await postChat(worker.url, { messages: hello, stream: "yes" }), 400, "stream");
    assertError(await postChat(worker.url, { messages: hello, n: 2 }), 400, "n");
    assertError(await postChat(worker.url, { messages: hello, stop: [1] }), 400, "stop");
    // Prompt + completion beyond the loaded context (1024 tokens in workerd.capnp).
    const long = [{ role: "user", content: "word ".repeat(1100) }];
    assertError(await postChat(worker.url, { messages: long }), 400, "messages", "context_length_exceeded");
    assertError(await postChat(worker.url, { messages: [{ role: "user", content: "word ".repeat(700) }], max_tokens: 500 }), 400, "max_tokens", "context_length_exceeded");
  });

  api("unknown paths get 404, wrong methods 405, both with an OpenAI error body", async () => {
    const notFound = await fetch(`${worker.url}/v1/embeddings`, { method: "POST", body: "{}" });
    assertError({ status: notFound.status, text: "", json: await notFound.json() }, 404, null, "unknown_url");
    const wrongMethod = await fetch(`${worker.url}/v1/chat/completions`);
    assert.is(wrongMethod.headers.get("allow"), "POST, OPTIONS");
    assertError({ status: wrongMethod.status, text: "", json: await wrongMethod.json() }, 405, null, "method_not_allowed");
    const put = await fetch(`${worker.url}/v1/models`, { method: "PUT" });
    assert.is(put.status, 405);
    const models = await fetch(`${worker.url}/v1/models`).then((r) => r.json());
    assert.equal(models.data.map((m: { id: string }) => m.id), ["SmolLM2-135M-Instruct"]);
  });

  api("a client that disconnects mid-stream stops generation; the worker keeps serving after disconnects", async () => {
    const controller = new AbortController();
    const response = await fetch(`${worker.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "Tell me a long story about a dragon." }], max_tokens: 500, stream: true, temperature: 0 }), signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    let status: any;
    for (let i = 0; i < 200; i++) {
      status = await fetch(`${worker.url}/`).then((s) => s.json());
      if (status.last_generation?.finish_reason === "abort") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.is(status.last_generation?.finish_reason, "abort", `the abandoned generation was aborted: ${JSON.stringify(status.last_generation)}`);
    assert.ok(status.last_generation.completion_tokens < 500);
    // Non-streaming: the client gives up waiting. workerd does not signal that disconnect, so the generation runs to
    // max_tokens, but in the background (waitUntil): it must not leave the model stuck for the next request.
    const impatient = new AbortController();
    const pending = fetch(`${worker.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "Tell me a long story about a cat." }], max_tokens: 48, temperature: 0 }), signal: impatient.signal }).catch(() => null);
    await new Promise((resolve) => setTimeout(resolve, 300));
    impatient.abort();
    await pending;
    const r = await postChat(worker.url, { messages: hello, max_tokens: 8, temperature: 0 });
    assert.is(r.status, 200, r.text);
    assert.ok(r.json.usage.completion_tokens > 0);
    const after = await fetch(`${worker.url}/`).then((s) => s.json());
    assert.is(after.last_generation.number, status.last_generation.number + 2, "the abandoned non-streaming generation finished, then the new one");
    console.log(`  workerd isolate: WASM memory ${(status.wasm_memory_bytes / 2 ** 20).toFixed(1)} MiB (maxContext ${status.max_context}, maxBatch ${status.max_batch}), model loaded in ${status.load_ms} ms, skip: ${status.skip}; aborted after ${status.last_generation.completion_tokens} tokens`);
  });
}

api.run();
