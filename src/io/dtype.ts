// Storage formats of weight tensors, as laid out in bytes. Block formats follow llama.cpp (ggml-common.h):
//   Q8_0: 34 bytes per 32 values  = f16 d, 32 x i8 q               value = d * q
//   Q4_0: 18 bytes per 32 values  = f16 d, 16 bytes of nibbles     value = d * (q - 8)
//   Q4_1: 20 bytes per 32 values  = f16 d, f16 m, 16 bytes nibbles value = d * q + m
//   Q5_0: 22 bytes per 32 values  = f16 d, u32 qh, 16 bytes nibbles value = d * ((q | h << 4) - 16)
//   Q5_1: 24 bytes per 32 values  = f16 d, f16 m, u32 qh, nibbles   value = d * (q | h << 4) + m
// In the 4- and 5-bit formats element j < 16 is the low nibble of byte j and element j >= 16 the high nibble of
// byte j - 16; a 5-bit element's fifth bit is bit j of qh. Rows of these formats have a multiple of 32 values.
//
// K-quants: super-blocks of 256 values in sub-blocks of 32 (Q4_K, Q5_K) or 16 (Q2_K, Q3_K, Q6_K), each sub-block
// with its own scale (and min), the scales quantized against the super-block's f16 d (and dmin):
//   Q2_K:  84 bytes = u8 scales[16] (4-bit scale | 4-bit min << 4), u8 qs[64] (2 bits), f16 d, f16 dmin
//   Q3_K: 110 bytes = u8 hmask[32] (3rd bit), u8 qs[64] (2 bits), u8 scales[12] (16 x 6 bits), f16 d
//   Q4_K: 144 bytes = f16 d, f16 dmin, u8 scales[12] (8 x 6-bit scale and min), u8 qs[128] (4 bits)
//   Q5_K: 176 bytes = f16 d, f16 dmin, u8 scales[12], u8 qh[32] (5th bit), u8 qs[128]
//   Q6_K: 210 bytes = u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), i8 scales[16], f16 d
// Where each element's bits sit is spelled out once, in reference/quant.ts (dequantize); rows of K-quants have a
// multiple of 256 values.

export type DType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0" | "Q4_1" | "Q5_0" | "Q5_1" | "Q2_K" | "Q3_K" | "Q4_K" | "Q5_K" | "Q6_K";

export interface DTypeInfo {
  /** Values per block (1 for plain floats). */
  readonly blockValues: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** The block's f16 scales: name (as in ggml-common.h) and byte offset in the block. */
  readonly halfScales: readonly (readonly [name: string, offset: number])[];
}

const D = [["d", 0]] as const;
const D_M = [["d", 0], ["m", 2]] as const;
const D_DMIN = [["d", 0], ["dmin", 2]] as const;

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  F32: { blockValues: 1, blockBytes: 4, halfScales: [] },
  F16: { blockValues: 1, blockBytes: 2, halfScales: [] },
  BF16: { blockValues: 1, blockBytes: 2, halfScales: [] },
  Q8_0: { blockValues: 32, blockBytes: 34, halfScales: D },
  Q4_0: { blockValues: 32, blockBytes: 18, halfScales: D },
  Q4_1: { blockValues: 32, blockBytes: 20, halfScales: D_M },
  Q5_0: { blockValues: 32, blockBytes: 22, halfScales: D },
  Q5_1: { blockValues: 32, blockBytes: 24, halfScales: D_M },
  Q2_K: { blockValues: 256, blockBytes: 84, halfScales: [["d", 80], ["dmin", 82]] },
  Q3_K: { blockValues: 256, blockBytes: 110, halfScales: [["d", 108]] },
  Q4_K: { blockValues: 256, blockBytes: 144, halfScales: D_DMIN },
  Q5_K: { blockValues: 256, blockBytes: 176, halfScales: D_DMIN },
  Q6_K: { blockValues: 256, blockBytes: 210, halfScales: [["d", 208]] },
});

/** Bytes taken by one row of `cols` values, or undefined when `cols` does not fill whole blocks. */
export function rowBytes(dtype: DType, cols: number): number | undefined {
  const info = DTYPES[dtype];
  if (cols % info.blockValues !== 0) return undefined;
  return (cols / info.blockValues) * info.blockBytes;
}


/**
 * A block of `bytes` (whole blocks of `dtype`) whose f16 scale is Inf or NaN (exponent bits all set): its index,
 * the scale's name and bits; undefined when there is none. Such a scale turns its whole block into Inf/NaN, which no valid
 * quantizer writes (llama.cpp's ggml_validate_row_data refuses it too).
 */
export function nonFiniteScale(dtype: DType, bytes: Uint8Array): { block: number; scale: string; bits: number } | undefined {
  const { blockBytes, halfScales } = DTYPES[dtype];
  for (const [scale, offset] of halfScales) {
    for (let p = offset, block = 0; p + 1 < bytes.length; p += blockBytes, block++) {
      // The high byte of a little-endian f16: sign bit and the five exponent bits (of which 0x7c holds all).
      if ((bytes[p + 1]! & 0x7c) === 0x7c) return { block, scale, bits: bytes[p]! | (bytes[p + 1]! << 8) };
    }
  }
  return undefined;
}
