// Structured output: a response format (a JSON schema, or "any JSON object") compiled to a byte-level pushdown
// automaton, and a token constraint that walks a trie of the vocabulary's byte strings against the automaton's state
// to find every token that keeps the output a prefix of a document the schema accepts.
//
// The automaton generates a subset of the valid documents, chosen so that every reachable state has a way on and the
// model cannot stall: object members in schema order (optional ones may be left out), no properties beyond the
// declared ones unless the object declares none, keys spelled as JSON.stringify spells them, at most
// MAX_WHITESPACE_RUN whitespace bytes between tokens, numbers of at most MAX_INTEGER_DIGITS / MAX_FRACTION_DIGITS /
// MAX_EXPONENT_DIGITS digits, no \u escapes of surrogates (so lengths count code points exactly), well-formed UTF-8.
// Schema features it cannot enforce are an UnsupportedError naming the schema path, never a silent pass.
//
// A state is an immutable stack of frames (each frame's parent is the frame that takes over once its value ends), so
// the trie walk shares states between branches and masks are memoized by the state's key: a step costs a walk only
// the first time its state is seen.

import { InputError, UnsupportedError, show } from "../errors.js";

/** OpenAI's response_format. */
export type ResponseFormat =
  | { readonly type: "text" }
  | { readonly type: "json_object" }
  | { readonly type: "json_schema"; readonly json_schema: { readonly name?: string; readonly description?: string; readonly schema: object; readonly strict?: boolean } };

/** Whitespace bytes allowed in one gap between JSON tokens (so a model cannot loop on spaces). */
export const MAX_WHITESPACE_RUN = 16;
/** Digits of a number's integer and fraction parts: enough for any double as JSON.stringify writes it. */
export const MAX_INTEGER_DIGITS = 21;
export const MAX_FRACTION_DIGITS = 24;
/** Two exponent digits keep every number finite (at most ~1e114). */
export const MAX_EXPONENT_DIGITS = 2;
/** Masks memoized per (grammar, vocabulary); the memo is cleared when it reaches this many states. */
const MAX_MEMOIZED_MASKS = 4096;

const SOURCE = "response_format";

// ---------------------------------------------------------------------------------------------------------------
// The compiled schema: a graph of nodes (cyclic through $ref and "any")

interface PropertyNode {
  readonly name: string;
  /** JSON.stringify(name) without its opening quote: the bytes after the key's `"`, closing quote included. */
  readonly keyBytes: Uint8Array;
  value: SchemaNode;
  readonly required: boolean;
}

/** A byte trie of literal JSON texts (enum/const values, true/false/null). */
interface LiteralTrie {
  readonly children: Map<number, number>[];
  readonly terminal: boolean[];
}

type SchemaNode =
  | { readonly kind: "object"; readonly id: number; readonly properties: PropertyNode[]; readonly firstRequiredFrom: number[]; freeValue: SchemaNode | null }
  | { readonly kind: "array"; readonly id: number; readonly prefix: SchemaNode[]; items: SchemaNode | null; readonly minItems: number; readonly maxItems: number; readonly saturation: number }
  | { readonly kind: "string"; readonly id: number; readonly minLength: number; readonly maxLength: number; readonly lengthCap: number }
  | { readonly kind: "number"; readonly id: number; readonly integer: boolean; readonly low: number; readonly high: number; readonly bounded: boolean }
  | { readonly kind: "literal"; readonly id: number; readonly trie: LiteralTrie; readonly texts: string[] }
  | { readonly kind: "union"; readonly id: number; readonly options: SchemaNode[]; byFirstByte: (SchemaNode | undefined)[] }
  | { readonly kind: "ref"; readonly id: number; target: SchemaNode | undefined; readonly pointer: string; readonly path: string };

type NodeOf<K extends SchemaNode["kind"]> = Extract<SchemaNode, { kind: K }>;

let nextNodeId = 0;
const newId = (): number => nextNodeId++;

const encoder = new TextEncoder();

function literalNode(texts: readonly string[]): NodeOf<"literal"> {
  const trie: LiteralTrie = { children: [new Map()], terminal: [false] };
  const unique = [...new Set(texts)];
  for (const text of unique) {
    let at = 0;
    for (const byte of encoder.encode(text)) {
      let next = trie.children[at]!.get(byte);
      if (next === undefined) {
        next = trie.children.length;
        trie.children.push(new Map());
        trie.terminal.push(false);
        trie.children[at]!.set(byte, next);
      }
      at = next;
    }
    trie.terminal[at] = true;
  }
  return { kind: "literal", id: newId(), trie, texts: unique };
}

function stringNode(minLength = 0, maxLength = Infinity): NodeOf<"string"> {
  return { kind: "string", id: newId(), minLength, maxLength, lengthCap: Number.isFinite(maxLength) ? maxLength : minLength };
}

/** Integer bounds are clamped to ±BOUND_LIMIT (15 digits), where every integer and every prefix sum is exact. */
export const BOUND_LIMIT = 10 ** 15 - 1;
const BOUNDED_DIGITS = 15;

function numberNode(integer: boolean, bounds?: { low: number; high: number }): NodeOf<"number"> {
  return { kind: "number", id: newId(), integer, low: bounds?.low ?? -Infinity, high: bounds?.high ?? Infinity, bounded: bounds !== undefined };
}

function objectNode(properties: PropertyNode[], freeValue: SchemaNode | null): NodeOf<"object"> {
  const firstRequiredFrom: number[] = new Array(properties.length + 1);
  firstRequiredFrom[properties.length] = properties.length;
  for (let i = properties.length - 1; i >= 0; i--) firstRequiredFrom[i] = properties[i]!.required ? i : firstRequiredFrom[i + 1]!;
  return { kind: "object", id: newId(), properties, firstRequiredFrom, freeValue };
}

function arrayNode(prefix: SchemaNode[], items: SchemaNode | null, minItems: number, maxItems: number): NodeOf<"array"> {
  const max = items === null ? Math.min(maxItems, prefix.length) : maxItems;
  const saturation = Number.isFinite(max) ? max : Math.max(minItems, prefix.length);
  return { kind: "array", id: newId(), prefix, items, minItems, maxItems: max, saturation };
}

/** Any JSON value (the empty schema); its objects and arrays hold any values. */
const ANY_VALUE: NodeOf<"union"> = { kind: "union", id: newId(), options: [], byFirstByte: [] };
/** Any JSON object (response_format json_object). */
const ANY_OBJECT = objectNode([], ANY_VALUE);
ANY_VALUE.options.push(ANY_OBJECT, arrayNode([], ANY_VALUE, 0, Infinity), stringNode(), numberNode(false), literalNode(["true", "false", "null"]));
const anyValueNode = (): SchemaNode => ANY_VALUE;

// ---------------------------------------------------------------------------------------------------------------
// Schema -> nodes

