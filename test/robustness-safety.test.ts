// Safety of the formats: loading never evaluates anything from a file. No eval / Function / dynamic import keyed by
// data anywhere in src/, and chat templates run only in @huggingface/jinja's interpreter, so hostile templates
// render harmlessly or fail with our typed errors.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FfnskipError, loadModel } from "../src/index.js";
import { ggufArray, type GgufMetadataEntry, writeGguf } from "../src/io/gguf-writer.js";
import { readGguf } from "../src/io/gguf.js";
import { createChatTemplate } from "../src/text/chat-template.js";
import { tinyGgufWithTokenizer } from "./fuzz/seeds.js";

const SRC = new URL("../src/", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Code without comments (so prose about eval() does not count), keeping line numbers. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

const FORBIDDEN: readonly [string, RegExp][] = [
  ["eval()", /(^|[^.\w$])eval\s*\(/],
  ["new Function", /\bnew\s+Function\s*\(/],
  ["Function() called without new", /(?<!\bnew\s+)(?<![.\w$])Function\s*\(/],
  ["dynamic import() of a computed specifier", /(^|[^.\w$])import\s*\(\s*(?!["'][^"'`$]*["']\s*\))/],
  ["require() of a computed specifier", /(^|[^.\w$])require\s*\(\s*(?!["'][^"'`$]*["']\s*\))/],
  ["a worker evaluating a code string", /\beval\s*:\s*true/],
  ["a timer given a code string", /\bset(Timeout|Interval)\s*\(\s*["'`]/],
];

/**
 * Reviewed exceptions: the Node helper-thread launcher boots a worker from a fixed code string that imports our own
 * entry module (a URL from import.meta, never from model data). Each entry names file, rule and the line's text.
 */
const ALLOWED: readonly { file: string; rule: string; line: RegExp }[] = [
  { file: "node/threads.ts", rule: "a worker evaluating a code string", line: /import\(\$\{JSON\.stringify\(import\.meta\.resolve\("tsx\/esm\/api"\)\)\}\).*import\(\$\{JSON\.stringify\(entry\.href\)\}\)/ },
  { file: "node/threads.ts", rule: "dynamic import() of a computed specifier", line: /import\(\$\{JSON\.stringify\(import\.meta\.resolve\("tsx\/esm\/api"\)\)\}\).*import\(\$\{JSON\.stringify\(entry\.href\)\}\)/ },
];

/**
 * A worker booted from a code string is fine when that string is a constant of the source itself: `new Worker(NAME,
 * { eval: true })` where NAME is a `const NAME = \`...\`` template without substitutions, in the same file.
 */
function constantWorkerCode(line: string, code: string): boolean {
  const name = /new\s+Worker\(\s*([A-Za-z_$][\w$]*)\s*,/.exec(line)?.[1];
  if (name === undefined) return false;
  const definition = new RegExp(`const\\s+${name}\\s*=\\s*\`([^\`]*)\``).exec(code);
  return definition !== null && !definition[1]!.includes("${");
}

test("src/ has no eval, Function constructor, computed dynamic import/require, code-string workers or timers", () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 30, `scanned ${files.length} files`);
  const found: string[] = [];
  for (const path of files) {
    const file = relative(SRC, path);
    const code = withoutComments(readFileSync(path, "utf8"));
    const lines = code.split("\n");
    lines.forEach((line, i) => {
      for (const [rule, pattern] of FORBIDDEN) {
        if (!pattern.test(line)) continue;
        if (ALLOWED.some((a) => a.file === file && a.rule === rule && a.line.test(line))) continue;
        if (rule === "a worker evaluating a code string" && constantWorkerCode(line, code)) continue;
        found.push(`src/${file}:${i + 1}: ${rule}: ${line.trim().slice(0, 120)}`);
      }
    });
  }
  assert.equal(found, [], found.join("\n"));
});

test("the scan itself catches what it is meant to catch", () => {
  const caught = (code: string) => FORBIDDEN.filter(([, pattern]) => pattern.test(withoutComments(code))).map(([rule]) => rule);
  assert.equal(caught("const f = eval(text);"), ["eval()"]);
  assert.equal(caught("x = new Function('a', body)"), ["new Function"]);
  assert.equal(caught("x = Function('return this')()"), ["Function() called without new"]);
  assert.equal(caught("const m = await import(path);"), ["dynamic import() of a computed specifier"]);
  assert.equal(caught("const m = await import(`./${name}.js`);"), ["dynamic import() of a computed specifier"]);
  assert.equal(caught('const m = await import("./pull.js");'), []);
  assert.equal(caught("new Worker(code, { eval: true })"), ["a worker evaluating a code string"]);
  assert.ok(constantWorkerCode("new Worker(BOOT, { eval: true })", "const BOOT = `require('x');`;\nnew Worker(BOOT, { eval: true })"));
  assert.not.ok(constantWorkerCode("new Worker(BOOT, { eval: true })", "const BOOT = `import(${path})`;\nnew Worker(BOOT, { eval: true })"));
  assert.not.ok(constantWorkerCode("new Worker(code, { eval: true })", "let code = read();\nnew Worker(code, { eval: true })"));
  assert.equal(caught("// eval(x) in a comment"), []);
  assert.equal(caught("evaluate(x); model.eval(y); retrieval(z)"), []);
});

const HOSTILE_TEMPLATES = [
  "{{ messages.constructor.constructor('globalThis.__ffnskipPwned = 1')() }}",
  "{{ raise_exception.constructor('globalThis.__ffnskipPwned = 1')() }}",
  "{{ range.constructor('globalThis.__ffnskipPwned = 1')() }}",
  "{{ strftime_now.constructor('globalThis.__ffnskipPwned = 1')() }}",
  "{{ ''.constructor.constructor('globalThis.__ffnskipPwned = 1')() }}",
  "{{ messages[0].__proto__.constructor }}",
  "{{ ''.__class__.__mro__[1].__subclasses__() }}",
  "{{ messages.__proto__ }}{{ messages['__proto__'] }}{{ {}.__proto__ }}",
  "{% set x = messages[0] %}{% set x.__proto__ = 1 %}{{ x }}",
  "{% set ns = namespace(polluted=1) %}{% set ns.__proto__ = 'x' %}{{ ns.polluted }}",
  "{{ process }}{{ process.env }}{{ globalThis }}{{ require }}{{ import }}{{ this }}",
  "{{ process.mainModule.require('child_process') }}",
  "{{ messages.toString() }}{{ messages[0].valueOf() }}{{ messages[0].content.constructor.name }}",
  "{{ (messages | first).constructor.prototype }}",
  "{% for k in messages[0] %}{{ k }}{% endfor %}{{ messages[0].keys() }}",
  "{{ raise_exception('template says no') }}",
  "{% for i in range(100000000) %}x{% endfor %}",
  "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
  "{% set s = 'xxxxxxxx' %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s }}",
  "{% for a in range(2000) %}{% for b in range(2000) %}{% endfor %}{% endfor %}",
  "{{ 'x' | indent(100000000) }}",
  "{{ messages | tojson(indent=100000000) }}",
];

test("hostile chat templates render harmlessly or throw our typed errors, and reach nothing outside the data", () => {
  const g = globalThis as { __ffnskipPwned?: unknown };
  const proto = Object.prototype as Record<string, unknown>;
  for (const template of HOSTILE_TEMPLATES) {
    const start = performance.now();
    let output: string | undefined;
    try {
      output = createChatTemplate(template, { bos: "<s>" }).render([{ role: "user", content: "secret" }], { addGenerationPrompt: true });
    } catch (error) {
      assert.instance(error, FfnskipError, `${template}: ${String(error)}`);
    }
    // Bounded, not fast: the worst template here takes ~0.5 s on an idle core; the margin is for loaded CI machines.
    assert.ok(performance.now() - start < 5000, `${template} is bounded in time`);
    if (output !== undefined) {
      assert.type(output, "string");
      assert.not.match(output, /function|native code|\[object process\]|child_process|PATH=|NODE_|globalThis/, `${template} leaked: ${output.slice(0, 200)}`);
      assert.ok(output.length < 1 << 20, `${template} output is small`);
    }
  }
  assert.is(g.__ffnskipPwned, undefined, "no template ran JavaScript");
  assert.is(proto["polluted"], undefined, "no prototype was polluted");
  assert.is(proto["__ffnskipPwned"], undefined);
});

test("a hostile chat template inside a GGUF: the model loads, and applying the template is harmless or a typed error", async () => {
  const bytes = tinyGgufWithTokenizer("Q8_0");
  const gguf = readGguf(bytes);
  for (const template of HOSTILE_TEMPLATES.slice(0, 6)) {
    const metadata = [...gguf.metadata].map(([key, value]): GgufMetadataEntry => {
      const type = gguf.metadataTypes.get(key)!;
      if (key === "tokenizer.chat_template") return [key, type, template];
      if (Array.isArray(value)) return [key, type, ggufArray(key === "tokenizer.ggml.token_type" ? "INT32" : "STRING", value as (string | number)[])];
      return [key, type, value as string | number | boolean];
    });
    const tensors = gguf.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
    const model = await loadModel(writeGguf({ version: 3, metadata, tensors }), { maxContext: 32 });
    try {
      const text = model.applyChatTemplate([{ role: "user", content: "hi" }]);
      assert.not.match(text, /function|native code/);
    } catch (error) {
      assert.instance(error, FfnskipError, String(error));
    }
    // Plain-text generation does not involve the template at all.
    assert.is((await model.generate("hi", { maxTokens: 1 }).result).tokens.length, 1);
  }
  assert.is((globalThis as { __ffnskipPwned?: unknown }).__ffnskipPwned, undefined);
});

test.run();
