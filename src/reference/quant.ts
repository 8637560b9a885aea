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

const BLOCK_DECODERS: Readonly<Record<Exclude<DType, "F32" | "F16" | "BF16">, BlockDecoder>> = {
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

/**
 * Quantizes `count` f32 values (a multiple of 32) to `dtype` blocks, the way llama.cpp's reference quantizers do
 * (quantize_row_*_ref). Used to build test weights; not on the inference path.
 */
export function quantize(dtype: "Q8_0" | "Q4_0" | "Q4_1", values: Float32Array, out: Uint8Array, outOffset = 0): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const { blockBytes } = DTYPES[dtype];
  for (let b = 0; b < values.length / 32; b++) {
    const x = values.subarray(b * 32, b * 32 + 32);
    const p = outOffset + b * blockBytes;
    if (dtype === "Q8_0") {
      let amax = 0;
      for (const v of x) amax = Math.max(amax, Math.abs(v));
      const d = amax / 127;
      const id = d !== 0 ? 1 / d : 0;
      view.setUint16(p, f32ToF16(d), true);
      for (let j = 0; j < 32; j++) view.setInt8(p + 2 + j, Math.round(x[j]! * id));
    } else if (dtype === "Q4_0") {
      let amax = 0;
      let max = 0;
      for (const v of x) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
      const d = max / -8;
      const id = d !== 0 ? 1 / d : 0;
      view.setUint16(p, f32ToF16(d), true);
      for (let j = 0; j < 16; j++) {
        const lo = Math.min(15, Math.trunc(x[j]! * id + 8.5));
        const hi = Math.min(15, Math.trunc(x[j + 16]! * id + 8.5));
        out[p + 2 + j] = lo | (hi << 4);
      }
    } else {
      let min = Infinity;
      let max = -Infinity;
      for (const v of x) { min = Math.min(min, v); max = Math.max(max, v); }
      const d = (max - min) / 15;
      const id = d !== 0 ? 1 / d : 0;
      view.setUint16(p, f32ToF16(d), true);
      view.setUint16(p + 2, f32ToF16(min), true);
      for (let j = 0; j < 16; j++) {
        const lo = Math.min(15, Math.trunc((x[j]! - min) * id + 0.5));
        const hi = Math.min(15, Math.trunc((x[j + 16]! - min) * id + 0.5));
        out[p + 4 + j] = lo | (hi << 4);
      }
    }
  }
}