const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"]);
const TYPE_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  object: ["properties", "required", "additionalProperties"],
  array: ["items", "prefixItems", "minItems", "maxItems"],
  string: ["minLength", "maxLength"],
  number: [],
  integer: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"],
  boolean: [],
  null: [],
};
const TYPES = Object.keys(TYPE_KEYWORDS);
const TYPED_KEYWORDS = new Set(Object.values(TYPE_KEYWORDS).flat());
const GENERAL_KEYWORDS = new Set(["type", "enum", "const", "anyOf", "oneOf", "$ref", "allOf"]);
const UNSUPPORTED_HINT: Readonly<Record<string, string>> = {
  pattern: "regular expressions are not compiled into the automaton",
  patternProperties: "keys matching a regular expression are not generated",
  format: "string formats are not enforced",
  minimum: "numeric bounds are enforced for integers only",
  maximum: "numeric bounds are enforced for integers only",
  exclusiveMinimum: "numeric bounds are enforced for integers only",
  exclusiveMaximum: "numeric bounds are enforced for integers only",
};

class SchemaCompiler {
  private readonly refs = new Map<string, NodeOf<"ref">>();
  private readonly unions: { node: NodeOf<"union">; path: string; mode: "anyOf" | "oneOf" | "type" }[] = [];

  constructor(private readonly root: unknown) {}

  compileRoot(path: string): SchemaNode {
    const node = this.compile(this.root, path);
    for (const ref of this.refs.values()) {
      if (ref.target === undefined) ref.target = this.compile(this.pointer(ref.pointer, ref.path), ref.pointer);
    }
    // Refs are bound now; replace them by their targets (a chain of refs that leads back to itself is an error).
    const resolved = new Set<SchemaNode>();
    const visit = (start: SchemaNode): SchemaNode => {
      let current = start;
      const chain = new Set<SchemaNode>();
      while (current.kind === "ref") {
        if (chain.has(current)) throw unsupported(current.path, "$ref", "a $ref that reaches a schema", "a cycle of $refs that never reaches one");
        chain.add(current);
        current = current.target!;
      }
      if (resolved.has(current)) return current;
      resolved.add(current);
      switch (current.kind) {
        case "object":
          for (const property of current.properties) property.value = visit(property.value);
          if (current.freeValue !== null) current.freeValue = visit(current.freeValue);
          break;
        case "array":
          current.prefix.forEach((item, i) => (current.prefix[i] = visit(item)));
          if (current.items !== null) current.items = visit(current.items);
          break;
        case "union":
          current.options.forEach((option, i) => (current.options[i] = visit(option)));
          break;
        default:
          break;
      }
      return current;
    };
    const top = visit(node);
    for (const { node: union, path, mode } of this.unions) union.byFirstByte = firstByteTable(union.options, path, mode);
    return top;
  }

  private pointer(pointer: string, path: string): unknown {
    if (pointer === "#") return this.root;
    if (!pointer.startsWith("#/")) throw unsupported(path, "$ref", 'a reference inside the schema ("#", "#/$defs/...")', show(pointer));
    let at: unknown = this.root;
    for (const raw of pointer.slice(2).split("/")) {
      const part = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
      if (typeof at !== "object" || at === null || !Object.hasOwn(at, part)) {
        throw new InputError({ file: SOURCE, field: path, expected: "a $ref to a schema that exists", actual: show(pointer) });
      }
      at = (at as Record<string, unknown>)[part];
    }
    return at;
  }

  compile(schema: unknown, path: string): SchemaNode {
    if (schema === true) return anyValueNode();
    if (schema === false) throw unsupported(path, "", "a schema some value satisfies", "false");
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      throw new InputError({ file: SOURCE, field: path, expected: "a JSON schema (an object or a boolean)", actual: show(schema) });
    }
    const s = schema as Record<string, unknown>;
    for (const key of Object.keys(s)) {
      if (!ANNOTATIONS.has(key) && !GENERAL_KEYWORDS.has(key) && !TYPED_KEYWORDS.has(key)) {
        throw unsupported(path, key, "a keyword of the supported subset", UNSUPPORTED_HINT[key] ?? `the keyword ${JSON.stringify(key)}`);
      }
    }
    const constraints = Object.keys(s).filter((key) => !ANNOTATIONS.has(key));

    if (s["$ref"] !== undefined) {
      if (constraints.length > 1) throw unsupported(path, "$ref", "$ref alone (besides annotations)", `$ref with ${constraints.filter((k) => k !== "$ref").join(", ")}`);
      const target = s["$ref"];
      if (typeof target !== "string") throw new InputError({ file: SOURCE, field: `${path}.$ref`, expected: "a string", actual: show(target) });
      if (!target.startsWith("#")) throw unsupported(path, "$ref", 'a reference inside the schema ("#", "#/$defs/...")', show(target));
      let ref = this.refs.get(target);
      if (ref === undefined) {
        ref = { kind: "ref", id: newId(), target: undefined, pointer: target, path: `${path}.$ref` };
        this.refs.set(target, ref);
      }
      return ref;
    }
    if (s["allOf"] !== undefined) {
      const all = s["allOf"];
      if (!Array.isArray(all) || all.length !== 1 || constraints.length > 1) throw unsupported(path, "allOf", "allOf with a single schema and nothing beside it", Array.isArray(all) ? `${all.length} schemas` : show(all));
      return this.compile(all[0], `${path}.allOf[0]`);
    }
    for (const mode of ["anyOf", "oneOf"] as const) {
      if (s[mode] === undefined) continue;
      const branches = s[mode];
      if (!Array.isArray(branches) || branches.length === 0) throw new InputError({ file: SOURCE, field: `${path}.${mode}`, expected: "a non-empty array of schemas", actual: show(branches) });
      if (constraints.length > 1) throw unsupported(path, mode, `${mode} alone (besides annotations)`, `${mode} with ${constraints.filter((k) => k !== mode).join(", ")}`);
      const options = branches.map((branch, i) => this.compile(branch, `${path}.${mode}[${i}]`));
      return this.union(options, `${path}.${mode}`, mode);
    }
    if (s["enum"] !== undefined || s["const"] !== undefined) return this.literals(s, path, constraints);

