// The public model handle: text in, streamed text out. It ties the parts together (tokenizer -> transformer ->
// skip controller -> sampler -> stream decoder), serializes calls (one KV cache per model) and reuses the KV
// cache rows of a prompt prefix that an earlier call already prefilled.

import { ConfigError, FormatError, InputError, ResourceError, show } from "./errors.js";
import { GENERATE_OPTION_KEYS, type GenerateOptions, type GeneratedPiece, type GenerationResult, Session, validateGenerateOptions } from "./generate.js";
import type { Config } from "./model/config.js";
import { type LayerSurrogates, placeSurrogates, readSurrogates, SURROGATE_FORMAT, type SurrogateFile } from "./model/surrogates.js";
import type { Transformer } from "./model/transformer.js";
import { SkipController } from "./skip/controller.js";
import { defaultProfileFor } from "./skip/default-profiles.js";
import { type SkipPolicy, SKIP_OFF, validatePolicy } from "./skip/policies.js";
import { isSkipProfile, paperPolicy, type SkipProfile } from "./skip/profile.js";
import { isSkipSpec, resolveSkipSpec, type SkipSpec } from "./skip/spec.js";
import type { ChatMessage, ChatTemplate } from "./text/chat-template.js";
import type { Tokenizer } from "./text/tokenizer.js";

/**
 * FFN skipping: "off" (the full model), "on" (the shipped calibrated profile for this model), a baseline at a
 * ratio derived from that profile ("fixed:0.25", "random:0.25[:seed]", see skip/spec.ts), a profile from
 * `ffnskip calibrate`, or an explicit policy.
 */
export type SkipSetting = SkipSpec | SkipProfile | SkipPolicy;

/** FFN surrogates for skipped FFNs: a surrogate file's bytes (model/surrogates.ts), or one already parsed. */
export type SurrogateSource = Uint8Array | SurrogateFile;

export interface ModelGenerateOptions extends GenerateOptions {
  /** Overrides the model's skip setting for this call. */
  readonly skip?: SkipSetting;
  /** For a string prompt: wrap it as one user message with the chat template (default false). */
  readonly chat?: boolean;
  /** For a string prompt: add the BOS/EOS the tokenizer config asks for (default true). */
  readonly addSpecialTokens?: boolean;
}

/**
 * An async iterable of text pieces whose `result` resolves when generation ends. Several readers may iterate it,
 * each seeing every piece; when every reader has left early (break, return, a throw in the loop body) before the
 * end, generation stops at the next token and `result` ends with finishReason "abort".
 */
export interface GenerationStream extends AsyncIterable<GeneratedPiece> {
  readonly result: Promise<GenerationResult>;
}

const MODEL_OPTION_KEYS: ReadonlySet<string> = new Set<string>([...GENERATE_OPTION_KEYS, "skip", "chat", "addSpecialTokens"]);

/** Options must be an object of known keys (a misspelt key would otherwise be ignored silently); flags are booleans. */
function validateModelOptions(options: ModelGenerateOptions): void {
  const file = "generate options";
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InputError({ file, field: "options", expected: "an options object (or nothing)", actual: show(options) });
  }
  for (const key of Object.keys(options)) {
    if (!MODEL_OPTION_KEYS.has(key)) throw new InputError({ file, field: key, expected: `one of ${[...MODEL_OPTION_KEYS].join(", ")}`, actual: "an unknown option" });
  }
  for (const key of ["chat", "addSpecialTokens"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "boolean") throw new InputError({ file, field: key, expected: "true or false", actual: show(options[key]) });
  }
}

