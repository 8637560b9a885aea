// The generation session: prompt ids -> prefill -> (skip controller -> decode -> sampler -> text) per token.
// It streams text pieces as they complete and ends on EOS, a stop string, the token limit, the end of the
// context, or an AbortSignal. The model stays usable after any of these.

import { FormatError, InputError, UnsupportedError, show } from "./errors.js";
import type { Transformer } from "./model/transformer.js";
import { compileResponseFormat, JsonConstraint, type JsonGrammar, type ResponseFormat, validateResponseFormat, VocabularyTrie } from "./sample/json-schema.js";
import { createSampler, type SamplingOptionsInput, validateSamplingOptions } from "./sample/sampler.js";
import { createStopMatcher } from "./sample/stop.js";
import type { SkipController, SkipStats, TokenTrace } from "./skip/controller.js";
import type { Tokenizer } from "./text/tokenizer.js";

export interface GenerateOptions extends SamplingOptionsInput {
  /** Most tokens to generate (default 256); generation also ends at the end of the context. */
  readonly maxTokens?: number;
  /** Strings that end generation; the text before the first one is kept. */
  readonly stop?: readonly string[];
  /** Stop on the model's end-of-sequence / end-of-turn tokens (default true). */
  readonly stopOnEos?: boolean;
  /** Stops generation; the result's finishReason is "abort". */
  readonly signal?: AbortSignal;
  /**
   * Called after each decode step with that step's trace row (which FFNs ran, their similarity), e.g. for a live
   * map; `step` is the generated token's index and `token` its id (the token that step fed through the model).
   */
  readonly onTrace?: (row: TokenTrace, step: number, token: number) => void;
  /**
   * OpenAI's response_format: { type: "json_object" } constrains the output to a JSON object, { type: "json_schema",
   * json_schema: { schema } } to a JSON document the schema validates, { type: "text" } (the default) leaves it free.
   * Generation ends right after the JSON value (finishReason "stop"; "eos" when the model ends a complete top-level
   * number). Reaching maxTokens ("length"), a stop string or the end of the context first leaves the JSON unfinished:
   * the text then does not parse, as with OpenAI. Schema features the constraint cannot enforce (pattern, format,
   * overlapping anyOf branches, ...) are an UnsupportedError naming the schema path; see sample/json-schema.ts.
   */
  readonly responseFormat?: ResponseFormat;
}

export interface GeneratedPiece {
  /** Newly completed text (may be "" when a token ends mid-character or is held back by a stop string). */
  readonly text: string;
  /** The token ids this piece came from. */
  readonly tokens: readonly number[];
}

export type { ResponseFormat };

export type FinishReason = "eos" | "stop" | "length" | "context" | "abort";

export interface GenerationStats {
  readonly promptTokens: number;
  /** Prompt tokens whose KV cache rows were reused from the previous call (not recomputed). */
  readonly cachedPromptTokens: number;
  readonly generatedTokens: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  /** Prompt tokens computed per second of prefill. */
  readonly prefillTokensPerSecond: number;
  /** Generated tokens per second of decoding. */
  readonly decodeTokensPerSecond: number;
  /** FFN skipping over the generated tokens (all zeros when skipping is off). */
  readonly skip: SkipStats;
}

export interface GenerationResult {
  readonly text: string;
  readonly tokens: readonly number[];
  readonly finishReason: FinishReason;
  readonly stats: GenerationStats;
  /** Per generated token and layer: FFN ran or skipped, and the similarity measured. */
  readonly trace: readonly TokenTrace[];
}

/**
 * NaN or infinite logits come from the weights (NaN/Inf values, or a damaged layout read as numbers), never from the
 * caller: report them as such instead of letting the sampler blame its input. One pass over the vocabulary per token.
 */
