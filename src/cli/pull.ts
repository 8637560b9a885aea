// ffnskip pull <model>: fetch a model into weights/ (see src/node/pull.ts).
import { InputError } from "../errors.js";
import { PULLABLE_MODELS, pullModel } from "../node/pull.js";
import { describeFlags, parseArgs } from "./args.js";

const FLAGS = { help: { type: "boolean", help: "show this help" }, dir: { type: "string", help: "target folder (default: the package's weights/)" } } as const;

export async function pull(argv: string[]): Promise<void> {
  const { flags, positional } = parseArgs(argv, FLAGS, "pull");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip pull <${Object.keys(PULLABLE_MODELS).join("|")}>\n${describeFlags(FLAGS)}\n`);
    return;
  }
  if (positional.length !== 1) throw new InputError({ file: "ffnskip pull", field: "model", expected: `one model name (${Object.keys(PULLABLE_MODELS).join(", ")})`, actual: `${positional.length} arguments` });
  const path = await pullModel(positional[0]!, flags.dir, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${path}\n`);
}
