// The OpenAI-compatible HTTP API over one LanguageModel, as one fetch-style handler (Request -> Response, web
// standards only), so that the Node server (`ffnskip serve`), Deno and the edge worker run the same code.
//
//   GET  /v1/models             the one model
//   POST /v1/chat/completions   messages -> assistant reply (whole, or Server-Sent Events with stream: true)
//   POST /v1/completions        raw prompt text -> continuation
//   GET  /health                200 while serving, 503 once shutting down (no key needed)
//
// One model means one KV cache: requests take turns. A bounded queue holds those waiting (beyond it: 429 with
// Retry-After); a request gets its response headers only when its turn comes and its first token is out, so a
// client can tell waiting from generating. A client that leaves (request.signal, or a failed stream write), a
// deadline or a shutdown stops its generation at the next token, queued or running.

import { ConfigError, FfnskipError, InputError, UnsupportedError } from "../errors.js";
import type { GenerationResult } from "../generate.js";
import type { GenerationStream, LanguageModel, ModelGenerateOptions, SkipSetting } from "../language-model.js";
import { ApiError, type CompletionRequest, completionId, ffnskipField, finishReason, parseChatRequest, parseCompletionRequest, sse, usage } from "./openai.js";

export interface ServeOptions {
  /** The model, or a function that loads it on first use (an edge worker may do no I/O at start-up). */
  readonly model: LanguageModel | (() => Promise<LanguageModel>);
  /** The id /v1/models lists and responses carry. */
  readonly modelName: string;
  /** Requests must send `Authorization: Bearer <apiKey>`; undefined: no authentication. */
  readonly apiKey?: string;
  /** How the model's own skip setting is reported in responses (default "model default"). */
  readonly skipLabel?: string;
  /** Largest request body in bytes (default 1 MiB), enforced while the body is read. */
  readonly maxBodyBytes?: number;
  /** Requests that may wait behind the running one (default 8); more get 429. */
  readonly maxQueue?: number;
  /** Largest max_tokens a request may ask for, and the default when it asks for none (default 512). */
  readonly maxTokens?: number;
  /** Longest a request may take, waiting included (default 300 s): then it is cut off at the next token. */
  readonly requestTimeoutMs?: number;
  /** A streaming client that takes no data for this long is dropped (default 30 s). */
  readonly idleTimeoutMs?: number;
  /** Access-Control-Allow-Origin for browsers (default: none, i.e. no cross-origin access). */
  readonly corsOrigin?: string;
  /** One line per request (method, path, status, timings, tokens, how it ended). */
  readonly log?: (line: string) => void;
  /** Called with every finished generation (e.g. for a status page). */
  readonly onGeneration?: (result: GenerationResult) => void;
}

/** The host's waitUntil (Workers): keeps the isolate running a generation after the Response is returned. */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

export interface ServeHandler {
  fetch(request: Request, context?: WaitUntil): Promise<Response>;
  /**
   * Stops taking requests (503), cancels the queued ones, lets the running one finish for up to `graceMs`, then
   * stops it at its next token; resolves when nothing runs.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** Requests waiting for the model, and whether one is generating. */
  readonly queued: number;
  readonly running: boolean;
}

type StopReason = "client" | "timeout" | "shutdown";

/** Per-request record for the log line. */
interface Entry {
  readonly method: string;
  readonly path: string;
  readonly started: number;
  status: number;
  queueMs: number;
  result?: GenerationResult;
  stopped?: StopReason;
  /** Settles when the request's generation has ended (streams are logged then). */
  done?: Promise<void>;
}

const DEFAULTS = { maxBodyBytes: 1 << 20, maxQueue: 8, maxTokens: 512, requestTimeoutMs: 300_000, idleTimeoutMs: 30_000 };

