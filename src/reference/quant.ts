// Plain-TS reference for number formats: half floats and llama.cpp block quantization (layouts in io/dtype.ts).
// These are the oracle the WASM kernels are tested against, and what the converter uses to write f32/f16.

import type { DType } from "../io/dtype.js";
import { DTYPES } from "../io/dtype.js";

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half (bits in a u16) to a JS number, exactly (subnormals, inf and NaN included). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** A JS number to IEEE half bits, round to nearest even (overflow gives inf). */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1) !== 0)) bits++; // may carry into the exponent: correct
  return sign | bits;
}

/** bfloat16 bits to a JS number (bf16 is the top half of an f32). */
export function bf16ToF32(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** A JS number to bfloat16 bits, round to nearest even. */
export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The block formats (everything but plain floats). */
export type BlockDType = Exclude<DType, "F32" | "F16" | "BF16">;

/** One block's values: reads the block at byte p, writes blockValues values at out[o..]. */
type BlockDecoder = (bytes: Uint8Array, view: DataView, p: number, out: Float32Array, o: number) => void;

const half = (view: DataView, p: number) => f16ToF32(view.getUint16(p, true));

/** Q4_K / Q5_K sub-block j's 6-bit scale and min, from the 12 packed bytes at p (llama.cpp get_scale_min_k4). */
function scaleMinK4(bytes: Uint8Array, p: number, j: number): { scale: number; min: number } {
  if (j < 4) return { scale: bytes[p + j]! & 63, min: bytes[p + j + 4]! & 63 };
  return {
    scale: (bytes[p + j + 4]! & 0x0f) | ((bytes[p + j - 4]! >> 6) << 4),
    min: (bytes[p + j + 4]! >> 4) | ((bytes[p + j]! >> 6) << 4),
  };
}

/** Q3_K sub-block s's signed 6-bit scale: low 4 bits from bytes 0..7, high 2 bits from bytes 8..11 (at p). */
function scaleQ3K(bytes: Uint8Array, p: number, s: number): number {
  const low = s < 8 ? bytes[p + s]! & 0x0f : bytes[p + s - 8]! >> 4;
  const high = (bytes[p + 8 + (s % 4)]! >> (2 * Math.floor(s / 4))) & 3;
  return (low | (high << 4)) - 32;
}

const BLOCK_DECODERS: Readonly<Record<BlockDType, BlockDecoder>> = {
  Q8_0(_bytes, view, p, out, o) {
    const d = half(view, p);
    for (let j = 0; j < 32; j++) out[o + j] = d * view.getInt8(p + 2 + j);
  },
  Q4_0(bytes, view, p, out, o) {
    const d = half(view, p);
    for (let j = 0; j < 16; j++) {
      out[o + j] = d * ((bytes[p + 2 + j]! & 0x0f) - 8);
      out[o + j + 16] = d * ((bytes[p + 2 + j]! >> 4) - 8);
    }
  },
  Q4_1(bytes, view, p, out, o) {
    const d = half(view, p);
    const m = half(view, p + 2);
    for (let j = 0; j < 16; j++) {
      out[o + j] = d * (bytes[p + 4 + j]! & 0x0f) + m;
      out[o + j + 16] = d * (bytes[p + 4 + j]! >> 4) + m;
    }
  },
  Q5_0(bytes, view, p, out, o) {
    const d = half(view, p);
    const qh = view.getUint32(p + 2, true);
    for (let j = 0; j < 16; j++) {
      out[o + j] = d * (((bytes[p + 6 + j]! & 0x0f) | (((qh >>> j) & 1) << 4)) - 16);
      out[o + j + 16] = d * (((bytes[p + 6 + j]! >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
    }
  },
  Q5_1(bytes, view, p, out, o) {
    const d = half(view, p);
    const m = half(view, p + 2);
    const qh = view.getUint32(p + 4, true);
    for (let j = 0; j < 16; j++) {
      out[o + j] = d * ((bytes[p + 8 + j]! & 0x0f) | (((qh >>> j) & 1) << 4)) + m;
      out[o + j + 16] = d * ((bytes[p + 8 + j]! >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + m;
    }
  },
  // Value v: sub-block v >> 4; 2 bits at shift 2 * ((v % 128) >> 5) of qs[32 * (v >> 7) + v % 32].
  Q2_K(bytes, view, p, out, o) {
    const d = half(view, p + 80);
    const dmin = half(view, p + 82);
    for (let v = 0; v < 256; v++) {
      const sc = bytes[p + (v >> 4)]!;
      const q = (bytes[p + 16 + 32 * (v >> 7) + (v % 32)]! >> (2 * ((v % 128) >> 5))) & 3;
      out[o + v] = d * (sc & 0x0f) * q - dmin * (sc >> 4);
    }
  },
  // As Q2_K for the low 2 bits; the third bit is bit v >> 5 of hmask[v % 32], and a clear bit subtracts 4.
  Q3_K(bytes, view, p, out, o) {
    const d = half(view, p + 108);
    for (let v = 0; v < 256; v++) {
      const low = (bytes[p + 32 + 32 * (v >> 7) + (v % 32)]! >> (2 * ((v % 128) >> 5))) & 3;
      const high = (bytes[p + (v % 32)]! >> (v >> 5)) & 1;
      out[o + v] = d * scaleQ3K(bytes, p + 96, v >> 4) * (low - (high === 1 ? 0 : 4));
    }
  },
  // Value v: sub-block s = v >> 5; the low nibble of qs[32 * (s >> 1) + v % 32] for even s, the high for odd s.
  Q4_K(bytes, view, p, out, o) {
    const d = half(view, p);
    const dmin = half(view, p + 2);
    for (let v = 0; v < 256; v++) {
      const s = v >> 5;
      const { scale, min } = scaleMinK4(bytes, p + 4, s);
      const byte = bytes[p + 16 + 32 * (s >> 1) + (v % 32)]!;
      out[o + v] = d * scale * (s % 2 === 0 ? byte & 0x0f : byte >> 4) - dmin * min;
    }
  },
  // As Q4_K, plus a fifth bit: bit s of qh[v % 32].
  Q5_K(bytes, view, p, out, o) {
    const d = half(view, p);
    const dmin = half(view, p + 2);
    for (let v = 0; v < 256; v++) {
      const s = v >> 5;
      const { scale, min } = scaleMinK4(bytes, p + 4, s);
      const byte = bytes[p + 48 + 32 * (s >> 1) + (v % 32)]!;
      const q = (s % 2 === 0 ? byte & 0x0f : byte >> 4) | (((bytes[p + 16 + (v % 32)]! >> s) & 1) << 4);
      out[o + v] = d * scale * q - dmin * min;
    }
  },
  // Value v in half h = v >> 7, quarter k = (v % 128) >> 5, l = v % 32: low 4 bits from ql[64h + l + 32 (k & 1)]
  // (low nibble for k < 2, high for k >= 2), high 2 bits at shift 2k of qh[32h + l]; minus 32; scale v >> 4.
  Q6_K(bytes, view, p, out, o) {
    const d = half(view, p + 208);
    for (let v = 0; v < 256; v++) {
      const h = v >> 7;
      const k = (v % 128) >> 5;
      const l = v % 32;
      const lowByte = bytes[p + 64 * h + l + 32 * (k & 1)]!;
      const low = k < 2 ? lowByte & 0x0f : lowByte >> 4;
      const high = (bytes[p + 128 + 32 * h + l]! >> (2 * k)) & 3;
      out[o + v] = d * view.getInt8(p + 192 + (v >> 4)) * ((low | (high << 4)) - 32);
    }
  },
};

/**
 * Dequantizes `count` values of `dtype` starting at byte `offset` of `bytes` into `out[outOffset..]`.
 * count must be a multiple of the format's block size.
 */
export function dequantize(dtype: DType, bytes: Uint8Array, offset: number, count: number, out: Float32Array, outOffset = 0): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32":
      for (let i = 0; i < count; i++) out[outOffset + i] = view.getFloat32(offset + 4 * i, true);
      return;
    case "F16":
      for (let i = 0; i < count; i++) out[outOffset + i] = f16ToF32(view.getUint16(offset + 2 * i, true));
      return;
    case "BF16":
      for (let i = 0; i < count; i++) out[outOffset + i] = bf16ToF32(view.getUint16(offset + 2 * i, true));
      return;
    default: {
      const { blockValues, blockBytes } = DTYPES[dtype];
      const decode = BLOCK_DECODERS[dtype];
      for (let b = 0; b < count / blockValues; b++) decode(bytes, view, offset + b * blockBytes, out, outOffset + b * blockValues);
    }
  }
}

/** One block's encoder: reads blockValues values from x[from..], writes the block at byte p. */
type BlockEncoder = (x: Float32Array, from: number, bytes: Uint8Array, view: DataView, p: number) => void;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** The value of largest magnitude in x[from..from + n) (the first of equals), sign kept. */
function signedAbsMax(x: ArrayLike<number>, from: number, n: number): number {
  let best = 0;
  for (let j = from; j < from + n; j++) if (Math.abs(x[j]!) > Math.abs(best)) best = x[j]!;
  return best;
}

/** A scale as the file will hold it: rounded to f16 (what every reader multiplies by). */
const asHalf = (v: number) => f16ToF32(f32ToF16(v));

/**
 * Round-to-nearest with an unsigned quant q in 0..levels and a non-negative min per sub-block, value =
 * d * scale * q - dmin * min (Q2_K, Q4_K, Q5_K): each sub-block spans [min(0, lowest), highest]; its scale and min
 * are rounded to scaleMax steps of the super-block's f16 d and dmin, and the quants are rounded against those
 * rounded scales (so the scale rounding costs no more than a step).
 */
function quantizeWithMins(x: Float32Array, from: number, subSize: number, levels: number, scaleMax: number) {
  const subs = 256 / subSize;
  const ranges = new Float64Array(subs);
  const lows = new Float64Array(subs);
  for (let s = 0; s < subs; s++) {
    let lo = 0;
    let hi = -Infinity;
    for (let j = 0; j < subSize; j++) {
      lo = Math.min(lo, x[from + s * subSize + j]!);
      hi = Math.max(hi, x[from + s * subSize + j]!);
    }
    ranges[s] = (hi - lo) / levels;
    lows[s] = -lo;
  }
  const d = asHalf(Math.max(...ranges) / scaleMax);
  const dmin = asHalf(Math.max(...lows) / scaleMax);
  const scales = new Uint8Array(subs);
  const mins = new Uint8Array(subs);
  const q = new Uint8Array(256);
  for (let s = 0; s < subs; s++) {
    scales[s] = d > 0 ? clamp(Math.round(ranges[s]! / d), 0, scaleMax) : 0;
    mins[s] = dmin > 0 ? clamp(Math.round(lows[s]! / dmin), 0, scaleMax) : 0;
    const step = d * scales[s]!;
    const offset = dmin * mins[s]!;
    for (let j = 0; j < subSize; j++) {
      const v = s * subSize + j;
      q[v] = step > 0 ? clamp(Math.round((x[from + v]! + offset) / step), 0, levels) : 0;
    }
  }
  return { d, dmin, scales, mins, q };
}

/**
 * Round-to-nearest with a signed quant q in -qNeg..qNeg-1 and a signed integer scale in -scaleNeg..scaleNeg-1 per
 * sub-block of 16, value = d * scale * q (Q3_K, Q6_K): each sub-block's largest-magnitude value maps to -qNeg (the
 * one level without a positive twin), and its scale likewise to -scaleNeg steps of d.
 */
function quantizeSymmetric(x: Float32Array, from: number, qNeg: number, scaleNeg: number) {
  const raw = new Float64Array(16);
  for (let s = 0; s < 16; s++) raw[s] = signedAbsMax(x, from + 16 * s, 16) / -qNeg;
  const d = asHalf(signedAbsMax(raw, 0, 16) / -scaleNeg);
  const scales = new Int8Array(16);
  const q = new Int8Array(256);
  for (let s = 0; s < 16; s++) {
    scales[s] = d !== 0 ? clamp(Math.round(raw[s]! / d), -scaleNeg, scaleNeg - 1) : 0;
    const step = d * scales[s]!;
    for (let j = 0; j < 16; j++) {
      const v = 16 * s + j;
      q[v] = step !== 0 ? clamp(Math.round(x[from + v]! / step), -qNeg, qNeg - 1) : 0;
    }
  }
  return { d, scales, q };
}

/** The 12 packed bytes of Q4_K / Q5_K: eight 6-bit scales and mins (the inverse of scaleMinK4). */
function packScaleMinK4(bytes: Uint8Array, p: number, scales: Uint8Array, mins: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    bytes[p + j] = scales[j]! | ((scales[j + 4]! >> 4) << 6);
    bytes[p + j + 4] = mins[j]! | ((mins[j + 4]! >> 4) << 6);
    bytes[p + j + 8] = (scales[j + 4]! & 0x0f) | ((mins[j + 4]! & 0x0f) << 4);
  }
}

/** Q2_K / Q3_K's 2-bit field of value v (layout in the decoders above), ORed into qs at p. */
function setTwoBits(bytes: Uint8Array, p: number, v: number, bits: number): void {
  bytes[p + 32 * (v >> 7) + (v % 32)]! |= bits << (2 * ((v % 128) >> 5));
}

/** Q5_0 / Q5_1 quants: low nibbles at p + 4, fifth bits in the u32 at p (the decoders' layout). */
function packFiveBits(q: Uint8Array, bytes: Uint8Array, view: DataView, p: number): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    bytes[p + 4 + j] = (q[j]! & 0x0f) | ((q[j + 16]! & 0x0f) << 4);
    qh |= ((q[j]! >> 4) << j) | ((q[j + 16]! >> 4) << (j + 16));
  }
  view.setUint32(p, qh >>> 0, true);
}

const f32 = Math.fround;

const BLOCK_ENCODERS: Readonly<Record<BlockDType, BlockEncoder>> = {
  // Q8_0, Q4_0 and Q4_1 as llama.cpp's quantize_row_*_ref.
  Q8_0(x, from, _bytes, view, p) {
    let amax = 0;
    for (let j = from; j < from + 32; j++) amax = Math.max(amax, Math.abs(x[j]!));
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    view.setUint16(p, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) view.setInt8(p + 2 + j, Math.round(x[from + j]! * id));
  },
  Q4_0(x, from, bytes, view, p) {
    const d = signedAbsMax(x, from, 32) / -8;
    const id = d !== 0 ? 1 / d : 0;
    view.setUint16(p, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(x[from + j]! * id + 8.5));
      const hi = Math.min(15, Math.trunc(x[from + j + 16]! * id + 8.5));
      bytes[p + 2 + j] = lo | (hi << 4);
    }
  },
  Q4_1(x, from, bytes, view, p) {
    let min = Infinity;
    let max = -Infinity;
    for (let j = from; j < from + 32; j++) { min = Math.min(min, x[j]!); max = Math.max(max, x[j]!); }
    const d = (max - min) / 15;
    const id = d !== 0 ? 1 / d : 0;
    view.setUint16(p, f32ToF16(d), true);
    view.setUint16(p + 2, f32ToF16(min), true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc((x[from + j]! - min) * id + 0.5));
      const hi = Math.min(15, Math.trunc((x[from + j + 16]! - min) * id + 0.5));
      bytes[p + 4 + j] = lo | (hi << 4);
    }
  },
  // Q5_0 and Q5_1 as llama.cpp's reference quantizers, in float32 steps (as gguf-py does them), so the bytes are
  // exactly gguf-py's.
  Q5_0(x, from, bytes, view, p) {
    const d = f32(signedAbsMax(x, from, 32) / -16);
    const id = d !== 0 ? f32(1 / d) : 0;
    const q = new Uint8Array(32);
    for (let j = 0; j < 32; j++) q[j] = clamp(Math.trunc(f32(f32(x[from + j]! * id) + 16.5)), 0, 31);
    view.setUint16(p, f32ToF16(d), true);
    packFiveBits(q, bytes, view, p + 2);
  },
  Q5_1(x, from, bytes, view, p) {
    let min = Infinity;
    let max = -Infinity;
    for (let j = from; j < from + 32; j++) { min = Math.min(min, x[j]!); max = Math.max(max, x[j]!); }
    const d = f32(f32(max - min) / 31);
    const id = d !== 0 ? f32(1 / d) : 0;
    const q = new Uint8Array(32);
    for (let j = 0; j < 32; j++) q[j] = clamp(Math.trunc(f32(f32(f32(x[from + j]! - min) * id) + 0.5)), 0, 31);
    view.setUint16(p, f32ToF16(d), true);
    view.setUint16(p + 2, f32ToF16(min), true);
    packFiveBits(q, bytes, view, p + 4);
  },
  Q2_K(x, from, bytes, view, p) {
    const { d, dmin, scales, mins, q } = quantizeWithMins(x, from, 16, 3, 15);
    bytes.fill(0, p, p + 84);
    for (let s = 0; s < 16; s++) bytes[p + s] = scales[s]! | (mins[s]! << 4);
    for (let v = 0; v < 256; v++) setTwoBits(bytes, p + 16, v, q[v]!);
    view.setUint16(p + 80, f32ToF16(d), true);
    view.setUint16(p + 82, f32ToF16(dmin), true);
  },
  // Stored as q + 4 in 0..7: the low 2 bits in qs, the third in hmask.
  Q3_K(x, from, bytes, view, p) {
    const { d, scales, q } = quantizeSymmetric(x, from, 4, 32);
    bytes.fill(0, p, p + 110);
    for (let v = 0; v < 256; v++) {
      const stored = q[v]! + 4;
      setTwoBits(bytes, p + 32, v, stored & 3);
      bytes[p + (v % 32)]! |= (stored >> 2) << (v >> 5);
    }
    for (let s = 0; s < 16; s++) {
      const u = scales[s]! + 32;
      bytes[p + 96 + (s % 8)]! |= (u & 0x0f) << (s < 8 ? 0 : 4);
      bytes[p + 104 + (s % 4)]! |= (u >> 4) << (2 * Math.floor(s / 4));
    }
    view.setUint16(p + 108, f32ToF16(d), true);
  },
  Q4_K(x, from, bytes, view, p) {
    const { d, dmin, scales, mins, q } = quantizeWithMins(x, from, 32, 15, 63);
    view.setUint16(p, f32ToF16(d), true);
    view.setUint16(p + 2, f32ToF16(dmin), true);
    packScaleMinK4(bytes, p + 4, scales, mins);
    for (let v = 0; v < 128; v++) {
      const s = 2 * (v >> 5);
      bytes[p + 16 + v] = q[32 * s + (v % 32)]! | (q[32 * (s + 1) + (v % 32)]! << 4);
    }
  },
  Q5_K(x, from, bytes, view, p) {
    const { d, dmin, scales, mins, q } = quantizeWithMins(x, from, 32, 31, 63);
    view.setUint16(p, f32ToF16(d), true);
    view.setUint16(p + 2, f32ToF16(dmin), true);
    packScaleMinK4(bytes, p + 4, scales, mins);
    bytes.fill(0, p + 16, p + 48);
    for (let v = 0; v < 256; v++) bytes[p + 16 + (v % 32)]! |= (q[v]! >> 4) << (v >> 5);
    for (let v = 0; v < 128; v++) {
      const s = 2 * (v >> 5);
      bytes[p + 48 + v] = (q[32 * s + (v % 32)]! & 0x0f) | ((q[32 * (s + 1) + (v % 32)]! & 0x0f) << 4);
    }
  },
  // Stored as q + 32 in 0..63 (layout in the decoder).
  Q6_K(x, from, bytes, view, p) {
    const { d, scales, q } = quantizeSymmetric(x, from, 32, 128);
    bytes.fill(0, p, p + 192);
    for (let v = 0; v < 256; v++) {
      const h = v >> 7;
      const k = (v % 128) >> 5;
      const l = v % 32;
      const stored = q[v]! + 32;
      bytes[p + 64 * h + l + 32 * (k & 1)]! |= (stored & 0x0f) << (k < 2 ? 0 : 4);
      bytes[p + 128 + 32 * h + l]! |= (stored >> 4) << (2 * k);
    }
    for (let s = 0; s < 16; s++) view.setInt8(p + 192 + s, scales[s]!);
    view.setUint16(p + 208, f32ToF16(d), true);
  },
};

/**
 * Quantizes f32 values (a multiple of the format's block size) to `dtype` blocks at out[outOffset..]. Q8_0, Q4_0,
 * Q4_1, Q5_0 and Q5_1 the way llama.cpp's reference quantizers do it (quantize_row_*_ref); the K-quants by plain
 * round-to-nearest against per-sub-block scales (and mins), not llama.cpp's iterative scale search, so their error
 * is somewhat larger than llama.cpp's. Used to build test weights; not on the inference path.
 */
export function quantize(dtype: BlockDType, values: Float32Array, out: Uint8Array, outOffset = 0): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const { blockValues, blockBytes } = DTYPES[dtype];
  const encode = BLOCK_ENCODERS[dtype];
  for (let b = 0; b < values.length / blockValues; b++) encode(values, b * blockValues, out, view, outOffset + b * blockBytes);
}
