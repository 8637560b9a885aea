// The OpenAI chat-completions wire format, as far as this worker speaks it: request validation (every rejection is
// an OpenAI-style error body) and the response / stream-chunk shapes. No model code here, so it is easy to read.

import type { ChatMessage, FinishReason, GenerationResult, ModelGenerateOptions } from "ffnskip";

/** `{ error: { message, type, param, code } }` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? "server_error" : status === 404 ? "not_found_error" : "invalid_request_error",
  ) {
    super(message);
  }

  response(headers: Record<string, string> = {}): Response {
    return Response.json({ error: { message: this.message, type: this.type, param: this.param, code: this.code } }, { status: this.status, headers });
  }
}

/** A validated request: the messages and the library's generate options. */
export interface ChatRequest {
  readonly messages: ChatMessage[];
  readonly stream: boolean;
  /** Undefined: as many as the context leaves (capped by the server's limit). */
  readonly maxTokens: number | undefined;
  readonly options: ModelGenerateOptions;
}

export interface Limits {
  /** Largest max_tokens a request may ask for. */
  readonly maxTokens: number;
  /** Largest request body in bytes. */
  readonly maxBodyBytes: number;
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

/** Parses and validates a POST /v1/chat/completions body. */
export function parseChatRequest(text: string, limits: Limits): ChatRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, null, "invalid_json");
  }
  if (!isRecord(body)) throw new ApiError(400, "The request body must be a JSON object", null, "invalid_type");

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

  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") throw invalid("stream", "stream must be a boolean", "invalid_type");
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalid("n", "Only n = 1 is supported");
  const maxTokensKey = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  const maxTokens = integer(body, maxTokensKey, 1, limits.maxTokens);
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

  const options: Record<string, unknown> = { temperature, topP, topK, minP, seed, stop };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return { messages, stream: body.stream === true, maxTokens, options: options as ModelGenerateOptions };
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

/** Engine timings, outside the OpenAI fields (clients ignore unknown keys). */
export function timings(result: GenerationResult): Record<string, number> {
  const { stats } = result;
  return {
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

export function completionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `chatcmpl-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** One Server-Sent Event carrying a JSON object (or the literal [DONE]). */
export function sse(data: object | "[DONE]"): string {
  return `data: ${data === "[DONE]" ? data : JSON.stringify(data)}\n\n`;
}
