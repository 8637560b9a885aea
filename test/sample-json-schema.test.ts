// JSON-schema constrained decoding (src/sample/json-schema.ts). The oracle is Ajv (JSON Schema 2020-12) and
// JSON.parse: every document the automaton accepts must validate; documents in the automaton's canonical form
// (properties in schema order) that validate must be accepted; generation under random logits (a synthetic vocabulary,
// SmolLM2's vocabulary, the tiny random-weight model) and under SmolLM2 itself must end in documents that validate.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import fc from "fast-check";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { InputError, type LanguageModel, loadModel, UnsupportedError } from "../src/index.js";
import { compileResponseFormat, JsonConstraint, type JsonGrammar, MAX_WHITESPACE_RUN, type ResponseFormat, VocabularyTrie } from "../src/sample/json-schema.js";
import { createSampler } from "../src/sample/sampler.js";
import { SeededRandom } from "../src/sample/random.js";
import { SMOL_PATH, tinyGgufWithTokenizer } from "./fuzz/seeds.js";

const ajv = new Ajv2020({ strict: false, allErrors: false });
const validates = (schema: object, value: unknown): boolean => ajv.validate(schema, value) as boolean;
const schemaFormat = (schema: object): ResponseFormat => ({ type: "json_schema", json_schema: { name: "test", schema } });
const grammarOf = (schema: object): JsonGrammar => compileResponseFormat(schemaFormat(schema))!;

/** Ajv's verdict on a text: it parses and the value validates. */
function ajvAccepts(schema: object, text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  return validates(schema, value);
}

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 8 },
    age: { type: "integer", minimum: 0, maximum: 150 },
    email: { type: ["string", "null"] },
    tags: { type: "array", items: { enum: ["a", "b", 1, null, { x: [true] }] }, maxItems: 2 },
    address: { type: "object", properties: { city: { type: "string" }, zip: { type: "integer", exclusiveMinimum: 999, exclusiveMaximum: 100000 } }, required: ["city"], additionalProperties: false },
  },
  required: ["name", "age"],
  additionalProperties: false,
};

// [text, accepted by the automaton]; where the automaton refuses a valid document, the reason is the generated
// subset (member order, extra properties) and the test checks Ajv does accept it.
const PERSON_CASES: [string, boolean][] = [
  ['{"name":"bob","age":42}', true],
  ['{ "name" : "bob" , "age" : 150 , "tags" : ["a", 1] }', true],
  ['{\n  "name": "Zoë",\n  "age": 0,\n  "email": null,\n  "tags": [{"x":[true]}],\n  "address": {"city": "Paris", "zip": 75001}\n}', true],
  ['{"name":"a","age":1,"email":"x@y.z"}', true],
  ['{"name":"\\u00e9\\n\\"\\\\\\/","age":7}', true],
  ['{"name":"😀","age":7}', true],
  ['{"name":"bob"}', false],
  ['{"name":"","age":1}', false],
  ['{"name":"toolongname","age":1}', false],
  ['{"name":"a","age":151}', false],
  ['{"name":"a","age":-1}', false],
  ['{"name":"a","age":1.5}', false],
  ['{"name":"a","age":01}', false],
  ['{"name":"a","age":1,"tags":["a","b","a"]}', false],
  ['{"name":"a","age":1,"tags":["c"]}', false],
  ['{"name":"a","age":1,"address":{"zip":1000}}', false],
  ['{"name":"a","age":1,"address":{"city":"x","zip":999}}', false],
  ['{"name":"a","age":1,"address":{"city":"x","zip":100000}}', false],
  ['{"name":"a","age":1,"extra":1}', false],
  ['{"name":"a\tb","age":1}', false],
  ['{"name":"a","age":1,}', false],
  ['{"name":"a","age":1}x', false],
  ["{'name':'a','age':1}", false],
];

const unit = suite("json-schema automaton");