export function createHandler(options: ServeOptions): ServeHandler {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  const turns = new Turns(settings.maxQueue);
  const inFlight = new Set<{ stop(why: StopReason): void; done: Promise<unknown> }>();
  let closing = false;
  let modelPromise: Promise<LanguageModel> | null = null;
  const apiKeyDigest = options.apiKey === undefined ? null : digest(options.apiKey);
  // Recent turn lengths, for Retry-After: how long the queue ahead takes to drain, at least 1 s.
  let averageTurnMs = 2000;
  const recordTurn = (ms: number) => {
    averageTurnMs = 0.8 * averageTurnMs + 0.2 * ms;
  };
  const retryAfterSeconds = (queued: number) => Math.max(1, Math.ceil(((queued + 1) * averageTurnMs) / 1000));

  const getModel = (): Promise<LanguageModel> => {
    if (modelPromise !== null) return modelPromise;
    const source = options.model;
    modelPromise = typeof source === "function" ? source() : Promise.resolve(source);
    modelPromise.catch(() => {
      modelPromise = null; // let the next request try again
    });
    return modelPromise;
  };
  const cors: Record<string, string> = options.corsOrigin === undefined ? {} : { "access-control-allow-origin": options.corsOrigin, vary: "origin" };

  const log = (entry: Entry) => {
    if (options.log === undefined) return;
    const r = entry.result;
    const tokens = r === undefined ? "" : ` prompt=${r.stats.promptTokens} completion=${r.stats.generatedTokens} finish=${r.finishReason} decode=${r.stats.decodeTokensPerSecond.toFixed(1)}tok/s`;
    options.log(`${new Date().toISOString()} ${entry.method} ${entry.path} ${entry.status} ${Math.round(now() - entry.started)}ms queue=${Math.round(entry.queueMs)}ms${tokens}${entry.stopped === undefined ? "" : ` stopped=${entry.stopped}`}`);
  };

  async function authorize(request: Request): Promise<void> {
    if (apiKeyDigest === null) return;
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match === null) throw new ApiError(401, "Missing API key: send it as 'Authorization: Bearer KEY'", null, "missing_api_key", { "www-authenticate": "Bearer" });
    if (!equalBytes(await digest(match[1]!), await apiKeyDigest)) throw new ApiError(401, "Incorrect API key", null, "invalid_api_key", { "www-authenticate": "Bearer" });
  }

  async function route(request: Request, entry: Entry, context?: WaitUntil): Promise<Response> {
    const path = entry.path;
    if (request.method === "OPTIONS" && options.corsOrigin !== undefined) {
      return new Response(null, { status: 204, headers: { ...cors, "access-control-allow-methods": "GET, POST, OPTIONS", "access-control-allow-headers": "content-type, authorization", "access-control-max-age": "600" } });
    }
    const routes: Record<string, string> = { "/v1/chat/completions": "POST", "/v1/completions": "POST", "/v1/models": "GET", "/health": "GET" };
    const method = routes[path];
    if (method === undefined) throw new ApiError(404, `Unknown path ${path}; this server serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models and GET /health`, null, "unknown_url");
    if (request.method !== method && !(method === "GET" && request.method === "HEAD")) {
      throw new ApiError(405, `Method ${request.method} is not allowed on ${path}; use ${method}`, null, "method_not_allowed", { allow: `${method}, OPTIONS` });
    }
    if (path === "/health") {
      const body = { status: closing ? "shutting_down" : "ok", model: options.modelName, running: turns.busy, queued: turns.queued };
      return Response.json(body, { status: closing ? 503 : 200, headers: cors });
    }
    await authorize(request);
    if (path === "/v1/models") {
      return Response.json({ object: "list", data: [{ id: options.modelName, object: "model", created: 0, owned_by: "ffnskip" }] }, { headers: cors });
    }
    if (closing) throw shuttingDown();
    const text = await readBody(request, settings.maxBodyBytes);
    const limits = { maxTokens: settings.maxTokens };
    const chat = path === "/v1/chat/completions";
    const parsed = chat ? parseChatRequest(text, limits) : parseCompletionRequest(text, limits);
    return complete(request, parsed, chat, entry, context);
  }

  async function complete(request: Request, req: CompletionRequest, chat: boolean, entry: Entry, context?: WaitUntil): Promise<Response> {
    const model = await getModel();
    const promptParam = chat ? "messages" : "prompt";
    const promptOptions: ModelGenerateOptions = chat ? {} : { addSpecialTokens: true };
    let promptTokens: number;
    try {
      promptTokens = model.promptIds(req.prompt, promptOptions).length;
    } catch (error) {
      throw apiErrorOf(error, promptParam);
    }
    const room = model.maxContext - promptTokens;
    if (room < 1) throw new ApiError(400, `This model was loaded with a context of ${model.maxContext} tokens; the ${promptParam} take ${promptTokens}`, promptParam, "context_length_exceeded");
    if (req.maxTokens !== undefined && req.maxTokens > room) {
      throw new ApiError(400, `This model was loaded with a context of ${model.maxContext} tokens; you requested ${promptTokens + req.maxTokens} (${promptTokens} in the ${promptParam}, ${req.maxTokens} in the completion)`, req.maxTokensParam, "context_length_exceeded");
    }
    const maxTokens = req.maxTokens ?? Math.min(room, settings.maxTokens);

    // Everything that stops this request: the client leaving, its deadline, a shutdown.
    const stop = new AbortController();
    let stopped: StopReason | undefined;
    const halt = (why: StopReason) => {
      if (stopped !== undefined) return;
      stopped = entry.stopped = why;
      stop.abort();
    };
    const onClientGone = () => halt("client");
    if (request.signal.aborted) halt("client");
    request.signal.addEventListener("abort", onClientGone, { once: true });
    const deadline = setTimeout(() => halt("timeout"), settings.requestTimeoutMs);
    let settle!: () => void;
    const tracked = { stop: halt, done: new Promise<void>((resolve) => (settle = resolve)) };
    inFlight.add(tracked);
    entry.done = tracked.done;
    const finish = () => {
      clearTimeout(deadline);
      request.signal.removeEventListener("abort", onClientGone);
      inFlight.delete(tracked);
      settle();
    };

    let release: () => void;
    const queuedAt = now();
    try {
      release = await turns.take(stop.signal, () => retryAfterSeconds(turns.queued));
    } catch (error) {
      finish();
      entry.queueMs = now() - queuedAt;
      if (error instanceof ApiError) throw error;
      if (stopped === "timeout") throw new ApiError(503, `Waited ${Math.round(settings.requestTimeoutMs / 1000)} s for the model without getting a turn`, null, "queue_timeout", { "retry-after": String(retryAfterSeconds(turns.queued)) });
      if (stopped === "shutdown" || closing) throw shuttingDown();
      throw new ApiError(499, "The client closed the request while it waited", null, "client_closed_request");
    }
    entry.queueMs = now() - queuedAt;

    const generateOptions: ModelGenerateOptions = {
      ...req.options, ...promptOptions, maxTokens, signal: stop.signal, ...(req.skip !== undefined ? { skip: req.skip as SkipSetting } : {}),
    };
    const skipLabel = req.skip === undefined ? (options.skipLabel ?? "model default") : typeof req.skip === "string" ? req.skip : "policy";
    const started = now();
    const stream = model.generate(req.prompt, generateOptions);
    const ended = stream.result.then((result) => {
      entry.result = result;
      recordTurn(now() - started);
      options.onGeneration?.(result);
      return result;
    }).finally(() => {
      release();
      finish();
    });
    ended.catch(() => {});
    // Keep a Workers isolate running the generation to its end (or its abort) when the client has gone.
    context?.waitUntil(ended.catch(() => {}));
    const id = completionId(chat ? "chatcmpl" : "cmpl");
    const created = Math.floor(Date.now() / 1000);
    const reason = (result: GenerationResult) => (stopped === "timeout" ? "length" : finishReason(result.finishReason));

    if (!req.stream) {
      let result: GenerationResult;
      try {
        result = await ended;
      } catch (error) {
        throw apiErrorOf(error, promptParam);
      }
      const choice = chat
        ? { index: 0, message: { role: "assistant", content: result.text }, logprobs: null, finish_reason: reason(result) }
        : { index: 0, text: result.text, logprobs: null, finish_reason: reason(result) };
      return Response.json({
        id, object: chat ? "chat.completion" : "text_completion", created, model: options.modelName, choices: [choice], usage: usage(result), ffnskip: ffnskipField(result, skipLabel),
      }, { headers: cors });
    }
    return streamed(stream, ended, { chat, id, created, skipLabel, reason, halt, promptParam });
  }

  /**
   * Server-Sent Events. The first piece (or the end, or a failure) is awaited before the Response is made, so
   * bad settings that only the model can check still get a proper 4xx, and the first byte means "generating".
   */
  async function streamed(
    stream: GenerationStream, ended: Promise<GenerationResult>,
    s: { chat: boolean; id: string; created: number; skipLabel: string; reason: (r: GenerationResult) => string; halt: (why: StopReason) => void; promptParam: string },
  ): Promise<Response> {
    const pieces = stream[Symbol.asyncIterator]();
    let first: IteratorResult<{ text: string }>;
    try {
      first = await pieces.next();
    } catch (error) {
      throw apiErrorOf(error, s.promptParam);
    }
    const object = s.chat ? "chat.completion.chunk" : "text_completion";
    const chunk = (text: string | null, finish: string | null, extra: object = {}) => sse({
      id: s.id, object, created: s.created, model: options.modelName,
      choices: [s.chat ? { index: 0, delta: text === null ? {} : { content: text }, logprobs: null, finish_reason: finish } : { index: 0, text: text ?? "", logprobs: null, finish_reason: finish }],
      ...extra,
    });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    // A write completes when the client has taken the data; one that does not within the idle timeout drops it.
    const write = async (text: string) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ClientGone("idle")), settings.idleTimeoutMs);
      });
      try {
        await Promise.race([writer.write(encoder.encode(text)).catch(() => Promise.reject(new ClientGone("disconnected"))), idle]);
      } finally {
        clearTimeout(timer);
      }
    };
    (async () => {
      try {
        if (s.chat) await write(sse({ id: s.id, object, created: s.created, model: options.modelName, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] }));
        for (let step = first; !step.done; step = await pieces.next()) if (step.value.text !== "") await write(chunk(step.value.text, null));
        const result = await ended;
        await write(chunk(s.chat ? null : "", s.reason(result), { usage: usage(result), ffnskip: ffnskipField(result, s.skipLabel) }));
        await write(sse("[DONE]"));
        await writer.close();
      } catch (error) {
        if (error instanceof ClientGone) {
          s.halt("client"); // the client left or stopped reading: stop decoding at the next token
          await pieces.return?.(undefined).catch(() => {});
        } else {
          const { message, type, param, code } = apiErrorOf(error, s.promptParam).body;
          await write(sse({ error: { message, type, param, code } })).catch(() => {});
        }
        await writer.abort(error).catch(() => {});
      }
    })();
    return new Response(readable, { headers: { ...cors, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } });
  }

  return {
    async fetch(request: Request, context?: WaitUntil): Promise<Response> {
      const entry: Entry = { method: request.method, path: new URL(request.url).pathname.replace(/\/+$/, "") || "/", started: now(), status: 0, queueMs: 0 };
      let response: Response;
      try {
        response = await route(request, entry, context);
      } catch (error) {
        response = (error instanceof ApiError ? error : apiErrorOf(error, null)).response(cors);
      }
      entry.status = response.status;
      // A stream's log line waits for its end (the result then holds the tokens and how it ended).
      if (entry.done !== undefined && response.headers.get("content-type")?.startsWith("text/event-stream")) entry.done.then(() => log(entry));
      else log(entry);
      return response;
    },
    async shutdown(graceMs = 10_000): Promise<void> {
      closing = true;
      turns.cancelWaiting();
      const all = Promise.all([...inFlight].map((r) => r.done));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([all, grace]);
      clearTimeout(timer);
      for (const r of inFlight) r.stop("shutdown");
      await Promise.all([...inFlight].map((r) => r.done));
    },
    get queued() {
      return turns.queued;
    },
    get running() {
      return turns.busy;
    },
  };

  function shuttingDown(): ApiError {
    return new ApiError(503, "The server is shutting down", null, "shutting_down", { "retry-after": "5" });
  }
}

