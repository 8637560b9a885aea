// ffnskip serve: the OpenAI-compatible API (src/serve/handler.ts) over one model on Node's HTTP server.
// Without an API key it binds loopback only; SIGINT/SIGTERM finish (or, after a grace period, cancel) the running
// request, refuse the waiting ones, close the model and exit. One log line per request on stderr.

import { basename } from "node:path";
import { InputError } from "../errors.js";
import { listen } from "../node/http.js";
import { DEFAULT_MODEL_PATH } from "../node/pull.js";
import { createHandler } from "../serve/handler.js";
import { describeFlags, type FlagSpecs, parseArgs } from "./args.js";
import { MODEL_FLAGS, openModel } from "./model-flags.js";

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  ...MODEL_FLAGS,
  host: { type: "string", help: "address to bind (default 127.0.0.1; anything else needs an API key)" },
  port: { type: "int", min: 0, max: 65535, help: "port (default 8080; 0 = any free port)" },
  "api-key": { type: "string", help: "require 'Authorization: Bearer KEY' (default: $FFNSKIP_API_KEY)" },
  name: { type: "string", help: "model id in /v1/models and responses (default: the file name)" },
  "max-queue": { type: "int", min: 0, max: 10_000, help: "requests that may wait for the model (default 8; more get 429)" },
  "max-tokens": { type: "int", min: 1, help: "largest max_tokens, and the default (default 512; also capped by the context)" },
  "max-body": { type: "int", min: 1, help: "largest request body in bytes (default 1048576)" },
  timeout: { type: "int", min: 1, help: "seconds a request may take, waiting included (default 300)" },
  "idle-timeout": { type: "int", min: 1, help: "seconds a streaming client may take no data before it is dropped (default 30)" },
  cors: { type: "string", help: "Access-Control-Allow-Origin to send (default: none)" },
} as const satisfies FlagSpecs;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, FLAGS, "serve");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip serve [--model PATH] [--host 127.0.0.1] [--port 8080] [--api-key KEY] [options]\n${describeFlags(FLAGS)}\n`);
    return;
  }
  const host = flags.host ?? "127.0.0.1";
  const apiKey = flags["api-key"] ?? (process.env["FFNSKIP_API_KEY"] || undefined);
  if (apiKey === undefined && !LOOPBACK.test(host)) {
    throw new InputError({
      file: "ffnskip serve", field: "--host", expected: "a loopback address (127.0.0.1, ::1, localhost) when no API key is set", actual: JSON.stringify(host),
      detail: "pass --api-key KEY or set FFNSKIP_API_KEY to serve on other interfaces",
    });
  }
  const modelPath = flags.model ?? DEFAULT_MODEL_PATH;
  const model = await openModel(flags);
  const handler = createHandler({
    model, modelName: flags.name ?? basename(modelPath).replace(/\.gguf$/i, ""), apiKey, skipLabel: flags.skip ?? "off",
    maxQueue: flags["max-queue"], maxTokens: flags["max-tokens"], maxBodyBytes: flags["max-body"],
    requestTimeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000,
    idleTimeoutMs: flags["idle-timeout"] === undefined ? undefined : flags["idle-timeout"] * 1000,
    corsOrigin: flags.cors, log: (line) => process.stderr.write(`${line}\n`),
  });
  const listening = await listen((request) => handler.fetch(request), { host, port: flags.port ?? 8080 });
  process.stderr.write(`ffnskip serve: ${listening.url} (model ${basename(modelPath)}, context ${model.maxContext}, ${apiKey === undefined ? "no API key" : "API key required"})\n`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write(`ffnskip serve: ${signal} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`ffnskip serve: ${signal}: finishing the running request (at most ${SHUTDOWN_GRACE_MS / 1000} s), refusing new ones\n`);
      const closed = listening.close(); // stops accepting connections now
      handler.shutdown(SHUTDOWN_GRACE_MS)
        .then(() => {
          listening.server.closeIdleConnections(); // keep-alive connections of the requests that just ended
          return closed;
        })
        .then(() => model.close())
        .finally(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  process.stderr.write("ffnskip serve: stopped\n");
}