    let types: string[];
    const declared = s["type"];
    if (declared === undefined) {
      // No type: any value satisfies the type-specific keywords of other types, so generate the type they describe.
      const implied = TYPES.find((type) => TYPE_KEYWORDS[type]!.some((key) => key in s));
      if (implied === undefined) return anyValueNode();
      types = [implied];
    } else {
      types = typeof declared === "string" ? [declared] : Array.isArray(declared) ? [...declared] : [];
      if (types.length === 0 || types.some((type) => typeof type !== "string" || !TYPES.includes(type))) {
        throw new InputError({ file: SOURCE, field: `${path}.type`, expected: `one of ${TYPES.join(", ")}, or an array of them`, actual: show(declared) });
      }
    }
    if (types.includes("number") && types.includes("integer")) types = types.filter((type) => type !== "integer");
    const options = types.map((type) => this.typed(s, type, path));
    return options.length === 1 ? options[0]! : this.union(options, `${path}.type`, "type");
  }

  private union(options: SchemaNode[], path: string, mode: "anyOf" | "oneOf" | "type"): SchemaNode {
    const node: NodeOf<"union"> = { kind: "union", id: newId(), options, byFirstByte: [] };
    this.unions.push({ node, path, mode });
    return node;
  }

  private literals(s: Record<string, unknown>, path: string, constraints: string[]): SchemaNode {
    const extra = constraints.filter((key) => key !== "enum" && key !== "const" && key !== "type");
    if (extra.length > 0) throw unsupported(path, extra[0]!, "enum/const with at most a type beside them", `enum/const with ${extra.join(", ")}`);
    let values: unknown[];
    if (s["const"] !== undefined) values = [s["const"]];
    else if (Array.isArray(s["enum"]) && s["enum"].length > 0) values = s["enum"];
    else throw new InputError({ file: SOURCE, field: `${path}.enum`, expected: "a non-empty array of values", actual: show(s["enum"]) });
    if (s["enum"] !== undefined && s["const"] !== undefined) values = values.filter((value) => s["enum"] instanceof Array && s["enum"].some((other) => jsonEqual(other, value)));
    values.forEach((value, i) => checkJsonValue(value, `${path}.${s["const"] !== undefined ? "const" : `enum[${i}]`}`));
    const declared = s["type"];
    if (declared !== undefined) {
      const types = typeof declared === "string" ? [declared] : Array.isArray(declared) ? declared : [];
      values = values.filter((value) => types.some((type) => jsonTypeMatches(value, type)));
    }
    if (values.length === 0) throw new InputError({ file: SOURCE, field: path, expected: "enum/const values of the declared type", actual: "no value left" });
    return literalNode(values.map((value) => JSON.stringify(value)));
  }

  private typed(s: Record<string, unknown>, type: string, path: string): SchemaNode {
    switch (type) {
      case "null":
        return literalNode(["null"]);
      case "boolean":
        return literalNode(["true", "false"]);
      case "string": {
        const minLength = count(s, "minLength", path, 0);
        const maxLength = count(s, "maxLength", path, Infinity);
        if (minLength > maxLength) throw unsatisfiable(path, `minLength ${minLength} > maxLength ${maxLength}`);
        return stringNode(minLength, maxLength);
      }
      case "number":
        for (const key of TYPE_KEYWORDS["integer"]!) if (s[key] !== undefined) throw unsupported(path, key, "bounds on integers only", `${key} on a number`);
        return numberNode(false);
      case "integer":
        return this.integer(s, path);
      case "array":
        return this.array(s, path);
      default:
        return this.object(s, path);
    }
  }

  private integer(s: Record<string, unknown>, path: string): SchemaNode {
    const bound = (key: string): number | undefined => {
      const value = s[key];
      if (value === undefined) return undefined;
      if (typeof value !== "number" || !Number.isFinite(value)) throw new InputError({ file: SOURCE, field: `${path}.${key}`, expected: "a finite number", actual: show(value) });
      return value;
    };
    let low = -BOUND_LIMIT;
    let high = BOUND_LIMIT;
    const minimum = bound("minimum");
    const maximum = bound("maximum");
    const exclusiveMinimum = bound("exclusiveMinimum");
    const exclusiveMaximum = bound("exclusiveMaximum");
    if (minimum !== undefined) low = Math.max(low, Math.ceil(minimum));
    if (exclusiveMinimum !== undefined) low = Math.max(low, Math.floor(exclusiveMinimum) + 1);
    if (maximum !== undefined) high = Math.min(high, Math.floor(maximum));
    if (exclusiveMaximum !== undefined) high = Math.min(high, Math.ceil(exclusiveMaximum) - 1);
    if (low > high) throw unsatisfiable(path, `no integer of at most ${BOUNDED_DIGITS} digits within the bounds`);
    const bounded = [minimum, maximum, exclusiveMinimum, exclusiveMaximum].some((value) => value !== undefined);
    return numberNode(true, bounded ? { low, high } : undefined);
  }

  private array(s: Record<string, unknown>, path: string): SchemaNode {
    const minItems = count(s, "minItems", path, 0);
    const maxItems = count(s, "maxItems", path, Infinity);
    if (minItems > maxItems) throw unsatisfiable(path, `minItems ${minItems} > maxItems ${maxItems}`);
    const prefixSchemas = s["prefixItems"] ?? [];
    if (!Array.isArray(prefixSchemas)) throw new InputError({ file: SOURCE, field: `${path}.prefixItems`, expected: "an array of schemas", actual: show(prefixSchemas) });
    const prefix = prefixSchemas.map((item, i) => this.compile(item, `${path}.prefixItems[${i}]`));
    const itemsSchema = s["items"];
    if (Array.isArray(itemsSchema)) throw unsupported(path, "items", "a schema (use prefixItems for tuples)", "an array");
    const items = itemsSchema === undefined ? anyValueNode() : itemsSchema === false ? null : this.compile(itemsSchema, `${path}.items`);
    if (items === null && minItems > prefix.length) throw unsatisfiable(path, `minItems ${minItems} > ${prefix.length} prefixItems with items false`);
    return arrayNode(prefix, items, minItems, maxItems);
  }

  private object(s: Record<string, unknown>, path: string): SchemaNode {
    const declared = s["properties"] ?? {};
    if (typeof declared !== "object" || declared === null || Array.isArray(declared)) {
      throw new InputError({ file: SOURCE, field: `${path}.properties`, expected: "an object of schemas", actual: show(declared) });
    }
    const required = s["required"] ?? [];
    if (!Array.isArray(required) || required.some((name) => typeof name !== "string")) {
      throw new InputError({ file: SOURCE, field: `${path}.required`, expected: "an array of property names", actual: show(required) });
    }
    const requiredSet = new Set(required as string[]);
    const additional = s["additionalProperties"];
    const additionalNode = additional === undefined || additional === true ? anyValueNode() : additional === false ? null : this.compile(additional, `${path}.additionalProperties`);
    const properties: PropertyNode[] = Object.entries(declared).map(([name, value]) => ({
      name, keyBytes: encoder.encode(JSON.stringify(name).slice(1)), value: this.compile(value, `${path}.properties.${name}`), required: requiredSet.has(name),
    }));
    for (const name of requiredSet) {
      if (Object.hasOwn(declared, name)) continue;
      if (additionalNode === null) throw unsatisfiable(path, `required ${JSON.stringify(name)} is not a property and additionalProperties is false`);
      properties.push({ name, keyBytes: encoder.encode(JSON.stringify(name).slice(1)), value: additionalNode, required: true });
    }
    // Declared properties: only they are generated (leaving extra ones out is always valid). None declared: any keys.
    return objectNode(properties, properties.length === 0 ? additionalNode : null);
  }
}