function checkModelLogits(logits: Float32Array, name: string | undefined, where: string): void {
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v - v !== 0) {
      throw new FormatError({
        file: name ?? "model", field: "weights", expected: "weights that give finite logits", actual: `${v} for token ${i} ${where}`,
        detail: "the tensor data hold NaN/Inf or are not what the header describes; the file is probably damaged",
      });
    }
  }
}

const DEFAULT_MAX_TOKENS = 256;

/** Every key of GenerateOptions (the compile-time check below fails when one is added without being listed). */
export const GENERATE_OPTION_KEYS = [
  "maxTokens", "stop", "stopOnEos", "signal", "onTrace", "temperature", "topK", "topP", "minP", "repetitionPenalty", "repetitionWindow", "seed", "responseFormat",
] as const;
const _allGenerateKeysListed: Exclude<keyof GenerateOptions, (typeof GENERATE_OPTION_KEYS)[number]> extends never ? true : never = true;
void _allGenerateKeysListed;

export function validateGenerateOptions(options: GenerateOptions): void {
  const file = "generate options";
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InputError({ file, field: "options", expected: "an options object (or nothing)", actual: show(options) });
  }
  if (options.stopOnEos !== undefined && typeof options.stopOnEos !== "boolean") {
    throw new InputError({ file, field: "stopOnEos", expected: "true or false", actual: show(options.stopOnEos) });
  }
  if (options.maxTokens !== undefined && (!Number.isSafeInteger(options.maxTokens) || options.maxTokens < 1)) {
    throw new InputError({ file, field: "maxTokens", expected: "an integer >= 1", actual: show(options.maxTokens) });
  }
  if (options.stop !== undefined && !Array.isArray(options.stop)) throw new InputError({ file, field: "stop", expected: "an array of strings", actual: show(options.stop) });
  if (options.onTrace !== undefined && typeof options.onTrace !== "function") throw new InputError({ file, field: "onTrace", expected: "a function", actual: show(options.onTrace) });
  if (options.signal !== undefined && !(typeof options.signal === "object" && options.signal !== null && "aborted" in options.signal)) {
    throw new InputError({ file, field: "signal", expected: "an AbortSignal", actual: show(options.signal) });
  }
  if (options.responseFormat !== undefined) validateResponseFormat(options.responseFormat);
  validateSamplingOptions(pickSampling(options));
}

/** Compiled response formats kept per Session (a server sees the same few schemas again and again). */
const MAX_CACHED_GRAMMARS = 16;
/** The vocabulary trie of each tokenizer, built on its first constrained generation. */
const VOCABULARY_TRIES = new WeakMap<Tokenizer, VocabularyTrie>();

function vocabularyTrie(tokenizer: Tokenizer): VocabularyTrie {
  let trie = VOCABULARY_TRIES.get(tokenizer);
  if (trie === undefined) {
    trie = new VocabularyTrie(tokenizer.vocabularyBytes());
    VOCABULARY_TRIES.set(tokenizer, trie);
  }
  return trie;
}

function pickSampling(options: GenerateOptions): SamplingOptionsInput {
  const { temperature, topK, topP, minP, repetitionPenalty, repetitionWindow, seed } = options;
  const picked: Record<string, unknown> = { temperature, topK, topP, minP, repetitionPenalty, repetitionWindow, seed };
  for (const key of Object.keys(picked)) if (picked[key] === undefined) delete picked[key];
  return picked as SamplingOptionsInput;
}

/**
 * One token sequence on one transformer: the token loop (prefill, then one decode step per token under a skip
 * controller) and the KV cache bookkeeping, i.e. which token each cache row holds, so that a prompt sharing a prefix
 * with the previous one reuses those rows. Generation and teacher-forced scoring (score.ts) both run through it;
 * whoever else writes the transformer's cache calls forget().
 */
export class Session {
  /** Token ids whose KV cache rows hold prefill results, position by position. */
  private prefilled: number[] = [];
  private readonly grammars = new Map<string, JsonGrammar | undefined>();