unit("accepts and rejects hand-written documents, agreeing with Ajv wherever it accepts", () => {
  const grammar = grammarOf(PERSON);
  for (const [text, expected] of PERSON_CASES) {
    assert.is(grammar.accepts(text), expected, text);
    if (expected) assert.ok(ajvAccepts(PERSON, text), `Ajv accepts ${text}`);
  }
  // Valid for Ajv, outside the generated subset: members out of schema order, properties beyond the declared ones.
  assert.ok(ajvAccepts(PERSON, '{"age":1,"name":"x"}'));
  assert.not.ok(grammar.accepts('{"age":1,"name":"x"}'));
});

unit("strings: escapes, UTF-8 split anywhere, no lone surrogates, lengths in code points", () => {
  const grammar = grammarOf({ type: "string", minLength: 2, maxLength: 3 });
  for (const [text, expected] of [
    ['"ab"', true], ['"abc"', true], ['"a"', false], ['"abcd"', false], ['"é😀"', true], ['"\\u0041\\n"', true],
    ['"\\uD83D\\uDE00x"', false], ['"\\x41"', false], ['"a\nb"', false], ['"\\u004"', false],
  ] as const) {
    assert.is(grammar.accepts(text), expected, text);
    if (expected) assert.ok(ajvAccepts({ type: "string", minLength: 2, maxLength: 3 }, text), text);
  }
  // Byte by byte through a four-byte character: only well-formed UTF-8 goes on.
  const bytes = new TextEncoder().encode('"😀é"');
  assert.ok(grammar.accepts(bytes));
  assert.is(grammar.run(Uint8Array.of(0x22, 0xf0, 0x80)), null, "overlong F0 80");
  assert.is(grammar.run(Uint8Array.of(0x22, 0xed, 0xa0)), null, "UTF-8 surrogate ED A0");
  assert.is(grammar.run(Uint8Array.of(0x22, 0xc0)), null, "C0 never starts a character");
  assert.is(grammar.run(Uint8Array.of(0x22, 0x80)), null, "a lone continuation byte");
});

unit("numbers per the JSON grammar; top-level numbers are complete but may go on", () => {
  const grammar = grammarOf({ type: "number" });
  for (const [text, expected] of [
    ["0", true], ["-0", true], ["12.5e-3", true], ["1E+2", true], ["-", false], ["01", false], ["1.", false], [".5", false],
    ["1e", false], ["+1", false], ["1.5.2", false], ["0x10", false], ["1e999", false],
  ] as const) assert.is(grammar.accepts(text), expected, text);
  const twelve = grammar.run("12")!;
  assert.ok(twelve.complete);
  assert.ok(twelve.step(0x33) !== null, "12 may go on to 123");
  const integer = grammarOf({ type: "integer", minimum: -20, maximum: 105 });
  for (let value = -30; value <= 130; value++) assert.is(integer.accepts(String(value)), value >= -20 && value <= 105, String(value));
  assert.is(integer.run("-21"), null, "no integer in range starts with -21");
  assert.is(integer.run("106"), null, "no integer in range starts with 106");
  assert.not.ok(integer.run("-2")!.complete === false, "-2 is in range and could go on to -20");
  assert.is(integer.run("2")!.complete, true);
});

unit("literals: enum, const, booleans, null, prefixes of each other", () => {
  const grammar = grammarOf({ enum: [1, 10, "x", null, [1, { a: "b" }], true] });
  for (const [text, expected] of [["1", true], ["10", true], ["100", false], ['"x"', true], ["null", true], ['[1,{"a":"b"}]', true], ["true", true], ["false", false], ['"y"', false]] as const) {
    assert.is(grammar.accepts(text), expected, text);
  }
  assert.ok(grammarOf({ const: "fixed" }).accepts('"fixed"'));
  assert.ok(grammarOf({ type: "boolean" }).accepts("false"));
  assert.ok(grammarOf({ type: "null" }).accepts("null"));
  assert.equal(["a", 2, "b"].map((v) => grammarOf({ type: "string", enum: ["a", 2, "b"] }).accepts(JSON.stringify(v))), [true, false, true], "type filters the enum");
});

