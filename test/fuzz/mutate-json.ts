// JSON mutations for config.json, tokenizer.json, tokenizer_config.json and safetensors headers: structure-aware
// edits of the parsed tree (replace a value with an interesting one, delete, insert known keys, rename, duplicate,
// change types, nest deeply) and text-level edits (truncation, stray characters, duplicate keys, number literals
// JSON.stringify cannot write such as 1e999, invalid escapes, deep nesting).

import type { Rng } from "./rng.js";

export interface JsonDictionary {
  /** Keys worth inserting (the format's own field names). */
  readonly keys: readonly string[];
  /** Values worth inserting besides the generic interesting ones. */
  readonly values: readonly unknown[];
  /** Strings worth substituting. */
  readonly strings: readonly string[];
}

const LONG = "a".repeat(10_000);
export const INTERESTING_JSON: readonly unknown[] = [
  null, true, false, 0, -1, 1, 2, 3, 0.5, -0.5, 1e-300, 1e300, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2, -(2 ** 53),
  "", "0", "1", "null", "NaN", "Infinity", "\ud800", "\udfff", "\u0000", "\ufeff", LONG, [], {}, [0], [null], [1, 2], ["x", "y"],
  { a: 1 }, { __proto__: null, constructor: "x" }, 1.5, 65536, 1e6, 128, 64, 16,
];

/** Placeholders JSON.stringify writes as strings, replaced afterwards by text it cannot produce. */
const RAW_PREFIX = "\u0000RAW:";
const RAW_LITERALS = ["1e999", "-1e999", "1e-999", "-0", "123456789012345678901234567890", "0.1e1", "1E2", "NaN", "Infinity", "undefined"];