  constructor(
    readonly transformer: Transformer,
    /** Names the model in errors. */
    readonly name = "model",
  ) {}

  /** Prefills `ids` from position 0, reusing the cached rows of a shared prefix; the last position's logits. */
  prefill(ids: readonly number[]): { logits: Float32Array; reused: number } {
    let reused = 0;
    const limit = Math.min(this.prefilled.length, ids.length - 1); // the last token always runs, for its logits
    while (reused < limit && this.prefilled[reused] === ids[reused]) reused++;
    this.prefilled.length = reused;
    const logits = this.transformer.prefill(ids.slice(reused), reused, "last");
    this.prefilled = [...ids];
    checkModelLogits(logits, this.name, "after the prompt");
    return { logits, reused };
  }

  /** One decode step: `token` at `position`, its FFNs gated by `controller`; the logits for the next position. */
  step(token: number, position: number, controller: SkipController): Float32Array {
    if (this.prefilled.length > position) this.prefilled.length = position; // the row no longer holds a prefill
    controller.beginToken();
    const logits = this.transformer.decode(token, position, controller);
    controller.endToken();
    checkModelLogits(logits, this.name, `at position ${position}`);
    return logits;
  }

  /** The JSON constraint for a response format (undefined for free text), its grammar compiled once per format. */
  private jsonConstraint(tokenizer: Tokenizer, format: ResponseFormat | undefined, eosTokenIds: readonly number[]): JsonConstraint | undefined {
    if (format === undefined) return undefined;
    const key = JSON.stringify(format);
    let grammar = this.grammars.get(key);
    if (!this.grammars.has(key)) {
      grammar = compileResponseFormat(format);
      if (this.grammars.size >= MAX_CACHED_GRAMMARS) this.grammars.clear();
      this.grammars.set(key, grammar);
    }
    return grammar === undefined ? undefined : new JsonConstraint(grammar, vocabularyTrie(tokenizer), eosTokenIds);
  }

  /** The cache rows no longer hold any known prefix (something else wrote them). */
  forget(): void {
    this.prefilled.length = 0;
  }

