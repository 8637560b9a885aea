// ffnskip on the edge: a Cloudflare Worker (ES module syntax) serving an OpenAI-style chat completions API from
// SmolLM2-135M with FFN skipping. No fs, no threads, no run-time WASM compilation: the kernels arrive as a
// WebAssembly.Module (a .wasm module import, compiled by the host at deploy time) and the model as bytes from a
// binding. Runs under workerd locally (workerd.capnp) and on Cloudflare (wrangler.toml, model in R2).
//
//   POST /v1/chat/completions   { messages, max_tokens?, temperature?, top_p?, top_k?, min_p?, seed?, stop?, stream? }
//   GET  /v1/models             the one model this worker serves
//   GET  /                      what is loaded, how much WASM memory it takes, how the last generation ended

import { type GenerationResult, type LanguageModel, loadModel, loadModelFromStream } from "ffnskip";
import kernels from "./kernels.wasm";
import { applyDefaultSkip } from "../../shared/skip.js";
import { ApiError, type ChatRequest, completionId, finishReason, parseChatRequest, sse, timings, usage } from "./openai.js";

/** The subset of Cloudflare's R2Bucket this worker uses. */
interface ModelBucket {
  get(key: string): Promise<{ readonly body: ReadableStream<Uint8Array>; readonly size: number } | null>;
}

/** A service binding (workerd: a `disk` service serving the weights folder). */
interface ModelStore {
  fetch(input: string): Promise<Response>;
}

export interface Env {
  /** The GGUF file as a data binding (ArrayBuffer); workerd only, Cloudflare caps scripts far below 98 MB. */
  readonly MODEL?: ArrayBuffer;
  /** An R2 bucket holding the GGUF file under MODEL_KEY (hosted Workers). */
  readonly MODEL_BUCKET?: ModelBucket;
  /** A service that answers GET /<MODEL_KEY> with the GGUF file. */
  readonly MODEL_STORE?: ModelStore;
  readonly MODEL_KEY?: string;
  /** The id reported as `model` (default SmolLM2-135M-Instruct). */
  readonly MODEL_NAME?: string;
  /** KV cache positions (prompt + completion); the largest share of memory after the weights. Default 1024. */
  readonly MAX_CONTEXT?: string;
  /** Prompt tokens per prefill step; sets the activation buffers (logits alone take 196 KB per token). Default 16. */
  readonly MAX_BATCH?: string;
  /** KV cache format: "f32" (default) or "f16" (half the memory; keys and values rounded to half precision). */
  readonly KV_CACHE?: string;
  /** Largest max_tokens a request may ask for. Default 512. */
  readonly MAX_TOKENS?: string;
  /** "on", "off", or a JSON skip policy; default: the shipped profile, else the examples' paper policy. */
  readonly SKIP?: string;
}

/** The execution context's waitUntil: keeps the isolate working on a stream after the Response is returned. */
interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

interface Loaded {
  readonly model: LanguageModel;
  readonly name: string;
  readonly skip: string;
  readonly loadMs: number;
}

const CORS = { "access-control-allow-origin": "*" };
const MAX_BODY_BYTES = 1 << 20;
let loading: Promise<Loaded> | null = null;
/** How the last generation ended (GET / reports it: e.g. "abort" after a client left mid-stream). */
let lastGeneration: { number: number; finish_reason: string; completion_tokens: number } | null = null;
let generations = 0;

function remember(result: GenerationResult): void {
  lastGeneration = { number: ++generations, finish_reason: result.finishReason, completion_tokens: result.tokens.length };
}

export default {
  async fetch(request: Request, env: Env, ctx?: WaitUntil): Promise<Response> {
    try {
      return await route(request, env, ctx);
    } catch (error) {
      if (error instanceof ApiError) return error.response(CORS);
      console.error(error);
      return new ApiError(500, `Internal error: ${error instanceof Error ? error.message : String(error)}`).response(CORS);
    }
  },
};

async function route(request: Request, env: Env, ctx?: WaitUntil): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  if (request.method === "OPTIONS") {
    return new Response(null, { status: 204, headers: { ...CORS, "access-control-allow-methods": "GET, POST, OPTIONS", "access-control-allow-headers": "content-type, authorization" } });
  }
  const allow = (methods: string) => {
    if (!methods.split(", ").includes(request.method)) {
      throw new ApiError(405, `Method ${request.method} is not allowed on ${path}; use ${methods}`, null, "method_not_allowed");
    }
  };
  try {
    if (path === "/v1/chat/completions") {
      allow("POST");
      return await chatCompletions(request, env, ctx);
    }
    if (path === "/v1/models") {
      allow("GET");
      const name = env.MODEL_NAME ?? "SmolLM2-135M-Instruct";
      return Response.json({ object: "list", data: [{ id: name, object: "model", created: 0, owned_by: "ffnskip" }] }, { headers: CORS });
    }
    if (path === "/") {
      allow("GET");
      return Response.json(await status(env, ctx), { headers: CORS });
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 405) return error.response({ ...CORS, allow: path === "/v1/chat/completions" ? "POST, OPTIONS" : "GET, OPTIONS" });
    throw error;
  }
  throw new ApiError(404, `Unknown path ${path}; this worker serves POST /v1/chat/completions and GET /v1/models`, null, "unknown_url");
}

