// The import graph of a TypeScript source tree, read from the source text: every `import ... from "x"`,
// `export ... from "x"`, side-effect `import "x"` and literal `import("x")`, type-only imports included (they couple
// modules as much as value imports do). A small scanner instead of a tool: dependency-cruiser and madge need the
// TypeScript compiler API, which TypeScript 7 (the native compiler we build with) does not have.

import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative } from "node:path";

export interface ImportEdge {
  /** Importing file, relative to the root, e.g. "model/load.ts". */
  readonly from: string;
  /** The specifier as written, e.g. "../runtime/pool.js" or "node:fs". */
  readonly specifier: string;
  /** For relative specifiers: the imported file relative to the root ("runtime/pool.ts"); else undefined. */
  readonly to: string | undefined;
}

/** Comments removed (strings kept, so a "//" inside a string literal survives). */
export function stripComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end === -1 ? source.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC = /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']/g;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Specifiers imported by one file's source text. */
export function importSpecifiers(source: string): string[] {
  const code = stripComments(source);
  const found: string[] = [];
  for (const pattern of [STATIC, DYNAMIC]) for (const match of code.matchAll(pattern)) found.push(match[1]!);
  return found;
}

/** Every .ts file under `root` (relative paths, "/"-separated). */
export function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(relative(root, path).split("\\").join("/"));
    }
  };
  walk(root);
  return files.sort();
}

export function importGraph(root: string): ImportEdge[] {
  return sourceFiles(root).flatMap((from) =>
    importSpecifiers(readFileSync(join(root, from), "utf8")).map((specifier) => ({
      from,
      specifier,
      to: specifier.startsWith(".") ? posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, ".ts") : undefined,
    })),
  );
}

/** Import cycles among the files (each as the list of files around it), found by depth-first search. */
export function importCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (e.to !== undefined) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === "open") cycles.push([...stack.slice(stack.indexOf(to)), to]);
      else if (state.get(to) === undefined) visit(to);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of [...next.keys()].sort()) if (state.get(file) === undefined) visit(file);
  return cycles;
}
