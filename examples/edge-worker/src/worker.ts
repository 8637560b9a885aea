// ffnskip on the edge: a Cloudflare Worker (ES module syntax) serving an OpenAI-style chat completions API from
// SmolLM2-135M with FFN skipping. No fs, no threads, no run-time WASM compilation: the kernels arrive as a
// WebAssembly.Module (a .wasm module import, compiled by the host at deploy time) and the model as bytes from a
// binding. Runs under workerd locally (workerd.capnp) and on Cloudflare (wrangler.toml, model in R2).
//
// The API is the package's shared handler (createHandler, src/serve/handler.ts), the same code as `ffnskip serve`:
//   POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health (see the README's "Serve")
//   GET  /                      what is loaded, how much WASM memory it takes, how the last generation ended

import { ApiError, createHandler, type GenerationResult, type LanguageModel, loadModel, loadModelFromStream, type ServeHandler } from "ffnskip";
import kernels from "./kernels.wasm";
import { applyDefaultSkip } from "../../shared/skip.js";
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
  /** Requests must send `Authorization: Bearer <API_KEY>` (a secret binding); unset: no authentication. */
  readonly API_KEY?: string;
  /** Access-Control-Allow-Origin for browser clients; unset: no cross-origin access. */
  readonly CORS_ORIGIN?: string;
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

let loading: Promise<Loaded> | null = null;
/** The shared OpenAI handler (src/serve/handler.ts), made on the first request: bindings arrive with it. */
let handler: ServeHandler | null = null;
/** How the last generation ended (GET / reports it: e.g. "abort" after a client left mid-stream). */
let lastGeneration: { number: number; finish_reason: string; completion_tokens: number } | null = null;
let generations = 0;

function remember(result: GenerationResult): void {
  lastGeneration = { number: ++generations, finish_reason: result.finishReason, completion_tokens: result.tokens.length };
}

export default {
  async fetch(request: Request, env: Env, ctx?: WaitUntil): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      if (path === "/" && request.method === "GET") return Response.json(await status(env, ctx));
      handler ??= createHandler({
        model: async () => (await load(env, ctx)).model, modelName: env.MODEL_NAME ?? "SmolLM2-135M-Instruct",
        skipLabel: env.SKIP || "on (shipped profile, else paper policy)", maxTokens: positiveInt(env.MAX_TOKENS, "MAX_TOKENS") ?? 512,
        apiKey: env.API_KEY || undefined, corsOrigin: env.CORS_ORIGIN || undefined, onGeneration: remember,
      });
      return await handler.fetch(request, ctx);
    } catch (error) {
      if (error instanceof ApiError) return error.response();
      console.error(error);
      return new ApiError(500, `Internal error: ${error instanceof Error ? error.message : String(error)}`).response();
    }
  },
};

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
