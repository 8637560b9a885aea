import { test } from "uvu";
import * as assert from "uvu/assert";
import { InputError } from "../src/errors.js";
import { SeededRandom } from "../src/sample/random.js";
import { createSampler, DEFAULT_SAMPLING_OPTIONS, validateSamplingOptions, type SamplingOptionsInput } from "../src/sample/sampler.js";

// The first three floats of each seed, from the known-answer test in sample-random.test.ts:
//   seed 0:  0.8869, 0.2640, 0.0125
//   seed 1:  0.5686, 0.7539, 0.8894
//   seed 42: 0.6606, 0.1269, 0.1117
// The sampler draws one float u per step and returns the first kept id (ascending) whose cumulative renormalised
// probability exceeds u, so each expectation below is "which bucket does u fall into".

const PROBABILITIES = [0.1, 0.2, 0.3, 0.4];
const LOGITS = logitsOf(PROBABILITIES);

function logitsOf(probabilities: readonly number[]): Float32Array {
  return Float32Array.from(probabilities, (probability) => Math.log(probability));
}

function draws(options: SamplingOptionsInput, logits: Float32Array, count: number, context: readonly number[] = []): number[] {
  const sampler = createSampler(options);
  return Array.from({ length: count }, () => sampler.sample(logits, context));
}

function isInputError(pattern?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => error instanceof InputError && (pattern === undefined || pattern.test(error.message));
}

// ---------------------------------------------------------------------------------------------------------------
// Options

test("defaults are greedy, filters off, seed 0, frozen", () => {
  const options = validateSamplingOptions();
  assert.equal({ ...options }, { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, repetitionWindow: null, seed: 0 });
  assert.ok(Object.isFrozen(options));
  assert.ok(Object.isFrozen(DEFAULT_SAMPLING_OPTIONS));
});

test("given options are kept, omitted ones defaulted, result frozen and re-validatable", () => {
  const options = validateSamplingOptions({ temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, repetitionWindow: 64, seed: 2 ** 53 - 1 });
  assert.equal({ ...options }, { temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, repetitionWindow: 64, seed: 2 ** 53 - 1 });
  assert.ok(Object.isFrozen(options));
  assert.equal({ ...validateSamplingOptions(options) }, { ...options });
  assert.equal({ ...validateSamplingOptions({ topP: 0.5 }) }, { ...DEFAULT_SAMPLING_OPTIONS, topP: 0.5 });
  assert.ok(Object.is(validateSamplingOptions({ temperature: -0 }).temperature, 0));
});

const BAD_OPTIONS: ReadonlyArray<[string, unknown[]]> = [
  ["temperature", [-0.1, -Infinity, Infinity, Number.NaN, "1", null, true]],
  ["topK", [-1, 1.5, Number.NaN, Infinity, 2 ** 53, "40", null]],
  ["topP", [0, -0.1, 1.0001, Number.NaN, Infinity, "0.9", null]],
  ["minP", [-0.01, 1, 1.5, Number.NaN, Infinity, "0.1", null]],
  ["repetitionPenalty", [0, -1, Number.NaN, Infinity, "1.1", null]],
  ["repetitionWindow", [0, -1, 1.5, Number.NaN, Infinity, "64"]],
  ["seed", [-1, 0.5, 2 ** 53, Number.NaN, Infinity, "7", null, 7n]],
];

for (const [field, values] of BAD_OPTIONS) {
  test(`rejects bad ${field} with InputError naming the field`, () => {
    for (const value of values) {
      assert.throws(
        () => validateSamplingOptions({ [field]: value } as SamplingOptionsInput),
        (error: unknown) => error instanceof InputError && error.field === field && error.file === "sampling options",
        `${field} = ${String(value)}`,
      );
      assert.throws(() => createSampler({ [field]: value } as SamplingOptionsInput), isInputError(), `createSampler ${field} = ${String(value)}`);
    }
  });
}

