// One error hierarchy for the whole library. Every error names where the problem is (file, field), what was
// expected and what was found, so a user can fix their input without reading our source.

export interface ErrorDetails {
  /** The file (or logical source, e.g. "config.json", "generate options") the problem is in. */
  readonly file?: string;
  /** The field, key, tensor or parameter name. */
  readonly field?: string;
  /** What a valid value looks like. */
  readonly expected?: string;
  /** What was found instead. */
  readonly actual?: string;
  /** Free text appended after the structured part. */
  readonly detail?: string;
}

function describe(details: ErrorDetails): string {
  const where = [details.file, details.field].filter((part) => part !== undefined && part !== "").join(": ");
  const parts: string[] = [];
  if (details.expected !== undefined) parts.push(`expected ${details.expected}`);
  if (details.actual !== undefined) parts.push(`got ${details.actual}`);
  let text = parts.join(", ");
  if (details.detail !== undefined) text = text === "" ? details.detail : `${text} (${details.detail})`;
  if (where === "") return text;
  return text === "" ? where : `${where}: ${text}`;
}

/** Base class: catch this to catch everything ffnskip throws on purpose. */
export class FfnskipError extends Error {
  readonly file?: string;
  readonly field?: string;
  readonly expected?: string;
  readonly actual?: string;

  constructor(details: ErrorDetails) {
    super(describe(details));
    this.name = new.target.name;
    this.file = details.file;
    this.field = details.field;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** The bytes do not follow the file format (truncated, bad offsets, bad JSON, inconsistent sizes). */
export class FormatError extends FfnskipError {}

/** The file is well-formed but uses something we do not implement (a tensor type, an architecture). */
export class UnsupportedError extends FfnskipError {}

/** Model or skip configuration values are missing, contradictory or out of range. */
export class ConfigError extends FfnskipError {}

/** Caller input is invalid: prompt, token ids, sampling parameters, CLI flags. */
export class InputError extends FfnskipError {}

/** Not enough memory (WASM address space, memory.grow) or a similar resource for the request. */
export class ResourceError extends FfnskipError {}

/** Describes any value briefly for an error message (never dumps huge arrays or strings). */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "function") return "a function";
  if (typeof value === "object") return "object";
  return String(value);
}