export class LanguageModel {
  private skipPolicy: SkipPolicy;
  /** The model's one token sequence: its KV cache and which prompt prefix the cache holds. */
  readonly session: Session;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly name: string,
    readonly config: Config,
    readonly transformer: Transformer,
    readonly tokenizer: Tokenizer,
    readonly chatTemplate: ChatTemplate,
    readonly fingerprint: string,
    skip: SkipSetting = "off",
    surrogates?: SurrogateSource,
  ) {
    this.skipPolicy = this.resolveSkip(skip);
    this.session = new Session(transformer, name);
    if (surrogates !== undefined) this.useSurrogates(surrogates);
  }

  /**
   * From now on a skipped FFN whose layer has a surrogate in `source` runs that surrogate instead of nothing (see
   * model/surrogates.ts); null goes back to plain skipping. The file must have been fitted on this model (its
   * fingerprint). Returns what the transformer now holds, which may be set back later (transformer.surrogates).
   * Each call with a source takes new WASM memory for the maps: load a file once.
   */
  useSurrogates(source: SurrogateSource | null, file = "surrogates"): LayerSurrogates | null {
    if (source === null) {
      this.transformer.surrogates = null;
      return null;
    }
    const target = { fingerprint: this.fingerprint, config: this.config };
    if (!(source instanceof Uint8Array) && (source as { format?: unknown } | undefined)?.format !== SURROGATE_FORMAT) {
      throw new InputError({ file, field: "surrogates", expected: "a surrogate file's bytes (a Uint8Array) or a parsed surrogate file", actual: show(source) });
    }
    const parsed = source instanceof Uint8Array ? readSurrogates(source, file, target) : source;
    if (parsed.model.fingerprint !== this.fingerprint) {
      throw new ConfigError({ file, field: "model.fingerprint", expected: `${this.fingerprint} (this model)`, actual: `${parsed.model.fingerprint} (${parsed.model.name})` });
    }
    const placed = placeSurrogates(parsed, this.config, this.transformer.arena);
    this.transformer.surrogates = placed;
    return placed;
  }

  /** The policy generation uses when a call does not override it. */
  get skip(): SkipPolicy {
    return this.skipPolicy;
  }

  set skip(setting: SkipSetting) {
    this.skipPolicy = this.resolveSkip(setting);
  }

  /** Largest prompt + generation length this model was loaded for. */
  get maxContext(): number {
    return this.transformer.state.maxContext;
  }

  /** Threads computing each token. */
  get threads(): number {
    return this.transformer.threads;
  }

  /** Stops the model's helper threads (if any) once pending calls finish; the model is unusable afterwards. */
  close(): Promise<void> {
    this.closed = true;
    return this.exclusive(async () => this.transformer.close());
  }

  encode(text: string, options?: { addSpecialTokens?: boolean }): number[] {
    return this.tokenizer.encode(text, options);
  }

  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string {
    return this.tokenizer.decode(ids, options);
  }

  /** The prompt text the chat template makes of `messages`, ending with the assistant's turn header. */
  applyChatTemplate(messages: readonly ChatMessage[]): string {
    return this.chatTemplate.render(messages, { addGenerationPrompt: true });
  }

  /** Token ids of a prompt: a string (raw, or as one user turn with `chat`), or chat messages. */
  promptIds(prompt: string | readonly ChatMessage[], options: ModelGenerateOptions = {}): number[] {
    this.checkPromptSize(prompt);
    let ids: number[];
    if (typeof prompt === "string") {
      ids = options.chat ? this.encode(this.applyChatTemplate([{ role: "user", content: prompt }]), { addSpecialTokens: false }) : this.encode(prompt, { addSpecialTokens: options.addSpecialTokens ?? true });
    } else if (Array.isArray(prompt)) {
      ids = this.encode(this.applyChatTemplate(prompt), { addSpecialTokens: false });
    } else {
      throw new InputError({ file: "generate", field: "prompt", expected: "a string or an array of chat messages", actual: show(prompt) });
    }
    if (ids.length === 0) {
      // An empty prompt starts from BOS when the model has one: unconditional generation.
      if (this.tokenizer.bosTokenId === undefined) throw new InputError({ file: "generate", field: "prompt", expected: "text that encodes to at least one token", actual: '""' });
      ids = [this.tokenizer.bosTokenId];
    }
    // A tokenizer that yields ids the model has no embedding for does not belong to this model.
    const outside = ids.find((id) => !(id >= 0 && id < this.config.vocabSize));
    if (outside !== undefined) {
      throw new FormatError({
        file: this.name, field: "tokenizer", expected: `token ids below the model's vocab_size ${this.config.vocabSize}`,
        actual: `id ${outside} in the prompt's tokens`,
      });
    }
    return ids;
  }

  /**
   * Refuses a prompt whose text alone cannot fit the context, before templating or tokenizing it: no token spells
   * more characters than the longest one in the vocabulary, so text longer than maxContext such tokens (twice
   * that, for a normalizer that merges character pairs) encodes to at least maxContext tokens. This keeps a
   * megabyte-sized message from costing a full tokenization, or hitting the template's size bounds, to be refused.
   */
  private checkPromptSize(prompt: string | readonly ChatMessage[]): void {
    let characters = 0;
    if (typeof prompt === "string") characters = prompt.length;
    else if (Array.isArray(prompt)) for (const message of prompt) characters += typeof message?.content === "string" ? message.content.length : 0;
    const longest = this.tokenizer.longestTokenLength;
    const bound = 2 * longest * this.maxContext;
    if (characters > bound) {
      throw new InputError({
        file: "generate", field: "prompt", expected: `fewer than ${this.maxContext} tokens (the context this model was loaded with)`,
        actual: `${characters} characters, more than ${this.maxContext} tokens of at most ${longest} characters each can hold`,
      });
    }
  }

  /**
   * Streams the reply to a prompt; `await stream.result` gives the full text, tokens and stats. An empty prompt
   * starts from the BOS token (unconditional generation); a model without one rejects it with InputError. A prompt
   * of maxContext tokens or more is an InputError naming both; generation ends with finishReason "context" when the
   * KV cache is full. Calls on one model run one at a time, in call order; an aborted call leaves the model usable.
   */
  generate(prompt: string | readonly ChatMessage[], options: ModelGenerateOptions = {}): GenerationStream {
    const pieces: GeneratedPiece[] = [];
    const waiting: (() => void)[] = [];
    let finished = false;
    let failure: unknown = null;
    let readers = 0;
    // Stops the run when the caller's signal fires or every reader has left; the session sees only this signal.
    const cancel = new AbortController();
    const notify = () => {
      for (const wake of waiting.splice(0)) wake();
    };
    const closedAtCall = this.closed;
    const result = this.exclusive(async () => {
      const callerSignal = options?.signal;
      const forward = () => cancel.abort();
      try {
        if (closedAtCall) throw new ResourceError({ file: this.name, field: "model", expected: "an open model", actual: "a call after close()", detail: "the model is closed; load it again" });
        validateModelOptions(options);
        validateGenerateOptions(options);
        if (callerSignal?.aborted) cancel.abort();
        else callerSignal?.addEventListener("abort", forward, { once: true });
        const policy = options.skip === undefined ? this.skipPolicy : this.resolveSkip(options.skip);
        const ids = this.promptIds(prompt, options);
        const run = this.session.generate(this.tokenizer, new SkipController(policy, this.config.numLayers), ids, { ...options, signal: cancel.signal });
        while (true) {
          const step = await run.next();
          if (step.done) return step.value;
          pieces.push(step.value);
          notify();
        }
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        callerSignal?.removeEventListener?.("abort", forward);
        finished = true;
        notify();
      }
    });
    result.catch(() => {}); // a failure is reported to whoever iterates or awaits `result`
    return {
      result,
      async *[Symbol.asyncIterator]() {
        let index = 0;
        let readToEnd = false;
        readers++;
        try {
          while (true) {
            if (index < pieces.length) {
              yield pieces[index++]!;
              continue;
            }
            if (finished) {
              readToEnd = true;
              if (failure !== null) throw failure;
              return;
            }
            await new Promise<void>((resolve) => waiting.push(resolve));
          }
        } finally {
          readers--;
          if (!readToEnd && readers === 0 && !finished) cancel.abort();
        }
      },
    };
  }

  /** The assistant's reply to a conversation, without streaming. */
  async chat(messages: readonly ChatMessage[], options: ModelGenerateOptions = {}): Promise<GenerationResult> {
    return this.generate(messages, options).result;
  }

  /** Runs `task` after every earlier call on this model has finished (the KV cache is shared state). */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  private resolveSkip(setting: SkipSetting): SkipPolicy {
    if (setting === "off") return SKIP_OFF;
    if (typeof setting === "string") {
      if (!isSkipSpec(setting)) throw new ConfigError({ file: this.name, field: "skip", expected: "off, on, fixed:R, random:R[:SEED], a profile or a policy", actual: show(setting) });
      const profile = defaultProfileFor(this.fingerprint);
      if (profile === undefined) {
        throw new ConfigError({
          file: this.name, field: "skip", expected: `a model with a shipped skip profile for skip: ${JSON.stringify(setting)}`,
          actual: `no profile for fingerprint ${this.fingerprint.slice(0, 16)}...`, detail: "run `ffnskip calibrate` and pass the profile",
        });
      }
      return resolveSkipSpec(setting, profile);
    }
    if (isSkipProfile(setting)) {
      if (setting.model.fingerprint !== this.fingerprint) {
        throw new ConfigError({ file: "skip profile", field: "model.fingerprint", expected: `${this.fingerprint} (this model)`, actual: `${setting.model.fingerprint} (${setting.model.name})` });
      }
      return paperPolicy(setting);
    }
    return validatePolicy(setting, this.config.numLayers);
  }
}
