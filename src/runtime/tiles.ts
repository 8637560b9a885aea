// Weight layouts. "rows" is the file's layout: row r's blocks one after another. "tiles4" interleaves four rows
// block by block (layouts in kernels/qmatmul.ts) so the integer-dot kernels stream every weight once and load each
// activation block once per four rows. Repacking moves bytes only: every quantized value and scale is kept as is.

import type { DType } from "../io/dtype.js";

export type TiledDType = "Q4_1" | "Q4_0" | "Q8_0";

/** Bytes of one block position of a four-row tile. */
export const TILE_BLOCK_BYTES: Readonly<Record<TiledDType, number>> = { Q4_1: 80, Q4_0: 72, Q8_0: 136 };

/** Per llama.cpp block: where the scale bytes sit, how many, and where the quants sit (bytes). */
const BLOCK_PARTS: Readonly<Record<TiledDType, { blockBytes: number; scaleBytes: number; quantBytes: number }>> = {
  Q4_1: { blockBytes: 20, scaleBytes: 4, quantBytes: 16 }, // f16 d, f16 m, 16 bytes of nibbles
  Q4_0: { blockBytes: 18, scaleBytes: 2, quantBytes: 16 }, // f16 d, 16 bytes of nibbles
  Q8_0: { blockBytes: 34, scaleBytes: 2, quantBytes: 32 }, // f16 d, 32 x i8
};

export function canTile(dtype: DType, rows: number): dtype is TiledDType {
  return (dtype === "Q4_1" || dtype === "Q4_0" || dtype === "Q8_0") && rows % 4 === 0;
}

/**
 * Writes `rows` rows of `dtype` blocks (`source`, row-major, cols/32 blocks per row) into `target` as four-row
 * tiles. Within a tile block: the four rows' quants, then the four d scales (f16), then for Q4_1 the four m (f16).
 */
export function repackToTiles(dtype: TiledDType, source: Uint8Array, rows: number, cols: number, target: Uint8Array): void {
  const { blockBytes, scaleBytes, quantBytes } = BLOCK_PARTS[dtype];
  const blocks = cols / 32;
  const tileBlock = TILE_BLOCK_BYTES[dtype];
  for (let tile = 0; tile < rows / 4; tile++) {
    for (let b = 0; b < blocks; b++) {
      const out = (tile * blocks + b) * tileBlock;
      for (let r = 0; r < 4; r++) {
        const src = ((tile * 4 + r) * blocks + b) * blockBytes;
        // A plain loop, not target.set(source.subarray(..)): a 7B model has 2e8 blocks, and a view per block
        // made loading spend most of its time allocating and collecting them.
        const from = src + scaleBytes, to = out + r * quantBytes;
        for (let i = 0; i < quantBytes; i++) target[to + i] = source[from + i]!;
        // d of row r, then (Q4_1) m of row r, each in its own group of four f16 after the quants
        target[out + 4 * quantBytes + 2 * r] = source[src]!;
        target[out + 4 * quantBytes + 2 * r + 1] = source[src + 1]!;
        if (dtype === "Q4_1") {
          target[out + 4 * quantBytes + 8 + 2 * r] = source[src + 2]!;
          target[out + 4 * quantBytes + 8 + 2 * r + 1] = source[src + 3]!;
        }
      }
    }
  }
}