unit("arrays, prefixItems, anyOf/oneOf/type unions, $ref and $defs (recursive), json_object", () => {
  const array = grammarOf({ type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false, minItems: 1 });
  assert.ok(array.accepts('["a"]'));
  assert.ok(array.accepts('["a", 2]'));
  assert.not.ok(array.accepts('["a", 2, 3]'));
  assert.not.ok(array.accepts("[]"));
  const union = grammarOf({ anyOf: [{ type: "string" }, { type: "integer" }, { type: "number" }, { type: "array", items: { type: "boolean" } }, { const: null }, { const: true }] });
  for (const text of ['"s"', "3", "3.5", "[true,false]", "null", "true"]) assert.ok(union.accepts(text), text);
  assert.not.ok(union.accepts("false"));
  const tree = {
    $defs: { node: { type: "object", properties: { value: { type: "integer" }, children: { type: "array", items: { $ref: "#/$defs/node" } } }, required: ["value"], additionalProperties: false } },
    $ref: "#/$defs/node",
  };
  const recursive = grammarOf(tree);
  const deep = '{"value":1,"children":[{"value":2,"children":[{"value":3}]},{"value":4}]}';
  assert.ok(recursive.accepts(deep));
  assert.ok(ajvAccepts(tree, deep));
  assert.not.ok(recursive.accepts('{"value":1,"children":[{"children":[]}]}'));
  const object = compileResponseFormat({ type: "json_object" })!;
  for (const [text, expected] of [["{}", true], ['{"a":[1,{"b":null}],"c":"d","a":2}', true], ["[]", false], ['"s"', false], ['{"a":}', false]] as const) {
    assert.is(object.accepts(text), expected, text);
  }
  assert.is(compileResponseFormat({ type: "text" }), undefined);
});

unit("whitespace between tokens is limited to MAX_WHITESPACE_RUN bytes per gap", () => {
  const grammar = compileResponseFormat({ type: "json_object" })!;
  assert.ok(grammar.accepts(`{${" ".repeat(MAX_WHITESPACE_RUN)}}`));
  assert.not.ok(grammar.accepts(`{${" ".repeat(MAX_WHITESPACE_RUN + 1)}}`));
  assert.ok(grammar.accepts(`${"\n".repeat(MAX_WHITESPACE_RUN)}{"a" :${" ".repeat(MAX_WHITESPACE_RUN)}1}`));
});

