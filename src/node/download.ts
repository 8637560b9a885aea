// Fetching a GGUF from a URL or a hub name (hf:owner/repo/path/file.gguf[@revision]) onto disk. The body streams
// into <file>.part, beside a <file>.part.json that remembers the URL, total size and ETag, so a later call resumes
// with a Range request (and restarts when the server ignores it or the file changed). Redirects are followed here,
// not by fetch: the count is capped, a token never leaves the first origin, and the hub puts the file's sha256
// (X-Linked-ETag) on its redirect to the CDN. The file is renamed into place only after its size, sha256 (given or
// from the server) and GGUF magic check out.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FormatError, InputError, ResourceError, show } from "../errors.js";
import { sha256File, WEIGHTS_DIR } from "./pull.js";

/** Where hf: names resolve by default. */
export const HUB_URL = "https://huggingface.co";

export interface HubFile {
  readonly owner: string;
  readonly repo: string;
  /** Path of the file inside the repository, "/"-separated. */
  readonly path: string;
  /** Branch, tag or commit; "main" when the name gives none. */
  readonly revision: string;
}

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const REVISION = /^[A-Za-z0-9._][A-Za-z0-9._/-]*$/;
const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Parses `hf:owner/repo/path/to/file.gguf`, with an optional revision either at the end (`...file.gguf@v1.0`) or
 * after the repository (`hf:owner/repo@v1.0/file.gguf`, as fsspec's hf:// URLs write it).
 */
export function parseHubName(name: string): HubFile {
  const fail = (actual: string) =>
    new InputError({ file: name, field: "hf: name", expected: "hf:owner/repo/path/file.gguf, optionally with @revision at the end or after the repo", actual });
  if (!name.startsWith("hf:")) throw fail("no hf: prefix");
  const [owner, repoAndRevision, ...rest] = name.slice(3).split("/");
  const repoAt = repoAndRevision?.indexOf("@") ?? -1;
  const repo = repoAt === -1 ? repoAndRevision : repoAndRevision!.slice(0, repoAt);
  let revision = repoAt === -1 ? undefined : repoAndRevision!.slice(repoAt + 1);
  let pathText = rest.join("/");
  // At the end, a revision may hold slashes (refs/pr/1): everything after the path's first @.
  const pathAt = pathText.indexOf("@");
  if (pathAt !== -1) {
    if (revision !== undefined) throw fail("two revisions");
    revision = pathText.slice(pathAt + 1);
    pathText = pathText.slice(0, pathAt);
  }
  const path = pathText === "" ? [] : pathText.split("/");
  if (owner === undefined || !HUB_ID.test(owner)) throw fail(`owner ${show(owner ?? "")}`);
  if (repo === undefined || !HUB_ID.test(repo)) throw fail(`repository ${show(repo ?? "")}`);
  if (path.length === 0) throw fail("no file path after owner/repo");
  if (path.some((segment) => segment === "" || segment === "." || segment === "..")) throw fail(`file path ${show(path.join("/"))}`);
  if (revision !== undefined && (!REVISION.test(revision) || revision.split("/").includes(".."))) throw fail(`revision ${show(revision)}`);
  return { owner, repo, path: path.join("/"), revision: revision ?? "main" };
}

/** The hub's download URL for a file: <hub>/owner/repo/resolve/<revision>/<path>. */
export function hubFileUrl(file: HubFile, hubUrl: string = HUB_URL): string {
  const path = file.path.split("/").map(encodeURIComponent).join("/");
  return `${hubUrl.replace(/\/+$/, "")}/${file.owner}/${file.repo}/resolve/${encodeURIComponent(file.revision)}/${path}`;
}

export interface DownloadProgress {
  /** Bytes of the file on disk so far (a resumed part included). */
  readonly received: number;
  /** The file's size, when the server says. */
  readonly total: number | undefined;
  /** Speed of this transfer so far. */
  readonly bytesPerSecond: number;
}

export interface PullUrlOptions {
  /** Folder the file goes to, under the URL's file name (default: the package's weights/). */
  readonly dir?: string;
  /** The file to write instead (overrides `dir`). */
  readonly output?: string;
  /** Expected sha256 (hex). Without it, a 64-hex X-Linked-ETag or ETag from the server is checked. */
  readonly sha256?: string;
  /** Bearer token (gated or private hub repositories); sent to the first URL's origin only. */
  readonly token?: string;
  /** Base URL that hf: names resolve against (default https://huggingface.co). */
  readonly hubUrl?: string;
  /** Most redirects followed (default 10). */
  readonly maxRedirects?: number;
  /** Gives up when no byte arrives for this long (default 60 s); the part is kept for a resume. */
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** One line per step. */
  readonly log?: (line: string) => void;
}

/** What `pullUrl` fetches for a source: the URL and the file name it is saved under. */
export function resolvePullSource(source: string, hubUrl: string = HUB_URL): { readonly url: string; readonly fileName: string | undefined } {
  if (source.startsWith("hf:")) {
    const file = parseHubName(source);
    return { url: hubFileUrl(file, hubUrl), fileName: file.path.split("/").pop() };
  }
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new InputError({ file: source, field: "URL", expected: "an http:// or https:// URL, or hf:owner/repo/path/file.gguf", actual: "no parseable URL" });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InputError({ file: source, field: "URL", expected: "an http:// or https:// URL, or hf:owner/repo/path/file.gguf", actual: `a ${url.protocol} URL` });
  }
  let fileName: string | undefined;
  try {
    fileName = decodeURIComponent(url.pathname.split("/").pop() ?? "");
  } catch {
    fileName = undefined;
  }
  if (fileName === undefined || fileName === "" || fileName === "." || fileName === ".." || /[/\\\0]/.test(fileName)) fileName = undefined;
  return { url: url.href, fileName };
}

