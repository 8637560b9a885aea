#!/usr/bin/env node
// ffnskip command line. Each command lives in its own module under src/cli/ and is loaded only when used.
// Errors we throw on purpose (FfnskipError) print as one line; anything else is a bug and prints its stack.

import { FfnskipError } from "../errors.js";

interface Command {
  readonly summary: string;
  run(argv: string[]): Promise<void>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  pull: { summary: "download a model (smollm2, qwen2.5-coder-0.5b) into weights/", run: async (a) => (await import("./pull.js")).pull(a) },
  convert: { summary: "GGUF -> Hugging Face folder (config.json + model.safetensors + tokenizer)", run: async (a) => (await import("./convert.js")).convert(a) },
  generate: { summary: "stream a reply to --prompt (add --chat for the chat template)", run: async (a) => (await import("./generate.js")).generate(a) },
  chat: { summary: "interactive chat with history", run: async (a) => (await import("./chat.js")).chat(a) },
  serve: { summary: "OpenAI-compatible HTTP API (--model --host --port --api-key)", run: async (a) => (await import("./serve.js")).serve(a) },
  demo: { summary: "pull SmolLM2 if needed and answer one question (npm start)", run: async (a) => (await import("./generate.js")).demo(a) },
  calibrate: { summary: "calibrate FFN skipping for a target ratio on a text (--data --target --out [--plot])", run: async (a) => (await import("./calibrate.js")).calibrate(a) },
  logits: { summary: "logits for token ids (--json)", run: async (a) => (await import("./token-ids.js")).logits(a) },
  greedy: { summary: "greedy continuation of token ids (--json)", run: async (a) => (await import("./token-ids.js")).greedy(a) },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: ffnskip <command> [options]   (ffnskip <command> --help for its options)\n\ncommands:\n${lines.join("\n")}\n`;
}

/** Oldest Node release still maintained (package.json engines); older ones get a warning, not a refusal. */
const OLDEST_SUPPORTED_NODE = 22;

async function main(argv: string[]): Promise<number> {
  if (Number(process.versions.node.split(".")[0]) < OLDEST_SUPPORTED_NODE) {
    process.stderr.write(`ffnskip: warning: Node ${process.version} is past its end of life; ffnskip supports Node ${OLDEST_SUPPORTED_NODE} and later\n`);
  }
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`ffnskip: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  await command.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof FfnskipError) {
      process.stderr.write(`ffnskip: ${error.name}: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`ffnskip: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    }
  },
);
