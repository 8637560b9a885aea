// The real inputs the fuzzer mutates: the tiny random Llama of test/fixtures/tiny-llama.ts as GGUF files (F32, Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1, and a 256-wide variant mixing the K-quants Q2_K..Q6_K) that also carry a tokenizer (a 256-token byte-level BPE with SmolLM2's special tokens and chat
// template), the same model as a Hugging Face folder (config.json, model.safetensors in F32/F16/BF16, and the
// tokenizer.json / tokenizer_config.json that hfTokenizerFilesFromGguf makes of that GGUF), and, when it has been
// pulled, the real SmolLM2 GGUF and the tokenizer files made from it.

import { existsSync, readFileSync } from "node:fs";
import { type GgufMetadataEntry, ggufArray, writeGguf } from "../../src/io/gguf-writer.js";
import { readGguf } from "../../src/io/gguf.js";
import { hfTokenizerFilesFromGguf } from "../../src/text/tokenizer-gguf.js";
import { type TinyGgufOptions, tinyLlamaFolderFiles, tinyLlamaGgufBytes } from "../fixtures/tiny-llama.js";

export const SMOL_PATH = new URL("../../weights/SmolLM2-135M-Instruct.Q4_1.gguf", import.meta.url).pathname;

/** SmolLM2-135M-Instruct's chat template (tokenizer.chat_template of the reference GGUF). */
export const SMOL_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI " +
  "assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + " +
  "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** GPT-2's byte alphabet: the printable spelling of each byte in a byte-level BPE vocabulary. */
function byteAlphabet(): string[] {
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out.push(String.fromCharCode(printable ? b : next++));
  }
  return out;
}

/** The tiny tokenizer: ids 0-2 are SmolLM2's specials, 3-8 a few merged pieces, the rest the byte alphabet. */
export function tinyTokenizerMetadata(): GgufMetadataEntry[] {
  const tokens = byteAlphabet();
  const specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
  specials.forEach((text, id) => { tokens[id] = text; });
  const pieces = ["Ġt", "he", "in", "er", "ll", "Ġthe"];
  pieces.forEach((text, i) => { tokens[3 + i] = text; });
  return [
    ["tokenizer.ggml.model", "STRING", "gpt2"],
    ["tokenizer.ggml.pre", "STRING", "smollm"],
    ["tokenizer.ggml.tokens", "ARRAY", ggufArray("STRING", tokens)],
    ["tokenizer.ggml.token_type", "ARRAY", ggufArray("INT32", tokens.map((_, id) => (id < specials.length ? 3 : 1)))],
    ["tokenizer.ggml.merges", "ARRAY", ggufArray("STRING", ["Ġ t", "h e", "i n", "e r", "l l", "Ġt he"])],
    ["tokenizer.ggml.bos_token_id", "UINT32", 1],
    ["tokenizer.ggml.eos_token_id", "UINT32", 2],
    ["tokenizer.ggml.unknown_token_id", "UINT32", 0],
    ["tokenizer.ggml.padding_token_id", "UINT32", 2],
    ["tokenizer.ggml.add_bos_token", "BOOL", false],
    ["tokenizer.chat_template", "STRING", SMOL_CHAT_TEMPLATE],
  ];
}

/**
 * A SentencePiece-style tokenizer for the same 256 ids (tokenizer.ggml.model "llama"): <unk>, <s>, </s>, byte tokens
 * <0x00>..<0xF4> (0xF5-0xFF never occur in UTF-8) and a few pieces ("▁", "▁the", ...), with scores instead of merges:
 * text goes through Metaspace, merges derived from scores and byte fallback.
 */
