// ffnskip calibrate: run calibration text through the model, pick cold regions, threshold and k for a target skip
// ratio, and write the skip profile (and optionally the similarity plot). The method is in src/calibrate.ts.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { InputError } from "../errors.js";
import { leadingTokens, splitWindows } from "../score.js";
import { calibrate as calibrateModel, DEFAULT_K_CANDIDATES, DEFAULT_WARMUP, DEFAULT_WINDOW } from "../calibrate.js";
import { similarityPlotSvg } from "../skip/plot.js";
import type { SkipProfile } from "../skip/profile.js";
import { describeFlags, type FlagSpecs, parseArgs } from "./args.js";
import { gitCommit } from "./git.js";
import { MODEL_FLAGS, openModel } from "./model-flags.js";

const DEFAULT_TOKENS = 2048;

const FLAGS = {
  help: { type: "boolean", help: "show this help" },
  model: MODEL_FLAGS.model,
  precision: MODEL_FLAGS.precision,
  threads: MODEL_FLAGS.threads,
  "kv-cache": MODEL_FLAGS["kv-cache"],
  "max-context": { ...MODEL_FLAGS["max-context"], help: "KV cache positions, at least --window (default: --window)" },
  data: { type: "string", help: "calibration text file (UTF-8; CRLF is read as LF)" },
  "data-name": { type: "string", help: "how the profile names the data (default: file name and token range)" },
  target: { type: "number", min: 0.001, max: 0.95, help: "FFN skip ratio to reach after warm-up, e.g. 0.25" },
  out: { type: "string", help: "where to write the profile JSON" },
  plot: { type: "string", help: "also write the similarity plot as SVG here" },
  tokens: { type: "int", min: 16, help: `calibration tokens to use (default ${DEFAULT_TOKENS})` },
  offset: { type: "int", min: 0, help: "skip this many tokens of the data first (default 0)" },
  window: { type: "int", min: 8, help: `tokens per teacher-forced sequence (default ${DEFAULT_WINDOW})` },
  warmup: { type: "int", min: 0, help: `decode steps per sequence that always run in full (default ${DEFAULT_WARMUP})` },
  k: { type: "list", help: `k values to choose from by calibration perplexity (default ${DEFAULT_K_CANDIDATES.join(",")})` },
  tolerance: { type: "number", min: 0.0001, max: 0.5, help: "accepted |ratio - target| (default 0.005)" },
  "max-runs": { type: "int", min: 1, max: 20, help: "most teacher-forced runs per k (default 4)" },
  "no-baselines": { type: "boolean", help: "do not measure the fixed/random baselines' perplexity" },
  quiet: { type: "boolean", help: "no progress lines" },
} as const satisfies FlagSpecs;


/** Profile JSON with 2-space indentation but every array of numbers on one line. */
export function formatProfileJson(profile: SkipProfile): string {
  const text = JSON.stringify(profile, null, 2).replace(/\[\s+([-\d.e,\s]*?)\s+\]/g, (_, inner: string) => `[${inner.split(/,\s+/).join(", ")}]`);
  return `${text}\n`;
}


export async function calibrate(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv, FLAGS, "calibrate");
  if (flags.help) {
    process.stdout.write(`usage: ffnskip calibrate --data FILE --target R --out profile.json [--plot sim.svg] [options]\n${describeFlags(FLAGS)}\n`);
    return;
  }
  const missing = (flag: string, what: string) => new InputError({ file: "ffnskip calibrate", field: `--${flag}`, expected: what, actual: "nothing" });
  if (flags.data === undefined) throw missing("data", "a calibration text file");
  if (flags.target === undefined) throw missing("target", "a skip ratio, e.g. 0.25");
  if (flags.out === undefined) throw missing("out", "a path for the profile JSON");
  const window = flags.window ?? DEFAULT_WINDOW;
  const maxContext = flags["max-context"] ?? window;
  if (maxContext < window) {
    throw new InputError({ file: "ffnskip calibrate", field: "--max-context", expected: `at least --window (${window} positions per sequence)`, actual: String(maxContext) });
  }
  const count = flags.tokens ?? DEFAULT_TOKENS;
  const offset = flags.offset ?? 0;
  const kCandidates = flags.k?.map((v) => {
    const k = Number(v);
    if (!Number.isSafeInteger(k) || k < 1) throw new InputError({ file: "ffnskip calibrate", field: "--k", expected: "comma-separated integers >= 1", actual: JSON.stringify(v) });
    return k;
  });
  let text: string;
  try {
    text = readFileSync(flags.data, "utf8").replace(/\r\n/g, "\n");
  } catch {
    throw new InputError({ file: "ffnskip calibrate", field: "--data", expected: "a readable text file", actual: JSON.stringify(flags.data) });
  }
  const started = performance.now();
  const model = await openModel({ model: flags.model, "max-context": maxContext, precision: flags.precision, threads: flags.threads, "kv-cache": flags["kv-cache"] });
  const tokens = leadingTokens((t) => model.encode(t, { addSpecialTokens: false }), text, offset + count).slice(offset);
  const bos = model.tokenizer.addBosToken ? model.tokenizer.bosTokenId : undefined;
  const windows = splitWindows(tokens, window, { bos });
  if (windows.length === 0) {
    throw new InputError({ file: "ffnskip calibrate", field: "--data", expected: `at least ${window} tokens after --offset`, actual: `${tokens.length} tokens` });
  }
  const used = windows.length * (bos === undefined ? window : window - 1);
  const data = flags["data-name"] ?? `${basename(flags.data)}, tokens ${offset}..${offset + used - 1}${bos === undefined ? "" : " (BOS first in each window)"}`;
  const quoted = argv.map((a) => (/^[\w./:,=@+-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
  const found = gitCommit();
  const commit = found === "unknown" ? undefined : found;
  const result = await calibrateModel(model, windows, {
    target: flags.target,
    data,
    warmup: flags.warmup,
    kCandidates,
    tolerance: flags.tolerance,
    maxRuns: flags["max-runs"],
    baselines: flags["no-baselines"] !== true,
    created: { command: `ffnskip calibrate ${quoted}`, ...(commit !== undefined ? { commit } : {}), date: new Date().toISOString() },
    onProgress: flags.quiet ? undefined : (line) => process.stderr.write(`calibrate: ${line}\n`),
  });
  const p = result.profile;
  writeFileSync(flags.out, formatProfileJson(p));
  if (flags.plot !== undefined) writeFileSync(flags.plot, similarityPlotSvg(p));
  const m = p.measured;
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${flags.out}: layers ${p.coldStart}..${p.coldEnd - 1} may skip, threshold ${p.threshold}, k ${p.k}, warm-up ${p.warmup}; ` +
      `skipped ${(100 * m.ratioAfterWarmup).toFixed(2)}% after warm-up (${(100 * m.ratio).toFixed(2)}% with it) on ${m.tokens} tokens; ` +
      `perplexity ${m.perplexityFull} full, ${m.perplexitySkip} skipping` +
      `${m.perplexityFixed !== undefined ? `, fixed ${m.perplexityFixed}, random ${m.perplexityRandom}` : ""}; ${seconds.toFixed(0)} s\n`,
  );
}