function deepNesting(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

function shallowCopy(node: unknown): unknown {
  if (Array.isArray(node)) return node.slice();
  if (node !== null && typeof node === "object") {
    // defineProperty keeps a "__proto__" key as data.
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    return out;
  }
  return node;
}

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isContainer(node: unknown): node is Record<string, unknown> | unknown[] {
  return node !== null && typeof node === "object";
}

function childKeys(node: Record<string, unknown> | unknown[]): (string | number)[] {
  return Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
}

function interestingNumber(rng: Rng, value: number): unknown {
  return rng.pick([
    value + 1, value - 1, value * 2, -value, value / 2, value + 0.5, value * 1000, Math.floor(value / 3), 0, value * 65536,
    value === 0 ? 1 : value, `${RAW_PREFIX}${rng.pick(RAW_LITERALS)}`,
  ]);
}

function interestingString(rng: Rng, value: string, dict: JsonDictionary): unknown {
  const at = rng.int(value.length + 1);
  return rng.pick([
    "", value + value, value.slice(0, at), value.slice(0, at) + "\ud800" + value.slice(at), value.toUpperCase(), ` ${value}`,
    value + "\u0000", rng.pick(dict.strings.length > 0 ? dict.strings : [value]), rng.pick(dict.strings.length > 0 ? dict.strings : [value]),
    value.slice(0, at) + String.fromCodePoint(rng.range(0, 0x10ffff) & ~0x800) + value.slice(at), value.repeat(100).slice(0, 5000),
  ]);
}

function newValue(rng: Rng, dict: JsonDictionary): unknown {
  if (rng.chance(0.05)) return `${RAW_PREFIX}${rng.pick(RAW_LITERALS)}`;
  if (rng.chance(0.02)) return `${RAW_PREFIX}${deepNesting(rng.pick([100, 5000, 100_000]))}`;
  return rng.chance(0.5) && dict.values.length > 0 ? structuredCloneSafe(rng.pick(dict.values)) : structuredCloneSafe(rng.pick(INTERESTING_JSON));
}

function structuredCloneSafe(value: unknown): unknown {
  if (!isContainer(value)) return value;
  if (Array.isArray(value)) return value.map(structuredCloneSafe);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setKey(out, k, structuredCloneSafe(v));
  return out;
}

/**
 * One structural mutation of `root` (not modified: containers on the path to the mutated node are copied). Walks down
 * from the root, stopping at each level with some probability, so top-level fields are hit as often as deep ones.
 */
export function mutateJsonTree(rng: Rng, root: unknown, dict: JsonDictionary): unknown {
  const newRoot = shallowCopy(root);
  let parent: Record<string, unknown> | unknown[] | null = null;
  let key: string | number | null = null;
  let node = newRoot;
  while (isContainer(node)) {
    const keys = childKeys(node);
    if (keys.length === 0 || !rng.chance(parent === null ? 0.9 : 0.6)) break;
    const k = rng.pick(keys);
    const child = shallowCopy((node as Record<string, unknown>)[k as string]);
    (node as Record<string, unknown>)[k as string] = child;
    parent = node;
    key = k;
    node = child;
  }
  const replace = (value: unknown): void => {
    if (parent === null) return;
    if (Array.isArray(parent)) parent[key as number] = value;
    else setKey(parent, key as string, value);
  };

  const op = rng.weighted<string>([
    [30, "interesting"], [15, "dict"], [10, "delete"], [12, "insert"], [5, "rename"], [5, "duplicate"], [8, "tweak"], [5, "type"],
    [3, "array-shape"],
  ]);
  switch (op) {
    case "interesting":
      if (parent === null) return rng.pick([null, [], "x", 1, [newRoot]]);
      replace(structuredCloneSafe(rng.pick(INTERESTING_JSON)));
      break;
    case "dict":
      if (parent === null) break;
      replace(newValue(rng, dict));
      break;
    case "delete":
      if (parent === null) break;
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case "insert": {
      const target = isContainer(node) ? node : parent;
      if (target === null) break;
      if (Array.isArray(target)) target.splice(rng.int(target.length + 1), 0, newValue(rng, dict));
      else setKey(target, rng.chance(0.8) && dict.keys.length > 0 ? rng.pick(dict.keys) : rng.pick(["__proto__", "constructor", "", "x", "toString"]), newValue(rng, dict));
      break;
    }
    case "rename":
      if (parent === null || Array.isArray(parent)) break;
      delete parent[key as string];
      setKey(parent, rng.chance(0.7) && dict.keys.length > 0 ? rng.pick(dict.keys) : `${String(key)}${rng.pick(["_", "s", " ", "\u0000", "\ud800"])}`, node);
      break;
    case "duplicate":
      if (parent === null) break;
      if (Array.isArray(parent)) parent.splice(key as number, 0, structuredCloneSafe(node));
      else {
        const keys = Object.keys(parent);
        setKey(parent, rng.pick(keys), structuredCloneSafe(node));
      }
      break;
    case "tweak":
      if (typeof node === "number") replace(interestingNumber(rng, node));
      else if (typeof node === "string") replace(interestingString(rng, node, dict));
      else if (typeof node === "boolean") replace(rng.pick([!node, node ? 1 : 0, String(node), null]));
      else replace(newValue(rng, dict));
      break;
    case "type":
      if (typeof node === "number") replace(rng.pick([String(node), [node], { value: node }, node !== 0, null]));
      else if (typeof node === "string") replace(rng.pick([Number(node) || 0, [node], { content: node }, node.length > 0, null]));
      else if (Array.isArray(node)) replace(rng.pick([Object.fromEntries(node.map((v, i) => [String(i), v])), node.length, node[0] ?? null, JSON.stringify(node).slice(0, 200)]));
      else if (isContainer(node)) replace(rng.pick([Object.values(node), Object.keys(node), null, "object"]));
      else replace(rng.pick([0, "", [], {}]));
      break;
    case "array-shape":
      if (Array.isArray(node)) {
        const shape = rng.pick(["reverse", "truncate", "double", "empty", "shuffle"]);
        const copy = node.slice();
        if (shape === "reverse") copy.reverse();
        else if (shape === "truncate") copy.length = rng.int(copy.length + 1);
        else if (shape === "double") copy.push(...node.slice(0, 5000));
        else if (shape === "empty") copy.length = 0;
        else for (let i = copy.length - 1; i > 0; i--) { const j = rng.int(i + 1); [copy[i], copy[j]] = [copy[j], copy[i]]; }
        replace(copy);
      } else {
        replace(newValue(rng, dict));
      }
      break;
  }
  return newRoot;
}

/** Serializes a mutated tree, turning RAW placeholders into the text they stand for. */
export function serializeJson(value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  if (!text.includes("\\u0000RAW:")) return text;
  return text.replace(/"\\u0000RAW:([^"]*)"/g, (_, raw: string) => raw);
}

