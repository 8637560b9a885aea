// ffnskip pull <model | URL | hf:owner/repo/file.gguf>: fetch a model into weights/ (named models: src/node/pull.ts;
// URLs and hub names: src/node/download.ts).
import { InputError } from "../errors.js";
import { type DownloadProgress, HUB_URL, pullUrl, resolvePullSource } from "../node/download.js";
import { PULLABLE_MODELS, pullModel } from "../node/pull.js";
import { describeFlags, parseArgs } from "./args.js";
import { progressBar } from "./progress.js";

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  out: { type: "string", help: "target folder (default: the package's weights/)" },
  dir: { type: "string", help: "same as --out" },
  output: { type: "string", help: "target file (URLs and hf: names)" },
  sha256: { type: "string", help: "expected sha256 of the file (URLs and hf: names)" },
  token: { type: "string", help: "bearer token for gated or private hub repositories (default: $HF_TOKEN for the hub)" },
} as const;

const SOURCES = `${Object.keys(PULLABLE_MODELS).join("|")}|https://host/path/file.gguf|hf:owner/repo/path/file.gguf[@revision]`;

export async function pull(argv: string[]): Promise<void> {
  const { flags, positional } = parseArgs(argv, FLAGS, "pull");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip pull <${SOURCES}>\n${describeFlags(FLAGS)}\n`);
    return;
  }
  if (positional.length !== 1) throw new InputError({ file: "ffnskip pull", field: "model", expected: `one of ${SOURCES}`, actual: `${positional.length} arguments` });
  if (flags.out !== undefined && flags.dir !== undefined) throw new InputError({ file: "ffnskip pull", field: "--dir", expected: "either --out or --dir", actual: "both" });
  const source = positional[0]!;
  const dir = flags.out ?? flags.dir;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let path: string;
  if (Object.hasOwn(PULLABLE_MODELS, source)) {
    for (const flag of ["output", "sha256", "token"] as const) {
      if (flags[flag] !== undefined) throw new InputError({ file: "ffnskip pull", field: `--${flag}`, expected: "a URL or hf: name (named models are pinned)", actual: JSON.stringify(source) });
    }
    path = await pullModel(source, dir, log);
  } else if (source.startsWith("hf:") || /^https?:\/\//i.test(source)) {
    if (dir !== undefined && flags.output !== undefined) throw new InputError({ file: "ffnskip pull", field: "--output", expected: "either a folder (--out) or a file (--output)", actual: "both" });
    const token = flags.token ?? (isHub(source) ? process.env.HF_TOKEN : undefined);
    const bar = progressBar(flags.output ?? resolvePullSource(source).fileName ?? source);
    const logBelowBar = (line: string) => {
      bar.done();
      log(line);
    };
    try {
      path = await pullUrl(source, {
        dir, output: flags.output, sha256: flags.sha256, token: token === "" ? undefined : token, log: logBelowBar,
        onProgress: (p) => bar.update(p.total === undefined ? 0 : p.received / p.total, describe(p)),
      });
    } finally {
      bar.done();
    }
  } else {
    throw new InputError({ file: "ffnskip pull", field: "model", expected: `one of ${SOURCES}`, actual: JSON.stringify(source) });
  }
  process.stdout.write(`${path}\n`);
}

/** The token in HF_TOKEN is for the hub only: hf: names and huggingface.co URLs. */
function isHub(source: string): boolean {
  if (source.startsWith("hf:")) return true;
  try {
    return new URL(source).host === new URL(HUB_URL).host;
  } catch {
    return false;
  }
}

function describe(p: DownloadProgress): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  return `${mb(p.received)}${p.total === undefined ? "" : `/${mb(p.total)}`} MB ${mb(p.bytesPerSecond)} MB/s`;
}