function count(s: Record<string, unknown>, key: string, path: string, fallback: number): number {
  const value = s[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new InputError({ file: SOURCE, field: `${path}.${key}`, expected: "an integer >= 0", actual: show(value) });
  return value;
}

function unsupported(path: string, keyword: string, expected: string, actual: string): UnsupportedError {
  return new UnsupportedError({ file: SOURCE, field: keyword === "" ? path : `${path}.${keyword}`, expected, actual });
}

function unsatisfiable(path: string, why: string): InputError {
  return new InputError({ file: SOURCE, field: path, expected: "a schema some JSON value satisfies", actual: why });
}

function checkJsonValue(value: unknown, path: string): void {
  const ok = value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)) || typeof value === "object";
  if (!ok) throw new InputError({ file: SOURCE, field: path, expected: "a JSON value", actual: show(value) });
  if (Array.isArray(value)) value.forEach((item, i) => checkJsonValue(item, `${path}[${i}]`));
  else if (typeof value === "object" && value !== null) for (const [key, item] of Object.entries(value)) checkJsonValue(item, `${path}.${key}`);
}

function jsonTypeMatches(value: unknown, type: unknown): boolean {
  switch (type) {
    case "null": return value === null;
    case "boolean": return typeof value === "boolean";
    case "string": return typeof value === "string";
    case "number": return typeof value === "number";
    case "integer": return typeof value === "number" && Number.isInteger(value);
    case "array": return Array.isArray(value);
    case "object": return typeof value === "object" && value !== null && !Array.isArray(value);
    default: return false;
  }
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const DIGIT_BYTES = [0x2d, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39];

function firstBytes(node: SchemaNode, path: string, seen: Set<SchemaNode>): number[] {
  switch (node.kind) {
    case "object": return [0x7b];
    case "array": return [0x5b];
    case "string": return [0x22];
    case "number": return DIGIT_BYTES;
    case "literal": return [...node.trie.children[0]!.keys()];
    case "union": {
      if (seen.has(node)) throw unsupported(path, "", "anyOf/oneOf branches that start with a value", "a branch that refers back to its own union before any value");
      seen.add(node);
      const bytes = node.options.flatMap((option) => firstBytes(option, path, seen));
      seen.delete(node);
      return bytes;
    }
    case "ref": return firstBytes(node.target!, path, seen);
  }
}

/**
 * Which branch a value starting with each byte belongs to. Branches must start differently (a string, a number, an
 * object...), so the first byte decides; for anyOf, literals merge into one branch and number absorbs integer.
 */
function firstByteTable(options: SchemaNode[], path: string, mode: "anyOf" | "oneOf" | "type"): (SchemaNode | undefined)[] {
  let branches = options;
  if (mode !== "oneOf") {
    const literals = branches.filter((option): option is NodeOf<"literal"> => option.kind === "literal");
    if (literals.length > 1) branches = [...branches.filter((option) => option.kind !== "literal"), literalNode(literals.flatMap((literal) => literal.texts))];
    const numbers = branches.filter((option): option is NodeOf<"number"> => option.kind === "number");
    const widest = numbers.find((number) => !number.integer && !number.bounded) ?? numbers.find((number) => !number.bounded);
    if (numbers.length > 1 && widest !== undefined) branches = branches.filter((option) => option.kind !== "number" || option === widest);
  } else {
    const texts = branches.flatMap((option) => (option.kind === "literal" ? option.texts : []));
    if (new Set(texts).size !== texts.length) throw unsupported(path, "", "oneOf branches no value matches twice", "the same value in two branches");
  }
  const table: (SchemaNode | undefined)[] = new Array(256);
  for (const branch of branches) {
    for (const byte of firstBytes(branch, path, new Set())) {
      if (table[byte] !== undefined && table[byte] !== branch) {
        throw unsupported(path, "", `${mode === "type" ? "types" : `${mode} branches`} that start differently (object, array, string, number, or distinct literals)`, `two branches that can start with ${JSON.stringify(String.fromCharCode(byte))}`);
      }
      table[byte] = branch;
    }
  }
  return table;
}

ANY_VALUE.byFirstByte = firstByteTable(ANY_VALUE.options, "any value", "anyOf");

/** An automaton for the response format, or undefined for { type: "text" }. Throws typed errors for bad formats. */
export function compileResponseFormat(format: ResponseFormat): JsonGrammar | undefined {
  validateResponseFormat(format);
  if (format.type === "text") return undefined;
  if (format.type === "json_object") return new JsonGrammar(ANY_OBJECT);
  return new JsonGrammar(new SchemaCompiler(format.json_schema.schema).compileRoot("json_schema.schema"));
}

/** Checks the response_format's shape (not the schema's content, which compileResponseFormat checks). */
export function validateResponseFormat(format: unknown): asserts format is ResponseFormat {
  const bad = (field: string, expected: string, actual: unknown): InputError => new InputError({ file: SOURCE, field, expected, actual: show(actual) });
  if (typeof format !== "object" || format === null || Array.isArray(format)) throw bad("responseFormat", '{ type: "text" | "json_object" | "json_schema", ... }', format);
  const record = format as Record<string, unknown>;
  const type = record["type"];
  const allowed = type === "json_schema" ? ["type", "json_schema"] : ["type"];
  if (type !== "text" && type !== "json_object" && type !== "json_schema") throw bad("type", '"text", "json_object" or "json_schema"', type);
  for (const key of Object.keys(record)) if (!allowed.includes(key)) throw bad(key, `only ${allowed.join(", ")} for type ${JSON.stringify(type)}`, "an unknown key");
  if (type !== "json_schema") return;
  const spec = record["json_schema"];
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) throw bad("json_schema", "{ name?, description?, schema, strict? }", spec);
  const specRecord = spec as Record<string, unknown>;
  for (const key of Object.keys(specRecord)) if (!["name", "description", "schema", "strict"].includes(key)) throw bad(`json_schema.${key}`, "one of name, description, schema, strict", "an unknown key");
  for (const key of ["name", "description"]) if (specRecord[key] !== undefined && typeof specRecord[key] !== "string") throw bad(`json_schema.${key}`, "a string", specRecord[key]);
  if (specRecord["strict"] !== undefined && specRecord["strict"] !== null && typeof specRecord["strict"] !== "boolean") throw bad("json_schema.strict", "true or false", specRecord["strict"]);
  const schema = specRecord["schema"];
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) throw bad("json_schema.schema", "a JSON schema object", schema);
}

// ---------------------------------------------------------------------------------------------------------------
// The automaton: immutable frames, each with the frame that takes over when its value ends

const isWhitespace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x09 || byte === 0x0d;
const isDigit = (byte: number): boolean => byte >= 0x30 && byte <= 0x39;
const isHex = (byte: number): boolean => isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);

