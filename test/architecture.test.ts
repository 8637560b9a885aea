// The shape of the package, checked: src/ imports only downwards through the layers below (bytes -> tensors ->
// graph -> controller -> sampler -> text -> the API), with no cycles; the portable layers touch neither Node's
// built-ins nor packages beyond the tokenizer and template libraries; and the published package holds the engine,
// the CLI and the docs, never the research tooling in bench/. docs/ARCHITECTURE.md draws the same layers.

import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type ImportEdge, importCycles, importGraph, importSpecifiers, sourceFiles } from "./helpers/import-graph.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");

/**
 * The layers of src/, lowest first: a module may import from its own layer and the layers before it. A path
 * ending in "/" is a folder. Every file of src/ must fall in one layer, so a new module is placed on purpose.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts"], // typed errors, used everywhere
  ["io/"], // file formats: bytes -> headers and tensor tables, no math
  ["runtime/"], // WASM instantiation, memory arena, kernel dispatch, thread pool
  ["reference/"], // plain-TS twins of the kernels (oracle and fallback), dequantizers
  ["model/"], // Config, tensor names, weights, the forward pass, FFN surrogate files
  ["sample/", "text/"], // sampler, stop strings, PRNG; tokenizer and chat template (independent of each other)
  ["skip/"], // skip controller, policies, profiles, similarity record, surrogate fit
  ["generate.ts"], // the Session: token loop and KV prefix cache
  ["language-model.ts"], // the public model handle
  ["score.ts", "convert.ts"], // teacher-forced scoring; GGUF -> HF conversion
  ["calibrate.ts"], // skip calibration (uses scoring) and surrogate calibration
  ["load.ts"], // bytes -> LanguageModel
  ["load-stream.ts"], // a byte stream -> LanguageModel
  ["serve/"], // the OpenAI-compatible HTTP handler (Request -> Response) over a LanguageModel
  ["index.ts"], // the portable entry point
  ["node/"], // file system, threads, downloads
  ["node.ts"], // the ffnskip/node entry point
  ["cli/"], // the ffnskip command
];

/** Layers allowed to use Node's built-in modules (everything below must run on any JS runtime). */
const NODE_ONLY = new Set(["node/", "node.ts", "cli/"]);
/** Packages the portable layers may import. */
const PORTABLE_PACKAGES = ["@huggingface/tokenizers", "@huggingface/jinja"];

function layerOf(file: string): number {
  const index = LAYERS.findIndex((layer) => layer.some((entry) => (entry.endsWith("/") ? file.startsWith(entry) : file === entry)));
  return index;
}

function layerName(index: number): string {
  return LAYERS[index]!.join(" ");
}

const graph = importGraph(SRC);
const describe = (e: ImportEdge) => `src/${e.from} imports ${JSON.stringify(e.specifier)}`;

const scanner = suite("import scanner");

scanner("finds static, type-only, re-export, side-effect and dynamic imports, and nothing in comments or strings", () => {
  const source = [
    'import { a, type B } from "./a.js";',
    "import type {",
    "  C,",
    "  D,",
    '} from "../c.js";',
    'export { e } from "./e.js";',
    'export * from "./f.js";',
    'import "./side-effect.js";',
    '// import { x } from "./commented.js";',
    '/* export * from "./block-commented.js"; */',
    'const url = "https://example.com/a"; const s = \'import { y } from "./in-string.js"\';',
    'const lazy = () => import("./lazy.js");',
    'import * as ns from "node:fs";',
  ].join("\n");
  assert.equal(importSpecifiers(source).sort(), ["../c.js", "./a.js", "./e.js", "./f.js", "./lazy.js", "./side-effect.js", "node:fs"].sort());
});

scanner("finds cycles, including one through three files, and none in a chain", () => {
  const edge = (from: string, to: string): ImportEdge => ({ from, specifier: to, to });
  assert.equal(importCycles([edge("a.ts", "b.ts"), edge("b.ts", "c.ts")]), []);
  assert.equal(importCycles([edge("a.ts", "b.ts"), edge("b.ts", "c.ts"), edge("c.ts", "a.ts")]), [["a.ts", "b.ts", "c.ts", "a.ts"]]);
  assert.equal(importCycles([edge("x.ts", "x.ts")]), [["x.ts", "x.ts"]]);
});

scanner("sees the real tree: every src file is scanned and the graph is not empty", () => {
  const files = sourceFiles(SRC);
  assert.ok(files.includes("model/transformer.ts") && files.includes("index.ts"), files.join(", "));
  assert.ok(graph.some((e) => e.from === "index.ts" && e.to === "load.ts"), "index.ts re-exports load.ts");
});

scanner.run();

const layers = suite("src layers");

layers("every src file belongs to exactly one layer", () => {
  const unplaced = sourceFiles(SRC).filter((file) => layerOf(file) === -1);
  assert.equal(unplaced, [], "add these to LAYERS in test/architecture.test.ts (and docs/ARCHITECTURE.md)");
});

layers("imports point only downwards (or within a layer)", () => {
  const upward = graph
    .filter((e) => e.to !== undefined && e.to.startsWith("..") === false && layerOf(e.to) > layerOf(e.from))
    .map((e) => `${describe(e)}: layer "${layerName(layerOf(e.from))}" may not import layer "${layerName(layerOf(e.to!))}"`);
  assert.equal(upward, []);
});

layers("no import cycles", () => {
  assert.equal(importCycles(graph).map((cycle) => cycle.join(" -> ")), []);
});

layers("src imports nothing outside src (no bench/, test/ or scripts/)", () => {
  assert.equal(graph.filter((e) => e.to !== undefined && e.to.startsWith("..")).map(describe), []);
});

layers("the portable layers use no Node built-ins and no packages but the tokenizer and template libraries", () => {
  const offending = graph.filter((e) => {
    if (e.to !== undefined) return false;
    const layer = LAYERS[layerOf(e.from)]!;
    if (layer.some((entry) => NODE_ONLY.has(entry))) return false;
    return !PORTABLE_PACKAGES.some((name) => e.specifier === name || e.specifier.startsWith(`${name}/`));
  });
  assert.equal(offending.map(describe), []);
});

layers.run();

const pack = suite("npm package");

pack("holds the engine, the CLI, the kernels and the docs; no research tooling, tests or sources", () => {
  // --ignore-scripts: the files list comes from package.json and the existing dist/ (built by npm ci).
  const output = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const files: string[] = (JSON.parse(output) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const required of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/node.js", "dist/cli/main.js", "dist/model/transformer.js", "build/kernels.simd.wasm", "docs/ARCHITECTURE.md"]) {
    assert.ok(files.includes(required), `${required} is published`);
  }
  const allowed = (path: string) => ["package.json", "README.md", "docs/ARCHITECTURE.md"].includes(path) || /^(dist|build)\//.test(path);
  assert.equal(files.filter((path) => !allowed(path)), [], "only dist/, build/, README.md, docs/ARCHITECTURE.md and package.json are published");
  const research = files.filter((path) => /^dist\/(eval|bench)\b|^dist\/cli\/(eval|sweep|bench)\.|bench\/|test\//.test(path));
  assert.equal(research, [], "research tooling stays in bench/");
  // Every published module was compiled from a current source file (a stale dist/ would ship deleted modules).
  const sources = new Set(sourceFiles(SRC).map((file) => file.replace(/\.ts$/, ".js")));
  assert.equal(files.filter((path) => path.startsWith("dist/") && path.endsWith(".js") && !sources.has(path.slice("dist/".length))), [], "dist/ is stale: npm run build");
});

pack.run();