unit("unsupported schema features are UnsupportedErrors naming the schema path; malformed formats InputErrors", () => {
  const cases: [object, string][] = [
    [{ type: "object", properties: { id: { type: "string", pattern: "^[a-z]+$" } } }, "json_schema.schema.properties.id.pattern"],
    [{ type: "object", patternProperties: { "^x": {} } }, "json_schema.schema.patternProperties"],
    [{ type: "string", format: "date-time" }, "json_schema.schema.format"],
    [{ type: "number", minimum: 0 }, "json_schema.schema.minimum"],
    [{ anyOf: [{ type: "string" }, { type: "string", maxLength: 3 }] }, "json_schema.schema.anyOf"],
    [{ oneOf: [{ type: "integer" }, { type: "number" }] }, "json_schema.schema.oneOf"],
    [{ type: "object", properties: { a: { $ref: "https://example.com/a.json" } } }, "json_schema.schema.properties.a.$ref"],
    [{ type: "array", items: { type: "string" }, uniqueItems: true }, "json_schema.schema.uniqueItems"],
    [{ $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, "$ref"],
  ];
  for (const [schema, field] of cases) {
    try {
      compileResponseFormat(schemaFormat(schema));
      assert.unreachable(`${JSON.stringify(schema)} compiles`);
    } catch (error) {
      assert.instance(error, UnsupportedError, String(error));
      assert.ok((error as UnsupportedError).field!.includes(field), `${(error as UnsupportedError).field} names ${field}`);
    }
  }
  const malformed: unknown[] = [
    null, { type: "xml" }, { type: "json_schema" }, { type: "json_schema", json_schema: { schema: 3 } }, { type: "json_object", schema: {} },
    { type: "json_schema", json_schema: { schema: { type: "strng" } } }, { type: "json_schema", json_schema: { schema: { type: "string", minLength: 3, maxLength: 2 } } },
    { type: "json_schema", json_schema: { schema: { required: ["a"], additionalProperties: false } } },
  ];
  for (const format of malformed) {
    assert.throws(() => compileResponseFormat(format as ResponseFormat), (error: unknown) => error instanceof InputError, JSON.stringify(format));
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Property-based: random schemas, random documents, random "models"

/** Schemas of the supported subset, each with an arbitrary of its valid documents in canonical form. */
interface Case {
  readonly schema: Record<string, unknown>;
  readonly valid: fc.Arbitrary<unknown>;
}

const keyArb = fc.oneof(fc.constantFrom("id", "name", "a", "ab", "é", "quote\"d", "back\\slash", "x y"), fc.string({ maxLength: 6 }));
const stringCase: fc.Arbitrary<Case> = fc.tuple(fc.nat(3), fc.option(fc.nat(6))).map(([min, extra]) => {
  const max = extra === null ? undefined : min + extra;
  const schema: Record<string, unknown> = { type: "string", minLength: min };
  if (max !== undefined) schema["maxLength"] = max;
  const valid = fc.string({ unit: fc.oneof(fc.constantFrom("a", "\"", "\\", "\n", "é", "😀", "\u0001"), fc.integer({ min: 0x20, max: 0x2fff }).map((code) => String.fromCodePoint(code))), minLength: min, maxLength: max ?? min + 8 })
    .filter((s) => [...s].length >= min && (max === undefined || [...s].length <= max));
  return { schema, valid };
});
const integerCase: fc.Arbitrary<Case> = fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.nat(2000)).map(([low, span]) => ({
  schema: { type: "integer", minimum: low, maximum: low + span }, valid: fc.integer({ min: low, max: low + span }),
}));
const numberCase: fc.Arbitrary<Case> = fc.constant({ schema: { type: "number" }, valid: fc.oneof(fc.integer(), fc.double({ min: -1e15, max: 1e15, noNaN: true }).filter((v) => v === 0 || Math.abs(v) >= 1e-99)) });
const enumCase: fc.Arbitrary<Case> = fc.uniqueArray(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v) })
  .map((values) => ({ schema: { enum: values }, valid: fc.constantFrom(...values) }));
const simpleCases: fc.Arbitrary<Case>[] = [
  stringCase, integerCase, numberCase, enumCase,
  fc.constant({ schema: { type: "boolean" }, valid: fc.boolean() }),
  fc.constant({ schema: { type: ["string", "null"] }, valid: fc.option(fc.string({ maxLength: 5 })) }),
];

const caseArb: fc.Arbitrary<Case> = fc.letrec<{ node: Case; object: Case; array: Case }>((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, ...simpleCases, tie("object"), tie("array")),
  object: fc.uniqueArray(fc.tuple(keyArb, tie("node"), fc.boolean()), { maxLength: 4, selector: ([key]) => key }).map((members) => ({
    schema: {
      type: "object", additionalProperties: false,
      properties: Object.fromEntries(members.map(([key, member]) => [key, member.schema])),
      required: members.filter(([, , required]) => required).map(([key]) => key),
    },
    valid: fc.tuple(...members.map(([key, member, required]) => (required ? member.valid.map((v) => [key, v] as const) : fc.option(member.valid.map((v) => [key, v] as const)))))
      .map((entries) => Object.fromEntries(entries.filter((entry) => entry !== null) as [string, unknown][])),
  })),
  array: fc.tuple(tie("node"), fc.nat(2), fc.option(fc.nat(3))).map(([item, min, extra]) => {
    const max = extra === null ? undefined : min + extra;
    const schema: Record<string, unknown> = { type: "array", items: item.schema, minItems: min };
    if (max !== undefined) schema["maxItems"] = max;
    return { schema, valid: fc.array(item.valid, { minLength: min, maxLength: max ?? min + 3 }) };
  }),
})).node;

