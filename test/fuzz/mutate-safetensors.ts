// safetensors mutations: the u64 header length, the JSON header (as a tree: dtypes, shapes, data_offsets, names,
// __metadata__; and as text), truncation at every boundary that matters, and tensor bytes.

import { diffBytes, type Edit, hex } from "./edits.js";
import { type JsonDictionary, mutateJsonText, mutateJsonTree, serializeJson } from "./mutate-json.js";
import type { BinaryMutation } from "./mutate-gguf.js";
import { interesting64 } from "./mutate-gguf.js";
import type { Rng } from "./rng.js";

export interface SafetensorsLayout {
  readonly headerLength: number;
  readonly headerText: string;
  readonly header: Record<string, unknown>;
  readonly dataStart: number;
  /** Absolute [begin, end) of each tensor's data. */
  readonly spans: readonly (readonly [number, number])[];
}

export function safetensorsLayout(bytes: Uint8Array): SafetensorsLayout {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const spans = Object.entries(header)
    .filter(([name]) => name !== "__metadata__")
    .map(([, entry]) => {
      const [b, e] = (entry as { data_offsets: [number, number] }).data_offsets;
      return [dataStart + b, dataStart + e] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  return { headerLength, headerText, header, dataStart, spans };
}

export const SAFETENSORS_DICTIONARY: JsonDictionary = {
  keys: ["dtype", "shape", "data_offsets", "__metadata__", "model.embed_tokens.weight", "lm_head.weight", "model.norm.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.2.mlp.up_proj.weight", "extra"],
  values: [
    "F32", "F16", "BF16", "F64", "I8", "U8", "BOOL", "F8_E4M3", "Q4_0", "f32", "F32 ", [0, 0], [0, 4], [4, 0], [-1, 3], [0, 1e300], [0.5, 4.5], [2 ** 53, 2 ** 53 + 4],
    [64], [1, 64], [64, 1], [0], [], [0, 64], [256, 64], [64, 64, 1], [2 ** 40, 2 ** 40], [-64], [64.5], ["64"], { dtype: "F32", shape: [], data_offsets: [0, 4] },
    { format: "pt" }, { format: 1 }, null,
  ],
  strings: ["F32", "F16", "BF16", "model.norm.weight", "lm_head.weight", "__metadata__", ""],
};

/** Rebuilds a file from a new header text and the seed's data, optionally padding the header as writers do. */
function withHeader(seed: Uint8Array, layout: SafetensorsLayout, headerText: string, pad: boolean, headerBytes?: Uint8Array): Uint8Array {
  let header = headerBytes ?? new TextEncoder().encode(headerText);
  if (pad && header.length % 8 !== 0) {
    const padded = new Uint8Array(Math.ceil(header.length / 8) * 8).fill(0x20);
    padded.set(header);
    header = padded;
  }
  const out = new Uint8Array(8 + header.length + seed.length - layout.dataStart);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(seed.subarray(layout.dataStart), 8 + header.length);
  return out;
}

export function mutateSafetensors(rng: Rng, seed: Uint8Array, layout: SafetensorsLayout): BinaryMutation {
  const op = rng.weighted<string>([
    [10, "length"], [45, "tree"], [12, "text"], [10, "truncate"], [4, "bytes-in-header"], [4, "flip-data"], [4, "nan-data"], [4, "append"],
    [3, "insert-data"], [4, "invalid-utf8"],
  ]);
  const diff = (b: Uint8Array, touchesData: boolean, label: string): BinaryMutation => ({ edits: diffBytes(seed, b), touchesData, label });
  switch (op) {
    case "length": {
      const value = rng.chance(0.3) ? BigInt(rng.pick([100_000_000, 100_000_001, seed.length - 8, seed.length - 7, layout.headerLength + 8, layout.headerLength - 8]))
        : interesting64(rng, BigInt(layout.headerLength), seed.length, 0);
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
      return { edits: [{ at: 0, del: 8, ins: hex(bytes) }], touchesData: true, label: "length" };
    }
    case "tree": {
      let tree: unknown = layout.header;
      const rounds = rng.weighted([[70, 1], [20, 2], [10, 3]] as const);
      for (let i = 0; i < rounds; i++) tree = mutateJsonTree(rng, tree, SAFETENSORS_DICTIONARY);
      // Changed shapes or offsets make tensors read other bytes: NaN is then possible and allowed.
      return diff(withHeader(seed, layout, serializeJson(tree), rng.chance(0.7)), true, "tree");
    }
    case "text":
      return diff(withHeader(seed, layout, mutateJsonText(rng, layout.headerText.trimEnd()), rng.chance(0.5)), true, "text");
    case "invalid-utf8": {
      const text = new TextEncoder().encode(layout.headerText.trimEnd());
      const at = 1 + rng.int(text.length - 1);
      const bad = rng.pick([Uint8Array.of(0xff), Uint8Array.of(0xc3), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xef, 0xbb, 0xbf), Uint8Array.of(0)]);
      const header = new Uint8Array(text.length + bad.length);
      header.set(text.subarray(0, at));
      header.set(bad, at);
      header.set(text.subarray(at), at + bad.length);
      return diff(withHeader(seed, layout, "", rng.chance(0.5), header), true, "invalid-utf8");
    }
    case "truncate": {
      const span = rng.pick(layout.spans);
      const at = rng.pick([0, 1, 7, 8, 9, rng.int(layout.dataStart), layout.dataStart - 1, layout.dataStart, span[0], span[1], span[0] + 1, span[1] - 1, seed.length - 1]);
      return { edits: [{ at, del: seed.length - at, ins: "" }], touchesData: true, label: "truncate" };
    }
    case "bytes-in-header": {
      const at = 8 + rng.int(layout.headerLength);
      return { edits: [{ at, del: 1, ins: hex(Uint8Array.of(rng.int(256))) }], touchesData: true, label: "bytes-in-header" };
    }
    case "flip-data": {
      const at = layout.dataStart + rng.int(seed.length - layout.dataStart);
      return { edits: [{ at, del: 1, ins: hex(Uint8Array.of(seed[at]! ^ (1 << rng.int(8)))) }], touchesData: true, label: "flip-data" };
    }
    case "nan-data": {
      const at = layout.dataStart + 2 * rng.int((seed.length - layout.dataStart) >> 1);
      const bits = rng.pick([Uint8Array.of(0xc0, 0x7f), Uint8Array.of(0x80, 0x7f), Uint8Array.of(0x00, 0x7e), Uint8Array.of(0x00, 0x7c)]);
      return { edits: [{ at, del: 2, ins: hex(bits) }], touchesData: true, label: "nan-data" };
    }
    case "append":
      return { edits: [{ at: seed.length, del: 0, ins: hex(rng.bytes(rng.pick([1, 4, 64]))) }], touchesData: true, label: "append" };
    default: {
      const at = layout.dataStart + rng.int(seed.length - layout.dataStart);
      return { edits: [{ at, del: rng.chance(0.5) ? 4 : 0, ins: hex(rng.bytes(4)) }] as Edit[], touchesData: true, label: "insert-data" };
    }
  }
}
