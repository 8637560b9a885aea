// The line protocol between bench/peers/run.ts and its engine runners (one child process per engine setting, so
// engines never share a process, a heap or a thread pool). A runner loads its model, prints one JSON line
// {"type":"ready", ...info}, then answers each {"cmd":"run"} line on stdin with one {"type":"result", ...} line, and
// exits on {"cmd":"quit"} or end of input. Everything else a runner or its library prints goes to stderr.
// bench/peers/runners/wllama.mjs (Deno) speaks the same protocol without importing this file.

import { createInterface } from "node:readline";

/** What every runner reports once loaded. */
export interface RunnerInfo {
  readonly engine: string;
  readonly version: string;
  readonly runtime: string;
  readonly threads: number;
  readonly weights: string;
  /** The prompt's token ids as this engine tokenized it (or was given them). */
  readonly promptIds?: readonly number[];
  readonly promptTokens: number;
  readonly notes?: string;
}

/** One measured round. Rates in tokens per second. */
export interface RunnerResult {
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  /** How the rates were timed, e.g. "library stats" or "wall clock". */
  readonly timing: string;
  readonly text?: string;
  readonly tokens?: readonly number[];
}

export interface RunRequest {
  readonly cmd: "run" | "quit";
  readonly prompt: string;
  readonly promptIds: readonly number[];
  readonly generated: number;
}

function send(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Sends `info` as ready, then runs `round` for every run request until quit. */
export async function serve(info: RunnerInfo, round: (request: RunRequest) => Promise<RunnerResult>, close: () => Promise<void> = async () => {}): Promise<void> {
  send({ type: "ready", ...info });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const request = JSON.parse(line) as RunRequest;
    if (request.cmd === "quit") break;
    try {
      send({ type: "result", ...(await round(request)) });
    } catch (error) {
      send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  }
  lines.close();
  await close();
}

/** Reports a failure to start (the orchestrator records the message in the results). */
export function failStart(error: unknown): never {
  send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}

/** Index of the largest value (greedy sampling). */
export function argmax(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = values[offset + i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** What a GGUF file holds, from its header alone (the first 64 MiB hold the header of any model we bench). */
export interface GgufFacts {
  /** "general.name: Q5_0 173.2 MB, Q8_0 146.1 MB, ...": the bytes of each tensor type as stored. */
  readonly description: string;
  /**
   * Weight bytes one decode step reads: every tensor but the token embedding, whose one row per token is noise,
   * unless it is also the LM head (tied embeddings, no output.weight).
   */
  readonly bytesPerToken: number;
}

export async function ggufFacts(path: string): Promise<GgufFacts> {
  const { open, stat } = await import("node:fs/promises");
  const { readGguf } = await import("../../src/io/gguf.js");
  const size = (await stat(path)).size;
  const handle = await open(path);
  try {
    const prefix = new Uint8Array(Math.min(size, 64 << 20));
    await handle.read(prefix, 0, prefix.byteLength, 0);
    const gguf = readGguf(prefix, path, size);
    const byType = new Map<string, number>();
    for (const t of gguf.tensors) byType.set(t.dtype, (byType.get(t.dtype) ?? 0) + t.byteLength);
    const types = [...byType].sort((a, b) => b[1] - a[1]).filter(([, bytes]) => bytes >= 1e5).map(([dtype, bytes]) => `${dtype} ${(bytes / 1e6).toFixed(1)} MB`);
    const tied = !gguf.tensors.some((t) => t.name === "output.weight");
    const bytesPerToken = gguf.tensors.filter((t) => tied || t.name !== "token_embd.weight").reduce((sum, t) => sum + t.byteLength, 0);
    return { description: `${String(gguf.metadata.get("general.name") ?? "unnamed")}: ${types.join(", ")}`, bytesPerToken };
  } finally {
    await handle.close();
  }
}
