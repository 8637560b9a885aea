// The OpenAI wire format as `ffnskip serve` (and the edge worker) speak it: request validation, where every
// rejection is an OpenAI-style error body naming the field, and the response / stream-chunk shapes. No model code.

import type { ResponseFormat } from "../sample/json-schema.js";
import type { FinishReason, GenerationResult } from "../generate.js";
import type { ModelGenerateOptions } from "../language-model.js";
import type { ChatMessage } from "../text/chat-template.js";

/** `{ error: { message, type, param, code } }` with its HTTP status (and headers such as Retry-After). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  get type(): string {
    if (this.status === 401) return "authentication_error";
    if (this.status === 404) return "not_found_error";
    if (this.status === 429) return "rate_limit_error";
    return this.status >= 500 ? "server_error" : "invalid_request_error";
  }

  get body(): { message: string; type: string; param: string | null; code: string | null } {
    return { message: this.message, type: this.type, param: this.param, code: this.code };
  }

  response(headers: Readonly<Record<string, string>> = {}): Response {
    return Response.json({ error: this.body }, { status: this.status, headers: { ...headers, ...this.headers } });
  }
}

/** A validated request: the prompt (messages, or raw text for /v1/completions) and the library's options. */
export interface CompletionRequest {
  readonly prompt: string | ChatMessage[];
  readonly stream: boolean;
  /** Undefined: as many as the context leaves (capped by the server's limit). */
  readonly maxTokens: number | undefined;
  /** Whichever of max_tokens / max_completion_tokens the request used (named in errors). */
  readonly maxTokensParam: string;
  /** `ffnskip.skip`: a skip spec ("off", "on", "fixed:0.25", ...) or a policy object, validated by the model. */
  readonly skip: unknown;
  readonly options: ModelGenerateOptions;
}

export interface Limits {
  /** Largest max_tokens a request may ask for. */
  readonly maxTokens: number;
}

const ROLES = new Set(["system", "user", "assistant", "developer"]);

function invalid(param: string, message: string, code = "invalid_value"): ApiError {
  return new ApiError(400, message, param, code);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Text of a message's content: a string or an array of `{ type: "text", text }` parts. */
function contentText(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part, i) => {
      if (!isRecord(part) || part.type !== "text" || typeof part.text !== "string") {
        throw invalid(`${param}[${i}]`, `${param}[${i}] must be a text part { "type": "text", "text": "..." } (this model reads text only)`);
      }
      return part.text;
    }).join("");
  }
  throw invalid(param, `${param} must be a string or an array of text parts`, "invalid_type");
}

function number(body: Record<string, unknown>, key: string, min: number, max: number, minInclusive = true): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(key, `${key} must be a number`, "invalid_type");
  if (value > max || value < min || (!minInclusive && value === min)) {
    throw invalid(key, `${key} must be ${minInclusive ? ">=" : ">"} ${min} and <= ${max}, got ${value}`);
  }
  return value;
}

