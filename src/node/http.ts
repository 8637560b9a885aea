// A fetch-style handler (Request -> Response) on Node's HTTP server. The request body reaches the handler as a
// stream it reads (and may stop reading: a body over its limit is never buffered whole); a client that disconnects
// aborts request.signal and cancels the response stream, so the handler stops its work; writes wait for the
// socket to drain, so a slow reader slows the stream instead of filling memory.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type FetchHandler = (request: Request) => Promise<Response>;

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /** Longest time to receive a request's headers and body (slow-loris bodies), default 60 s. */
  readonly requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, default 5 s. */
  readonly keepAliveTimeoutMs?: number;
}

export interface Listening {
  readonly server: Server;
  readonly url: string;
  /** Stops accepting connections and closes idle ones; resolves when every connection has ended. */
  close(): Promise<void>;
}

export function listen(handler: FetchHandler, options: ListenOptions): Promise<Listening> {
  const server = createServer((req, res) => {
    serve(handler, req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `Internal error: ${error instanceof Error ? error.message : String(error)}`, type: "server_error", param: null, code: null } }));
      } else res.destroy();
    });
  });
  server.requestTimeout = options.requestTimeoutMs ?? 60_000;
  server.headersTimeout = Math.min(server.requestTimeout, 30_000);
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
      resolve({
        server,
        url: `http://${host}:${address.port}`,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        }),
      });
    });
  });
}

async function serve(handler: FetchHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gone = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) gone.abort();
  });
  const response = await handler(toRequest(req, gone.signal));
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  // A body the handler did not read to its end (e.g. refused as too large) is not read further than it takes to
  // close the connection cleanly after the answer (closeAfterLinger). No "Connection: close" here: Node would then
  // close the socket itself, at once, and the client's unsent bytes would reset the connection.
  res.writeHead(response.status, headers);
  if (response.body === null || req.method === "HEAD") {
    await response.body?.cancel();
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.once("close", () => {
    if (!res.writableFinished) reader.cancel().catch(() => {});
  });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await drained(res);
      if (res.destroyed) break;
    }
  } catch {
    // the handler failed the stream (after writing its error event) or the client left
  }
  res.end();
  if (!req.complete) res.once("finish", () => closeAfterLinger(req));
}

/** How long the unread rest of a refused body is read and dropped before the connection closes. */
const LINGER_MS = 2000;

/**
 * Closing a socket with request bytes still unread makes the kernel send a reset, which can destroy the answer
 * before the client has read it: read and drop the rest for a moment first (nginx's "lingering close"), keeping
 * nothing, then close.
 */
function closeAfterLinger(req: IncomingMessage): void {
  req.removeAllListeners("data");
  req.on("data", () => {});
  const timer = setTimeout(() => req.destroy(), LINGER_MS);
  req.once("end", () => {
    clearTimeout(timer);
    req.destroy();
  });
  req.resume();
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const host = req.headers.host ?? "localhost";
  const url = new URL(req.url ?? "/", `http://${host}`);
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else if (value !== undefined) headers.set(key, value);
  }
  const method = req.method ?? "GET";
  let body: ReadableStream<Uint8Array> | null = null;
  if (method !== "GET" && method !== "HEAD") {
    // Pull-driven: the socket is read only as fast as the handler reads, and not at all once it cancels.
    let cancelled = false;
    body = new ReadableStream<Uint8Array>({
      start(controller) {
        req.pause();
        req.on("data", (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          req.pause();
        });
        req.once("end", () => {
          if (!cancelled) controller.close();
        });
        req.once("error", (error) => {
          if (!cancelled) controller.error(error);
        });
      },
      pull() {
        req.resume();
      },
      cancel() {
        cancelled = true;
        req.pause();
        req.removeAllListeners("data");
      },
    }, { highWaterMark: 0 });
  }
  return new Request(url, { method, headers, body, signal, duplex: "half" } as RequestInit);
}
