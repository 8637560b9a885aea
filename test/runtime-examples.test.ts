// The examples build: they type-check against the library's sources (examples/tsconfig.json) and esbuild bundles
// them (scripts/bundle-examples.mjs) without pulling in anything Node-only.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bundleExamples, ROOT, run } from "./helpers/runtimes.js";

test("the examples type-check (tsc -p examples)", async () => {
  await run(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", join(ROOT, "examples")]);
});

test("the worker and page bundles hold no Node built-ins; the worker imports its kernels as a .wasm module", async () => {
  const out = (await bundleExamples()) as { worker: string; kernels: string; browser: string };
  for (const file of [out.worker, out.browser]) {
    const code = readFileSync(file, "utf8");
    assert.not.match(code, /from\s*["']node:|require\(["'](fs|path|node:)/, `${file} imports no Node modules`);
  }
  assert.match(readFileSync(out.worker, "utf8"), /import \w+ from "\.\/kernels\.wasm"/);
  assert.ok(WebAssembly.validate(readFileSync(out.kernels)), "dist/kernels.wasm is a valid module");
});

test.run();
