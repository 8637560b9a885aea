// ffnskip convert in.gguf out-dir/: write a Hugging Face folder (for transformers) from a GGUF file.
import { InputError } from "../errors.js";
import { convertGgufFile } from "../node/convert.js";
import { hfTokenizerFilesFromGguf } from "../text/tokenizer-gguf.js";
import { describeFlags, parseArgs } from "./args.js";

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  dtype: { type: "string", help: "f32 (default) or f16 for the written weights" },
} as const;

export async function convert(argv: string[]): Promise<void> {
  const { flags, positional } = parseArgs(argv, FLAGS, "convert");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip convert <in.gguf> <out-dir>\n${describeFlags(FLAGS)}\n`);
    return;
  }
  if (positional.length !== 2) throw new InputError({ file: "ffnskip convert", field: "arguments", expected: "<in.gguf> <out-dir>", actual: `${positional.length} arguments` });
  const dtype = (flags.dtype ?? "f32").toUpperCase();
  if (dtype !== "F32" && dtype !== "F16") throw new InputError({ file: "ffnskip convert", field: "--dtype", expected: "f32 or f16", actual: JSON.stringify(flags.dtype) });
  const result = await convertGgufFile(positional[0]!, positional[1]!, {
    dtype,
    // The folder is complete for transformers when the GGUF carries a tokenizer: tokenizer.json and its config.
    extraFiles: ({ gguf }) => {
      if (!gguf.metadata.has("tokenizer.ggml.model")) return new Map();
      const encoder = new TextEncoder();
      return new Map([...hfTokenizerFilesFromGguf(gguf)].map(([name, text]) => [name, encoder.encode(text)]));
    },
  });
  process.stderr.write(`wrote ${result.files.join(", ")} to ${positional[1]}\n`);
}