  /**
   * Generates from prompt ids, yielding text pieces as they complete; returns the full result. Runs synchronously
   * between yields, giving the event loop a turn every few milliseconds so that aborts and I/O get through.
   */
  async *generate(tokenizer: Tokenizer, controller: SkipController, promptIds: readonly number[], options: GenerateOptions = {}): AsyncGenerator<GeneratedPiece, GenerationResult> {
    validateGenerateOptions(options);
    const maxContext = this.transformer.state.maxContext;
    if (promptIds.length >= maxContext) {
      throw new InputError({ file: "generate", field: "prompt", expected: `fewer than ${maxContext} tokens (the context this model was loaded with)`, actual: `${promptIds.length} tokens` });
    }
    const sampler = createSampler(pickSampling(options));
    const stopMatcher = createStopMatcher(options.stop ?? []);
    const decoder = tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    const eosTokenIds = options.stopOnEos === false ? [] : tokenizer.eosTokenIds;
    const eos = new Set(eosTokenIds);
    const constraint = this.jsonConstraint(tokenizer, options.responseFormat, eosTokenIds);
    const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;

    const context = [...promptIds];
    const generated: number[] = [];
    let text = "";
    let finishReason: FinishReason = "length";
    controller.reset();
    // A call aborted before its turn (e.g. its client left while it waited in a queue) costs no prefill.
    if (options.signal?.aborted) return abortedBeforePrefill(promptIds.length, controller);

    const prefillStart = now();
    const { logits: promptLogits, reused } = this.prefill(promptIds);
    const prefillMs = now() - prefillStart;
    let logits = promptLogits;
    let decodeMs = 0;
    let lastYield = now();
    let masked = new Float32Array(0);
    let stoppedByString = false;

    while (true) {
      if (options.signal?.aborted) {
        finishReason = "abort";
        break;
      }
      let scores = logits;
      if (constraint !== undefined) {
        if (masked.length !== logits.length) masked = new Float32Array(logits.length);
        if (constraint.maskLogits(logits, masked) === 0) {
          // A complete document that no EOS may end (stopOnEos false) and nothing may extend (a number at its digit limit).
          if (constraint.complete) {
            finishReason = "stop";
            break;
          }
          throw new UnsupportedError({ file: "response_format", field: "vocabulary", expected: "tokens that spell every JSON byte", actual: `no token continues ${show(text)}` });
        }
        scores = masked;
      }
      const next = sampler.sample(scores, context);
      if (eos.has(next)) {
        finishReason = "eos";
        break;
      }
      constraint?.accept(next);
      generated.push(next);
      context.push(next);
      // A model may have more embedding rows than its tokenizer has tokens (a vocabulary padded to a round size): an
      // id the tokenizer does not know decodes to no text, as in transformers, instead of failing the generation.
      const { emit, stopped } = stopMatcher.push(next < tokenizer.vocabSize ? decoder.push(next) : "");
      text += emit;
      if (emit !== "" || stopped) yield { text: emit, tokens: [next] };
      if (stopped || constraint?.finished === true) {
        finishReason = "stop";
        stoppedByString = stopped;
        break;
      }
      if (generated.length >= maxTokens) break;
      if (context.length >= maxContext) {
        finishReason = "context";
        break;
      }
      const stepStart = now();
      logits = this.step(next, context.length - 1, controller);
      decodeMs += now() - stepStart;
      const row = controller.trace[controller.trace.length - 1];
      if (options.onTrace !== undefined && row !== undefined) options.onTrace(row, controller.trace.length - 1, next);
      if (now() - lastYield > 8) {
        await macrotask();
        lastYield = now();
      }
    }
    // Text held back as a possible stop-string prefix is output unless a stop string ended generation.
    if (!stoppedByString) {
      const rest = stopMatcher.push(decoder.flush());
      const tail = rest.emit + (rest.stopped ? "" : stopMatcher.flush());
      if (rest.stopped) finishReason = "stop";
      if (tail !== "") {
        text += tail;
        yield { text: tail, tokens: [] };
      }
    }
    // Decode steps = generated tokens that were fed back (the last sampled token is never run through the model).
    const decodeSteps = controller.stats().tokens;
    return {
      text,
      tokens: generated,
      finishReason,
      trace: controller.trace,
      stats: {
        promptTokens: promptIds.length,
        cachedPromptTokens: reused,
        generatedTokens: generated.length,
        prefillMs,
        decodeMs,
        prefillTokensPerSecond: prefillMs > 0 ? ((promptIds.length - reused) * 1000) / prefillMs : 0,
        decodeTokensPerSecond: decodeMs > 0 ? (decodeSteps * 1000) / decodeMs : 0,
        skip: controller.stats(),
      },
    };
  }
}

function abortedBeforePrefill(promptTokens: number, controller: SkipController): GenerationResult {
  return {
    text: "", tokens: [], finishReason: "abort", trace: controller.trace,
    stats: {
      promptTokens, cachedPromptTokens: 0, generatedTokens: 0, prefillMs: 0, decodeMs: 0, prefillTokensPerSecond: 0,
      decodeTokensPerSecond: 0, skip: controller.stats(),
    },
  };
}

function now(): number {
  return performance.now();
}

/**
 * Cloudflare Workers (workerd) deliver MessageChannel messages without going back to the I/O loop, so a streamed
 * response would not flush (nor a client disconnect be seen) until generation ends: there, setTimeout yields.
 */
const IN_WORKERS = typeof navigator === "object" && navigator !== null && navigator.userAgent === "Cloudflare-Workers";

/** Yields to the event loop (a macrotask, so timers, I/O and abort events run), on every JS runtime. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof MessageChannel === "function" && !IN_WORKERS) {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    } else {
      setTimeout(resolve, 0);
    }
  });
}
