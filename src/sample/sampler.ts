// Turns one step's logits into a token id.
//
// Pipeline (the order of transformers' _get_logits_processor: processors such as the repetition penalty first, then
// the warpers temperature → top-k → top-p → min-p):
//   1. repetition penalty on the tokens in the context window (HF semantics: positive logits / penalty, negative
//      logits * penalty, each distinct token once however often it occurs);
//   2. temperature 0 → greedy: the argmax, ties to the lowest id, no random draw; otherwise weights
//      w = exp((logit - max) / temperature), i.e. softmax up to its normaliser, computed without overflow;
//   3. top-k: keep the k highest logits, ties to the lowest id (HF keeps every token tied with the k-th, which only
//      differs on exact ties);
//   4. top-p: over the top-k survivors, renormalised, keep the smallest highest-first prefix whose mass reaches
//      topP: a token is kept iff the mass strictly ahead of it is < topP (HF's "cumulative ascending <= 1 - top_p
//      is removed");
//   5. min-p: keep tokens whose probability is >= minP * (the top token's probability), as HF's MinPLogitsWarper
//      (probabilities after the earlier filters; the ratio does not depend on the renormalisation);
//   6. draw: exactly one float u from the seeded PRNG per sampled step; the kept tokens are walked in ascending id
//      order and the first whose cumulative weight exceeds u * (total kept weight) is returned.
//
// "Highest first" means by (penalised) logit, ties to the lower id. The caller's logits are never written to;
// per-vocabulary buffers are allocated once per sampler and reused. Nothing sorts the vocabulary: top-k is a
// k-element heap, top-p a bucketed selection (see findNucleusBoundary).

import { InputError, show } from "../errors.js";
import { SeededRandom } from "./random.js";

// Top-p buckets candidates by log-weight, BUCKETS_PER_UNIT buckets per unit: the first bucket holds weights in
// (e^(-1/64), 1], and everything below e^-64 (relative weight < 2e-28) shares the last one.
const BUCKETS_PER_UNIT = 64;
const BUCKET_COUNT = 4096;
/** A boundary bucket with at most this many members is sorted directly instead of re-bucketed. */
const FEW_ENOUGH_TO_SORT = 64;
/** Re-bucketing rounds before sorting whatever is left (each round narrows the score range ~4096-fold). */
const MAX_REFINEMENTS = 8;

export interface SamplingOptions {
  /** 0 = greedy (argmax, deterministic; the default); > 0 divides logits before the softmax. */
  readonly temperature: number;
  /** Keep only the k most likely tokens; 0 = off (the default). */
  readonly topK: number;
  /** Nucleus mass in (0, 1]; 1 = off (the default). */
  readonly topP: number;
  /** Minimum probability relative to the top token, in [0, 1); 0 = off (the default). */
  readonly minP: number;
  /** HF repetition penalty, > 0; 1 = off (the default); > 1 discourages repeats. */
  readonly repetitionPenalty: number;
  /** Only the last this-many context tokens are penalised; null = the whole context (the default). */
  readonly repetitionWindow: number | null;
  /** PRNG seed, an integer in [0, 2^53 - 1]; 0 by default. */
  readonly seed: number;
}

/** What callers may pass: any subset of the options; omitted ones take their defaults. */
export type SamplingOptionsInput = Partial<SamplingOptions>;

export interface Sampler {
  /**
   * Picks the next token. `logits` holds one score per vocabulary entry (-Infinity masks a token; NaN and +Infinity
   * are rejected) and is not modified. `context` is the token ids so far (prompt and generated), read only for the
   * repetition penalty.
   */
  sample(logits: Float32Array, context: readonly number[]): number;
}

export const DEFAULT_SAMPLING_OPTIONS: SamplingOptions = Object.freeze({
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  repetitionWindow: null,
  seed: 0,
});

const SOURCE = "sampling options";
const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFAULT_SAMPLING_OPTIONS));

function optionError(field: string, expected: string, value: unknown): InputError {
  return new InputError({ file: SOURCE, field, expected, actual: show(value) });
}

function finiteNumber(field: string, value: unknown, expected: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw optionError(field, expected, value);
  return value;
}

