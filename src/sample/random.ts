// Our own seeded PRNG, so one seed gives the same token stream on every JS runtime (Node, Deno, workerd,
// browsers): Math.random cannot be seeded and differs between engines. Everything is 32-bit integer arithmetic
// (Math.imul, >>>), which JS specifies exactly.
//
// Generator: xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c): 128-bit state,
// period 2^128 - 1, passes BigCrush; plenty for drawing one token per step.
//
// Seeding (our own convention, fixed forever because changing it changes every seeded output): a seed is an
// integer in [0, 2^53 - 1], split into lo = seed mod 2^32 and hi = floor(seed / 2^32). A splitmix32 stream
// (state += 0x9e3779b9, then the murmur3 fmix32 finaliser) starts at lo; its first output is state word 0, then
// hi is XORed into the splitmix state and the next three outputs are words 1..3. For seeds below 2^32 this is just
// the first four splitmix32 outputs of the seed. Distinct seeds give distinct states (fmix32 is a bijection) and
// the state is never all zero (fmix32 cannot map two consecutive splitmix states to 0).

import { InputError, show } from "../errors.js";

/** Four 32-bit words, each an integer in [0, 2^32), not all zero. */
export type RandomState = readonly [number, number, number, number];

const GOLDEN_GAMMA = 0x9e3779b9;
const TWO_POW_32 = 4294967296;

function fmix32(value: number): number {
  let mixed = value;
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
  return (mixed ^ (mixed >>> 16)) >>> 0;
}

function isUint32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < TWO_POW_32;
}

/** xoshiro128** seeded from an integer; `nextFloat()` gives floats in [0, 1) with 32 random bits. */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(state: RandomState) {
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /** Seed is an integer in [0, 2^53 - 1]; the same seed gives the same stream everywhere. */
  static fromSeed(seed: number): SeededRandom {
    if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) {
      throw new InputError({ file: "random", field: "seed", expected: "an integer in [0, 2^53 - 1]", actual: show(seed) });
    }
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_POW_32);
    let splitmixState = low;
    splitmixState = (splitmixState + GOLDEN_GAMMA) >>> 0;
    const word0 = fmix32(splitmixState);
    splitmixState = (splitmixState ^ high) >>> 0;
    splitmixState = (splitmixState + GOLDEN_GAMMA) >>> 0;
    const word1 = fmix32(splitmixState);
    splitmixState = (splitmixState + GOLDEN_GAMMA) >>> 0;
    const word2 = fmix32(splitmixState);
    splitmixState = (splitmixState + GOLDEN_GAMMA) >>> 0;
    const word3 = fmix32(splitmixState);
    return new SeededRandom([word0, word1, word2, word3]);
  }

  /** Resumes a generator from a state saved with `getState()` (or a raw xoshiro128** state). */
  static fromState(state: RandomState): SeededRandom {
    if (!Array.isArray(state) || state.length !== 4 || !state.every(isUint32)) {
      throw new InputError({
        file: "random",
        field: "state",
        expected: "an array of 4 integers in [0, 2^32)",
        actual: Array.isArray(state) ? `[${state.map(show).join(", ")}]` : show(state),
      });
    }
    if (state.every((word) => word === 0)) {
      throw new InputError({ file: "random", field: "state", expected: "not all zero (xoshiro would output only zeros)", actual: "[0, 0, 0, 0]" });
    }
    return new SeededRandom([state[0], state[1], state[2], state[3]]);
  }

  getState(): RandomState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** Next output as an integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const shifted = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= shifted;
    this.s3 = rotateLeft(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Next output as a float in [0, 1): nextUint32() / 2^32, exact in a double, never 1. */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}
