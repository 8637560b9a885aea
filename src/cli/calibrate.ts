// ffnskip calibrate: run calibration text through the model, pick cold regions, threshold and k for a target skip
// ratio, and write the skip profile (and optionally the similarity plot). The method is in src/calibrate.ts.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { InputError } from "../errors.js";
import { leadingTokens, splitWindows } from "../score.js";
import { calibrate as calibrateModel, calibrateSurrogates, DEFAULT_K_CANDIDATES, DEFAULT_WARMUP, DEFAULT_WINDOW } from "../calibrate.js";
import { writeSurrogates } from "../model/surrogates.js";
import { DEFAULT_SURROGATE_LAMBDA, DEFAULT_SURROGATE_RANK } from "../skip/surrogate-fit.js";
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
  surrogates: { type: "int", min: 1, help: `also fit a low-rank FFN surrogate per layer at this rank (e.g. ${DEFAULT_SURROGATE_RANK}); without --target, only them` },
  "surrogates-out": { type: "string", help: "where to write the surrogates (default: next to --out, NAME.surrogates.safetensors)" },
  "surrogate-lambda": { type: "number", min: 1e-12, max: 1e3, help: `ridge penalty relative to the mean input variance (default ${DEFAULT_SURROGATE_LAMBDA})` },
  "surrogate-dtype": { type: "string", help: "f32 (default) or f16: how U and V are stored" },
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
    process.stdout.write(
      "usage: ffnskip calibrate --data FILE --target R --out profile.json [--plot sim.svg] [--surrogates RANK] [options]\n" +
        `       ffnskip calibrate --data FILE --surrogates RANK --surrogates-out FILE [options]   (surrogates only)\n${describeFlags(FLAGS)}\n`,
    );
    return;
  }
  const missing = (flag: string, what: string) => new InputError({ file: "ffnskip calibrate", field: `--${flag}`, expected: what, actual: "nothing" });
  if (flags.data === undefined) throw missing("data", "a calibration text file");
  const surrogatesOut = flags["surrogates-out"] ?? (flags.out === undefined ? undefined : `${flags.out.replace(/\.json$/i, "")}.surrogates.safetensors`);
  if (flags.surrogates !== undefined && surrogatesOut === undefined) throw missing("surrogates-out", "a path for the surrogates (or --out, to put them next to the profile)");
  if (flags.target === undefined && flags.surrogates === undefined) throw missing("target", "a skip ratio, e.g. 0.25 (or --surrogates RANK alone)");
  if (flags.target !== undefined && flags.out === undefined) throw missing("out", "a path for the profile JSON");
  const dtypeFlag = flags["surrogate-dtype"] ?? "f32";
  if (dtypeFlag !== "f32" && dtypeFlag !== "f16") throw new InputError({ file: "ffnskip calibrate", field: "--surrogate-dtype", expected: "f32 or f16", actual: JSON.stringify(dtypeFlag) });
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
  const created = { command: `ffnskip calibrate ${quoted}`, ...(commit !== undefined ? { commit } : {}), date: new Date().toISOString() };
  const say = flags.quiet ? undefined : (line: string) => process.stderr.write(`calibrate: ${line}\n`);
  if (flags.surrogates !== undefined) {
    const file = await calibrateSurrogates(model, windows, {
      rank: flags.surrogates, lambda: flags["surrogate-lambda"], dtype: dtypeFlag === "f16" ? "F16" : "F32", data, created, onProgress: say,
    });
    writeFileSync(surrogatesOut!, writeSurrogates(file));
    const r2 = file.fit.r2 as number[];
    process.stdout.write(`${surrogatesOut}: ${file.surrogates.length} layers, rank ${file.rank}, R² ${Math.min(...r2).toFixed(3)}..${Math.max(...r2).toFixed(3)} on ${String(file.fit.tokens)} tokens\n`);
    if (flags.target === undefined) return;
  }
  const result = await calibrateModel(model, windows, {
    target: flags.target!,
    data,
    warmup: flags.warmup,
    kCandidates,
    tolerance: flags.tolerance,
    maxRuns: flags["max-runs"],
    baselines: flags["no-baselines"] !== true,
    created,
    onProgress: say,
  });
  const p = result.profile;
  writeFileSync(flags.out!, formatProfileJson(p));
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