function hasContainerLiteral(schema: unknown): boolean {
  if (typeof schema !== "object" || schema === null) return false;
  const record = schema as Record<string, unknown>;
  const literals = [...(Array.isArray(record["enum"]) ? record["enum"] : []), ...("const" in record ? [record["const"]] : [])];
  if (literals.some((value) => typeof value === "object" && value !== null)) return true;
  return Object.entries(record).some(([key, value]) => key !== "enum" && key !== "const" && hasContainerLiteral(value));
}

const props = suite("json-schema properties");

props("every canonical document Ajv validates is accepted; every accepted document validates", () => {
  fc.assert(
    fc.property(caseArb.chain((c) => fc.record({ schema: fc.constant(c.schema), value: c.valid, indent: fc.constantFrom(undefined, 1, 2, "\t") })), (c) => {
      // enum/const arrays and objects are generated compact (JSON.stringify's form), so only indent without them.
      const text = JSON.stringify(c.value, null, hasContainerLiteral(c.schema) ? undefined : c.indent);
      const value = c.value;
      assert.ok(validates(c.schema, value), `the generator's document ${text} validates against ${JSON.stringify(c.schema)}`);
      const grammar = grammarOf(c.schema);
      assert.ok(grammar.accepts(text), `${text} accepted by ${JSON.stringify(c.schema)}`);
      // A byte more or less than a document is never a document the schema validates that the automaton accepts.
      for (const mutated of [text.slice(0, -1), `${text}0`, `${text}}`, text.replace(/:/, ""), text.replace(/"/, "'")]) {
        if (grammar.accepts(mutated)) assert.ok(ajvAccepts(c.schema, mutated), `accepted ${JSON.stringify(mutated)} validates`);
      }
    }),
    { numRuns: 300, seed: 20261207 },
  );
});

props("any JSON text: acceptance implies Ajv validity (random values against random schemas)", () => {
  fc.assert(
    fc.property(caseArb.map((c) => ({ schema: c.schema })), fc.jsonValue({ maxDepth: 3 }), (c, value) => {
      const text = JSON.stringify(value);
      if (grammarOf(c.schema).accepts(text)) assert.ok(validates(c.schema, value), `${text} accepted but invalid for ${JSON.stringify(c.schema)}`);
    }),
    { numRuns: 500, seed: 7 },
  );
});

/** A small vocabulary with multi-byte tokens that straddle JSON structure and UTF-8 characters. */
const SYNTHETIC_TOKENS = [
  ..."{}[],:\" \n-.0123456789eE+tfnrulsabxyz\\/é😀", '{"', '":', '",', '"}', '"]', "},", "],", "true", "false", "null", '\\"', "\\u00e9", "\\n", ", ", ": ",
  "10", "-1", "0.5", "e-3", "\"\"", "[]", "{}", "ab", "id", "name", "é\"", "\n  ",
];

function syntheticTrie(): VocabularyTrie {
  const encoder = new TextEncoder();
  const bytes = SYNTHETIC_TOKENS.map((token) => encoder.encode(token));
  // Each byte of "😀" and "é" alone too, so characters can be spelled in pieces.
  for (const char of ["😀", "é"]) for (const byte of encoder.encode(char)) bytes.push(Uint8Array.of(byte));
  return new VocabularyTrie(bytes);
}

/** The mask by brute force: each token's bytes stepped through the automaton from the current text. */
function bruteForceMask(grammar: JsonGrammar, text: Uint8Array, trie: VocabularyTrie): Uint32Array {
  const state = grammar.run(text)!;
  const mask = new Uint32Array((trie.vocabSize + 31) >>> 5);
  for (let id = 0; id < trie.vocabSize; id++) {
    const bytes = trie.tokenBytes(id);
    if (bytes === undefined || bytes.length === 0) continue;
    let at: typeof state | null = state;
    for (let i = 0; i < bytes.length && at !== null; i++) at = at.step(bytes[i]!);
    if (at !== null) mask[id >>> 5]! |= 1 << (id & 31);
  }
  return mask;
}

/**
 * Samples with random logits until the document is finished (true) or the budget runs out (false); every
 * `checkEvery` steps the trie walk's mask must equal the brute-force one.
 */
function randomModelRun(grammar: JsonGrammar, trie: VocabularyTrie, random: SeededRandom, budget: number, eos: number[] = [], checkEvery = 1): { text: Uint8Array; finished: boolean } {
  const constraint = new JsonConstraint(grammar, trie, eos);
  const sampler = createSampler({ temperature: 1, seed: Math.floor(random.nextFloat() * 1e9) });
  const logits = new Float32Array(trie.vocabSize + eos.length);
  const masked = new Float32Array(logits.length);
  const out: number[] = [];
  for (let step = 0; step < budget; step++) {
    for (let i = 0; i < logits.length; i++) logits[i] = 4 * random.nextFloat();
    if (step % checkEvery === 0) assert.equal(constraint.allowed(), bruteForceMask(grammar, Uint8Array.from(out), trie), `mask after ${JSON.stringify(new TextDecoder().decode(Uint8Array.from(out)))}`);
    const allowed = constraint.maskLogits(logits, masked);
    if (allowed === 0) return { text: Uint8Array.from(out), finished: constraint.complete };
    const token = sampler.sample(masked, []);
    if (eos.includes(token)) {
      assert.ok(constraint.complete, "EOS only when the document is complete");
      return { text: Uint8Array.from(out), finished: true };
    }
    constraint.accept(token);
    out.push(...trie.tokenBytes(token)!);
    if (constraint.finished) return { text: Uint8Array.from(out), finished: true };
  }
  return { text: Uint8Array.from(out), finished: false };
}

props("a random model on a synthetic vocabulary: masks equal brute force; every finished output parses and validates", () => {
  const trie = syntheticTrie();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let finished = 0;
  let runs = 0;
  fc.assert(
    fc.property(caseArb.map((c) => ({ schema: c.schema })), fc.integer({ min: 1, max: 1e9 }), (c, seed) => {
      const grammar = grammarOf(c.schema);
      const run = randomModelRun(grammar, trie, SeededRandom.fromSeed(seed), 400, [trie.vocabSize]);
      runs += 1;
      if (!run.finished) return;
      finished += 1;
      const text = decoder.decode(run.text);
      assert.ok(ajvAccepts(c.schema, text), `${JSON.stringify(text)} validates against ${JSON.stringify(c.schema)}`);
    }),
    { numRuns: 300, seed: 99 },
  );
  assert.ok(finished > runs * 0.7, `${finished} of ${runs} random runs finished within the budget`);
});

// ---------------------------------------------------------------------------------------------------------------
// Through the Session: the tiny random-weight model, then SmolLM2

const SCHEMAS: Record<string, object> = {
  person: PERSON,
  list: { type: "object", properties: { items: { type: "array", items: { type: "object", properties: { id: { type: "integer", minimum: 1, maximum: 99 }, done: { type: "boolean" } }, required: ["id", "done"], additionalProperties: false }, minItems: 1, maxItems: 3 } }, required: ["items"], additionalProperties: false },
  choice: { type: "object", properties: { answer: { enum: ["yes", "no", "maybe"] }, confidence: { type: "number" }, reason: { type: ["string", "null"], maxLength: 40 } }, required: ["answer", "confidence", "reason"], additionalProperties: false },
  tuple: { type: "array", prefixItems: [{ type: "string", maxLength: 12 }, { type: "integer" }, { type: "boolean" }], items: false, minItems: 3 },
};

const session = suite("json-schema generation");

session("the tiny random-weight model (byte-level BPE and SentencePiece vocabularies): outputs that finish parse and validate; length mid-JSON does not parse", async () => {
  const spm = await loadModel({ gguf: tinyGgufWithTokenizer("Q8_0", "spm"), name: "tiny-spm" }, { maxContext: 128 });
  const model = await loadModel({ gguf: tinyGgufWithTokenizer("Q8_0"), name: "tiny" }, { maxContext: 128 });
  for (const tiny of [model, spm]) {
    let finished = 0;
    for (const [name, schema] of Object.entries(SCHEMAS)) {
      for (let seed = 0; seed < 6; seed++) {
        const result = await tiny.generate("json", { maxTokens: 120, temperature: 1.2, seed, responseFormat: schemaFormat(schema) }).result;
        if (result.finishReason === "length") continue;
        finished += 1;
        assert.is(result.finishReason, "stop", `${tiny.name} ${name} seed ${seed}`);
        assert.ok(ajvAccepts(schema, result.text), `${tiny.name} ${name} seed ${seed}: ${JSON.stringify(result.text)}`);
      }
    }
    assert.ok(finished >= 8, `${tiny.name}: ${finished} of 24 runs finished`);
  }
  await spm.close();
  // A stop string that the document's last byte begins is held back while it might match; the end of the JSON outputs it.
  let heldBack = 0;
  for (let seed = 0; seed < 6; seed++) {
    const options = { maxTokens: 120, temperature: 1.2, seed, responseFormat: schemaFormat(SCHEMAS["list"]!) } as const;
    const plain = await model.generate("json", options).result;
    const held = await model.generate("json", { ...options, stop: ["}\u0000"] }).result;
    assert.is(held.text, plain.text, `seed ${seed}`);
    assert.is(held.finishReason, plain.finishReason);
    if (plain.finishReason === "stop") heldBack += 1;
  }
  assert.ok(heldBack > 0, "some runs ended on the JSON's closing brace");
  const cut = await model.generate("json", { maxTokens: 3, responseFormat: schemaFormat(SCHEMAS["person"]!) }).result;
  assert.is(cut.finishReason, "length");
  assert.throws(() => JSON.parse(cut.text));
  const unsupported = model.generate("json", { responseFormat: schemaFormat({ type: "string", pattern: "a+" }) }).result;
  await unsupported.then(() => assert.unreachable("pattern accepted"), (error) => assert.instance(error, UnsupportedError));
  const misspelt = model.generate("json", { responseFormat: { type: "json" } as unknown as ResponseFormat }).result;
  await misspelt.then(() => assert.unreachable("type json accepted"), (error) => assert.instance(error, InputError));
  await model.close();
});

let smol: LanguageModel | undefined;
const smolAvailable = existsSync(SMOL_PATH);
const loadSmol = async (): Promise<LanguageModel> => {
  smol ??= await loadModel({ gguf: new Uint8Array(readFileSync(SMOL_PATH)), name: "SmolLM2-135M-Instruct.Q4_1.gguf" }, { maxContext: 1024 });
  return smol;
};
const PROMPTS: Record<string, string> = {
  person: "Describe a fictional person in JSON (name, age, email, tags, address).",
  list: "Make a JSON to-do list with two items.",
  choice: "Is the sky green? Answer in JSON.",
  tuple: "Give a JSON array: a city, its population, whether it is a capital.",
};

session("SmolLM2: greedy and sampled answers for several schemas parse and validate", async () => {
  if (!smolAvailable) {
    console.log(`  (skipped: ${SMOL_PATH} not found; weights/fetch.sh pulls it)`);
    return;
  }
  const model = await loadSmol();
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    for (const sampling of [{}, { temperature: 0.9, topP: 0.95, seed: 5 }, { temperature: 1.3, seed: 6 }]) {
      const result = await model.generate(PROMPTS[name]!, { chat: true, maxTokens: 200, ...sampling, responseFormat: schemaFormat(schema) }).result;
      assert.is(result.finishReason, "stop", `${name} ${JSON.stringify(sampling)}: ${JSON.stringify(result.text)}`);
      assert.ok(ajvAccepts(schema, result.text), `${name} ${JSON.stringify(sampling)}: ${JSON.stringify(result.text)}`);
    }
  }
  const object = await model.generate("Give me a JSON object describing Paris.", { chat: true, maxTokens: 200, responseFormat: { type: "json_object" } }).result;
  if (object.finishReason === "stop") assert.type(JSON.parse(object.text), "object");
  else assert.is(object.finishReason, "length");
  // Without the constraint the same greedy prompt is free text (so the constraint is what made it JSON).
  const free = await model.generate(PROMPTS["tuple"]!, { chat: true, maxTokens: 40 }).result;
  assert.not.ok(ajvAccepts(SCHEMAS["tuple"]!, free.text), free.text);
});

session("SmolLM2's vocabulary under a random model: masks equal brute force, finished outputs validate, a full-trie walk is quick", async () => {
  if (!smolAvailable) {
    console.log(`  (skipped: ${SMOL_PATH} not found)`);
    return;
  }
  const model = await loadSmol();
  const trie = new VocabularyTrie(model.tokenizer.vocabularyBytes());
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const random = SeededRandom.fromSeed(3);
  let finished = 0;
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    for (let run = 0; run < 3; run++) {
      const result = randomModelRun(grammarOf(schema), trie, random, 400, [...model.tokenizer.eosTokenIds], 37);
      if (!result.finished) continue;
      finished += 1;
      const text = decoder.decode(result.text);
      assert.ok(ajvAccepts(schema, text), `${name}: ${JSON.stringify(text)}`);
    }
  }
  assert.ok(finished >= 6, `${finished} of 12 runs finished`);
  // The costliest state: inside a free string nearly every token is allowed and the walk visits the whole trie.
  const grammar = grammarOf({ type: "object", properties: { s: { type: "string", maxLength: 1000 } } });
  const constraint = new JsonConstraint(grammar, trie, []);
  for (const token of model.tokenizer.encode('{"s":"', { addSpecialTokens: false })) constraint.accept(token);
  const start = performance.now();
  const mask = constraint.allowed();
  const walkMs = performance.now() - start;
  let allowed = 0;
  for (const word of mask) for (let bits = word; bits !== 0; bits &= bits - 1) allowed++;
  assert.ok(allowed > 40000, `${allowed} tokens allowed inside a string`);
  assert.ok(walkMs < 200, `a full-trie walk took ${walkMs.toFixed(1)} ms`);
});