/**
 * Downloads the GGUF at `source` (an http(s) URL or an hf: name) unless the target file is already there, and
 * returns its path. A failed transfer keeps its part for the next call to resume; a file that fails its checks is
 * deleted.
 */
export async function pullUrl(source: string, options: PullUrlOptions = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const { url, fileName } = resolvePullSource(source, options.hubUrl);
  const expectedSha = options.sha256 === undefined ? undefined : checkSha256Option(options.sha256, source);
  let target = options.output;
  if (target === undefined) {
    if (fileName === undefined) throw new InputError({ file: source, field: "file name", expected: "a URL whose path ends in a file name, or an output file", actual: "none in the URL" });
    target = join(options.dir ?? WEIGHTS_DIR, fileName);
  }
  if (existsSync(target)) {
    if (expectedSha === undefined) {
      log(`${target} is present (kept as it is: pass a sha256 to verify it, or delete it to fetch it again)`);
      return target;
    }
    if ((await sha256File(target)) === expectedSha) {
      log(`${target} is present and verified`);
      return target;
    }
    log(`${target} is present but its sha256 differs: fetching it again`);
  }
  mkdirSync(dirname(target), { recursive: true });
  const part = `${target}.part`;
  const { total, serverSha } = await transfer(source, url, part, options, log);
  const size = statSync(part).size;
  if (total !== undefined && size !== total) {
    removePart(part);
    throw new ResourceError({ file: source, field: "size", expected: `${total} bytes`, actual: `${size} bytes`, detail: "the download was deleted" });
  }
  checkMagic(readHead(part), source, part);
  const digest = await sha256File(part);
  const expected = expectedSha ?? serverSha;
  if (expected !== undefined && digest !== expected) {
    removePart(part);
    throw new ResourceError({
      file: source, field: "sha256", expected: `${expected} (${expectedSha !== undefined ? "as given" : "from the server's ETag"})`, actual: `${digest}`,
      detail: "the download was deleted",
    });
  }
  renameSync(part, target);
  rmSync(metaPath(part), { force: true });
  log(`${target}: ${size} bytes, sha256 ${digest} (${expected === undefined ? "not checked: no sha256 given or sent" : "verified"})`);
  return target;
}

function checkSha256Option(value: string, source: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new InputError({ file: source, field: "sha256", expected: "64 hex digits", actual: show(value) });
  return value.toLowerCase();
}

/** The part's sidecar: what the bytes in the part are the beginning of. */
interface PartMeta {
  readonly url: string;
  readonly total: number | undefined;
  readonly etag: string | undefined;
}

const metaPath = (part: string) => `${part}.json`;

function readMeta(part: string, url: string): PartMeta | undefined {
  if (!existsSync(part) || !existsSync(metaPath(part))) return undefined;
  try {
    const meta = JSON.parse(readFileSync(metaPath(part), "utf8")) as Partial<PartMeta>;
    if (meta.url !== url) return undefined;
    return { url, total: typeof meta.total === "number" ? meta.total : undefined, etag: typeof meta.etag === "string" ? meta.etag : undefined };
  } catch {
    return undefined;
  }
}

