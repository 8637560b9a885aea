// ffnskip chat: an interactive streaming REPL that keeps the conversation. Ctrl-C stops a reply, Ctrl-D (or /exit)
// quits, /reset forgets the history. Prompts that extend the previous turn reuse its KV cache.
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import type { ChatMessage } from "../text/chat-template.js";
import { describeFlags, type FlagSpecs, parseArgs } from "./args.js";
import { summaryLine } from "./generate.js";
import { MODEL_FLAGS, openModel, SAMPLING_FLAGS, samplingOptions } from "./model-flags.js";
import { renderTrace, traceJson, traceLabels } from "./trace.js";

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  ...MODEL_FLAGS,
  system: { type: "string", help: "a system message to start the conversation with" },
  ...SAMPLING_FLAGS,
  quiet: { type: "boolean", help: "no per-turn summary line" },
  trace: { type: "boolean", help: "print each reply's decode-step x layer FFN-skip map (stderr)" },
  "trace-json": { type: "string", help: "append each reply's FFN-skip trace to this file, one JSON object per line" },
} as const satisfies FlagSpecs;

export async function chat(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, FLAGS, "chat");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip chat [options]\n${describeFlags(FLAGS)}\n`);
    return;
  }
  const model = await openModel(flags);
  const start: ChatMessage[] = flags.system !== undefined ? [{ role: "system", content: flags.system }] : [];
  let history = [...start];
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
  let abort: AbortController | null = null;
  rl.on("SIGINT", () => {
    if (abort !== null) abort.abort();
    else rl.close();
  });
  process.stderr.write(`chatting with ${model.name} (${model.maxContext} token context). /reset clears history, /exit or Ctrl-D quits.\n`);
  try {
    while (true) {
      let line: string;
      try {
        line = await rl.question("you> ");
      } catch {
        break; // input closed
      }
      const text = line.trim();
      if (text === "/exit") break;
      if (text === "/reset") {
        history = [...start];
        process.stderr.write("(history cleared)\n");
        continue;
      }
      if (text === "") continue;
      history.push({ role: "user", content: text });
      abort = new AbortController();
      process.stdout.write("assistant> ");
      const stream = model.generate(history, { ...samplingOptions(flags), signal: abort.signal });
      try {
        for await (const piece of stream) process.stdout.write(piece.text);
        const result = await stream.result;
        process.stdout.write("\n");
        history.push({ role: "assistant", content: result.text });
        if (flags.trace || flags["trace-json"] !== undefined) {
          const labels = traceLabels(result, (ids) => model.decode(ids));
          if (flags.trace) process.stderr.write(renderTrace(result.trace, labels, process.stderr.isTTY === true));
          if (flags["trace-json"] !== undefined) appendFileSync(flags["trace-json"], `${JSON.stringify({ turn: history.filter((m) => m.role === "user").length, ...traceJson(result.trace, labels) })}\n`);
        }
        if (!flags.quiet) process.stderr.write(`${summaryLine(result)}\n`);
      } catch (error) {
        history.pop(); // the turn failed (e.g. the conversation no longer fits the context): drop it
        process.stdout.write("\n");
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      }
      abort = null;
    }
  } finally {
    rl.close();
  }
}