test("rejects unknown option names (typos such as top_p) and non-objects", () => {
  assert.throws(() => validateSamplingOptions({ top_p: 0.9 } as unknown as SamplingOptionsInput), isInputError(/top_p/));
  for (const options of [null, 5, "greedy", [], true]) {
    assert.throws(() => validateSamplingOptions(options as unknown as SamplingOptionsInput), isInputError(), String(options));
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Greedy

test("greedy returns the argmax, lowest id on ties", () => {
  assert.equal(draws({}, LOGITS, 3), [3, 3, 3]);
  assert.equal(draws({}, Float32Array.of(1, 3, 3, 2), 2), [1, 1]);
  assert.equal(draws({}, Float32Array.of(-Infinity, -5, -Infinity), 1), [1]);
  assert.equal(draws({}, Float32Array.of(7), 1), [0]);
});

test("greedy ignores the other filters and the seed", () => {
  for (let seed = 0; seed < 20; seed++) {
    assert.equal(draws({ seed, topK: 3, topP: 0.5, minP: 0.5 }, LOGITS, 2), [3, 3]);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Pure sampling and temperature

test("temperature 1: u picks the bucket of the cumulative [0.1, 0.3, 0.6, 1.0]", () => {
  // seed 0: 0.8869 > 0.6 -> 3; 0.2640 in (0.1, 0.3] -> 1; 0.0125 <= 0.1 -> 0.
  assert.equal(draws({ temperature: 1, seed: 0 }, LOGITS, 3), [3, 1, 0]);
  // seed 1: 0.5686 in (0.3, 0.6] -> 2; 0.7539 -> 3; 0.8894 -> 3.
  assert.equal(draws({ temperature: 1, seed: 1 }, LOGITS, 3), [2, 3, 3]);
  // seed 42: 0.6606 -> 3; 0.1269 -> 1; 0.1117 -> 1.
  assert.equal(draws({ temperature: 1, seed: 42 }, LOGITS, 3), [3, 1, 1]);
});

test("temperature 2 flattens to sqrt(p) / sum: cumulative [0.1627, 0.3928, 0.6746, 1]", () => {
  // sqrt(0.1, 0.2, 0.3, 0.4) = 0.3162, 0.4472, 0.5477, 0.6325; sum 1.9436.
  // seed 42: 0.6606 <= 0.6746 -> 2 (temperature 1 gave 3); 0.1269 <= 0.1627 -> 0; 0.1117 -> 0.
  assert.equal(draws({ temperature: 2, seed: 42 }, LOGITS, 3), [2, 0, 0]);
});

test("temperature 0.5 sharpens to p^2 / sum: cumulative [0.0333, 0.1667, 0.4667, 1]", () => {
  // seed 0: 0.8869 -> 3; 0.2640 in (0.1667, 0.4667] -> 2; 0.0125 <= 0.0333 -> 0.
  assert.equal(draws({ temperature: 0.5, seed: 0 }, LOGITS, 3), [3, 2, 0]);
});

test("extreme temperatures: subnormal acts greedy, huge acts uniform, neither produces NaN", () => {
  for (let seed = 0; seed < 10; seed++) assert.equal(draws({ temperature: 5e-324, seed }, LOGITS, 3), [3, 3, 3]);
  // Uniform buckets [0.25, 0.5, 0.75, 1]; seed 0: 0.8869 -> 3, 0.2640 -> 1, 0.0125 -> 0.
  assert.equal(draws({ temperature: 1e300, seed: 0 }, LOGITS, 3), [3, 1, 0]);
});

test("every sampled step consumes exactly one draw, even when a single token survives", () => {
  const sampler = createSampler({ temperature: 1, seed: 0 });
  // First step: only id 0 is unmasked, uses up u = 0.8869. Second step sees u = 0.2640 -> bucket (0.1, 0.3] -> 1.
  assert.is(sampler.sample(Float32Array.of(0, -Infinity, -Infinity, -Infinity), []), 0);
  assert.is(sampler.sample(LOGITS, []), 1);
});

test("masked (-Infinity) tokens are never drawn", () => {
  const logits = Float32Array.of(-Infinity, 0, -Infinity, 0, -Infinity);
  const seen = new Set(draws({ temperature: 1, seed: 5 }, logits, 2000));
  assert.equal([...seen].sort(), [1, 3]);
});

// ---------------------------------------------------------------------------------------------------------------
// Top-k

test("top-k 2 keeps ids {2, 3} renormalised to [3/7, 4/7]", () => {
  // Cumulative over kept ids: id 2 -> 0.4286, id 3 -> 1. seed 0: 0.8869 -> 3; 0.2640 -> 2; 0.0125 -> 2.
  assert.equal(draws({ temperature: 1, topK: 2, seed: 0 }, LOGITS, 3), [3, 2, 2]);
  const seen = new Set(draws({ temperature: 1, topK: 2, seed: 9 }, LOGITS, 2000));
  assert.equal([...seen].sort(), [2, 3]);
});

test("top-k 1 always returns the argmax (lowest id on ties), whatever the seed and temperature", () => {
  for (let seed = 0; seed < 50; seed++) {
    assert.is(createSampler({ temperature: 3, topK: 1, seed }).sample(LOGITS, []), 3);
    assert.is(createSampler({ temperature: 3, topK: 1, seed }).sample(Float32Array.of(1, 3, 3, 2), []), 1);
  }
});

test("top-k ties at the cut go to the lower id", () => {
  // Scores 3, 3, 3 at ids 1, 2, 3; top-k 2 keeps ids 1 and 2, never 3.
  const seen = new Set(draws({ temperature: 1, topK: 2, seed: 1 }, Float32Array.of(0, 3, 3, 3), 2000));
  assert.equal([...seen].sort(), [1, 2]);
});

test("top-k >= vocabulary size is the same as off", () => {
  assert.equal(draws({ temperature: 1, topK: 4, seed: 0 }, LOGITS, 3), [3, 1, 0]);
  assert.equal(draws({ temperature: 1, topK: 1000, seed: 0 }, LOGITS, 3), [3, 1, 0]);
});

// ---------------------------------------------------------------------------------------------------------------
// Top-p

test("top-p keeps a token iff the mass strictly ahead of it is below topP", () => {
  // Highest first: 0.4 (ahead 0), 0.3 (ahead 0.4), 0.2 (ahead 0.7), 0.1 (ahead 0.9).
  const keptFor = (topP: number): number[] => [...new Set(draws({ temperature: 1, topP, seed: 3 }, LOGITS, 3000))].sort();
  assert.equal(keptFor(0.39), [3]);
  assert.equal(keptFor(0.41), [2, 3]);
  assert.equal(keptFor(0.69), [2, 3]);
  assert.equal(keptFor(0.71), [1, 2, 3]);
  assert.equal(keptFor(0.89), [1, 2, 3]);
  assert.equal(keptFor(0.91), [0, 1, 2, 3]);
});

test("top-p 0.75 keeps {1, 2, 3}: cumulative [0.2222, 0.5556, 1]", () => {
  // seed 0: 0.8869 -> 3; 0.2640 -> 2; 0.0125 -> 1 (unfiltered it would be 0).
  assert.equal(draws({ temperature: 1, topP: 0.75, seed: 0 }, LOGITS, 3), [3, 2, 1]);
});

test("temperature is applied before top-p", () => {
  // At temperature 2 the probabilities are [0.1627, 0.2301, 0.2818, 0.3254]; mass ahead of id 1 is 0.6072 < 0.69, so
  // top-p 0.69 keeps {1, 2, 3} (at temperature 1 it keeps only {2, 3}). Kept sqrt weights 0.4472, 0.5477, 0.6325:
  // cumulative [0.2748, 0.6114, 1]. seed 42: 0.6606 -> 3; 0.1269 -> 1; 0.1117 -> 1.
  assert.equal(draws({ temperature: 2, topP: 0.69, seed: 42 }, LOGITS, 3), [3, 1, 1]);
});

test("top-p works on the top-k survivors, renormalised", () => {
  // Top-k 2 leaves [3/7, 4/7]; 4/7 = 0.571 >= 0.5 already, so only id 3 survives top-p 0.5.
  // (Top-p 0.5 on the full distribution would have kept {2, 3}.)
  for (let seed = 0; seed < 30; seed++) assert.is(createSampler({ temperature: 1, topK: 2, topP: 0.5, seed }).sample(LOGITS, []), 3);
});

// ---------------------------------------------------------------------------------------------------------------
// Min-p

test("min-p keeps tokens with probability >= minP * top probability", () => {
  const keptFor = (minP: number): number[] => [...new Set(draws({ temperature: 1, minP, seed: 4 }, LOGITS, 3000))].sort();
  // Top probability 0.4. Thresholds: 0.2 * 0.4 = 0.08 keeps all; 0.45 -> 0.18 drops 0.1; 0.6 -> 0.24 drops 0.2;
  // 0.76 -> 0.304 drops 0.3.
  assert.equal(keptFor(0.2), [0, 1, 2, 3]);
  assert.equal(keptFor(0.45), [1, 2, 3]);
  assert.equal(keptFor(0.6), [2, 3]);
  assert.equal(keptFor(0.76), [3]);
  // Kept {1, 2, 3} -> same buckets as top-p 0.75.
  assert.equal(draws({ temperature: 1, minP: 0.45, seed: 0 }, LOGITS, 3), [3, 2, 1]);
});

test("min-p comes after top-p (top-p sees the distribution before min-p removes anything)", () => {
  // Top-p 0.55 on [0.1, 0.2, 0.3, 0.4] keeps {2, 3}; min-p 0.6 (threshold 0.24) keeps both -> [3/7, 4/7].
  // seed 0: 0.8869 -> 3; 0.2640 -> 2; 0.0125 -> 2. Had min-p run first, top-p 0.55 over [3/7, 4/7] would keep only 3.
  assert.equal(draws({ temperature: 1, topP: 0.55, minP: 0.6, seed: 0 }, LOGITS, 3), [3, 2, 2]);
});

// ---------------------------------------------------------------------------------------------------------------
// Repetition penalty

test("repetition penalty divides positive and multiplies negative logits of context tokens (HF)", () => {
  // [2, 1, -1, 1.5] with context {0, 2}, penalty 2 -> [1, 1, -2, 1.5]: argmax 3 (unpenalised it is 0).
  const logits = Float32Array.of(2, 1, -1, 1.5);
  assert.is(createSampler({ repetitionPenalty: 2 }).sample(logits, [0, 2, 0]), 3);
  assert.is(createSampler({}).sample(logits, [0, 2, 0]), 0);
  // Negative logits move further down: [-1, -1.5] with id 0 seen -> [-2, -1.5] -> 1 (dividing would give 0).
  assert.is(createSampler({ repetitionPenalty: 2 }).sample(Float32Array.of(-1, -1.5), [0]), 1);
  // A penalty below 1 rewards repeats: [1, 1.5] with id 0 seen, penalty 0.5 -> [2, 1.5] -> 0.
  assert.is(createSampler({ repetitionPenalty: 0.5 }).sample(Float32Array.of(1, 1.5), [0]), 0);
});

test("repetition penalty applies once per distinct token, however often it repeats", () => {
  // [2, 0.9] with id 0 seen three times, penalty 2: once gives 1 > 0.9 -> 0; three times would give 0.25 -> 1.
  assert.is(createSampler({ repetitionPenalty: 2 }).sample(Float32Array.of(2, 0.9), [0, 0, 0]), 0);
});

test("repetition window limits the penalty to the last tokens of the context", () => {
  // [2, 1.5, 1.8], context [0, 2], penalty 2. Whole context: [1, 1.5, 0.9] -> 1. Window 1 (only id 2): [2, 1.5, 0.9] -> 0.
  const logits = Float32Array.of(2, 1.5, 1.8);
  assert.is(createSampler({ repetitionPenalty: 2 }).sample(logits, [0, 2]), 1);
  assert.is(createSampler({ repetitionPenalty: 2, repetitionWindow: 1 }).sample(logits, [0, 2]), 0);
  assert.is(createSampler({ repetitionPenalty: 2, repetitionWindow: 2 }).sample(logits, [0, 2]), 1);
  assert.is(createSampler({ repetitionPenalty: 2, repetitionWindow: 100 }).sample(logits, [0, 2]), 1);
});

test("repetition penalty feeds the sampled distribution, and penalties do not leak between calls", () => {
  // Logits ln[0.1, 0.2, 0.3, 0.4] are all negative; penalty 2 on id 3 doubles ln 0.4 -> weight 0.16.
  // Weights [0.1, 0.2, 0.3, 0.16], sum 0.76: cumulative [0.1316, 0.3947, 0.7895, 1].
  // seed 0: 0.8869 -> 3. Then the second call has an empty context: unpenalised buckets, 0.2640 -> 1.
  // Then context [1]: weights [0.1, 0.04, 0.3, 0.4] sum 0.84, cumulative [0.119, 0.167, 0.524, 1]: 0.0125 -> 0.
  const sampler = createSampler({ temperature: 1, repetitionPenalty: 2, seed: 0 });
  assert.is(sampler.sample(LOGITS, [3]), 3);
  assert.is(sampler.sample(LOGITS, []), 1);
  assert.is(sampler.sample(LOGITS, [1]), 0);
});

test("context ids are checked when the penalty reads them", () => {
  const sampler = createSampler({ repetitionPenalty: 1.3 });
  for (const bad of [-1, 4, 1.5, Number.NaN, "1"]) {
    assert.throws(() => sampler.sample(LOGITS, [0, bad as number]), isInputError(/context\[1\]/), String(bad));
  }
  assert.throws(() => sampler.sample(LOGITS, "0,1" as unknown as number[]), isInputError(/context/));
  // Outside the window nothing is read.
  assert.is(createSampler({ repetitionPenalty: 1.3, repetitionWindow: 1 }).sample(LOGITS, [99, 0]), 3);
});

// ---------------------------------------------------------------------------------------------------------------
// Caller's data and bad logits

test("never modifies the caller's logits", () => {
  const logits = Float32Array.of(2, -1, 0.5, 3, -Infinity, 1);
  const before = Float32Array.from(logits);
  const variants: SamplingOptionsInput[] = [
    {},
    { repetitionPenalty: 1.5 },
    { temperature: 0.8, repetitionPenalty: 1.5 },
    { temperature: 0.8, topK: 2, topP: 0.9, minP: 0.1, repetitionPenalty: 0.7 },
    { temperature: 1.3, topP: 0.5 },
  ];
  for (const options of variants) {
    const sampler = createSampler(options);
    for (let step = 0; step < 20; step++) sampler.sample(logits, [0, 1, 3, 4]);
    assert.equal([...logits], [...before]);
  }
});

test("rejects NaN and +Infinity logits, non-Float32Array and empty logits, and all-masked logits", () => {
  const samplers = [createSampler({}), createSampler({ temperature: 1 }), createSampler({ temperature: 1, topK: 2 }), createSampler({ temperature: 1, topP: 0.5 })];
  for (const sampler of samplers) {
    assert.throws(() => sampler.sample(Float32Array.of(0, Number.NaN, 1), []), isInputError(/logits\[1\]/));
    assert.throws(() => sampler.sample(Float32Array.of(0, 1, Infinity), []), isInputError(/logits\[2\]/));
    assert.throws(() => sampler.sample(Float32Array.of(-Infinity, -Infinity, -Infinity), []), isInputError(/-Infinity/));
    assert.throws(() => sampler.sample(new Float32Array(0), []), isInputError(/logits/));
    assert.throws(() => sampler.sample(Float64Array.of(1, 2) as unknown as Float32Array, []), isInputError(/Float32Array/));
    assert.throws(() => sampler.sample([1, 2] as unknown as Float32Array, []), isInputError(/Float32Array/));
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Statistics against an independent, sort-based reference of the HF definitions

function randomLogits(vocabSize: number, seed: number, scale: number): Float32Array {
  const random = SeededRandom.fromSeed(seed);
  const logits = new Float32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    // Box–Muller normal.
    const radius = Math.sqrt(-2 * Math.log(1 - random.nextFloat()));
    logits[id] = scale * radius * Math.cos(2 * Math.PI * random.nextFloat());
  }
  return logits;
}

/** Straightforward full-sort version of temperature -> top-k -> top-p -> min-p; returns id -> probability. */
function referenceDistribution(logits: Float32Array, options: { temperature: number; topK: number; topP: number; minP: number }): Map<number, number> {
  const scaled = Array.from(logits, (logit) => logit / options.temperature);
  let kept = scaled.map((_, id) => id).sort((a, b) => scaled[b]! - scaled[a]! || a - b);
  if (options.topK > 0) kept = kept.slice(0, options.topK);
  const probabilitiesOf = (ids: number[]): number[] => {
    const max = Math.max(...ids.map((id) => scaled[id]!));
    const exps = ids.map((id) => Math.exp(scaled[id]! - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((value) => value / sum);
  };
  if (options.topP < 1) {
    const probabilities = probabilitiesOf(kept);
    let ahead = 0;
    const nucleus: number[] = [];
    for (let index = 0; index < kept.length && ahead < options.topP; index++) {
      nucleus.push(kept[index]!);
      ahead += probabilities[index]!;
    }
    kept = nucleus;
  }
  if (options.minP > 0) {
    const probabilities = probabilitiesOf(kept);
    const top = Math.max(...probabilities);
    kept = kept.filter((_, index) => probabilities[index]! >= options.minP * top);
  }
  const final = probabilitiesOf(kept);
  return new Map(kept.map((id, index) => [id, final[index]!]));
}

function checkAgainstReference(logits: Float32Array, options: { temperature: number; topK: number; topP: number; minP: number }, seed: number, count: number): void {
  const expected = referenceDistribution(logits, options);
  const sampler = createSampler({ ...options, seed });
  const counts = new Map<number, number>();
  for (let step = 0; step < count; step++) {
    const id = sampler.sample(logits, []);
    assert.ok(expected.has(id), `token ${id} is outside the allowed set (${JSON.stringify(options)})`);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const [id, probability] of expected) {
    const frequency = (counts.get(id) ?? 0) / count;
    // 5 standard deviations of a binomial frequency, plus a little slack for tiny probabilities.
    const tolerance = 5 * Math.sqrt((probability * (1 - probability)) / count) + 1e-3;
    assert.ok(Math.abs(frequency - probability) < tolerance, `token ${id}: frequency ${frequency} vs ${probability} (${JSON.stringify(options)})`);
  }
}

test("empirical frequencies match the renormalised distribution (hand-made logits)", () => {
  checkAgainstReference(LOGITS, { temperature: 1, topK: 0, topP: 1, minP: 0 }, 11, 40_000);
  checkAgainstReference(LOGITS, { temperature: 0.7, topK: 3, topP: 1, minP: 0 }, 12, 40_000);
  checkAgainstReference(LOGITS, { temperature: 1.5, topK: 0, topP: 0.8, minP: 0 }, 13, 40_000);
});

test("random 1000-token vocabulary: allowed set and frequencies match the sort-based reference", () => {
  const logits = randomLogits(1000, 77, 2.5);
  checkAgainstReference(logits, { temperature: 1, topK: 40, topP: 1, minP: 0 }, 1, 12_000);
  checkAgainstReference(logits, { temperature: 0.8, topK: 40, topP: 0.9, minP: 0 }, 2, 12_000);
  checkAgainstReference(logits, { temperature: 1, topK: 0, topP: 0.5, minP: 0 }, 3, 12_000);
  checkAgainstReference(logits, { temperature: 1.2, topK: 0, topP: 1, minP: 0.05 }, 4, 12_000);
  checkAgainstReference(logits, { temperature: 0.9, topK: 100, topP: 0.95, minP: 0.02 }, 5, 12_000);
});

test("flat and near-flat distributions: top-p boundary inside one crowded bucket", () => {
  // 1000 equal logits: each 0.001; ties go to the lower id, so top-p 0.5005 keeps ids 0..500 (mass ahead of id 500 is
  // 0.5 < 0.5005, ahead of id 501 it is 0.501).
  const flat = new Float32Array(1000).fill(2);
  const flatNucleus = referenceDistribution(flat, { temperature: 1, topK: 0, topP: 0.5005, minP: 0 });
  assert.equal([...flatNucleus.keys()].sort((a, b) => a - b), Array.from({ length: 501 }, (_, id) => id));
  checkAgainstReference(flat, { temperature: 1, topK: 0, topP: 0.5005, minP: 0 }, 21, 10_000);
  // 2000 logits within 0.01 of each other (hundreds of distinct values, all in the first log-weight bucket).
  const nearFlat = Float32Array.from({ length: 2000 }, (_, id) => 1 + ((id * 7919) % 1000) * 1e-5);
  checkAgainstReference(nearFlat, { temperature: 1, topK: 0, topP: 0.3, minP: 0 }, 22, 10_000);
  // A few clear winners over a crowded, nearly tied tail: the boundary lands in the tail.
  const winnersAndCrowd = Float32Array.from({ length: 2000 }, (_, id) => (id % 1000 === 7 ? 6 : ((id * 31) % 97) * 1e-4));
  checkAgainstReference(winnersAndCrowd, { temperature: 1, topK: 0, topP: 0.9, minP: 0 }, 23, 10_000);
  // Huge temperature flattens everything into the first bucket.
  checkAgainstReference(randomLogits(1000, 9, 3), { temperature: 1e6, topK: 0, topP: 0.25, minP: 0 }, 24, 10_000);
});

test("49152-token vocabulary: greedy and top-k 1 give the argmax; top-p never leaves the nucleus", () => {
  const logits = randomLogits(49152, 2024, 3);
  let argmaxId = 0;
  for (let id = 1; id < logits.length; id++) if (logits[id]! > logits[argmaxId]!) argmaxId = id;
  assert.is(createSampler({}).sample(logits, []), argmaxId);
  const topOne = createSampler({ temperature: 1.5, topK: 1, seed: 8 });
  for (let step = 0; step < 20; step++) assert.is(topOne.sample(logits, []), argmaxId);

  const options = { temperature: 1, topK: 0, topP: 0.9, minP: 0 };
  const nucleus = referenceDistribution(logits, options);
  const sampler = createSampler({ ...options, seed: 6 });
  for (let step = 0; step < 300; step++) {
    const id = sampler.sample(logits, []);
    assert.ok(nucleus.has(id), `token ${id} outside the top-p nucleus of ${nucleus.size}`);
  }
});

test("same seed, same tokens; different seeds, different streams", () => {
  const logits = randomLogits(500, 5, 1);
  const run = (seed: number): number[] => draws({ temperature: 1, topP: 0.95, seed }, logits, 50);
  assert.equal(run(31), run(31));
  assert.not.equal(run(31), run(32));
});

test("never touches Math.random", () => {
  const original = Math.random;
  Math.random = () => {
    throw new Error("Math.random was called");
  };
  try {
    draws({ temperature: 0.9, topK: 20, topP: 0.9, minP: 0.05, repetitionPenalty: 1.2, seed: 1 }, randomLogits(1000, 1, 2), 20, [1, 2, 3]);
    draws({ temperature: 0.9, topP: 0.9, seed: 1 }, randomLogits(1000, 1, 2), 20);
  } finally {
    Math.random = original;
  }
});

test.run();