/** Checks every option and fills in defaults; the result is frozen. Unknown keys are rejected (typos). */
export function validateSamplingOptions(options?: SamplingOptionsInput): SamplingOptions {
  if (options === undefined) return DEFAULT_SAMPLING_OPTIONS;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new InputError({ file: SOURCE, expected: "an object", actual: show(options) });
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      throw new InputError({ file: SOURCE, field: key, expected: `one of ${[...OPTION_NAMES].join(", ")}`, actual: "an unknown option" });
    }
  }
  const given = options as Record<string, unknown>;
  const pick = (name: keyof SamplingOptions): unknown =>
    given[name] === undefined ? DEFAULT_SAMPLING_OPTIONS[name] : given[name];

  const temperatureExpected = "a finite number >= 0 (0 = greedy)";
  const temperature = finiteNumber("temperature", pick("temperature"), temperatureExpected);
  if (temperature < 0) throw optionError("temperature", temperatureExpected, temperature);

  const topK = pick("topK");
  if (typeof topK !== "number" || !Number.isSafeInteger(topK) || topK < 0) {
    throw optionError("topK", "an integer >= 0 (0 = off)", topK);
  }

  const topPExpected = "a number in (0, 1] (1 = off)";
  const topP = finiteNumber("topP", pick("topP"), topPExpected);
  if (!(topP > 0 && topP <= 1)) throw optionError("topP", topPExpected, topP);

  const minPExpected = "a number in [0, 1) (0 = off)";
  const minP = finiteNumber("minP", pick("minP"), minPExpected);
  if (!(minP >= 0 && minP < 1)) throw optionError("minP", minPExpected, minP);

  const penaltyExpected = "a finite number > 0 (1 = off)";
  const repetitionPenalty = finiteNumber("repetitionPenalty", pick("repetitionPenalty"), penaltyExpected);
  if (!(repetitionPenalty > 0)) throw optionError("repetitionPenalty", penaltyExpected, repetitionPenalty);

  const repetitionWindow = pick("repetitionWindow");
  if (repetitionWindow !== null && (typeof repetitionWindow !== "number" || !Number.isSafeInteger(repetitionWindow) || repetitionWindow < 1)) {
    throw optionError("repetitionWindow", "an integer >= 1, or null for the whole context", repetitionWindow);
  }

  const seed = pick("seed");
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) {
    throw optionError("seed", "an integer in [0, 2^53 - 1]", seed);
  }

  return Object.freeze({
    // -0 would print as "0" but is a different key in Object.is; normalise it.
    temperature: temperature === 0 ? 0 : temperature,
    topK,
    topP,
    minP: minP === 0 ? 0 : minP,
    repetitionPenalty,
    repetitionWindow,
    seed,
  });
}

/** Creates a sampler with its own PRNG stream (seeded from options.seed) and reusable buffers. */
export function createSampler(options?: SamplingOptionsInput): Sampler {
  const settings = validateSamplingOptions(options);
  const random = SeededRandom.fromSeed(settings.seed);
  const buffers = new SamplerBuffers();
  return {
    sample(logits: Float32Array, context: readonly number[]): number {
      checkLogits(logits);
      const scores = applyRepetitionPenalty(logits, context, settings, buffers);
      if (settings.temperature === 0) return argmax(scores);
      return drawToken(scores, settings, random.nextFloat(), buffers);
    },
  };
}

/** Per-vocabulary scratch space, resized only when the vocabulary size changes. */
class SamplerBuffers {
  vocabSize = 0;
  penalised = new Float32Array(0);
  /** seenStamp[id] === stamp marks ids already penalised in the current call. */
  seenStamp = new Uint32Array(0);
  stamp = 0;
  ids = new Int32Array(0);
  weights = new Float64Array(0);
  buckets = new Uint16Array(0);
  boundarySlots = new Int32Array(0);
  memberBuckets = new Uint16Array(0);
  keepMark = new Uint8Array(0);
  readonly bucketMass = new Float64Array(BUCKET_COUNT);
  boundaryBucket = 0;
  boundaryScore = 0;
  boundaryId = 0;

