// Random blocks of a quantized format: every bit pattern of the quants and packed scales, with the f16 scales
// (d, and dmin where there is one) drawn so that no value exceeds `maxValue` in magnitude. Random scale bits could
// be NaN or huge, which says nothing about a layout.

import { type DType, DTYPES } from "../../src/io/dtype.js";
import { f32ToF16 } from "../../src/reference/quant.js";

export type BlockDType = Exclude<DType, "F32" | "F16" | "BF16">;

/** Byte offsets of each block's f16 scales, and the largest |integer factor| a scale multiplies. */
const SCALES: Readonly<Record<BlockDType, { readonly halves: readonly number[]; readonly largest: number }>> = {
  Q8_0: { halves: [0], largest: 128 },
  Q4_0: { halves: [0], largest: 8 },
  Q4_1: { halves: [0, 2], largest: 15 },
  Q5_0: { halves: [0], largest: 16 },
  Q5_1: { halves: [0, 2], largest: 31 },
  Q2_K: { halves: [80, 82], largest: 15 * 3 },
  Q3_K: { halves: [108], largest: 32 * 4 },
  Q4_K: { halves: [0, 2], largest: 63 * 15 },
  Q5_K: { halves: [0, 2], largest: 63 * 31 },
  Q6_K: { halves: [208], largest: 128 * 32 },
};

export const BLOCK_DTYPES = Object.keys(SCALES) as BlockDType[];

export function randomBlocks(dtype: BlockDType, blocks: number, rand: () => number, maxValue = 0.5): Uint8Array {
  const { blockBytes } = DTYPES[dtype];
  const { halves, largest } = SCALES[dtype];
  const bytes = new Uint8Array(blocks * blockBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  const view = new DataView(bytes.buffer);
  // With a min (dmin or m) the value is d*q - min: give each half the budget.
  const budget = maxValue / halves.length / largest;
  for (let b = 0; b < blocks; b++) {
    for (const at of halves) view.setUint16(b * blockBytes + at, f32ToF16((2 * rand() - 1) * budget), true);
  }
  return bytes;
}
