// Research commands for a checkout of this repository; they are not part of the npm package.
//   npm run eval -- --task freebaseqa --data dev.jsonl [--skip on]   one task's quality under one skip setting
//   npm run sweep                                                    the FFN-skip sweep -> bench/results/skip-sweep.md
//   npm run bench -- decode | skip | roofline                        speed (see bench/speed.ts)
// Errors we throw on purpose print as one line, as in the ffnskip CLI; anything else prints its stack.

import { FfnskipError } from "../src/errors.js";

const COMMANDS: Readonly<Record<string, (argv: string[]) => Promise<void>>> = {
  eval: async (a) => (await import("./eval/eval.js")).evalCommand(a),
  sweep: async (a) => (await import("./eval/sweep.js")).sweepCommand(a),
  bench: async (a) => (await import("./speed.js")).bench(a),
};

const [name, ...rest] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (command === undefined) {
  process.stderr.write(`usage: tsx bench/main.ts <${Object.keys(COMMANDS).join("|")}> [options]   (or npm run eval / sweep / bench)\n`);
  process.exitCode = 2;
} else {
  command(rest).catch((error: unknown) => {
    if (error instanceof FfnskipError) {
      process.stderr.write(`${name}: ${error.name}: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`${name}: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    }
  });
}
