// Storage formats of weight tensors, as laid out in bytes. Block formats follow llama.cpp (ggml-common.h):
//   Q8_0: 34 bytes per 32 values  = f16 d, 32 x i8 q               value = d * q
//   Q4_0: 18 bytes per 32 values  = f16 d, 16 bytes of nibbles     value = d * (q - 8)
//   Q4_1: 20 bytes per 32 values  = f16 d, f16 m, 16 bytes nibbles value = d * q + m
// In both 4-bit formats element j < 16 is the low nibble of byte j and element j >= 16 the high nibble of
// byte j - 16. Rows of a block format must have a multiple of 32 values.

export type DType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0" | "Q4_1";

export interface DTypeInfo {
  /** Values per block (1 for plain floats). */
  readonly blockValues: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  F32: { blockValues: 1, blockBytes: 4 },
  F16: { blockValues: 1, blockBytes: 2 },
  BF16: { blockValues: 1, blockBytes: 2 },
  Q8_0: { blockValues: 32, blockBytes: 34 },
  Q4_0: { blockValues: 32, blockBytes: 18 },
  Q4_1: { blockValues: 32, blockBytes: 20 },
});

/** Bytes taken by one row of `cols` values, or undefined when `cols` does not fill whole blocks. */
export function rowBytes(dtype: DType, cols: number): number | undefined {
  const info = DTYPES[dtype];
  if (cols % info.blockValues !== 0) return undefined;
  return (cols / info.blockValues) * info.blockBytes;
}

