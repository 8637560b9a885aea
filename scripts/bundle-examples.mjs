// Bundles the examples with esbuild: the Cloudflare/workerd worker and the browser page. The library is bundled
// from src/ (the `ffnskip` import is aliased to src/index.ts, the fs-free portable entry).
//
//   node scripts/bundle-examples.mjs            # -> examples/edge-worker/dist/{worker.js,kernels.wasm}
//                                               #    examples/browser/dist/app.js
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The plain-SIMD kernel module, decoded from the generated module the library embeds (so the two always match). */
export function simdKernelBytes() {
  const generated = readFileSync(join(root, "src", "runtime", "kernels-wasm.generated.ts"), "utf8");
  const match = /export const simd = "([A-Za-z0-9+/=]+)";/.exec(generated);
  if (match === null) throw new Error("bundle-examples: no `simd` kernels in src/runtime/kernels-wasm.generated.ts (run npm run build:wasm)");
  return Buffer.from(match[1], "base64");
}

const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  alias: { ffnskip: join(root, "src", "index.ts") },
  logLevel: "warning",
  legalComments: "none",
};

export async function bundleExamples() {
  const worker = join(root, "examples", "edge-worker");
  mkdirSync(join(worker, "dist"), { recursive: true });
  writeFileSync(join(worker, "dist", "kernels.wasm"), simdKernelBytes());
  const browser = join(root, "examples", "browser");
  await Promise.all([
    build({
      ...common,
      entryPoints: [join(worker, "src", "worker.ts")],
      outfile: join(worker, "dist", "worker.js"),
      conditions: ["workerd", "worker", "browser"],
      external: ["*.wasm"],
    }),
    build({
      ...common,
      entryPoints: [join(browser, "src", "main.ts")],
      outfile: join(browser, "dist", "app.js"),
      sourcemap: true,
    }),
  ]);
  return { worker: join(worker, "dist", "worker.js"), kernels: join(worker, "dist", "kernels.wasm"), browser: join(browser, "dist", "app.js") };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const out = await bundleExamples();
  for (const file of Object.values(out)) console.log(`bundle-examples: ${file.slice(root.length + 1)}`);
}