export function tinySpmTokenizerMetadata(): GgufMetadataEntry[] {
  const tokens = ["<unk>", "<s>", "</s>"];
  for (let b = 0; b < 0xf5; b++) tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const pieces: [string, number][] = [["▁", -10], ["t", -10], ["h", -10], ["e", -10], ["▁t", -2], ["he", -3], ["▁the", -1], ["▁h", -4]];
  tokens.push(...pieces.map(([text]) => text));
  const scores = tokens.map((token, id) => pieces.find(([text]) => text === token)?.[1] ?? -100 - id);
  return [
    ["tokenizer.ggml.model", "STRING", "llama"],
    ["tokenizer.ggml.tokens", "ARRAY", ggufArray("STRING", tokens)],
    ["tokenizer.ggml.scores", "ARRAY", ggufArray("FLOAT32", scores)],
    ["tokenizer.ggml.token_type", "ARRAY", ggufArray("INT32", tokens.map((token, id) => (id === 0 ? 2 : id < 3 ? 3 : token.startsWith("<0x") ? 6 : 1)))],
    ["tokenizer.ggml.bos_token_id", "UINT32", 1],
    ["tokenizer.ggml.eos_token_id", "UINT32", 2],
    ["tokenizer.ggml.unknown_token_id", "UINT32", 0],
    ["tokenizer.ggml.add_bos_token", "BOOL", true],
    ["tokenizer.ggml.add_space_prefix", "BOOL", true],
    ["tokenizer.chat_template", "STRING", SMOL_CHAT_TEMPLATE],
  ];
}

const K_QUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"] as const;
const K_ROLES = ["token_embd", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output."];

/**
 * The tiny model 256 wide (FFN 512, head dim 64: rows of whole K-quant super-blocks), its matrices in the five
 * K-quants by role and layer, so every type appears, and Q, K, V of one layer in different types.
 */
export const TINY_KQUANT: Pick<TinyGgufOptions, "shape" | "dtype"> = {
  shape: { hidden: 256, ffn: 512, headDim: 64 },
  dtype: (name) => {
    const layer = Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? 0);
    return K_QUANTS[(K_ROLES.findIndex((role) => name.includes(role)) + layer) % K_QUANTS.length]!;
  },
};

/** The tiny model as a complete GGUF: llama.* metadata, tokenizer, chat template and tensors. */
export function tinyGgufWithTokenizer(dtype: TinyGgufOptions["dtype"], tokenizer: "bpe" | "spm" = "bpe", shape?: TinyGgufOptions["shape"]): Uint8Array {
  const { bytes } = tinyLlamaGgufBytes({ dtype, shape });
  const parsed = readGguf(bytes);
  const metadata: GgufMetadataEntry[] = [];
  for (const [key, value] of parsed.metadata) {
    if (key.startsWith("tokenizer.")) continue;
    metadata.push([key, parsed.metadataTypes.get(key)!, value as number | string]);
  }
  metadata.push(...(tokenizer === "bpe" ? tinyTokenizerMetadata() : tinySpmTokenizerMetadata()));
  const tensors = parsed.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
  return writeGguf({ version: 3, metadata, tensors });
}

export type SeedName =
  | "gguf-tiny-F32" | "gguf-tiny-Q8_0" | "gguf-tiny-Q4_0" | "gguf-tiny-Q4_1" | "gguf-tiny-Q5_0" | "gguf-tiny-Q5_1" | "gguf-tiny-kquant"
  | "gguf-tiny-spm" | "gguf-smol"
  | "st-tiny-F32" | "st-tiny-F16" | "st-tiny-BF16"
  | "config-tiny" | "tokenizer-tiny" | "tokenizer-config-tiny" | "tokenizer-spm" | "tokenizer-config-spm" | "tokenizer-smol" | "tokenizer-config-smol";

export const GGUF_TINY_SEEDS = [
  "gguf-tiny-F32", "gguf-tiny-Q8_0", "gguf-tiny-Q4_0", "gguf-tiny-Q4_1", "gguf-tiny-Q5_0", "gguf-tiny-Q5_1", "gguf-tiny-kquant", "gguf-tiny-spm",
] as const;
export const ST_TINY_SEEDS = ["st-tiny-F32", "st-tiny-F16", "st-tiny-BF16"] as const;
export const BINARY_SEEDS: ReadonlySet<SeedName> = new Set([...GGUF_TINY_SEEDS, "gguf-smol", ...ST_TINY_SEEDS]);