/** Text-level damage to JSON: what a truncated download, a bad editor or a hostile writer produce. */
export function mutateJsonText(rng: Rng, text: string): string {
  const at = rng.int(text.length + 1);
  switch (rng.weighted<string>([
    [15, "truncate"], [10, "insert-char"], [10, "delete-range"], [10, "dup-key"], [8, "number-literal"], [5, "bom"], [5, "trailing"],
    [5, "escape"], [5, "comment"], [5, "deep"], [5, "whitespace"], [5, "replace-char"],
  ])) {
    case "truncate": return text.slice(0, at);
    case "insert-char": return text.slice(0, at) + rng.pick(["{", "}", "[", "]", ",", ":", '"', "\\", "\u0000", "\ud800", "x", "-", "0", "e", " "]) + text.slice(at);
    case "delete-range": return text.slice(0, at) + text.slice(Math.min(text.length, at + rng.range(1, 16)));
    case "dup-key": {
      // Repeat the first key of the top-level object with another value: JSON.parse keeps the last.
      const match = /^\{\s*("(?:[^"\\]|\\.)*")\s*:/.exec(text);
      if (match === null) return text;
      return `{${match[1]}:${JSON.stringify(rng.pick(INTERESTING_JSON))},${text.slice(1)}`;
    }
    case "number-literal": {
      const numbers = [...text.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
      if (numbers.length === 0) return text;
      const m = rng.pick(numbers);
      return text.slice(0, m.index) + rng.pick(RAW_LITERALS) + text.slice(m.index! + m[0].length);
    }
    case "bom": return `\ufeff${text}`;
    case "trailing": return text + rng.pick([",", "}", " x", "\n\n", "\u0000", "{}", "[]"]);
    case "escape": return text.slice(0, at) + rng.pick(["\\u", "\\x41", "\\ud800", "\\uDC00\\uD800", "\\"]) + text.slice(at);
    case "comment": return text.slice(0, at) + "/* c */" + text.slice(at);
    case "deep": {
      const depth = rng.pick([1000, 20_000, 200_000]);
      const insertAt = text.lastIndexOf("}");
      if (insertAt < 1) return text;
      return `${text.slice(0, insertAt)},"deep":${deepNesting(depth)}${text.slice(insertAt)}`;
    }
    case "whitespace": return text.slice(0, at) + rng.pick(["\t", "\r\n", "\u00a0", "\u2028", "\u000b"]) + text.slice(at);
    default: {
      if (text.length === 0) return text;
      const i = rng.int(text.length);
      return text.slice(0, i) + String.fromCharCode(rng.int(128)) + text.slice(i + 1);
    }
  }
}

/** A structural mutation most of the time, a textual one otherwise; returns the new text. */
export function mutateJson(rng: Rng, text: string, parsed: unknown, dict: JsonDictionary): string {
  if (rng.chance(0.8)) {
    let tree = parsed;
    const rounds = rng.weighted([[70, 1], [20, 2], [10, 3]] as const);
    for (let i = 0; i < rounds; i++) tree = mutateJsonTree(rng, tree, dict);
    return serializeJson(tree);
  }
  return mutateJsonText(rng, text);
}