/** One automaton state: the innermost frame; its parent chain is the rest of the stack. */
export abstract class JsonState {
  private memoKey: string | undefined;
  constructor(readonly parent: JsonState | null) {}
  /** The state after one more output byte, or null when no valid document continues that way. */
  abstract step(byte: number): JsonState | null;
  /** This frame alone, for the memo key (node ids and counters). */
  protected abstract ownKey(): string;
  /** The value may end here (a number or literal that could also go on); only true for such frames. */
  get endable(): boolean {
    return false;
  }
  /** Equal keys mean equal futures: masks are memoized by it. */
  get key(): string {
    if (this.memoKey === undefined) this.memoKey = this.parent === null ? this.ownKey() : `${this.ownKey()} ${this.parent.key}`;
    return this.memoKey;
  }
  /** The output so far is a complete document. */
  get complete(): boolean {
    return this === DONE || (this.parent === null && this.endable);
  }
  /** The value just ended: the parent takes over, or the document is done. */
  protected finish(): JsonState {
    return this.parent ?? DONE;
  }
}

class DoneState extends JsonState {
  step(): null {
    return null;
  }
  protected ownKey(): string {
    return "$";
  }
}
const DONE: JsonState = new DoneState(null);

/** Where a value starts: leading whitespace, then the first byte picks the value's frame. */
class ValueStart extends JsonState {
  constructor(readonly node: SchemaNode, parent: JsonState | null, readonly whitespace: number) {
    super(parent);
  }
  step(byte: number): JsonState | null {
    if (isWhitespace(byte)) return this.whitespace < MAX_WHITESPACE_RUN ? new ValueStart(this.node, this.parent, this.whitespace + 1) : null;
    return startValue(this.node, byte, this.parent);
  }
  protected ownKey(): string {
    return `v${this.node.id}.${this.whitespace}`;
  }
}

function startValue(node: SchemaNode, byte: number, parent: JsonState | null): JsonState | null {
  switch (node.kind) {
    case "object": return byte === 0x7b ? new ObjectState(node, parent, ObjectPhase.Open, 0, -1, 0) : null;
    case "array": return byte === 0x5b ? new ArrayState(node, parent, ArrayPhase.Open, 0, 0) : null;
    case "string": return byte === 0x22 ? new StringState(node, parent, 0, StringPhase.Plain) : null;
    case "number": return new NumberState(node, parent, NumberPhase.Start, 0, false, 0).step(byte);
    case "literal": return new LiteralState(node, parent, 0).step(byte);
    case "union": {
      const branch = node.byFirstByte[byte];
      return branch === undefined ? null : startValue(branch, byte, parent);
    }
    case "ref": return startValue(node.target!, byte, parent);
  }
}

const enum ObjectPhase { Open, KeyDone, ValueDone, Comma }

class ObjectState extends JsonState {
  constructor(
    readonly node: NodeOf<"object">, parent: JsonState | null, readonly phase: ObjectPhase,
    /** Index of the first declared property that may still come. */
    readonly next: number,
    /** In KeyDone: the property whose key was read (-1 for a free key). */
    readonly member: number,
    readonly whitespace: number,
  ) {
    super(parent);
  }
  private get free(): boolean {
    return this.node.freeValue !== null;
  }
  private canClose(): boolean {
    return this.free || this.node.firstRequiredFrom[this.next] === this.node.properties.length;
  }
  private hasCandidate(): boolean {
    return this.free || this.next < this.node.properties.length;
  }
  step(byte: number): JsonState | null {
    if (isWhitespace(byte)) {
      return this.whitespace < MAX_WHITESPACE_RUN ? new ObjectState(this.node, this.parent, this.phase, this.next, this.member, this.whitespace + 1) : null;
    }
    switch (this.phase) {
      case ObjectPhase.Open:
        if (byte === 0x7d) return this.canClose() ? this.finish() : null;
        return byte === 0x22 && this.hasCandidate() ? this.startKey() : null;
      case ObjectPhase.ValueDone:
        if (byte === 0x7d) return this.canClose() ? this.finish() : null;
        return byte === 0x2c && this.hasCandidate() ? new ObjectState(this.node, this.parent, ObjectPhase.Comma, this.next, -1, 0) : null;
      case ObjectPhase.Comma:
        return byte === 0x22 ? this.startKey() : null;
      case ObjectPhase.KeyDone: {
        if (byte !== 0x3a) return null;
        const free = this.member < 0;
        const after = new ObjectState(this.node, this.parent, ObjectPhase.ValueDone, free ? this.next : this.member + 1, -1, 0);
        return new ValueStart(free ? this.node.freeValue! : this.node.properties[this.member]!.value, after, 0);
      }
    }
  }
  private startKey(): JsonState {
    if (this.free) return new StringState(FREE_KEY, new ObjectState(this.node, this.parent, ObjectPhase.KeyDone, this.next, -1, 0), 0, StringPhase.Plain);
    const last = Math.min(this.node.firstRequiredFrom[this.next]!, this.node.properties.length - 1);
    const candidates: number[] = [];
    for (let i = this.next; i <= last; i++) candidates.push(i);
    return new KeyState(this.node, this.parent, candidates, 0);
  }
  protected ownKey(): string {
    return `o${this.node.id}.${this.phase}.${this.next}.${this.member}.${this.whitespace}`;
  }
}

const FREE_KEY = stringNode();

/** Inside a declared key: the properties whose encoded names still match what was read. */
class KeyState extends JsonState {
  constructor(readonly node: NodeOf<"object">, parent: JsonState | null, readonly candidates: readonly number[], readonly position: number) {
    super(parent);
  }
  step(byte: number): JsonState | null {
    const matching: number[] = [];
    for (const index of this.candidates) {
      const key = this.node.properties[index]!.keyBytes;
      if (key[this.position] !== byte) continue;
      // The unescaped quote only ends a key, so a key read to its end is the only match.
      if (key.length === this.position + 1) return new ObjectState(this.node, this.parent, ObjectPhase.KeyDone, index, index, 0);
      matching.push(index);
    }
    return matching.length === 0 ? null : new KeyState(this.node, this.parent, matching, this.position + 1);
  }
  protected ownKey(): string {
    return `k${this.node.id}.${this.position}.${this.candidates.join(",")}`;
  }
}

const enum ArrayPhase { Open, ItemDone }

class ArrayState extends JsonState {
  constructor(readonly node: NodeOf<"array">, parent: JsonState | null, readonly phase: ArrayPhase, readonly count: number, readonly whitespace: number) {
    super(parent);
  }
  private item(index: number): SchemaNode {
    return index < this.node.prefix.length ? this.node.prefix[index]! : this.node.items!;
  }
  private afterItem(): ArrayState {
    return new ArrayState(this.node, this.parent, ArrayPhase.ItemDone, Math.min(this.count + 1, this.node.saturation), 0);
  }
  step(byte: number): JsonState | null {
    if (isWhitespace(byte)) return this.whitespace < MAX_WHITESPACE_RUN ? new ArrayState(this.node, this.parent, this.phase, this.count, this.whitespace + 1) : null;
    if (byte === 0x5d) return this.count >= this.node.minItems ? this.finish() : null;
    if (this.phase === ArrayPhase.Open) return this.node.maxItems > 0 ? startValue(this.item(0), byte, this.afterItem()) : null;
    return byte === 0x2c && this.count < this.node.maxItems ? new ValueStart(this.item(this.count), this.afterItem(), 0) : null;
  }
  protected ownKey(): string {
    return `a${this.node.id}.${this.phase}.${this.count}.${this.whitespace}`;
  }
}

