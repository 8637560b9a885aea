// A small, strict command-line parser: every flag is declared with its type, unknown flags and bad values are
// InputErrors naming the flag. `--flag value` and `--flag=value` both work; booleans take no value.

import { InputError } from "../errors.js";

export type FlagType = "string" | "number" | "int" | "boolean" | "list";

export interface FlagSpec {
  readonly type: FlagType;
  readonly help: string;
  /** Inclusive bounds for number/int flags. */
  readonly min?: number;
  readonly max?: number;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export type ParsedFlags<S extends FlagSpecs> = {
  -readonly [K in keyof S]?: S[K]["type"] extends "boolean" ? boolean
    : S[K]["type"] extends "number" | "int" ? number
    : S[K]["type"] extends "list" ? string[]
    : string;
};

export interface ParsedArgs<S extends FlagSpecs> {
  readonly flags: ParsedFlags<S>;
  readonly positional: string[];
}

export function parseArgs<S extends FlagSpecs>(argv: readonly string[], specs: S, command: string): ParsedArgs<S> {
  const flags: Record<string, unknown> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--") || arg === "--") {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs[name];
    if (spec === undefined) {
      throw new InputError({ file: `ffnskip ${command}`, field: `--${name}`, expected: `one of ${Object.keys(specs).map((k) => `--${k}`).join(", ")}`, actual: "an unknown flag" });
    }
    if (spec.type === "boolean") {
      if (eq !== -1) throw new InputError({ file: `ffnskip ${command}`, field: `--${name}`, expected: "no value", actual: JSON.stringify(arg.slice(eq + 1)) });
      flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new InputError({ file: `ffnskip ${command}`, field: `--${name}`, expected: `a ${spec.type} value`, actual: "nothing" });
    flags[name] = convert(value, spec, name, command);
  }
  return { flags: flags as ParsedFlags<S>, positional };
}

function convert(value: string, spec: FlagSpec, name: string, command: string): unknown {
  const fail = (expected: string) => new InputError({ file: `ffnskip ${command}`, field: `--${name}`, expected, actual: JSON.stringify(value) });
  if (spec.type === "string") return value;
  if (spec.type === "list") return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const number = value.trim() === "" ? NaN : Number(value);
  if (!Number.isFinite(number)) throw fail("a finite number");
  if (spec.type === "int" && !Number.isSafeInteger(number)) throw fail("an integer");
  if ((spec.min !== undefined && number < spec.min) || (spec.max !== undefined && number > spec.max)) {
    throw fail(`a number in [${spec.min ?? "-inf"}, ${spec.max ?? "inf"}]`);
  }
  return number;
}

/** Usage text for a command's flags, one per line. */
export function describeFlags(specs: FlagSpecs): string {
  return Object.entries(specs)
    .map(([name, spec]) => `  --${name}${spec.type === "boolean" ? "" : ` <${spec.type}>`}`.padEnd(28) + spec.help)
    .join("\n");
}