  ensure(vocabSize: number): void {
    if (vocabSize === this.vocabSize) return;
    this.vocabSize = vocabSize;
    this.penalised = new Float32Array(vocabSize);
    this.seenStamp = new Uint32Array(vocabSize);
    this.stamp = 0;
    this.ids = new Int32Array(vocabSize);
    this.weights = new Float64Array(vocabSize);
    this.buckets = new Uint16Array(vocabSize);
    this.boundarySlots = new Int32Array(vocabSize);
    this.memberBuckets = new Uint16Array(vocabSize);
    this.keepMark = new Uint8Array(vocabSize);
  }

  nextStamp(): number {
    if (this.stamp === 0xffffffff) {
      this.seenStamp.fill(0);
      this.stamp = 0;
    }
    this.stamp += 1;
    return this.stamp;
  }
}

function checkLogits(logits: Float32Array): void {
  if (!(logits instanceof Float32Array) || logits.length === 0) {
    throw new InputError({ file: "sampler", field: "logits", expected: "a non-empty Float32Array", actual: describeArray(logits) });
  }
}

function describeArray(value: unknown): string {
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of ${(value as unknown as ArrayLike<number>).length}`;
  return show(value);
}

function badLogit(index: number, value: number): InputError {
  return new InputError({ file: "sampler", field: `logits[${index}]`, expected: "a finite number or -Infinity", actual: show(value) });
}

function applyRepetitionPenalty(logits: Float32Array, context: readonly number[], settings: SamplingOptions, buffers: SamplerBuffers): Float32Array {
  if (!Array.isArray(context)) {
    throw new InputError({ file: "sampler", field: "context", expected: "an array of token ids", actual: describeArray(context) });
  }
  const penalty = settings.repetitionPenalty;
  const windowSize = settings.repetitionWindow;
  const start = windowSize === null ? 0 : Math.max(0, context.length - windowSize);
  if (penalty === 1 || start >= context.length) return logits;

  const vocabSize = logits.length;
  buffers.ensure(vocabSize);
  const penalised = buffers.penalised;
  penalised.set(logits);
  const seen = buffers.seenStamp;
  const stamp = buffers.nextStamp();
  for (let position = start; position < context.length; position++) {
    const token = context[position];
    if (typeof token !== "number" || !Number.isInteger(token) || token < 0 || token >= vocabSize) {
      throw new InputError({ file: "sampler", field: `context[${position}]`, expected: `a token id in [0, ${vocabSize})`, actual: show(token) });
    }
    if (seen[token] === stamp) continue;
    seen[token] = stamp;
    const score = penalised[token]!;
    penalised[token] = score < 0 ? score * penalty : score / penalty;
  }
  return penalised;
}

/** Index of the largest score, lowest index on ties; rejects NaN/+Infinity and an all -Infinity vector. */
function argmax(scores: Float32Array): number {
  let bestIndex = -1;
  let bestScore = -Infinity;
  for (let index = 0; index < scores.length; index++) {
    const score = scores[index]!;
    // One comparison catches both NaN and +Infinity on the hot path.
    if (!(score < Infinity)) throw badLogit(index, score);
    if (score > bestScore) {
      bestScore = score;
      bestIndex = index;
    }
  }
  if (bestIndex < 0) throw allMasked();
  return bestIndex;
}

function allMasked(): InputError {
  return new InputError({ file: "sampler", field: "logits", expected: "at least one logit above -Infinity", actual: "every logit is -Infinity" });
}

function drawToken(scores: Float32Array, settings: SamplingOptions, uniform: number, buffers: SamplerBuffers): number {
  const vocabSize = scores.length;
  buffers.ensure(vocabSize);
  const ids = buffers.ids;
  const weights = buffers.weights;
  const buckets = buffers.buckets;
  const bucketMass = buffers.bucketMass;

  // ids[0..count) are the candidates in ascending id order; weights and buckets are aligned with them.
  let count: number;
  let maxScore: number;
  if (settings.topK > 0 && settings.topK < vocabSize) {
    count = selectTopK(scores, settings.topK, ids);
    sortIdsAscending(ids, count, buffers.keepMark);
    maxScore = -Infinity;
    for (let slot = 0; slot < count; slot++) maxScore = Math.max(maxScore, scores[ids[slot]!]!);
    if (maxScore === -Infinity) throw allMasked();
  } else {
    maxScore = scores[argmax(scores)]!;
    count = vocabSize;
    for (let id = 0; id < vocabSize; id++) ids[id] = id;
  }

  // Divide rather than multiply by 1/temperature: for a subnormal temperature 1/t is Infinity and 0 * Infinity is NaN.
  const temperature = settings.temperature;
  const useNucleus = settings.topP < 1;
  if (useNucleus) bucketMass.fill(0);
  let total = 0;
  for (let slot = 0; slot < count; slot++) {
    const logWeight = (scores[ids[slot]!]! - maxScore) / temperature;
    const weight = Math.exp(logWeight);
    weights[slot] = weight;
    total += weight;
    if (useNucleus) {
      const bucket = bucketOf(logWeight);
      buckets[slot] = bucket;
      bucketMass[bucket] = bucketMass[bucket]! + weight;
    }
  }

  if (useNucleus || settings.minP > 0) {
    if (useNucleus) findNucleusBoundary(scores, count, settings.topP * total, buffers);
    else buffers.boundaryBucket = BUCKET_COUNT;
    const boundaryBucket = buffers.boundaryBucket;
    const boundaryScore = buffers.boundaryScore;
    const boundaryId = buffers.boundaryId;
    const minP = settings.minP;
    let kept = 0;
    for (let slot = 0; slot < count; slot++) {
      const id = ids[slot]!;
      const weight = weights[slot]!;
      let keep = weight >= minP;
      if (useNucleus) {
        const bucket = buckets[slot]!;
        if (bucket > boundaryBucket) keep = false;
        else if (bucket === boundaryBucket) {
          const score = scores[id]!;
          keep &&= score > boundaryScore || (score === boundaryScore && id <= boundaryId);
        }
      }
      // Write unconditionally and advance on keep: compaction without a data-dependent store.
      ids[kept] = id;
      weights[kept] = weight;
      if (keep) kept += 1;
    }
    count = kept;
    total = 0;
    for (let slot = 0; slot < count; slot++) total += weights[slot]!;
  }

  const threshold = uniform * total;
  let cumulative = 0;
  for (let slot = 0; slot < count; slot++) {
    cumulative += weights[slot]!;
    if (cumulative > threshold) return ids[slot]!;
  }
  // Unreachable in exact arithmetic (threshold < total); kept so rounding can never return a zero-weight token.
  for (let slot = count - 1; slot >= 0; slot--) if (weights[slot]! > 0) return ids[slot]!;
  throw allMasked();
}

/** Writes the ids of the k highest scores (ties to the lower id) into out[0..k); returns k. Rejects NaN/+Infinity. */
function selectTopK(scores: Float32Array, k: number, out: Int32Array): number {
  // out[0..k) is a binary min-heap under "worse first", so out[0] is the weakest of the current best k.
  const worse = (a: number, b: number): boolean => {
    const scoreA = scores[a]!;
    const scoreB = scores[b]!;
    return scoreA < scoreB || (scoreA === scoreB && a > b);
  };
  const siftDown = (from: number): void => {
    let parent = from;
    for (;;) {
      const left = 2 * parent + 1;
      if (left >= k) return;
      const right = left + 1;
      const child = right < k && worse(out[right]!, out[left]!) ? right : left;
      if (!worse(out[child]!, out[parent]!)) return;
      const swap = out[child]!;
      out[child] = out[parent]!;
      out[parent] = swap;
      parent = child;
    }
  };
  for (let id = 0; id < k; id++) {
    const score = scores[id]!;
    if (!(score < Infinity)) throw badLogit(id, score);
    out[id] = id;
  }
  for (let slot = (k >> 1) - 1; slot >= 0; slot--) siftDown(slot);
  let weakestScore = scores[out[0]!]!;
  for (let id = k; id < scores.length; id++) {
    const score = scores[id]!;
    if (!(score < Infinity)) throw badLogit(id, score);
    // Ids arrive in ascending order, so an equal score loses the tie to the id already held.
    if (score > weakestScore) {
      out[0] = id;
      siftDown(0);
      weakestScore = scores[out[0]!]!;
    }
  }
  return k;
}

function bucketOf(logWeight: number): number {
  const scaled = -logWeight * BUCKETS_PER_UNIT;
  return scaled < BUCKET_COUNT - 1 ? scaled | 0 : BUCKET_COUNT - 1;
}

/**
 * Top-p without sorting the vocabulary: summing bucket masses from the top finds the bucket where the nucleus ends;
 * that bucket is re-bucketed by score until few members remain (or all tie), and only those are sorted. O(n), also
 * for flat distributions.
 *
 * Sets buffers.boundary*: tokens in buckets below boundaryBucket are kept, those above dropped, and inside it a token
 * is kept iff it is not after (boundaryScore, boundaryId) in highest-first order. The boundary token is the first,
 * highest first, whose inclusive cumulative weight reaches target (= topP * total).
 */
function findNucleusBoundary(scores: Float32Array, count: number, target: number, buffers: SamplerBuffers): void {
  const bucketMass = buffers.bucketMass;
  let massBefore = 0;
  let boundaryBucket = 0;
  while (boundaryBucket < BUCKET_COUNT && massBefore + bucketMass[boundaryBucket]! < target) {
    massBefore += bucketMass[boundaryBucket]!;
    boundaryBucket += 1;
  }
  buffers.boundaryBucket = boundaryBucket;
  if (boundaryBucket === BUCKET_COUNT) return;

  const ids = buffers.ids;
  const weights = buffers.weights;
  const buckets = buffers.buckets;
  const members = buffers.boundarySlots;
  const memberBuckets = buffers.memberBuckets;
  let memberCount = 0;
  for (let slot = 0; slot < count; slot++) {
    if (buckets[slot] === boundaryBucket) members[memberCount++] = slot;
  }

  // Members stay in slot order, which is ascending id order: when all their scores tie, that is highest-first order.
  let allTied = false;
  for (let round = 0; round < MAX_REFINEMENTS && memberCount > FEW_ENOUGH_TO_SORT; round++) {
    let high = -Infinity;
    let low = Infinity;
    for (let member = 0; member < memberCount; member++) {
      const score = scores[ids[members[member]!]!]!;
      high = Math.max(high, score);
      low = Math.min(low, score);
    }
    if (!(low < high)) {
      allTied = true;
      break;
    }
    if (low === -Infinity) break;
    const span = high - low;
    bucketMass.fill(0);
    for (let member = 0; member < memberCount; member++) {
      const slot = members[member]!;
      const subBucket = Math.min(BUCKET_COUNT - 1, (((high - scores[ids[slot]!]!) / span) * (BUCKET_COUNT - 1)) | 0);
      memberBuckets[member] = subBucket;
      bucketMass[subBucket] = bucketMass[subBucket]! + weights[slot]!;
    }
    let subBucket = 0;
    while (subBucket < BUCKET_COUNT && massBefore + bucketMass[subBucket]! < target) {
      massBefore += bucketMass[subBucket]!;
      subBucket += 1;
    }
    // Rounding left the sums short of target: keep every member (the walk below falls through to the last one).
    if (subBucket === BUCKET_COUNT) break;
    let narrowed = 0;
    for (let member = 0; member < memberCount; member++) {
      if (memberBuckets[member] === subBucket) members[narrowed++] = members[member]!;
    }
    memberCount = narrowed;
  }

  const highestFirst = members.subarray(0, memberCount);
  if (!allTied) highestFirst.sort((slotA, slotB) => scores[ids[slotB]!]! - scores[ids[slotA]!]! || ids[slotA]! - ids[slotB]!);
  let boundarySlot = highestFirst[memberCount - 1]!;
  let mass = massBefore;
  for (let member = 0; member < memberCount; member++) {
    mass += weights[highestFirst[member]!]!;
    if (mass >= target) {
      boundarySlot = highestFirst[member]!;
      break;
    }
  }
  buffers.boundaryScore = scores[ids[boundarySlot]!]!;
  buffers.boundaryId = ids[boundarySlot]!;
}

/** Sorts ids[0..count) ascending: a native numeric sort when few, a mark-and-scan over the vocabulary when many. */
function sortIdsAscending(ids: Int32Array, count: number, keepMark: Uint8Array): void {
  if (count * 16 < keepMark.length) {
    ids.subarray(0, count).sort();
    return;
  }
  for (let slot = 0; slot < count; slot++) keepMark[ids[slot]!] = 1;
  let written = 0;
  for (let id = 0; id < keepMark.length; id++) {
    if (keepMark[id] === 1) {
      keepMark[id] = 0;
      ids[written++] = id;
    }
  }
}