const enum StringPhase {
  Plain, Escape, Hex0, Hex1, Hex1LowSurrogateFree, Hex2, Hex3,
  /** UTF-8: continuation bytes still due, with the allowed range of the next one. */
  Cont1, Cont2, Cont3, AfterE0, AfterED, AfterF0, AfterF4,
}

class StringState extends JsonState {
  constructor(readonly node: NodeOf<"string">, parent: JsonState | null, readonly length: number, readonly phase: StringPhase) {
    super(parent);
  }
  /** What decides the string's own future (its bounds, length and phase), whatever follows the string. */
  get insideKey(): string {
    return `${this.node.minLength}.${this.node.maxLength}.${this.length}.${this.phase}`;
  }
  /** This string with nothing after it. */
  detached(): StringState {
    return new StringState(this.node, null, this.length, this.phase);
  }
  /** Whether `state` is still inside this string (the same frame; only length or phase moved on). */
  continues(state: JsonState): boolean {
    return state instanceof StringState && state.node === this.node && state.parent === this.parent;
  }
  private with(length: number, phase: StringPhase): StringState {
    const capped = Math.min(length, this.node.lengthCap);
    return capped === this.length && phase === this.phase ? this : new StringState(this.node, this.parent, capped, phase);
  }
  step(byte: number): JsonState | null {
    switch (this.phase) {
      case StringPhase.Plain: {
        if (byte === 0x22) return this.length >= this.node.minLength ? this.finish() : null;
        if (byte < 0x20 || this.length >= this.node.maxLength) return null;
        const next = this.length + 1;
        if (byte === 0x5c) return this.with(next, StringPhase.Escape);
        if (byte < 0x80) return this.with(next, StringPhase.Plain);
        if (byte >= 0xc2 && byte <= 0xdf) return this.with(next, StringPhase.Cont1);
        if (byte === 0xe0) return this.with(next, StringPhase.AfterE0);
        if (byte === 0xed) return this.with(next, StringPhase.AfterED);
        if (byte >= 0xe1 && byte <= 0xef) return this.with(next, StringPhase.Cont2);
        if (byte === 0xf0) return this.with(next, StringPhase.AfterF0);
        if (byte >= 0xf1 && byte <= 0xf3) return this.with(next, StringPhase.Cont3);
        if (byte === 0xf4) return this.with(next, StringPhase.AfterF4);
        return null;
      }
      case StringPhase.Escape:
        if (byte === 0x75) return this.with(this.length, StringPhase.Hex0);
        return '"\\/bfnrt'.includes(String.fromCharCode(byte)) ? this.with(this.length, StringPhase.Plain) : null;
      case StringPhase.Hex0:
        // \uD800-\uDFFF (surrogates) are left out: each escape is then exactly one code point.
        if (byte === 0x44 || byte === 0x64) return this.with(this.length, StringPhase.Hex1LowSurrogateFree);
        return isHex(byte) ? this.with(this.length, StringPhase.Hex1) : null;
      case StringPhase.Hex1:
        return isHex(byte) ? this.with(this.length, StringPhase.Hex2) : null;
      case StringPhase.Hex1LowSurrogateFree:
        return byte >= 0x30 && byte <= 0x37 ? this.with(this.length, StringPhase.Hex2) : null;
      case StringPhase.Hex2:
        return isHex(byte) ? this.with(this.length, StringPhase.Hex3) : null;
      case StringPhase.Hex3:
        return isHex(byte) ? this.with(this.length, StringPhase.Plain) : null;
      case StringPhase.Cont1:
        return byte >= 0x80 && byte <= 0xbf ? this.with(this.length, StringPhase.Plain) : null;
      case StringPhase.Cont2:
        return byte >= 0x80 && byte <= 0xbf ? this.with(this.length, StringPhase.Cont1) : null;
      case StringPhase.Cont3:
        return byte >= 0x80 && byte <= 0xbf ? this.with(this.length, StringPhase.Cont2) : null;
      case StringPhase.AfterE0:
        return byte >= 0xa0 && byte <= 0xbf ? this.with(this.length, StringPhase.Cont1) : null;
      case StringPhase.AfterED:
        return byte >= 0x80 && byte <= 0x9f ? this.with(this.length, StringPhase.Cont1) : null;
      case StringPhase.AfterF0:
        return byte >= 0x90 && byte <= 0xbf ? this.with(this.length, StringPhase.Cont2) : null;
      case StringPhase.AfterF4:
        return byte >= 0x80 && byte <= 0x8f ? this.with(this.length, StringPhase.Cont2) : null;
    }
  }
  protected ownKey(): string {
    return `s${this.node.id}.${this.length}.${this.phase}`;
  }
}

const enum NumberPhase { Start, Minus, Zero, Integer, Dot, Fraction, Exponent, ExponentSign, ExponentDigits }

