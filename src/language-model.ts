// The public model handle: text in, streamed text out. It ties the parts together (tokenizer -> transformer ->
// skip controller -> sampler -> stream decoder), serializes calls (one KV cache per model) and reuses the KV
// cache rows of a prompt prefix that an earlier call already prefilled.

import { ConfigError, InputError, show } from "./errors.js";
import { type GenerateOptions, type GeneratedPiece, type GenerationContext, type GenerationResult, generateTokens } from "./generate.js";
import type { Config } from "./model/config.js";
import type { Transformer } from "./model/transformer.js";
import { SkipController } from "./skip/controller.js";
import { DEFAULT_PROFILES } from "./skip/default-profiles.js";
import { type SkipPolicy, SKIP_OFF, validatePolicy } from "./skip/policies.js";
import { isSkipProfile, paperPolicy, type SkipProfile } from "./skip/profile.js";
import type { ChatMessage, ChatTemplate } from "./text/chat-template.js";
import type { Tokenizer } from "./text/tokenizer.js";

/**
 * FFN skipping: "off" (the full model), "on" (the shipped calibrated profile for this model), a profile from
 * `ffnskip calibrate`, or an explicit policy.
 */
export type SkipSetting = "off" | "on" | SkipProfile | SkipPolicy;

export interface ModelGenerateOptions extends GenerateOptions {
  /** Overrides the model's skip setting for this call. */
  readonly skip?: SkipSetting;
  /** For a string prompt: wrap it as one user message with the chat template (default false). */
  readonly chat?: boolean;
  /** For a string prompt: add the BOS/EOS the tokenizer config asks for (default true). */
  readonly addSpecialTokens?: boolean;
}

/** An async iterable of text pieces whose `result` resolves when generation ends. */
export interface GenerationStream extends AsyncIterable<GeneratedPiece> {
  readonly result: Promise<GenerationResult>;
}

export class LanguageModel {
  private skipPolicy: SkipPolicy;
  /** Token ids whose KV cache rows hold prefill results, position by position. */
  private prefilled: number[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly config: Config,
    readonly transformer: Transformer,
    readonly tokenizer: Tokenizer,
    readonly chatTemplate: ChatTemplate,
    readonly fingerprint: string,
    skip: SkipSetting = "off",
  ) {
    this.skipPolicy = this.resolveSkip(skip);
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
    return ids;
  }

  /** Streams the reply to a prompt; `await stream.result` gives the full text, tokens and stats. */
  generate(prompt: string | readonly ChatMessage[], options: ModelGenerateOptions = {}): GenerationStream {
    const pieces: GeneratedPiece[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    const notify = () => {
      wake?.();
      wake = null;
    };
    const result = this.exclusive(async () => {
      try {
        const policy = options.skip === undefined ? this.skipPolicy : this.resolveSkip(options.skip);
        const ids = this.promptIds(prompt, options);
        const run = generateTokens(this.generationContext(policy), ids, options);
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
        finished = true;
        notify();
      }
    });
    result.catch(() => {}); // a failure is reported to whoever iterates or awaits `result`
    return {
      result,
      async *[Symbol.asyncIterator]() {
        let index = 0;
        while (true) {
          if (index < pieces.length) {
            yield pieces[index++]!;
            continue;
          }
          if (finished) {
            if (failure !== null) throw failure;
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
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

  /** A generation context over this model's transformer with a fresh controller for `policy`. */
  generationContext(policy: SkipPolicy): GenerationContext {
    return {
      transformer: this.transformer,
      tokenizer: this.tokenizer,
      controller: new SkipController(policy, this.config.numLayers),
      prefill: (ids) => this.prefillReusingCache(ids),
      invalidateFrom: (position) => {
        if (this.prefilled.length > position) this.prefilled.length = position;
      },
    };
  }

  private prefillReusingCache(ids: readonly number[]): { logits: Float32Array; reused: number } {
    let reused = 0;
    const limit = Math.min(this.prefilled.length, ids.length - 1); // the last prompt token always runs, for its logits
    while (reused < limit && this.prefilled[reused] === ids[reused]) reused++;
    this.prefilled.length = reused;
    const logits = this.transformer.prefill(ids.slice(reused), reused, "last");
    this.prefilled = [...ids];
    return { logits, reused };
  }

  private resolveSkip(setting: SkipSetting): SkipPolicy {
    if (setting === "off") return SKIP_OFF;
    if (setting === "on") {
      const profile = DEFAULT_PROFILES.find((p) => p.model.fingerprint === this.fingerprint);
      if (profile === undefined) {
        throw new ConfigError({
          file: this.name, field: "skip", expected: "a model with a shipped skip profile for skip: \"on\"",
          actual: `no profile for fingerprint ${this.fingerprint.slice(0, 16)}...`, detail: "run `ffnskip calibrate` and pass the profile",
        });
      }
      return paperPolicy(profile);
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
