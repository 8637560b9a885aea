// A static server for the browser demo: the page, its bundle, and the model "served next to the page" as
// /model.gguf (a file from weights/, or the path in $FFNSKIP_MODEL). Loopback only.
//
//   node scripts/bundle-examples.mjs && node examples/browser/serve.mjs [port]     # then open the printed URL
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".map": "application/json", ".png": "image/png", ".gguf": "application/octet-stream", ".svg": "image/svg+xml",
};

/** Starts the server on 127.0.0.1:`port` (0: any free port); resolves to { url, close() }. */
export function serveBrowserDemo({ port = 0, modelPath = process.env.FFNSKIP_MODEL ?? join(root, "weights", "SmolLM2-135M-Instruct.Q4_1.gguf") } = {}) {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = path === "/model.gguf" ? modelPath : normalize(join(here, path === "/" ? "index.html" : path));
    if (request.method !== "GET" && request.method !== "HEAD") return void response.writeHead(405, { allow: "GET, HEAD" }).end();
    if (path !== "/model.gguf" && !file.startsWith(here + sep)) return void response.writeHead(403).end();
    let size;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw new Error("not a file");
      size = stat.size;
    } catch {
      return void response.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}\n`);
    }
    response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": size, "cache-control": "no-cache" });
    if (request.method === "HEAD") return void response.end();
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        url: `http://127.0.0.1:${address.port}/`,
        close: () => new Promise((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { url } = await serveBrowserDemo({ port: Number(process.argv[2] ?? 8080) });
  console.log(`ffnskip browser demo: ${url}  (model: ${url}model.gguf; ${url}?autoload=1 loads it at once)`);
}
