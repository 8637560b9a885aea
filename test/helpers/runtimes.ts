// Hosts for the runtime tests (test/runtime-*.test.ts): the generation cases every runtime runs, the Node reference
// run, and starters for Deno, workerd (the edge worker) and headless Chromium (the browser page). Each starter
// returns something with a stop(); children are also killed if the test process exits early.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FALLBACK_SKIP_POLICY, applyDefaultSkip } from "../../examples/shared/skip.js";
import { type ChatMessage, type LanguageModel, loadModel, type ModelGenerateOptions } from "../../src/index.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const MODEL_PATH = join(ROOT, "weights", "SmolLM2-135M-Instruct.Q4_1.gguf");
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The engine settings every runtime uses (the worker's are in workerd.capnp, the page's in its URL). */
export const ENGINE = { maxContext: 1024, maxBatch: 16, variant: "simd" } as const;

export interface RuntimeCase {
  readonly name: string;
  readonly messages: ChatMessage[];
  /** Sampling options (plain JSON, so the same object reaches every runtime). */
  readonly options: { maxTokens: number; temperature: number; topP?: number; topK?: number; seed?: number };
}

/** A greedy case and a seeded sampled one, long enough to get past the skip warm-up. */
export const CASES: readonly RuntimeCase[] = [
  { name: "greedy", messages: [{ role: "user", content: "What is photosynthesis?" }], options: { maxTokens: 24, temperature: 0 } },
  { name: "sampled", messages: [{ role: "user", content: "Tell me a short story about a robot." }], options: { maxTokens: 24, temperature: 0.7, topP: 0.9, topK: 40, seed: 1234 } },
];

export interface RuntimeResult {
  readonly tokens: readonly number[];
  readonly text: string;
  readonly finishReason: string;
  readonly skipRatio: number;
  readonly skipRatioAfterWarmup: number;
  readonly traceRows: number;
  readonly decodeTokensPerSecond: number;
}

export function modelMissing(): string | null {
  return existsSync(MODEL_PATH) ? null : `${MODEL_PATH} (npx ffnskip pull smollm2)`;
}

let nodeModel: Promise<{ model: LanguageModel; skip: string }> | null = null;

/** The Node model, loaded once per test process with ENGINE settings and the examples' skip setting. */
export function loadNodeModel(): Promise<{ model: LanguageModel; skip: string }> {
  nodeModel ??= (async () => {
    const model = await loadModel(new Uint8Array(readFileSync(MODEL_PATH)), ENGINE);
    return { model, skip: applyDefaultSkip(model) };
  })();
  return nodeModel;
}

export async function runNode(c: RuntimeCase): Promise<RuntimeResult> {
  const { model } = await loadNodeModel();
  return summarize(await model.chat(c.messages, c.options as ModelGenerateOptions));
}

export function summarize(result: { tokens: readonly number[]; text: string; finishReason: string; trace: readonly unknown[]; stats: { decodeTokensPerSecond: number; skip: { ratio: number; ratioAfterWarmup: number } } }): RuntimeResult {
  return {
    tokens: [...result.tokens], text: result.text, finishReason: result.finishReason, traceRows: result.trace.length,
    skipRatio: result.stats.skip.ratio, skipRatioAfterWarmup: result.stats.skip.ratioAfterWarmup, decodeTokensPerSecond: result.stats.decodeTokensPerSecond,
  };
}