async function transfer(source: string, url: string, part: string, options: PullUrlOptions, log: (line: string) => void): Promise<{ total: number | undefined; serverSha: string | undefined }> {
  let saved = readMeta(part, url);
  let offset = saved === undefined ? 0 : statSync(part).size;
  if (offset > 0) log(`resuming ${part} at byte ${offset}`);
  const watchdog = idleWatchdog(options.idleTimeoutMs ?? 60_000);
  try {
    for (;;) {
      const reply = await request(source, url, offset, saved?.etag, options, watchdog);
      const { response } = reply;
      let total: number | undefined;
      if (offset > 0 && response.status === 416) {
        // Range past the end: the part is complete when the file is exactly its size.
        await response.body?.cancel();
        const range = parseContentRange(response.headers.get("content-range"));
        if (range?.total === offset && (saved?.total === undefined || saved.total === offset)) return { total: offset, serverSha: reply.sha };
        log(`${part} does not match the file on the server: starting over`);
      } else if (offset > 0 && response.status === 206) {
        const range = parseContentRange(response.headers.get("content-range"));
        const changed = range === undefined || range.start !== offset || (saved?.total !== undefined && range.total !== saved.total) || (saved?.etag !== undefined && reply.etag !== undefined && reply.etag !== saved.etag);
        if (!changed) {
          total = range.total;
          writeMeta(part, { url, total, etag: reply.etag });
          await receive(source, response, part, offset, total, options, watchdog);
          return { total, serverSha: reply.sha };
        }
        await response.body?.cancel();
        log(`the file on the server changed since ${part} was started: starting over`);
      } else if (response.status === 200) {
        if (offset > 0) log(`the server ignored the Range request: starting ${part} over`);
        total = contentLength(response);
        writeMeta(part, { url, total, etag: reply.etag });
        await receive(source, response, part, 0, total, options, watchdog);
        return { total, serverSha: reply.sha };
      } else {
        await response.body?.cancel();
        throw httpError(source, reply.url, response);
      }
      removePart(part);
      saved = undefined;
      offset = 0;
    }
  } finally {
    watchdog.stop();
  }
}

function removePart(part: string): void {
  rmSync(part, { force: true });
  rmSync(metaPath(part), { force: true });
}

function writeMeta(part: string, meta: PartMeta): void {
  writeFileSync(metaPath(part), `${JSON.stringify(meta)}\n`);
}

interface Reply {
  readonly response: Response;
  /** The URL that answered (after redirects). */
  readonly url: string;
  readonly etag: string | undefined;
  /** A sha256 the server announced for the file (X-Linked-ETag or ETag of any hop). */
  readonly sha: string | undefined;
}

async function request(source: string, url: string, offset: number, ifRange: string | undefined, options: PullUrlOptions, watchdog: IdleWatchdog): Promise<Reply> {
  const maxRedirects = options.maxRedirects ?? 10;
  const origin = new URL(url).origin;
  let current = new URL(url);
  let sha: string | undefined;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { "accept-encoding": "identity", "user-agent": "ffnskip" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    if (offset > 0 && ifRange !== undefined && !ifRange.startsWith("W/")) headers["if-range"] = ifRange;
    if (options.token !== undefined && current.origin === origin) headers.authorization = `Bearer ${options.token}`;
    let response: Response;
    watchdog.kick();
    try {
      response = await fetch(current, { headers, redirect: "manual", signal: watchdog.signal });
    } catch (error) {
      throw networkError(source, current, error, watchdog);
    }
    sha ??= sha256Header(response.headers.get("x-linked-etag")) ?? sha256Header(response.headers.get("etag"));
    if (!REDIRECTS.has(response.status)) {
      return { response, url: current.href, etag: response.headers.get("etag") ?? undefined, sha };
    }
    await response.body?.cancel();
    const location = response.headers.get("location");
    if (location === null) throw new ResourceError({ file: source, field: `HTTP ${response.status} from ${current.host}`, expected: "a Location header", actual: "none" });
    if (hop >= maxRedirects) throw new ResourceError({ file: source, field: "redirects", expected: `at most ${maxRedirects}`, actual: `one more, to ${new URL(location, current).host}` });
    current = new URL(location, current);
    if (current.protocol !== "http:" && current.protocol !== "https:") {
      throw new ResourceError({ file: source, field: "redirect", expected: "an http(s) URL", actual: `a ${current.protocol} URL` });
    }
  }
}

/** Streams the body onto the part (appending at `offset`), checking the GGUF magic as soon as it arrives. */
async function receive(source: string, response: Response, part: string, offset: number, total: number | undefined, options: PullUrlOptions, watchdog: IdleWatchdog): Promise<void> {
  const file = await open(part, offset > 0 ? "a" : "w");
  const started = Date.now();
  let received = offset;
  let head: Uint8Array = new Uint8Array(0);
  let headIsGguf = true;
  let reported = 0;
  const report = () => options.onProgress?.({ received, total, bytesPerSecond: ((received - offset) * 1000) / Math.max(1, Date.now() - started) });
  try {
    try {
      if (response.body === null) throw new Error("no body");
      for await (const chunk of response.body) {
        watchdog.kick();
        if (received < GGUF_MAGIC.length) {
          head = concat(head, chunk.subarray(0, GGUF_MAGIC.length - received));
          headIsGguf = isGguf(head);
          if (!headIsGguf) break;
        }
        await file.write(chunk);
        received += chunk.length;
        if (Date.now() - reported >= 100) {
          reported = Date.now();
          report();
        }
      }
    } catch (error) {
      throw truncated(source, part, received, total, watchdog.fired ? `no byte for ${watchdog.ms} ms` : `the connection failed: ${causeOf(error)}`);
    }
  } finally {
    await file.close();
  }
  if (!headIsGguf) checkMagic(head, source, part);
  report();
  if (total !== undefined && received < total) throw truncated(source, part, received, total, "the connection closed early");
}