async function status(env: Env, ctx?: WaitUntil) {
  const loaded = await load(env, ctx);
  const memory = loaded.model.transformer.arena.memory.buffer.byteLength;
  return {
    model: loaded.name, skip: loaded.skip, load_ms: loaded.loadMs, max_context: loaded.model.maxContext,
    max_batch: loaded.model.transformer.state.maxBatch, kv_cache: env.KV_CACHE || "f32", wasm_memory_bytes: memory, wasm_used_bytes: loaded.model.transformer.arena.used,
    last_generation: lastGeneration,
  };
}

/**
 * Loads the model once per isolate (on the first request: Workers allow no I/O at start-up). The request that
 * starts the load keeps it alive with waitUntil, so a client leaving early does not strand the others waiting on it.
 */
function load(env: Env, ctx?: WaitUntil): Promise<Loaded> {
  if (loading !== null) return loading;
  loading = (async () => {
    const started = Date.now();
    const options = {
      name: env.MODEL_KEY ?? "model.gguf",
      wasmModule: kernels, variant: "simd" as const, // the variant the imported module was built as
      maxContext: positiveInt(env.MAX_CONTEXT, "MAX_CONTEXT") ?? 1024,
      maxBatch: positiveInt(env.MAX_BATCH, "MAX_BATCH") ?? 16,
      kvCache: kvCacheFormat(env.KV_CACHE),
    };
    // Streamed sources are copied chunk by chunk into WASM memory: the whole file is never held at once, which is
    // what keeps a 98 MB model under a hosted isolate's 128 MB (see README).
    const source = await modelSource(env);
    const model = source instanceof ArrayBuffer
      ? await loadModel({ gguf: source, name: options.name }, options)
      : await loadModelFromStream(source.body, { ...options, byteLength: source.size });
    let skip: string;
    if (env.SKIP === undefined || env.SKIP === "") skip = applyDefaultSkip(model) === "on" ? "on (shipped profile)" : "paper policy (fallback)";
    else if (env.SKIP === "on" || env.SKIP === "off") model.skip = skip = env.SKIP;
    else {
      model.skip = JSON.parse(env.SKIP);
      skip = env.SKIP;
    }
    return { model, name: env.MODEL_NAME ?? "SmolLM2-135M-Instruct", skip, loadMs: Date.now() - started };
  })();
  loading.catch(() => {
    loading = null; // let the next request try again
  });
  ctx?.waitUntil(loading.catch(() => {}));
  return loading;
}

/** The GGUF as a stream with its size (R2, a service), or as bytes already in memory (a data binding). */
async function modelSource(env: Env): Promise<ArrayBuffer | { body: ReadableStream<Uint8Array>; size: number | undefined }> {
  const key = env.MODEL_KEY ?? "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (env.MODEL instanceof ArrayBuffer) return env.MODEL;
  if (env.MODEL_BUCKET !== undefined) {
    const object = await env.MODEL_BUCKET.get(key);
    if (object === null) throw new ApiError(500, `Model ${key} not found in the MODEL_BUCKET binding`, null, "model_not_found");
    return { body: object.body, size: object.size };
  }
  if (env.MODEL_STORE !== undefined) {
    const response = await env.MODEL_STORE.fetch(`http://model-store/${encodeURIComponent(key)}`);
    if (!response.ok || response.body === null) throw new ApiError(500, `MODEL_STORE answered ${response.status} for ${key}`, null, "model_not_found");
    const length = Number(response.headers.get("content-length"));
    return { body: response.body, size: Number.isSafeInteger(length) && length > 0 ? length : undefined };
  }
  throw new ApiError(500, "No model configured: bind MODEL (data), MODEL_BUCKET (R2) or MODEL_STORE (service)", null, "model_not_configured");
}

function kvCacheFormat(text: string | undefined): "f32" | "f16" {
  if (text === undefined || text === "" || text === "f32") return "f32";
  if (text === "f16") return "f16";
  throw new ApiError(500, `KV_CACHE must be "f32" or "f16", got ${JSON.stringify(text)}`, null, "bad_configuration");
}

function positiveInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new ApiError(500, `${name} must be a positive integer, got ${JSON.stringify(text)}`, null, "bad_configuration");
  return value;
}

async function chatCompletions(request: Request, env: Env, ctx?: WaitUntil): Promise<Response> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) throw new ApiError(413, `The request body exceeds ${MAX_BODY_BYTES} bytes`, null, "request_too_large");
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) throw new ApiError(413, `The request body exceeds ${MAX_BODY_BYTES} bytes`, null, "request_too_large");
  const chat = parseChatRequest(text, { maxTokens: positiveInt(env.MAX_TOKENS, "MAX_TOKENS") ?? 512, maxBodyBytes: MAX_BODY_BYTES });
  const loaded = await load(env, ctx);
  const { model } = loaded;

  // Fit prompt + completion into the KV cache, or say why not (OpenAI's context_length_exceeded).
  const promptTokens = model.promptIds(chat.messages).length;
  const room = model.maxContext - promptTokens;
  if (room < 1) {
    throw new ApiError(400, `This model was loaded with a context of ${model.maxContext} tokens; the messages take ${promptTokens}`, "messages", "context_length_exceeded");
  }
  if (chat.maxTokens !== undefined && chat.maxTokens > room) {
    throw new ApiError(400, `This model was loaded with a context of ${model.maxContext} tokens; you requested ${promptTokens + chat.maxTokens} (${promptTokens} in the messages, ${chat.maxTokens} in the completion)`, "max_tokens", "context_length_exceeded");
  }
  const maxTokens = chat.maxTokens ?? Math.min(room, positiveInt(env.MAX_TOKENS, "MAX_TOKENS") ?? 512);
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  // request.signal fires when the client disconnects (workerd: compatibility flag enable_request_signal).
  const signal = request.signal ?? new AbortController().signal;
  return chat.stream ? streamed(loaded, chat, maxTokens, id, created, signal, ctx) : await whole(loaded, chat, maxTokens, id, created, signal, ctx);
}

async function whole(loaded: Loaded, chat: ChatRequest, maxTokens: number, id: string, created: number, signal: AbortSignal, ctx?: WaitUntil): Promise<Response> {
  const generation = loaded.model.chat(chat.messages, { ...chat.options, maxTokens, signal });
  // Keep the isolate working until generation ends even if the client leaves: a request's timers stop with it,
  // and a generation stuck between two decode steps would hold the model (one KV cache) forever.
  ctx?.waitUntil(generation.catch(() => {}));
  const result = await generation;
  remember(result);
  return Response.json({
    id, object: "chat.completion", created, model: loaded.name,
    choices: [{ index: 0, message: { role: "assistant", content: result.text }, logprobs: null, finish_reason: finishReason(result.finishReason) }],
    usage: usage(result),
    ffnskip: { skip: loaded.skip, ...timings(result) },
  }, { headers: CORS });
}

/** Server-Sent Events: a role chunk, one chunk per text piece, a final chunk with finish_reason and usage, [DONE]. */
function streamed(loaded: Loaded, chat: ChatRequest, maxTokens: number, id: string, created: number, signal: AbortSignal, ctx?: WaitUntil): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  const abort = new AbortController();
  signal.addEventListener("abort", () => abort.abort());
  const chunk = (delta: object, finish: string | null, extra: object = {}) =>
    sse({ id, object: "chat.completion.chunk", created, model: loaded.name, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
  const write = (text: string) => writer.write(encoder.encode(text));

  const stream = loaded.model.generate(chat.messages, { ...chat.options, maxTokens, signal: abort.signal });
  // As in whole(): the isolate must keep running the generation (to its end or its abort) after the client left.
  ctx?.waitUntil(stream.result.then(remember, () => {}));
  const done = (async () => {
    try {
      await write(chunk({ role: "assistant", content: "" }, null));
      for await (const piece of stream) if (piece.text !== "") await write(chunk({ content: piece.text }, null));
      const result = await stream.result;
      await write(chunk({}, finishReason(result.finishReason), { usage: usage(result), ffnskip: { skip: loaded.skip, ...timings(result) } }));
      await write(sse("[DONE]"));
      await writer.close();
    } catch (error) {
      abort.abort(); // the client went away, or generation failed: stop decoding
      const message = error instanceof Error ? error.message : String(error);
      await write(sse({ error: { message, type: "server_error", param: null, code: null } })).catch(() => {});
      await writer.abort(error).catch(() => {});
    }
  })();
  ctx?.waitUntil(done);
  return new Response(readable, { headers: { ...CORS, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } });
}