/** A stream write that failed (the client disconnected) or did not complete within the idle timeout. */
class ClientGone extends Error {}

/**
 * One request at a time on the model, the others waiting in call order, at most `limit` of them. A waiter whose
 * signal fires leaves the queue at once (it never costs the model anything).
 */
class Turns {
  busy = false;
  private readonly waiting: { grant(): void; cancel(): void }[] = [];

  constructor(private readonly limit: number) {}

  get queued(): number {
    return this.waiting.length;
  }

  take(signal: AbortSignal, retryAfter: () => number): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new Error("aborted"));
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.limit) {
      return Promise.reject(new ApiError(429, `The server is busy: ${this.limit} requests are already waiting for the model`, null, "queue_full", { "retry-after": String(retryAfter()) }));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal.removeEventListener("abort", entry.cancel);
          resolve(this.releaser());
        },
        cancel: () => {
          const index = this.waiting.indexOf(entry);
          if (index !== -1) this.waiting.splice(index, 1);
          reject(new Error("aborted"));
        },
      };
      signal.addEventListener("abort", entry.cancel, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Rejects everyone waiting (their signals say why). */
  cancelWaiting(): void {
    for (const entry of [...this.waiting]) entry.cancel();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next !== undefined) next.grant();
      else this.busy = false;
    };
  }
}