// ---- processes ------------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion; rejects with its stderr on failure. */
export function run(command: string, args: string[], options: { cwd?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = track(execFile(command, args, { cwd: options.cwd ?? ROOT, timeout: options.timeout ?? 300_000, maxBuffer: 1 << 26, env: options.env ?? process.env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.slice(0, 2).join(" ")} ... failed: ${error.message}`));
      else resolve({ stdout, stderr });
    }));
  });
}

// ---- Deno -----------------------------------------------------------------------------------------------------

export const DENO = join(ROOT, "node_modules", ".bin", "deno");

/**
 * Runs the cases under Deno 2 (test/helpers/deno-generate.ts imports src/index.ts; the host reads the bytes), once
 * with ENGINE and once with the kernel build Deno picks by itself.
 */
export async function runDeno(cases: readonly RuntimeCase[]): Promise<{ version: string; runs: { variant: string; results: RuntimeResult[] }[] }> {
  const { stdout } = await run(DENO, [
    "run", "--no-lock", "--sloppy-imports", "--node-modules-dir=manual", `--allow-read=${ROOT}`, "--no-prompt",
    join(ROOT, "test", "helpers", "deno-generate.ts"), MODEL_PATH, JSON.stringify({ cases, engines: [ENGINE, { maxContext: ENGINE.maxContext, maxBatch: ENGINE.maxBatch }] }),
  ], { env: { ...process.env, NO_COLOR: "1" } });
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

// ---- workerd --------------------------------------------------------------------------------------------------

export interface Workerd {
  readonly url: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** Bundles the examples (esbuild) once per test process. */
let bundled: Promise<unknown> | null = null;
export function bundleExamples(): Promise<unknown> {
  bundled ??= import(join(ROOT, "scripts", "bundle-examples.mjs")).then((m: { bundleExamples(): Promise<unknown> }) => m.bundleExamples());
  return bundled;
}

/** Serves examples/edge-worker under real workerd on a free loopback port, the model from weights/. */
export async function startWorkerd(): Promise<Workerd> {
  await bundleExamples();
  const port = await freePort();
  let log = "";
  const child = track(spawn(join(ROOT, "node_modules", ".bin", "workerd"), [
    "serve", join(ROOT, "examples", "edge-worker", "workerd.capnp"), "--socket-addr", `http=127.0.0.1:${port}`,
    "--directory-path", `weights=${dirname(MODEL_PATH)}`,
  ], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }));
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}:\n${log}`);
    try {
      if ((await fetch(`${url}/v1/models`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`workerd did not start within 30 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    log: () => log,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}

/** POSTs a chat request; returns the status and parsed JSON (non-streaming) or the raw body. */
export async function postChat(url: string, body: unknown): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const response = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // SSE or not JSON
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** The OpenAI request body for a case. */
export function openAiBody(c: RuntimeCase, stream: boolean): Record<string, unknown> {
  const o = c.options;
  return { model: "SmolLM2-135M-Instruct", messages: c.messages, stream, max_tokens: o.maxTokens, temperature: o.temperature, top_p: o.topP, top_k: o.topK, seed: o.seed };
}

/** Splits an SSE body into its data payloads (JSON objects, and the final "[DONE]"). */
export function sseEvents(body: string): (any | "[DONE]")[] {
  return body.split("\n\n").filter((block) => block.trim() !== "").map((block) => {
    const line = block.split("\n").find((l) => l.startsWith("data: "));
    if (line === undefined) throw new Error(`SSE block without data: ${JSON.stringify(block)}`);
    const data = line.slice(6);
    return data === "[DONE]" ? data : JSON.parse(data);
  });
}

// ---- Chromium -------------------------------------------------------------------------------------------------

export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run",
];

export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `${CHROMIUM_PATH} (apt-get install -y chromium)`;
}

export interface BrowserPage {
  readonly page: import("playwright-core").Page;
  readonly url: string;
  /** Chromium's version. */
  readonly version: string;
  readonly errors: string[];
  stop(): Promise<void>;
}

/** Serves examples/browser on a free loopback port and opens it in headless Chromium with a fresh profile. */
export async function openBrowserPage(query: string): Promise<BrowserPage> {
  await bundleExamples();
  const { serveBrowserDemo } = (await import(join(ROOT, "examples", "browser", "serve.mjs"))) as { serveBrowserDemo(o: { modelPath: string }): Promise<{ url: string; close(): Promise<void> }> };
  const { chromium } = await import("playwright-core");
  const server = await serveBrowserDemo({ modelPath: MODEL_PATH });
  const profile = mkdtempSync(join(tmpdir(), "ffnskip-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(`${server.url}${query}`);
  return {
    page, url: server.url, errors, version: context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent)).replace(/.*Chrome\/(\S+).*/, "$1"),
    async stop() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The page's URL query for ENGINE settings (without `variant`, the page uses the build Chromium picks). */
export const PAGE_ENGINE_QUERY = `variant=${ENGINE.variant}&maxContext=${ENGINE.maxContext}&maxBatch=${ENGINE.maxBatch}`;
export const PAGE_DEFAULT_VARIANT_QUERY = `maxContext=${ENGINE.maxContext}&maxBatch=${ENGINE.maxBatch}`;

/** Fills the page's settings for a case and sends its (single) user message; resolves to the page's result. */
export async function runInPage(page: import("playwright-core").Page, c: RuntimeCase): Promise<RuntimeResult & { columns: number; skip: string }> {
  if (c.messages.length !== 1) throw new Error("runInPage sends one user message");
  await page.click("#new-chat");
  await page.evaluate(() => {
    (document.getElementById("settings") as HTMLDetailsElement).open = true;
  });
  const o = c.options;
  await page.fill("#max-tokens", String(o.maxTokens));
  await page.fill("#temperature", String(o.temperature));
  await page.fill("#top-p", String(o.topP ?? 1));
  await page.fill("#top-k", String(o.topK ?? 0));
  await page.fill("#seed", String(o.seed ?? 0));
  await page.evaluate(() => {
    (globalThis as { ffnskipDemo?: { lastResult: unknown } }).ffnskipDemo!.lastResult = null;
  });
  await page.fill("#prompt", c.messages[0]!.content);
  await page.click("#send");
  await page.waitForFunction(() => document.body.dataset.state === "ready" && (globalThis as { ffnskipDemo?: { lastResult: unknown } }).ffnskipDemo!.lastResult !== null, null, { timeout: 120_000 });
  return page.evaluate(() => {
    const demo = (globalThis as unknown as { ffnskipDemo: { lastResult: any; skipMode: string } }).ffnskipDemo;
    const r = demo.lastResult;
    return {
      tokens: [...r.tokens], text: r.text, finishReason: r.finishReason, traceRows: r.trace.length,
      skipRatio: r.stats.skip.ratio, skipRatioAfterWarmup: r.stats.skip.ratioAfterWarmup, decodeTokensPerSecond: r.stats.decodeTokensPerSecond,
      columns: document.querySelectorAll("#heatmap .hm-col").length, skip: (document.getElementById("skip-mode") as HTMLSelectElement).value,
    };
  });
}

export { FALLBACK_SKIP_POLICY };