class NumberState extends JsonState {
  constructor(
    readonly node: NodeOf<"number">, parent: JsonState | null, readonly phase: NumberPhase,
    /** Digits read in the current part (integer, fraction or exponent). */
    readonly digits: number,
    readonly negative: boolean,
    /** The integer part's magnitude (tracked for bounded integers only). */
    readonly magnitude: number,
  ) {
    super(parent);
  }
  override get endable(): boolean {
    switch (this.phase) {
      case NumberPhase.Zero:
      case NumberPhase.Integer:
        return !this.node.bounded || this.inRange(this.negative ? -this.magnitude : this.magnitude);
      case NumberPhase.Fraction:
      case NumberPhase.ExponentDigits:
        return true;
      default:
        return false;
    }
  }
  private inRange(value: number): boolean {
    return value >= this.node.low && value <= this.node.high;
  }
  /** Whether some integer of at most BOUNDED_DIGITS digits starting with these digits is within the bounds. */
  private reachable(negative: boolean, magnitude: number, digits: number): boolean {
    if (!this.node.bounded) return true;
    if (digits === 0) return negative ? this.node.low <= 0 : true;
    if (magnitude === 0) return this.inRange(0);
    let scale = 1;
    for (let extra = 0; digits + extra <= BOUNDED_DIGITS; extra++, scale *= 10) {
      const lowest = magnitude * scale;
      const highest = lowest + scale - 1;
      const [from, to] = negative ? [-highest, -lowest] : [lowest, highest];
      if (from <= this.node.high && to >= this.node.low) return true;
    }
    return false;
  }
  private to(phase: NumberPhase, digits: number, negative = this.negative, magnitude = this.magnitude): NumberState {
    return new NumberState(this.node, this.parent, phase, digits, negative, this.node.bounded ? magnitude : 0);
  }
  step(byte: number): JsonState | null {
    const digit = byte - 0x30;
    const integer = this.node.integer;
    switch (this.phase) {
      case NumberPhase.Start:
        if (byte === 0x2d) return this.reachable(true, 0, 0) ? this.to(NumberPhase.Minus, 0, true) : null;
        return this.firstDigit(byte, false);
      case NumberPhase.Minus:
        return this.firstDigit(byte, true);
      case NumberPhase.Zero:
      case NumberPhase.Integer:
        if (this.phase === NumberPhase.Integer && isDigit(byte) && this.digits < MAX_INTEGER_DIGITS) {
          const magnitude = this.magnitude * 10 + digit;
          if (this.reachable(this.negative, magnitude, this.digits + 1)) return this.to(NumberPhase.Integer, this.digits + 1, this.negative, magnitude);
        }
        if (!integer && byte === 0x2e) return this.to(NumberPhase.Dot, 0);
        if (!integer && (byte === 0x65 || byte === 0x45)) return this.to(NumberPhase.Exponent, 0);
        return this.endable ? this.finish().step(byte) : null;
      case NumberPhase.Dot:
        return isDigit(byte) ? this.to(NumberPhase.Fraction, 1) : null;
      case NumberPhase.Fraction:
        if (isDigit(byte) && this.digits < MAX_FRACTION_DIGITS) return this.to(NumberPhase.Fraction, this.digits + 1);
        if (byte === 0x65 || byte === 0x45) return this.to(NumberPhase.Exponent, 0);
        return this.finish().step(byte);
      case NumberPhase.Exponent:
        if (byte === 0x2b || byte === 0x2d) return this.to(NumberPhase.ExponentSign, 0);
        return isDigit(byte) ? this.to(NumberPhase.ExponentDigits, 1) : null;
      case NumberPhase.ExponentSign:
        return isDigit(byte) ? this.to(NumberPhase.ExponentDigits, 1) : null;
      case NumberPhase.ExponentDigits:
        if (isDigit(byte) && this.digits < MAX_EXPONENT_DIGITS) return this.to(NumberPhase.ExponentDigits, this.digits + 1);
        return this.finish().step(byte);
    }
  }
  private firstDigit(byte: number, negative: boolean): JsonState | null {
    if (!isDigit(byte)) return null;
    const digit = byte - 0x30;
    if (!this.reachable(negative, digit, 1)) return null;
    return this.to(digit === 0 ? NumberPhase.Zero : NumberPhase.Integer, 1, negative, digit);
  }
  protected ownKey(): string {
    return `n${this.node.id}.${this.phase}.${this.digits}.${this.negative ? 1 : 0}.${this.magnitude}`;
  }
}