/** A library error as an OpenAI error: caller input is 400 naming the request field, anything else is 500. */
function apiErrorOf(error: unknown, promptParam: string | null): ApiError {
  if (error instanceof ApiError) return error;
  // A schema the constrained decoder cannot enforce (or does not parse) is the request's fault, not the model's.
  if ((error instanceof InputError || error instanceof UnsupportedError) && error.file === "response_format") {
    return new ApiError(400, error.message, "response_format", error instanceof UnsupportedError ? "unsupported_schema" : "invalid_value");
  }
  if (error instanceof InputError || error instanceof ConfigError) {
    const field = error.field ?? "";
    if (error instanceof InputError && field === "prompt") return new ApiError(400, error.message, promptParam, "context_length_exceeded");
    if (field === "skip") return new ApiError(400, error.message, "ffnskip.skip", "invalid_value");
    const param = field.startsWith("messages") ? field : (OPTION_PARAMS[field] ?? null);
    return new ApiError(400, error.message, param, "invalid_value");
  }
  if (error instanceof FfnskipError) return new ApiError(500, `${error.name}: ${error.message}`, null, "model_error");
  return new ApiError(500, `Internal error: ${error instanceof Error ? error.message : String(error)}`, null, "internal_error");
}

/** Library option names -> the request fields they come from. */
const OPTION_PARAMS: Readonly<Record<string, string>> = {
  maxTokens: "max_tokens", temperature: "temperature", topP: "top_p", topK: "top_k", minP: "min_p", seed: "seed", stop: "stop", responseFormat: "response_format",
};

/** The body as text, refused with 413 as soon as it passes `limit` bytes (declared or streamed, chunked too). */
async function readBody(request: Request, limit: number): Promise<string> {
  const tooLarge = () => new ApiError(413, `The request body exceeds ${limit} bytes`, null, "request_too_large");
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, "The request body is not valid UTF-8", null, "invalid_encoding");
  }
}

function digest(text: string): Promise<Uint8Array> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then((d) => new Uint8Array(d));
}

/** Compares two equal-length digests in time independent of where they differ (no early exit). */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function now(): number {
  return performance.now();
}