/** Builds seeds on first use and keeps them. */
export class Seeds {
  private readonly binary = new Map<SeedName, Uint8Array>();
  private readonly text = new Map<SeedName, string>();

  get smolAvailable(): boolean {
    return existsSync(SMOL_PATH);
  }

  bytes(name: SeedName): Uint8Array {
    let value = this.binary.get(name);
    if (value === undefined) {
      value = this.buildBytes(name);
      this.binary.set(name, value);
    }
    return value;
  }

  string(name: SeedName): string {
    let value = this.text.get(name);
    if (value === undefined) {
      value = this.buildText(name);
      this.text.set(name, value);
    }
    return value;
  }

  private buildBytes(name: SeedName): Uint8Array {
    switch (name) {
      case "gguf-tiny-F32": return tinyGgufWithTokenizer("F32");
      case "gguf-tiny-Q8_0": return tinyGgufWithTokenizer("Q8_0");
      case "gguf-tiny-Q4_0": return tinyGgufWithTokenizer("Q4_0");
      case "gguf-tiny-Q4_1": return tinyGgufWithTokenizer("Q4_1");
      case "gguf-tiny-Q5_0": return tinyGgufWithTokenizer("Q5_0");
      case "gguf-tiny-Q5_1": return tinyGgufWithTokenizer("Q5_1");
      case "gguf-tiny-kquant": return tinyGgufWithTokenizer(TINY_KQUANT.dtype, "bpe", TINY_KQUANT.shape);
      case "gguf-tiny-spm": return tinyGgufWithTokenizer("Q8_0", "spm");
      case "gguf-smol": {
        const file = readFileSync(SMOL_PATH);
        return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
      }
      case "st-tiny-F32": return tinyLlamaFolderFiles({ dtype: "F32" }).files.get("model.safetensors")!;
      case "st-tiny-F16": return tinyLlamaFolderFiles({ dtype: "F16" }).files.get("model.safetensors")!;
      case "st-tiny-BF16": return tinyLlamaFolderFiles({ dtype: "BF16" }).files.get("model.safetensors")!;
      default: throw new TypeError(`not a binary seed: ${name}`);
    }
  }

  private buildText(name: SeedName): string {
    // JSON seeds are kept compact (one line): a mutation then shows up as one small edit.
    const compact = (text: string): string => JSON.stringify(JSON.parse(text));
    switch (name) {
      case "config-tiny": return compact(new TextDecoder().decode(tinyLlamaFolderFiles().files.get("config.json")!));
      case "tokenizer-tiny": return compact(hfTokenizerFilesFromGguf(readGguf(this.bytes("gguf-tiny-Q4_1"))).get("tokenizer.json")!);
      case "tokenizer-config-tiny": return compact(hfTokenizerFilesFromGguf(readGguf(this.bytes("gguf-tiny-Q4_1"))).get("tokenizer_config.json")!);
      case "tokenizer-spm": return compact(hfTokenizerFilesFromGguf(readGguf(this.bytes("gguf-tiny-spm"))).get("tokenizer.json")!);
      case "tokenizer-config-spm": return compact(hfTokenizerFilesFromGguf(readGguf(this.bytes("gguf-tiny-spm"))).get("tokenizer_config.json")!);
      case "tokenizer-smol": return compact(hfTokenizerFilesFromGguf(readGguf(this.bytes("gguf-smol"))).get("tokenizer.json")!);
      case "tokenizer-config-smol": return compact(hfTokenizerFilesFromGguf(readGguf(this.bytes("gguf-smol"))).get("tokenizer_config.json")!);
      default: throw new TypeError(`not a text seed: ${name}`);
    }
  }
}
