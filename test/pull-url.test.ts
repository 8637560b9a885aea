// ffnskip pull from URLs and hf: names (src/node/download.ts), against a local HTTP server that serves a tiny GGUF
// the way real servers and the hub do (Range, redirects, X-Linked-ETag) and the ways they fail (cut connections,
// ignored Range, a changed file, 404, stalls, web pages instead of the file).

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { FormatError, InputError, ResourceError } from "../src/errors.js";
import { hubFileUrl, parseHubName, pullUrl, type PullUrlOptions } from "../src/node/download.js";
import { PULLABLE_MODELS, WEIGHTS_DIR } from "../src/node/pull.js";
import { tinyLlamaGgufBytes } from "./fixtures/tiny-llama.js";

const ROOT = join(import.meta.dirname, "..");
const GGUF = Buffer.from(tinyLlamaGgufBytes({ dtype: "Q8_0", withTokenizer: true }).bytes);
const OTHER_GGUF = Buffer.from(tinyLlamaGgufBytes({ dtype: "F32" }).bytes);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

interface Server {
  readonly url: string;
  readonly requests: { url: string; range: string | undefined; authorization: string | undefined }[];
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const state: Server = {
    url: "",
    requests: [],
    handle: (_req, res) => res.writeHead(500).end(),
    close: async () => {},
  };
  const server = createServer((req, res) => {
    state.requests.push({ url: req.url ?? "", range: req.headers.range, authorization: req.headers.authorization });
    state.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

interface ServeOptions {
  /** Ignore Range headers (always 200 with the whole file). */
  readonly ignoreRange?: boolean;
  /**
   * Send `after` body bytes, wait until the client has them in `part`, then close the connection. (Closing at once
   * would race the client: a fetch body that errors drops the chunks it has queued but not yet handed out.)
   */
  readonly cut?: { readonly after: number; readonly part: string };
  /** Chunked transfer instead of Content-Length. */
  readonly chunked?: boolean;
  readonly headers?: Record<string, string>;
}

/** Serves `bytes` as a static file server does: 200, or 206 / 416 for a Range request. */
function serve(bytes: Buffer, options: ServeOptions = {}) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const range = options.ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    let body = bytes;
    const headers: Record<string, string> = { "content-type": "application/octet-stream", "accept-ranges": "bytes", ...options.headers };
    let status = 200;
    if (range !== null) {
      const start = Number(range[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { ...headers, "content-range": `bytes */${bytes.length}` }).end();
        return;
      }
      status = 206;
      body = bytes.subarray(start);
      headers["content-range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    if (!options.chunked) headers["content-length"] = String(body.length);
    res.writeHead(status, headers);
    if (options.cut === undefined) {
      res.end(body);
      return;
    }
    const { after, part } = options.cut;
    res.write(body.subarray(0, after));
    const started = Date.now();
    const poll = setInterval(() => {
      if ((existsSync(part) && statSync(part).size >= after) || Date.now() - started > 10_000) {
        clearInterval(poll);
        res.socket?.end();
      }
    }, 5);
  };
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "ffnskip-pull-url-"));
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

async function pull(source: string, options: PullUrlOptions & { dir: string }): Promise<{ path: string; log: string[] }> {
  const log: string[] = [];
  const path = await pullUrl(source, { log: (line) => log.push(line), ...options });
  return { path, log };
}

const download = suite("pull from a URL");
let server: Server;
let dir: string;
download.before.each(async () => {
  server = await startServer();
  dir = scratch();
});
download.after.each(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

download("downloads the file under the URL's name, leaves no part behind, and keeps it on the next call without a request", async () => {
  server.handle = serve(GGUF);
  const progress: number[] = [];
  const { path, log } = await pull(`${server.url}/models/tiny%20llama.gguf?download=1`, { dir, onProgress: (p) => progress.push(p.received) });
  assert.is(path, join(dir, "tiny llama.gguf"));
  assert.ok(readFileSync(path).equals(GGUF));
  assert.equal(readdirSync(dir), ["tiny llama.gguf"]);
  assert.is(progress.at(-1), GGUF.length);
  assert.match(log.at(-1)!, `sha256 ${sha256(GGUF)} (not checked`);
  const again = await pull(`${server.url}/models/tiny%20llama.gguf?download=1`, { dir });
  assert.is(again.path, path);
  assert.is(server.requests.length, 1);
  assert.match(again.log[0]!, "is present");
});

download("--output names the file; a given sha256 is verified and lets a present file skip the network", async () => {
  server.handle = serve(GGUF);
  const output = join(dir, "sub", "model.gguf");
  const { log } = await pull(`${server.url}/x.gguf`, { dir, output, sha256: sha256(GGUF).toUpperCase() });
  assert.ok(readFileSync(output).equals(GGUF));
  assert.match(log.at(-1)!, "(verified)");
  await pull(`${server.url}/x.gguf`, { dir, output, sha256: sha256(GGUF) });
  assert.is(server.requests.length, 1);
});

download("a connection cut mid-body keeps the part; the next call resumes it with a Range request", async () => {
  const cut = Math.floor(GGUF.length / 3);
  server.handle = serve(GGUF, { cut: { after: cut, part: join(dir, "tiny.gguf.part") } });
  const error = await rejection(pull(`${server.url}/tiny.gguf`, { dir }));
  assert.instance(error, ResourceError);
  assert.match(error.message, `${server.url}/tiny.gguf: body: expected ${GGUF.length} bytes`);
  assert.match(error.message, "run the same pull again to resume");
  assert.not.ok(existsSync(join(dir, "tiny.gguf")));
  const kept = statSync(join(dir, "tiny.gguf.part")).size;
  assert.is(kept, cut);

  server.handle = serve(GGUF);
  const { path, log } = await pull(`${server.url}/tiny.gguf`, { dir });
  assert.is(server.requests[1]!.range, `bytes=${kept}-`);
  assert.ok(readFileSync(path).equals(GGUF));
  assert.equal(readdirSync(dir), ["tiny.gguf"]);
  assert.match(log[0]!, `resuming ${join(dir, "tiny.gguf.part")} at byte ${kept}`);
});

download("a server that ignores Range sends the whole file again, which replaces the part", async () => {
  server.handle = serve(GGUF, { cut: { after: 1000, part: join(dir, "tiny.gguf.part") } });
  await rejection(pull(`${server.url}/tiny.gguf`, { dir }));
  server.handle = serve(GGUF, { ignoreRange: true });
  const { path, log } = await pull(`${server.url}/tiny.gguf`, { dir });
  assert.ok(server.requests[1]!.range !== undefined);
  assert.ok(readFileSync(path).equals(GGUF));
  assert.ok(log.some((line) => line.includes("ignored the Range request")), log.join("\n"));
});

download("a file whose size changed on the server since the part was started is fetched again from the start", async () => {
  server.handle = serve(GGUF, { cut: { after: 1000, part: join(dir, "tiny.gguf.part") } });
  await rejection(pull(`${server.url}/tiny.gguf`, { dir }));
  assert.not.equal(OTHER_GGUF.length, GGUF.length);
  server.handle = serve(OTHER_GGUF);
  const { path, log } = await pull(`${server.url}/tiny.gguf`, { dir });
  assert.equal(server.requests.map((r) => r.range), [undefined, "bytes=1000-", undefined]);
  assert.ok(readFileSync(path).equals(OTHER_GGUF));
  assert.ok(log.some((line) => line.includes("changed since")));
});

download("a file of the same size with a new ETag is fetched again; the part's ETag goes out as If-Range", async () => {
  const changed = Buffer.from(GGUF);
  changed[changed.length - 1] ^= 0xff;
  server.handle = serve(GGUF, { cut: { after: 1000, part: join(dir, "tiny.gguf.part") }, headers: { etag: '"v1"' } });
  await rejection(pull(`${server.url}/tiny.gguf`, { dir }));
  const ifRange: (string | undefined)[] = [];
  const serveChanged = serve(changed, { headers: { etag: '"v2"' } });
  server.handle = (req, res) => {
    ifRange.push(req.headers["if-range"]);
    serveChanged(req, res);
  };
  const { path } = await pull(`${server.url}/tiny.gguf`, { dir });
  assert.equal(ifRange, ['"v1"', undefined]);
  assert.ok(readFileSync(path).equals(changed));
});

download("a complete part the server answers with 416 is finished without another body; a part longer than the file starts over", async () => {
  // Chunked, cut after the last byte but before the final chunk: the total is unknown, every byte is on disk.
  server.handle = serve(GGUF, { chunked: true, cut: { after: GGUF.length, part: join(dir, "tiny.gguf.part") } });
  await rejection(pull(`${server.url}/tiny.gguf`, { dir }));
  assert.is(statSync(join(dir, "tiny.gguf.part")).size, GGUF.length);
  server.handle = serve(GGUF);
  const { path } = await pull(`${server.url}/tiny.gguf`, { dir });
  assert.ok(readFileSync(path).equals(GGUF));
  assert.is(server.requests.length, 2);

  rmSync(path);
  server.handle = serve(Buffer.concat([GGUF, OTHER_GGUF]), { chunked: true, cut: { after: GGUF.length + 100, part: join(dir, "tiny.gguf.part") } });
  await rejection(pull(`${server.url}/tiny.gguf`, { dir }));
  server.handle = serve(GGUF);
  await pull(`${server.url}/tiny.gguf`, { dir });
  assert.equal(server.requests.slice(2).map((r) => r.range), [undefined, `bytes=${GGUF.length + 100}-`, undefined]);
  assert.ok(readFileSync(path).equals(GGUF));
});

download("follows a redirect chain across origins, sends the token to the first origin only, and checks the hub's X-Linked-ETag", async () => {
  const cdn = await startServer();
  try {
    cdn.handle = serve(GGUF);
    server.handle = (req, res) => {
      if (req.url === "/a.gguf") res.writeHead(301, { location: "/b/a.gguf" }).end();
      else if (req.url === "/b/a.gguf") res.writeHead(302, { location: `${cdn.url}/blob?sig=1`, "x-linked-etag": `"${sha256(GGUF)}"` }).end();
      else res.writeHead(404).end();
    };
    const { path, log } = await pull(`${server.url}/a.gguf`, { dir, token: "secret" });
    assert.ok(readFileSync(path).equals(GGUF));
    assert.equal(server.requests.map((r) => [r.url, r.authorization]), [["/a.gguf", "Bearer secret"], ["/b/a.gguf", "Bearer secret"]]);
    assert.equal(cdn.requests.map((r) => [r.url, r.authorization]), [["/blob?sig=1", undefined]]);
    assert.match(log.at(-1)!, "(verified)");

    rmSync(path);
    server.handle = (_req, res) => res.writeHead(302, { location: `${cdn.url}/blob`, "x-linked-etag": `"${"0".repeat(64)}"` }).end();
    const error = await rejection(pull(`${server.url}/a.gguf`, { dir }));
    assert.instance(error, ResourceError);
    assert.match(error.message, `sha256: expected ${"0".repeat(64)} (from the server's ETag), got ${sha256(GGUF)}`);
    assert.equal(readdirSync(dir), []);
  } finally {
    await cdn.close();
  }
});

download("a redirect loop stops at the cap with a typed error", async () => {
  server.handle = (_req, res) => res.writeHead(302, { location: "/loop.gguf" }).end();
  const error = await rejection(pull(`${server.url}/loop.gguf`, { dir, maxRedirects: 3 }));
  assert.instance(error, ResourceError);
  assert.match(error.message, "redirects: expected at most 3");
  assert.is(server.requests.length, 4);
});

download("HTTP errors name the URL and status; 401/403 hint at gated repositories and tokens", async () => {
  server.handle = (_req, res) => res.writeHead(404, { "x-error-message": "Entry not found" }).end("not here");
  let error = await rejection(pull(`${server.url}/missing.gguf`, { dir }));
  assert.instance(error, ResourceError);
  assert.match(error.message, `${server.url}/missing.gguf: HTTP from 127.0.0.1:`);
  assert.match(error.message, "got 404 Not Found: Entry not found");
  server.handle = (_req, res) => res.writeHead(401).end();
  error = await rejection(pull(`${server.url}/gated.gguf`, { dir }));
  assert.match(error.message, "got 401 Unauthorized");
  assert.match(error.message, "gated or private");
  assert.equal(readdirSync(dir), []);
});

download("sha256 mismatch with a given sha256 is a typed error and leaves no file", async () => {
  server.handle = serve(GGUF);
  const wrong = sha256(OTHER_GGUF);
  const error = await rejection(pull(`${server.url}/tiny.gguf`, { dir, sha256: wrong }));
  assert.instance(error, ResourceError);
  assert.match(error.message, `sha256: expected ${wrong} (as given), got ${sha256(GGUF)}`);
  assert.equal(readdirSync(dir), []);
});

download("a body that is not a GGUF (a web page, a tiny file) is a FormatError and is deleted", async () => {
  server.handle = serve(Buffer.from("<!DOCTYPE html><html>a model card</html>"));
  const error = await rejection(pull(`${server.url}/blob/main/model.gguf`, { dir }));
  assert.instance(error, FormatError);
  assert.match(error.message, "magic: expected a GGUF file");
  assert.match(error.message, "/resolve/, not /blob/");
  assert.equal(readdirSync(dir), []);
  server.handle = serve(Buffer.from("GG"));
  assert.instance(await rejection(pull(`${server.url}/short.gguf`, { dir })), FormatError);
  assert.equal(readdirSync(dir), []);
});

download("a server that stalls mid-body times out with a typed error and keeps the part", async () => {
  server.handle = (_req, res) => {
    res.writeHead(200, { "content-length": String(GGUF.length) });
    res.write(GGUF.subarray(0, 100));
  };
  const error = await rejection(pull(`${server.url}/stall.gguf`, { dir, idleTimeoutMs: 300 }));
  assert.instance(error, ResourceError);
  assert.match(error.message, "no byte for 300 ms");
  assert.is(statSync(join(dir, "stall.gguf.part")).size, 100);
});

download("a refused connection and bad sources are typed errors", async () => {
  const closed = await startServer();
  const url = closed.url;
  await closed.close();
  assert.instance(await rejection(pull(`${url}/x.gguf`, { dir })), ResourceError);
  for (const [source, message] of [
    ["ftp://host/x.gguf", "expected an http:// or https:// URL"],
    ["not a url", "no parseable URL"],
    [`${server.url}/`, "file name: expected a URL whose path ends in a file name"],
  ] as const) {
    const error = await rejection(pull(source, { dir }));
    assert.instance(error, InputError, source);
    assert.match(error.message, message);
  }
  assert.match((await rejection(pull(`${server.url}/x.gguf`, { dir, sha256: "abc" }))).message, "sha256: expected 64 hex digits");
  assert.is(server.requests.length, 0);
});

download.run();

const hub = suite("hf: names");

hub("map to the hub's resolve URL, with the revision at the end or after the repo", () => {
  const cases: [string, string][] = [
    ["hf:owner/repo/file.gguf", "https://huggingface.co/owner/repo/resolve/main/file.gguf"],
    ["hf:owner/repo/sub/dir/file.gguf", "https://huggingface.co/owner/repo/resolve/main/sub/dir/file.gguf"],
    ["hf:Org-1/Repo_2.5-GGUF/q/file Q4.gguf@v1.0", "https://huggingface.co/Org-1/Repo_2.5-GGUF/resolve/v1.0/q/file%20Q4.gguf"],
    ["hf:owner/repo@0123abc/file.gguf", "https://huggingface.co/owner/repo/resolve/0123abc/file.gguf"],
    ["hf:owner/repo/file.gguf@refs/pr/1", "https://huggingface.co/owner/repo/resolve/refs%2Fpr%2F1/file.gguf"],
  ];
  for (const [name, url] of cases) assert.is(hubFileUrl(parseHubName(name)), url, name);
  assert.is(hubFileUrl(parseHubName("hf:o/r/f.gguf"), "http://127.0.0.1:9/"), "http://127.0.0.1:9/o/r/resolve/main/f.gguf");
});

hub("bad names are InputErrors saying what the form is", () => {
  for (const name of ["hf:owner", "hf:owner/repo", "hf:owner/repo/", "hf:/repo/f.gguf", "hf:owner/re po/f.gguf", "hf:owner/repo/../f.gguf", "hf:owner/repo//f.gguf", "hf:owner/repo@a/f.gguf@b", "hf:owner/repo/f.gguf@", "hf:owner/repo/f.gguf@../x"]) {
    assert.throws(() => parseHubName(name), (error: unknown) => error instanceof InputError && error.message.includes("expected hf:owner/repo/path/file.gguf"), name);
  }
});

hub("download from the injectable hub URL through a hub-style redirect", async () => {
  const server = await startServer();
  const dir = scratch();
  try {
    server.handle = (req, res) => {
      if (req.url === "/owner/repo/resolve/v2/sub/dir/tiny.gguf") {
        res.writeHead(302, { location: "/cdn/xyz", "x-linked-etag": `"${sha256(GGUF)}"`, etag: '"deadbeef"' }).end();
      } else if (req.url === "/cdn/xyz") serve(GGUF, { headers: { etag: '"cdn-etag"' } })(req, res);
      else res.writeHead(404).end();
    };
    const { path, log } = await pull("hf:owner/repo/sub/dir/tiny.gguf@v2", { dir, hubUrl: server.url });
    assert.is(path, join(dir, "tiny.gguf"));
    assert.ok(readFileSync(path).equals(GGUF));
    assert.equal(server.requests.map((r) => r.url), ["/owner/repo/resolve/v2/sub/dir/tiny.gguf", "/cdn/xyz"]);
    assert.match(log.at(-1)!, "(verified)");
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

hub.run();

const cli = suite("ffnskip pull (CLI)");
const run = promisify(execFile);
const ffnskip = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "pull", ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

cli("pulls a URL into --out and prints the path; a named model rejects URL-only flags; an unknown source lists the forms", async () => {
  const server = await startServer();
  const dir = scratch();
  try {
    server.handle = serve(GGUF);
    const ok = await ffnskip([`${server.url}/tiny.gguf`, "--out", dir, "--sha256", sha256(GGUF)]);
    assert.is(ok.code, 0, ok.stderr);
    assert.is(ok.stdout, `${join(dir, "tiny.gguf")}\n`);
    assert.ok(readFileSync(join(dir, "tiny.gguf")).equals(GGUF));
    const named = await ffnskip(["smollm2", "--sha256", sha256(GGUF)]);
    assert.is(named.code, 1);
    assert.match(named.stderr, "InputError: ffnskip pull: --sha256: expected a URL or hf: name");
    const unknown = await ffnskip(["llama-7b"]);
    assert.is(unknown.code, 1);
    assert.match(unknown.stderr, "hf:owner/repo/path/file.gguf[@revision]");
    const gated = await ffnskip(["hf:owner/repo/bad path/..", "--out", dir]);
    assert.match(gated.stderr, "InputError: hf:owner/repo/bad path/..: hf: name");
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

cli("named pulls still work: a present, verified smollm2 is kept without pip", async () => {
  const model = PULLABLE_MODELS.smollm2!;
  const weights = join(WEIGHTS_DIR, model.fileName);
  if (!existsSync(weights)) {
    console.log(`  (skipped: ${weights} not pulled)`);
    return;
  }
  const dir = scratch();
  try {
    mkdirSync(dir, { recursive: true });
    symlinkSync(weights, join(dir, model.fileName));
    const result = await ffnskip(["smollm2", "--out", dir], { PATH: "" });
    assert.is(result.code, 0, result.stderr);
    assert.is(result.stdout, `${join(dir, model.fileName)}\n`);
    assert.match(result.stderr, "present and verified");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

cli.run();
