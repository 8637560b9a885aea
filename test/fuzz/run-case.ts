// The property every fuzz case checks: the input either loads (through loadModel, the public entry point) and runs a
// forward step (prefill + one decode step via generate) with sane results, or it throws one of our typed errors
// naming where and what. Anything else is a failure: another exception type, a WASM trap, an allocation above the
// case's limit (see guard.ts), non-finite logits or out-of-range tokens from an input whose tensor data was not
// touched, a model left unusable by an earlier call. Hangs are caught by the runner's watchdog (runner.ts).

import { FfnskipError, type LanguageModel, loadModel } from "../../src/index.js";
import { tokenizerFromHf } from "../../src/text/tokenizer-hf.js";
import { chatTemplateFromHf } from "../../src/text/chat-template.js";
import type { ModelSource } from "../../src/load.js";
import { type FileSpec, type FuzzCase, decode } from "./cases.js";
import { applyText, InPlaceBytes, applyBytes } from "./edits.js";
import { guard } from "./guard.js";
import { BINARY_SEEDS, type Seeds } from "./seeds.js";

export interface Outcome {
  /** ok: loaded and ran; typed: one of our errors; fail: the property is violated. */
  readonly status: "ok" | "typed" | "fail";
  /** The typed error's class, or the failure category. */
  readonly kind: string;
  readonly message?: string;
  readonly ms: number;
}

const FINISH_REASONS = new Set(["eos", "stop", "length", "context", "abort"]);
const LONE_SURROGATE = /\p{Cs}/u;
const MiB = 1 << 20;

export class CaseRunner {
  private readonly inPlace = new Map<string, InPlaceBytes>();
  private session: LanguageModel | undefined;
  private sessionBaseline: string | undefined;
  private sessionCases = 0;

  constructor(
    readonly seeds: Seeds,
    readonly wasmModule: WebAssembly.Module | undefined,
  ) {}

  private bytes(spec: FileSpec): Uint8Array {
    const seed = this.seeds.bytes(spec.seed);
    if (spec.edits.length === 0) return seed;
    if (seed.length > 8 * MiB) {
      // Large seeds are edited in place on a private copy and restored by the next call.
      let buffer = this.inPlace.get(spec.seed);
      if (buffer === undefined) this.inPlace.set(spec.seed, (buffer = new InPlaceBytes(seed)));
      return buffer.apply(spec.edits);
    }
    return applyBytes(seed, spec.edits);
  }

  private text(spec: FileSpec): string {
    return applyText(this.seeds.string(spec.seed), spec.edits);
  }

  /** Builds what loadModel() takes for a GGUF or HF case. */
  source(c: FuzzCase): ModelSource {
    if (c.gguf !== undefined) return { gguf: this.bytes(c.gguf), name: c.gguf.seed };
    const hf = c.hf!;
    return {
      name: "fuzz-folder",
      config: this.text(hf.config),
      safetensors: this.bytes(hf.safetensors),
      tokenizer: this.text(hf.tokenizer),
      tokenizerConfig: hf.tokenizerConfig === null ? undefined : this.text(hf.tokenizerConfig),
    };
  }

  /** The allocation limit for a case: generous for what the input could legitimately need, absurd beyond. */
  limitFor(c: FuzzCase): number {
    if (c.gguf?.seed === "gguf-smol") return 600 * MiB;
    if (c.tokenizerOnly !== undefined) return 256 * MiB;
    return 64 * MiB;
  }

  async run(c: FuzzCase): Promise<Outcome> {
    const start = performance.now();
    guard.violations = [];
    guard.limit = this.limitFor(c);
    let outcome: Omit<Outcome, "ms">;
    try {
      outcome = await this.execute(c);
    } catch (error) {
      outcome = classify(error);
    } finally {
      guard.limit = Infinity;
      for (const buffer of this.inPlace.values()) buffer.restore();
    }
    if (guard.violations.length > 0) outcome = { status: "fail", kind: "absurd-allocation", message: guard.violations.join("; ") };
    return { ...outcome, ms: performance.now() - start };
  }

  private async execute(c: FuzzCase): Promise<Omit<Outcome, "ms">> {
    const prompt = decode(c.prompt) as string;
    const options = decode(c.options) as Record<string, unknown>;
    if (c.tokenizerOnly !== undefined) return this.tokenizerOnly(c, prompt);
    if (c.session === true) return this.sessionCase(prompt, options);

    const model = await loadModel(this.source(c), {
      maxContext: c.load?.maxContext, wasmModule: c.load?.precompiled === false ? undefined : this.wasmModule,
    });
    checkConfig(model);
    try {
      const result = await model.generate(prompt, options as never).result;
      checkResult(model, result, options);
    } catch (error) {
      // Non-finite logits are reported as damaged weights (src/generate.ts) or, before that check existed, by the
      // sampler. Either way they must not come from an input whose tensor data are intact.
      const nonFinite = error instanceof FfnskipError && ((error.file === "sampler" && /^logits/.test(error.field ?? "")) || error.field === "weights");
      if (nonFinite && !c.touchesData) {
        return { status: "fail", kind: "non-finite-logits", message: `${(error as Error).message} (the input's tensor data were not modified)` };
      }
      throw error;
    }
    return { status: "ok", kind: "loaded" };
  }