class LiteralState extends JsonState {
  constructor(readonly node: NodeOf<"literal">, parent: JsonState | null, readonly at: number) {
    super(parent);
  }
  override get endable(): boolean {
    return this.at !== 0 && this.node.trie.terminal[this.at]!;
  }
  step(byte: number): JsonState | null {
    const next = this.node.trie.children[this.at]!.get(byte);
    if (next !== undefined) {
      const ends = this.node.trie.terminal[next]! && this.node.trie.children[next]!.size === 0;
      return ends ? this.finish() : new LiteralState(this.node, this.parent, next);
    }
    return this.endable ? this.finish().step(byte) : null;
  }
  protected ownKey(): string {
    return `l${this.node.id}.${this.at}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Grammar, vocabulary trie, per-generation constraint

/** A compiled response format; holds the masks memoized per vocabulary. */
export class JsonGrammar {
  private readonly masks = new WeakMap<VocabularyTrie, Map<string, Uint32Array>>();
  constructor(private readonly root: SchemaNode) {}

  /** The automaton's start state. */
  start(): JsonState {
    return new ValueStart(this.root, null, 0);
  }

  /** The state after `text` from the start (null when no valid document begins with it). */
  run(text: string | Uint8Array): JsonState | null {
    let state: JsonState | null = this.start();
    for (const byte of typeof text === "string" ? encoder.encode(text) : text) {
      state = state.step(byte);
      if (state === null) return null;
    }
    return state;
  }

  /** Whether `text` is a whole document this automaton generates. */
  accepts(text: string | Uint8Array): boolean {
    return this.run(text)?.complete ?? false;
  }

  memo(trie: VocabularyTrie): Map<string, Uint32Array> {
    let memo = this.masks.get(trie);
    if (memo === undefined) {
      memo = new Map();
      this.masks.set(trie, memo);
    }
    return memo;
  }
}

/**
 * The vocabulary as a byte trie: token ids hang off the node their byte string ends at. Built once per tokenizer
 * (special tokens and ids without text left out); a mask walks only the branches the automaton accepts.
 */
export class VocabularyTrie {
  readonly vocabSize: number;
  private readonly edgeStart: Int32Array;
  private readonly edgeBytes: Uint8Array;
  private readonly edgeTargets: Int32Array;
  private readonly tokenStart: Int32Array;
  private readonly tokenIds: Int32Array;
  private readonly bytes: readonly (Uint8Array | undefined)[];
  /** Per node: some edge at or below it is a `"` byte (the only way out of a string). */
  private readonly quoteBelow: Uint8Array;
  /** Masks of the tokens that stay inside a string (or end right at its closing quote), by StringState.insideKey. */
  private readonly insideMasks = new Map<string, Uint32Array>();

  /** `tokenBytes[id]`: the bytes the token adds to the text, undefined for tokens never to generate (specials). */
  constructor(tokenBytes: readonly (Uint8Array | undefined)[]) {
    this.vocabSize = tokenBytes.length;
    this.bytes = tokenBytes;
    // Tokens in byte order make the trie in one pass (each token shares its prefix with the one before); nodes come
    // out in depth-first order, children after their parent and in ascending byte order.
    const ids: number[] = [];
    let totalBytes = 0;
    let longest = 0;
    tokenBytes.forEach((bytes, id) => {
      if (bytes === undefined || bytes.length === 0) return;
      ids.push(id);
      totalBytes += bytes.length;
      longest = Math.max(longest, bytes.length);
    });
    ids.sort((a, b) => compareBytes(tokenBytes[a]!, tokenBytes[b]!) || a - b);
    const parentOf = new Int32Array(totalBytes + 1);
    const byteOf = new Uint8Array(totalBytes + 1);
    const endNode = new Int32Array(ids.length);
    const path = new Int32Array(longest + 1);
    let nodes = 1;
    let previous: Uint8Array = new Uint8Array(0);
    ids.forEach((id, i) => {
      const bytes = tokenBytes[id]!;
      let shared = 0;
      while (shared < previous.length && shared < bytes.length && previous[shared] === bytes[shared]) shared++;
      for (let depth = shared; depth < bytes.length; depth++) {
        parentOf[nodes] = path[depth]!;
        byteOf[nodes] = bytes[depth]!;
        path[depth + 1] = nodes++;
      }
      endNode[i] = path[bytes.length]!;
      previous = bytes;
    });
    this.edgeStart = new Int32Array(nodes + 1);
    this.tokenStart = new Int32Array(nodes + 1);
    this.edgeBytes = new Uint8Array(nodes - 1);
    this.edgeTargets = new Int32Array(nodes - 1);
    this.tokenIds = new Int32Array(ids.length);
    // Counting sort of edges by parent and of tokens by end node; both keep the depth-first (byte, id) order.
    for (let node = 1; node < nodes; node++) this.edgeStart[parentOf[node]! + 1]! += 1;
    for (const node of endNode) this.tokenStart[node + 1]! += 1;
    for (let node = 0; node < nodes; node++) {
      this.edgeStart[node + 1]! += this.edgeStart[node]!;
      this.tokenStart[node + 1]! += this.tokenStart[node]!;
    }
    const edgeFill = this.edgeStart.slice(0, nodes);
    for (let node = 1; node < nodes; node++) {
      const edge = edgeFill[parentOf[node]!]!++;
      this.edgeBytes[edge] = byteOf[node]!;
      this.edgeTargets[edge] = node;
    }
    const tokenFill = this.tokenStart.slice(0, nodes);
    endNode.forEach((node, i) => (this.tokenIds[tokenFill[node]!++] = ids[i]!));
    // Children come after their parent in node order, so one backward pass sees every subtree before its root.
    this.quoteBelow = new Uint8Array(nodes);
    for (let node = nodes - 1; node >= 0; node--) {
      for (let e = this.edgeStart[node]!; e < this.edgeStart[node + 1]!; e++) {
        if (this.edgeBytes[e] === 0x22 || this.quoteBelow[this.edgeTargets[e]!] === 1) this.quoteBelow[node] = 1;
      }
    }
  }

  tokenBytes(id: number): Uint8Array | undefined {
    return this.bytes[id];
  }

  /** Sets the bit of every token whose bytes the automaton accepts from `state`. */
  collect(state: JsonState, mask: Uint32Array): void {
    if (!(state instanceof StringState)) {
      this.walk(0, state, mask, undefined);
      return;
    }
    // Inside a string nearly every token is allowed and a walk visits the whole trie. Split it: the tokens that stay in
    // the string depend on the string alone (memoized across strings, grammars and positions); the walk with what
    // follows the string then skips every branch that stays in the string without a quote below it.
    let inside = this.insideMasks.get(state.insideKey);
    if (inside === undefined) {
      inside = new Uint32Array(mask.length);
      this.walk(0, state.detached(), inside, undefined);
      if (this.insideMasks.size >= MAX_MEMOIZED_MASKS) this.insideMasks.clear();
      this.insideMasks.set(state.insideKey, inside);
    }
    mask.set(inside);
    this.walk(0, state, mask, state);
  }

  /** Marks the tokens below `node` the automaton accepts from `state`; skips branches that stay in `string` quote-free. */
  private walk(node: number, state: JsonState, mask: Uint32Array, string: StringState | undefined): void {
    const end = this.edgeStart[node + 1]!;
    for (let edge = this.edgeStart[node]!; edge < end; edge++) {
      const next = state.step(this.edgeBytes[edge]!);
      if (next === null) continue;
      const child = this.edgeTargets[edge]!;
      if (string !== undefined && this.quoteBelow[child] === 0 && string.continues(next)) continue;
      const tokenEnd = this.tokenStart[child + 1]!;
      for (let slot = this.tokenStart[child]!; slot < tokenEnd; slot++) {
        const id = this.tokenIds[slot]!;
        mask[id >>> 5] = mask[id >>> 5]! | (1 << (id & 31));
      }
      if (this.edgeStart[child + 1]! > this.edgeStart[child]!) this.walk(child, next, mask, string);
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** One generation's constraint: which tokens may come next, and the state after each accepted token. */
export class JsonConstraint {
  private state: JsonState;
  private readonly memo: Map<string, Uint32Array>;
  private readonly words: number;
  /** Trie walks run (masks not found in the memo), and their total milliseconds. */
  walks = 0;
  walkMs = 0;

  constructor(readonly grammar: JsonGrammar, readonly trie: VocabularyTrie, private readonly eosTokenIds: readonly number[]) {
    this.state = grammar.start();
    this.memo = grammar.memo(trie);
    this.words = (trie.vocabSize + 31) >>> 5;
  }

  /** The output so far is a whole document. */
  get complete(): boolean {
    return this.state.complete;
  }

  /** The document is complete and nothing may follow it: generation should end. */
  get finished(): boolean {
    return this.state === DONE;
  }

  /** Bit per token id: may it come next (EOS excluded; see maskLogits). */
  allowed(): Uint32Array {
    const key = this.state.key;
    let mask = this.memo.get(key);
    if (mask === undefined) {
      const start = performance.now();
      mask = new Uint32Array(this.words);
      this.trie.collect(this.state, mask);
      this.walkMs += performance.now() - start;
      this.walks += 1;
      if (this.memo.size >= MAX_MEMOIZED_MASKS) this.memo.clear();
      this.memo.set(key, mask);
    }
    return mask;
  }

  /**
   * Writes `logits` into `out` with every token that cannot come next at -Infinity (EOS tokens allowed only when the
   * document is complete); returns how many tokens stay allowed.
   */
  maskLogits(logits: Float32Array, out: Float32Array): number {
    const mask = this.allowed();
    out.fill(-Infinity);
    let allowed = 0;
    const words = Math.min(mask.length, (logits.length + 31) >>> 5);
    for (let word = 0; word < words; word++) {
      let bits = mask[word]!;
      while (bits !== 0) {
        const low = bits & -bits;
        const id = (word << 5) + 31 - Math.clz32(low);
        bits ^= low;
        if (id < logits.length) {
          out[id] = logits[id]!;
          allowed += 1;
        }
      }
    }
    if (this.state.complete) {
      for (const id of this.eosTokenIds) {
        if (id < logits.length && out[id] === -Infinity) {
          out[id] = logits[id]!;
          allowed += 1;
        }
      }
    }
    return allowed;
  }

  /** Advances over a token from the mask; a token the mask excludes is an InputError. */
  accept(id: number): void {
    const bytes = this.trie.tokenBytes(id);
    let state: JsonState | null = bytes === undefined || bytes.length === 0 ? null : this.state;
    if (bytes !== undefined) for (let i = 0; i < bytes.length && state !== null; i++) state = state.step(bytes[i]!);
    if (state === null) throw new InputError({ file: SOURCE, field: "token", expected: "a token the JSON constraint allows", actual: `token ${id}` });
    this.state = state;
  }
}