function integer(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw invalid(key, `${key} must be an integer, got ${JSON.stringify(value)}`, "invalid_type");
  if (value < min || value > max) throw invalid(key, `${key} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

function parseJsonObject(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, null, "invalid_json");
  }
  if (!isRecord(body)) throw new ApiError(400, "The request body must be a JSON object", null, "invalid_type");
  return body;
}

/** The request's `response_format` for the library's `responseFormat` option: only its outer shape is checked here. */
function responseFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  const param = "response_format";
  if (!isRecord(value)) throw invalid(param, `${param} must be an object { "type": "text" | "json_object" | "json_schema" }`, "invalid_type");
  if (value.type === "text" || value.type === "json_object") return { type: value.type };
  if (value.type !== "json_schema") throw invalid(`${param}.type`, `${param}.type must be "text", "json_object" or "json_schema", got ${JSON.stringify(value.type)}`);
  const spec = value.json_schema;
  if (!isRecord(spec)) throw invalid(`${param}.json_schema`, `${param}.json_schema must be an object { name?, schema, strict? }`, "invalid_type");
  if (!isRecord(spec.schema)) throw invalid(`${param}.json_schema.schema`, `${param}.json_schema.schema must be a JSON Schema object`, "invalid_type");
  if (spec.name !== undefined && typeof spec.name !== "string") throw invalid(`${param}.json_schema.name`, `${param}.json_schema.name must be a string`, "invalid_type");
  if (spec.strict !== undefined && spec.strict !== null && typeof spec.strict !== "boolean") throw invalid(`${param}.json_schema.strict`, `${param}.json_schema.strict must be a boolean`, "invalid_type");
  return {
    type: "json_schema",
    json_schema: { schema: spec.schema, ...(typeof spec.name === "string" ? { name: spec.name } : {}), ...(typeof spec.strict === "boolean" ? { strict: spec.strict } : {}) },
  };
}

/** The fields /v1/chat/completions and /v1/completions share: sampling, stop, stream, limits, extensions. */
function commonFields(body: Record<string, unknown>, limits: Limits): Omit<CompletionRequest, "prompt"> {
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") throw invalid("stream", "stream must be a boolean", "invalid_type");
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalid("n", "Only n = 1 is supported");
  const maxTokensParam = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  const maxTokens = integer(body, maxTokensParam, 1, limits.maxTokens);
  const temperature = number(body, "temperature", 0, 2);
  const topP = number(body, "top_p", 0, 1, false);
  const topK = integer(body, "top_k", 0, 1 << 20);
  const minP = number(body, "min_p", 0, 1);
  if (minP === 1) throw invalid("min_p", "min_p must be < 1");
  const seed = integer(body, "seed", 0, Number.MAX_SAFE_INTEGER);
  let stop: string[] | undefined;
  if (typeof body.stop === "string") stop = [body.stop];
  else if (Array.isArray(body.stop)) {
    if (body.stop.length > 4 || !body.stop.every((s) => typeof s === "string" && s !== "")) throw invalid("stop", "stop must be a string or an array of up to 4 non-empty strings");
    stop = body.stop as string[];
  } else if (body.stop !== undefined && body.stop !== null) throw invalid("stop", "stop must be a string or an array of strings", "invalid_type");
  const format = responseFormat(body.response_format);
  let skip: unknown;
  if (body.ffnskip !== undefined && body.ffnskip !== null) {
    if (!isRecord(body.ffnskip)) throw invalid("ffnskip", 'ffnskip must be an object { "skip": "off" | "on" | "fixed:R" | "random:R[:SEED]" | a policy }', "invalid_type");
    for (const key of Object.keys(body.ffnskip)) if (key !== "skip") throw invalid(`ffnskip.${key}`, `ffnskip.${key} is not a known field (ffnskip takes "skip")`);
    skip = body.ffnskip.skip ?? undefined;
  }

  // Greedy unless asked otherwise: OpenAI's default temperature is 1, but a small model samples poorly at 1.
  const options: Record<string, unknown> = { temperature, topP, topK, minP, seed, stop, responseFormat: format?.type === "text" ? undefined : format };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return { stream: body.stream === true, maxTokens, maxTokensParam, skip, options: options as ModelGenerateOptions };
}

/** Parses and validates a POST /v1/chat/completions body. */
export function parseChatRequest(text: string, limits: Limits): CompletionRequest {
  const body = parseJsonObject(text);
  if (body.messages === undefined) throw invalid("messages", "Missing required parameter: 'messages'", "missing_required_parameter");
  if (!Array.isArray(body.messages)) throw invalid("messages", "messages must be an array of { role, content } objects", "invalid_type");
  if (body.messages.length === 0) throw invalid("messages", "messages must contain at least one message", "empty_array");
  const messages = body.messages.map((m: unknown, i: number): ChatMessage => {
    const param = `messages[${i}]`;
    if (!isRecord(m)) throw invalid(param, `${param} must be an object with role and content`, "invalid_type");
    if (typeof m.role !== "string" || !ROLES.has(m.role)) {
      throw invalid(`${param}.role`, `${param}.role must be one of ${[...ROLES].join(", ")}, got ${JSON.stringify(m.role)}`);
    }
    if (m.content === undefined || m.content === null) throw invalid(`${param}.content`, `Missing required parameter: '${param}.content'`, "missing_required_parameter");
    // "developer" is OpenAI's newer name for "system"; chat templates know "system".
    return { role: m.role === "developer" ? "system" : m.role, content: contentText(m.content, `${param}.content`) };
  });
  return { prompt: messages, ...commonFields(body, limits) };
}

/** Parses and validates a POST /v1/completions body: `prompt` is raw text (a string, or a list of one string). */
export function parseCompletionRequest(text: string, limits: Limits): CompletionRequest {
  const body = parseJsonObject(text);
  let prompt = body.prompt;
  if (prompt === undefined || prompt === null) throw invalid("prompt", "Missing required parameter: 'prompt'", "missing_required_parameter");
  if (Array.isArray(prompt)) {
    if (prompt.length !== 1) throw invalid("prompt", "prompt must be a string or a list of exactly one string (one completion per request)");
    prompt = prompt[0];
  }
  if (typeof prompt !== "string") throw invalid("prompt", "prompt must be a string", "invalid_type");
  if (body.echo === true) throw invalid("echo", "echo is not supported");
  if (body.logprobs !== undefined && body.logprobs !== null) throw invalid("logprobs", "logprobs is not supported");
  return { prompt, ...commonFields(body, limits) };
}

/** OpenAI's finish reasons: natural end or stop string -> "stop", token limit or full context -> "length". */
export function finishReason(reason: FinishReason): "stop" | "length" {
  return reason === "length" || reason === "context" ? "length" : "stop";
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  /** Share of FFN blocks skipped over the decode steps (warm-up tokens included). */
  readonly ffn_skip_ratio: number;
  /** The same, counting only decode steps after the warm-up. */
  readonly ffn_skip_ratio_after_warmup: number;
}

export function usage(result: GenerationResult): Usage {
  const { stats } = result;
  return {
    prompt_tokens: stats.promptTokens,
    completion_tokens: stats.generatedTokens,
    total_tokens: stats.promptTokens + stats.generatedTokens,
    ffn_skip_ratio: round(stats.skip.ratio),
    ffn_skip_ratio_after_warmup: round(stats.skip.ratioAfterWarmup),
  };
}

/** The `ffnskip` response field: the skip setting, the measured skip ratio, how generation ended, engine timings. */
export function ffnskipField(result: GenerationResult, skip: string): Record<string, unknown> {
  const { stats } = result;
  return {
    skip,
    skip_ratio: round(stats.skip.ratio),
    finish_reason: result.finishReason,
    prefill_ms: round(stats.prefillMs, 1e3),
    decode_ms: round(stats.decodeMs, 1e3),
    prefill_tokens_per_second: round(stats.prefillTokensPerSecond, 1e3),
    decode_tokens_per_second: round(stats.decodeTokensPerSecond, 1e3),
    cached_prompt_tokens: stats.cachedPromptTokens,
    ffn_skipped: stats.skip.skipped,
    decode_steps: stats.skip.tokens,
  };
}

function round(value: number, scale = 1e6): number {
  return Math.round(value * scale) / scale;
}

export function completionId(prefix: "chatcmpl" | "cmpl"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** One Server-Sent Event carrying a JSON object (or the literal [DONE]). */
export function sse(data: object | "[DONE]"): string {
  return `data: ${data === "[DONE]" ? data : JSON.stringify(data)}\n\n`;
}