  private tokenizerOnly(c: FuzzCase, prompt: string): Omit<Outcome, "ms"> {
    const only = c.tokenizerOnly!;
    const tokenizerConfig = this.text(only.tokenizerConfig);
    const tokenizer = tokenizerFromHf(this.text(only.tokenizer), tokenizerConfig);
    const template = chatTemplateFromHf(tokenizerConfig);
    const ids = tokenizer.encode(template.render([{ role: "user", content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false });
    ids.push(...tokenizer.encode(prompt));
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) return { status: "fail", kind: "bad-token-id", message: `encode gave ${id}` };
    }
    const text = tokenizer.decode(ids);
    if (LONE_SURROGATE.test(text)) return { status: "fail", kind: "bad-text", message: "decode produced a lone surrogate" };
    return { status: "ok", kind: "tokenizer" };
  }

  private async sessionCase(prompt: unknown, options: Record<string, unknown>): Promise<Omit<Outcome, "ms">> {
    const model = await this.sessionModel();
    let outcome: Omit<Outcome, "ms">;
    try {
      const result = await model.generate(prompt as string, options as never).result;
      checkResult(model, result, options);
      outcome = { status: "ok", kind: "generated" };
    } catch (error) {
      outcome = classify(error);
    }
    // Every 50 session cases: the shared model must still give what it gave when fresh, whatever the calls before did.
    if (++this.sessionCases % 50 === 0) {
      const again = await this.baselineText(model);
      if (again !== this.sessionBaseline) {
        return { status: "fail", kind: "model-state", message: `baseline changed: ${this.sessionBaseline} -> ${again}` };
      }
    }
    return outcome;
  }

  private async sessionModel(): Promise<LanguageModel> {
    if (this.session === undefined) {
      const limit = guard.limit;
      guard.limit = Infinity;
      try {
        this.session = await loadModel({ gguf: this.seeds.bytes("gguf-tiny-Q4_1"), name: "session" }, { maxContext: 128, wasmModule: this.wasmModule });
        this.sessionBaseline = await this.baselineText(this.session);
      } finally {
        guard.limit = limit;
      }
    }
    return this.session;
  }

  private async baselineText(model: LanguageModel): Promise<string> {
    const result = await model.generate("hello there", { maxTokens: 6, temperature: 0.8, seed: 7, stopOnEos: false }).result;
    return JSON.stringify(result.tokens);
  }
}

function classify(error: unknown): Omit<Outcome, "ms"> {
  if (error instanceof FfnskipError) {
    const named = (error.file !== undefined && error.file !== "") || (error.field !== undefined && error.field !== "");
    if (!named || error.expected === undefined || error.actual === undefined) {
      return { status: "fail", kind: "incomplete-error", message: `${error.name}: ${error.message} (missing file/field, expected or actual)` };
    }
    return { status: "typed", kind: error.name, message: error.message };
  }
  if (error instanceof InvariantViolation) return { status: "fail", kind: "invariant", message: error.message };
  if (error instanceof WebAssembly.RuntimeError) return { status: "fail", kind: "wasm-trap", message: `${error.message}\n${error.stack ?? ""}` };
  const e = error as Error;
  return { status: "fail", kind: `untyped:${e?.constructor?.name ?? typeof error}`, message: `${String(e?.message ?? e)}\n${e?.stack ?? ""}` };
}

function checkConfig(model: LanguageModel): void {
  const c = model.config;
  const ints = [c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.ffnSize, c.vocabSize, c.contextLength];
  const floats = [c.ropeTheta, c.rmsEps];
  if (!ints.every((v) => Number.isSafeInteger(v) && v > 0) || !floats.every((v) => Number.isFinite(v) && v > 0)) {
    throw new InvariantViolation(`config holds a bad value: ${JSON.stringify(c)}`);
  }
}

function checkResult(model: LanguageModel, result: Awaited<ReturnType<LanguageModel["chat"]>>, options: Record<string, unknown> | null): void {
  const vocab = model.config.vocabSize;
  if (!Array.isArray(result.tokens) || !result.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < vocab)) {
    throw new InvariantViolation(`tokens out of range: ${JSON.stringify(result.tokens)}`);
  }
  if (typeof result.text !== "string" || LONE_SURROGATE.test(result.text)) throw new InvariantViolation(`bad text ${JSON.stringify(result.text)}`);
  if (!FINISH_REASONS.has(result.finishReason)) throw new InvariantViolation(`bad finishReason ${String(result.finishReason)}`);
  for (const [key, value] of Object.entries(result.stats)) {
    if (key === "skip") continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new InvariantViolation(`stats.${key} = ${String(value)}`);
  }
  const maxTokens = options?.["maxTokens"];
  if (typeof maxTokens === "number" && result.tokens.length > maxTokens) throw new InvariantViolation(`${result.tokens.length} tokens for maxTokens ${maxTokens}`);
  const signal = options?.["signal"] as { aborted?: unknown } | undefined;
  if (signal?.aborted === true && (result.finishReason !== "abort" || result.tokens.length !== 0)) {
    throw new InvariantViolation(`aborted signal gave ${result.finishReason} with ${result.tokens.length} tokens`);
  }
}

class InvariantViolation extends Error {}

export function isBinarySeed(name: string): boolean {
  return BINARY_SEEDS.has(name as never);
}