function truncated(source: string, part: string, received: number, total: number | undefined, why: string): ResourceError {
  return new ResourceError({
    file: source, field: "body", expected: total === undefined ? "the whole body" : `${total} bytes`, actual: `${received} bytes (${why})`,
    detail: `${received} bytes are kept in ${part}; run the same pull again to resume`,
  });
}

/** Whether `head` (the first bytes, possibly fewer than four) can begin a GGUF file. */
function isGguf(head: Uint8Array): boolean {
  return head.every((byte, i) => byte === GGUF_MAGIC[i]);
}

/** Deletes the part and throws unless it begins with the GGUF magic. */
function checkMagic(head: Uint8Array, source: string, part: string): void {
  if (head.length >= GGUF_MAGIC.length && isGguf(head)) return;
  removePart(part);
  const text = new TextDecoder().decode(head);
  throw new FormatError({
    file: source, field: "magic", expected: "a GGUF file (it starts with \"GGUF\")", actual: `bytes ${show(text)}`,
    detail: text.startsWith("<") ? "a web page: on the hub, the file's URL has /resolve/, not /blob/" : "the download was deleted",
  });
}

function readHead(path: string): Uint8Array {
  const head = new Uint8Array(GGUF_MAGIC.length);
  const fd = openSync(path, "r");
  try {
    return head.subarray(0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

function httpError(source: string, url: string, response: Response): ResourceError {
  const status = `${response.status}${response.statusText === "" ? "" : ` ${response.statusText}`}`;
  const hubMessage = response.headers.get("x-error-message");
  const hint =
    response.status === 401 || response.status === 403
      ? "the repository may be gated or private: accept its terms on the hub and pass a token (--token or HF_TOKEN)"
      : response.status === 404
        ? "check the owner, repository, file path and revision (or the URL)"
        : response.status === 429 ? "rate limited: try again later (a token raises the limit on the hub)" : undefined;
  return new ResourceError({
    file: source, field: `HTTP from ${new URL(url).host}`, expected: "200 (or 206 for a resume)", actual: `${status}${hubMessage === null ? "" : `: ${hubMessage}`}`,
    ...(hint === undefined ? {} : { detail: hint }),
  });
}

function networkError(source: string, url: URL, error: unknown, watchdog: IdleWatchdog): ResourceError {
  return new ResourceError({
    file: source, field: "request", expected: `a response from ${url.host}`, actual: watchdog.fired ? `none within ${watchdog.ms} ms` : causeOf(error),
  });
}

function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

/** Content-Length, unless the body is encoded (then it counts encoded bytes, not the file's). */
function contentLength(response: Response): number | undefined {
  const encoding = response.headers.get("content-encoding");
  if (encoding !== null && encoding !== "identity") return undefined;
  const length = response.headers.get("content-length");
  return length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
}

/** "bytes START-END/TOTAL" or "bytes * /TOTAL" (416). */
function parseContentRange(header: string | null): { start: number | undefined; total: number } | undefined {
  const match = header === null ? null : /^bytes (?:(\d+)-\d+|\*)\/(\d+)$/.exec(header.trim());
  if (match === null) return undefined;
  return { start: match[1] === undefined ? undefined : Number(match[1]), total: Number(match[2]) };
}

/** A 64-hex entity tag is the hub's sha256 of the file (LFS); anything else says nothing about the content. */
function sha256Header(value: string | null): string | undefined {
  const tag = value?.replace(/^W\//, "").replace(/^"|"$/g, "");
  return tag !== undefined && /^[0-9a-f]{64}$/i.test(tag) ? tag.toLowerCase() : undefined;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

interface IdleWatchdog {
  readonly signal: AbortSignal;
  readonly ms: number;
  readonly fired: boolean;
  /** Restarts the countdown (a byte arrived). */
  kick(): void;
  stop(): void;
}

/** Aborts the transfer when `kick` is not called for `ms`, so a stalled server cannot hang a pull. */
function idleWatchdog(ms: number): IdleWatchdog {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fired = false;
  return {
    signal: controller.signal,
    ms,
    get fired() {
      return fired;
    },
    kick() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        fired = true;
        controller.abort();
      }, ms);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}
