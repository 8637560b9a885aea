// The skip controller: the FfnGate the forward pass asks before each layer's FFN during decoding. It applies a
// policy (policies.ts), keeps the per-token state the paper's rule needs, counts what it skipped and records a
// trace (ran/skipped and the measured similarity for every generated token and layer).

import { SeededRandom } from "../sample/random.js";
import type { FfnGate } from "../model/transformer.js";
import { type SkipPolicy, validatePolicy } from "./policies.js";

/** One generated token's row of the trace. */
export interface TokenTrace {
  /** Whether this token was still in the warm-up (every FFN ran). */
  readonly warmup: boolean;
  /** 1 where layer l's FFN ran, 0 where it was skipped. */
  readonly ran: Uint8Array;
  /** cos(h, h + FFN(norm(h))) per layer; NaN where the FFN was skipped. */
  readonly similarity: Float32Array;
}

export interface SkipStats {
  /** Generated tokens the controller saw. */
  readonly tokens: number;
  /** Of those, tokens in the warm-up. */
  readonly warmupTokens: number;
  /** FFN blocks skipped in all. */
  readonly skipped: number;
  /** skipped / (layers x tokens), warm-up tokens counted. */
  readonly ratio: number;
  /** skipped / (layers x tokens after warm-up). */
  readonly ratioAfterWarmup: number;
}

/** The one definition of the skip ratios: FFN blocks skipped over layers x decode steps, with and without warm-up. */
export function skipStats(layers: number, tokens: number, warmupTokens: number, skipped: number): SkipStats {
  const afterWarmup = tokens - warmupTokens;
  return {
    tokens,
    warmupTokens,
    skipped,
    ratio: tokens === 0 ? 0 : skipped / (layers * tokens),
    ratioAfterWarmup: afterWarmup === 0 ? 0 : skipped / (layers * afterWarmup),
  };
}

export class SkipController implements FfnGate {
  readonly policy: SkipPolicy;
  private tokenIndex = -1;
  private inWarmup = true;
  private skipRemaining = 0;
  private skippedLayers = new Set<number>();
  private random: SeededRandom | null = null;
  private skipped = 0;
  /** FFN blocks skipped per layer since construction (reset() keeps counting, so it spans sequences). */
  readonly skippedPerLayer: number[];
  private warmupTokens = 0;
  private current: { ran: Uint8Array; similarity: Float32Array } | null = null;
  private readonly rows: TokenTrace[] = [];
  private readonly skippable: ReadonlySet<number>;

  constructor(
    policy: SkipPolicy,
    readonly numLayers: number,
    /** Keep a TokenTrace per generated token (cheap: 5 bytes per layer and token). */
    readonly recordTrace = true,
  ) {
    this.policy = validatePolicy(policy, numLayers);
    this.skippable = new Set(this.policy.kind === "layerwise" ? this.policy.skippable : []);
    this.skippedPerLayer = new Array<number>(numLayers).fill(0);
    this.reset();
  }

  /** Starts a new sequence: the warm-up counts again from its first generated token. */
  reset(): void {
    this.tokenIndex = -1;
    this.skipped = 0;
    this.warmupTokens = 0;
    this.rows.length = 0;
    this.current = null;
    this.random = this.policy.kind === "random" ? SeededRandom.fromSeed(this.policy.seed) : null;
  }

  /** Call before the forward pass of each generated (or teacher-forced scored) token. */
  beginToken(): void {
    this.tokenIndex++;
    const p = this.policy;
    this.inWarmup = p.kind !== "off" && this.tokenIndex < p.warmup;
    if (this.inWarmup) this.warmupTokens++;
    this.skipRemaining = 0;
    this.skippedLayers = new Set();
    if (!this.inWarmup && p.kind === "fixed") this.skippedLayers = new Set(p.layers);
    if (!this.inWarmup && p.kind === "random") this.skippedLayers = this.drawLayers(p.coldStart, p.coldEnd, p.count);
    this.current = { ran: new Uint8Array(this.numLayers), similarity: new Float32Array(this.numLayers).fill(NaN) };
  }

  /** Call after the forward pass of the token. */
  endToken(): void {
    if (this.current === null) return;
    if (this.recordTrace) this.rows.push(Object.freeze({ warmup: this.inWarmup, ran: this.current.ran, similarity: this.current.similarity }));
    this.current = null;
  }

  runFfn(layer: number): boolean {
    const run = this.decide(layer);
    if (this.current !== null) this.current.ran[layer] = run ? 1 : 0;
    if (!run) {
      this.skipped++;
      this.skippedPerLayer[layer]!++;
    }
    return run;
  }

  observe(layer: number, _token: number, similarity: number): void {
    if (this.current !== null) this.current.similarity[layer] = similarity;
    const p = this.policy;
    // The paper's rule: a redundant-looking FFN in the middle region switches off the next k FFNs.
    if (p.kind === "paper" && !this.inWarmup && layer >= p.coldStart && layer < p.coldEnd && similarity >= p.threshold) {
      this.skipRemaining = p.k;
    }
    if (p.kind === "layerwise" && !this.inWarmup) {
      const threshold = p.thresholds[layer];
      this.skipRemaining = threshold !== null && threshold !== undefined && similarity >= threshold ? p.k : 0;
    }
  }

  stats(): SkipStats {
    return skipStats(this.numLayers, this.tokenIndex + 1, this.warmupTokens, this.skipped);
  }

  /** One row per generated token since the last reset (when recordTrace is on). */
  get trace(): readonly TokenTrace[] {
    return this.rows;
  }

  private decide(layer: number): boolean {
    const p = this.policy;
    if (this.current === null || this.inWarmup || p.kind === "off") return true;
    if (p.kind === "paper") {
      if (layer < p.coldStart || layer >= p.coldEnd) return true;
      if (this.skipRemaining > 0) {
        this.skipRemaining--;
        return false;
      }
      return true;
    }
    if (p.kind === "layerwise") {
      if (this.skipRemaining > 0 && this.skippable.has(layer)) {
        this.skipRemaining--;
        return false;
      }
      return true;
    }
    return !this.skippedLayers.has(layer);
  }

  /** `count` distinct layers from [start, end), drawn with the seeded generator (partial Fisher-Yates). */
  private drawLayers(start: number, end: number, count: number): Set<number> {
    const pool = Array.from({ length: end - start }, (_, i) => start + i);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(this.random!.nextFloat() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return new Set(pool.slice(0, count));
  }
}