session("ffnskip generate --json-schema FILE and --json-object (SmolLM2)", () => {
  if (!smolAvailable) {
    console.log(`  (skipped: ${SMOL_PATH} not found)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-json-"));
  try {
    const file = join(dir, "schema.json");
    writeFileSync(file, JSON.stringify(SCHEMAS["choice"]));
    const cli = (...flags: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "generate", "--model", SMOL_PATH, "--threads", "1", "--chat", "--json", ...flags], { encoding: "utf8", cwd: join(import.meta.dirname, ".."), timeout: 120_000 });
    const constrained = cli("--prompt", PROMPTS["choice"]!, "--json-schema", file, "--max-tokens", "120");
    assert.is(constrained.status, 0, constrained.stderr);
    const reply = JSON.parse(constrained.stdout) as { text: string; finishReason: string };
    assert.is(reply.finishReason, "stop");
    assert.ok(ajvAccepts(SCHEMAS["choice"]!, reply.text), reply.text);
    const object = cli("--prompt", "Describe a cat as JSON.", "--json-object", "--max-tokens", "120");
    assert.is(object.status, 0, object.stderr);
    const objectReply = JSON.parse(object.stdout) as { text: string; finishReason: string };
    if (objectReply.finishReason === "stop") assert.type(JSON.parse(objectReply.text), "object");
    const both = cli("--prompt", "x", "--json-object", "--json-schema", file);
    assert.is.not(both.status, 0);
    assert.match(both.stderr, /--json-object/);
    writeFileSync(file, JSON.stringify({ type: "string", format: "email" }));
    const unsupported = cli("--prompt", "x", "--json-schema", file);
    assert.is.not(unsupported.status, 0);
    assert.match(unsupported.stderr, /json_schema\.schema\.format/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

session.after(async () => {
  await smol?.close();
});

unit.run();
props.run();
session.run();
