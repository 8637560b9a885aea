// Experiment: skipping with FFN surrogates (model/surrogates.ts) against skipping without, at the same settings.
//  1. Quality: the yardstick (src/score.ts teacherForcedDivergence: KL(full || skipped), top-1 agreement,
//     perplexity) on held-out WikiText-2 windows (the ones `npm run eval -- --task wikitext` scores: tokens 4096..),
//     for each --settings value with the surrogates off and on.
//  2. Speed: decode tok/s of off and of each setting without and with surrogates, generating BENCH_GENERATED_TOKENS
//     from the bench prompt, rounds alternating (one warm-up round discarded); medians of per-round ratios vs off.
// Prints a markdown table (and the JSON rows with --json).
//   node --import tsx bench/skip/surrogates.ts --model weights/SmolLM2-135M-Instruct.Q4_1.gguf --surrogates FILE
import { readFileSync } from "node:fs";
import { parseArgs } from "../../src/cli/args.js";
import { MODEL_FLAGS, openModel, surrogatesFlag } from "../../src/cli/model-flags.js";
import { InputError } from "../../src/errors.js";
import type { SkipPolicy } from "../../src/skip/policies.js";
import { defaultProfileFor } from "../../src/skip/default-profiles.js";
import { parseSkipProfile } from "../../src/skip/profile.js";
import { resolveSkipSpec } from "../../src/skip/spec.js";
import { evaluateDivergence } from "../../src/score.js";
import { parseText } from "../eval/data.js";
import { PERPLEXITY_DEFAULTS, perplexityWindows } from "../eval/harness.js";
import { BENCH_GENERATED_TOKENS, BENCH_PROMPT, loadAverageText, machineLine, summarize } from "../speed.js";

const { flags } = parseArgs(process.argv.slice(2), {
  model: MODEL_FLAGS.model, threads: MODEL_FLAGS.threads,
  surrogates: { type: "string", help: "the surrogates file (ffnskip calibrate --surrogates)" },
  profile: { type: "string", help: "profile.json the settings resolve against (default: the shipped one)" },
  settings: { type: "list", help: "skip settings (default fixed:0.25,fixed:0.35,on)" },
  data: { type: "string", help: "WikiText-2 raw test" },
  tokens: { type: "int", min: 128, help: "held-out tokens scored (default 4096, from offset 4096)" },
  rounds: { type: "int", min: 0, help: "speed rounds (default 7; 0: no speed part)" },
  "no-quality": { type: "boolean", help: "only the speed part" },
  json: { type: "boolean", help: "also print the rows as JSON" },
}, "surrogates");
if (flags.surrogates === undefined) throw new InputError({ file: "bench/skip/surrogates.ts", field: "--surrogates", expected: "a surrogates file", actual: "nothing" });
const model = await openModel({ model: flags.model, "max-context": 512, threads: flags.threads ?? 1 });
const placed = model.useSurrogates(surrogatesFlag(flags.surrogates)!, flags.surrogates);
const profile = flags.profile !== undefined ? parseSkipProfile(readFileSync(flags.profile, "utf8"), flags.profile) : defaultProfileFor(model.fingerprint);
const settings = flags.settings ?? ["fixed:0.25", "fixed:0.35", "on"];
const policies = new Map<string, SkipPolicy>(settings.map((s) => [s, resolveSkipSpec(s, profile)]));
const text = parseText(readFileSync(flags.data ?? "../shared/data/wikitext2/wiki.test.raw.nonblank_crlf.txt", "utf8"));
const { windows, first, last } = perplexityWindows(model, text, { offset: PERPLEXITY_DEFAULTS.offset, tokens: flags.tokens ?? 4096, window: 128 });
const r = (v: number, n = 4) => Number(v.toFixed(n));
const log = (line: string) => process.stderr.write(`surrogates: ${line}\n`);
log(`${model.name}, ${placed!.filter((p) => p !== null).length} surrogates of rank ${placed!.find((p) => p !== null)!.rank}; held-out tokens ${first}..${last}; ${machineLine()}; load ${loadAverageText()}`);

const rows: Record<string, unknown>[] = [];
for (const [setting, policy] of flags["no-quality"] ? [] : policies) {
  for (const withSurrogates of [false, true]) {
    model.transformer.surrogates = withSurrogates ? placed : null;
    const t0 = performance.now();
    const d = await evaluateDivergence(model, windows, policy);
    const row = {
      setting, surrogates: withSurrogates, ratioAfterWarmup: r(d.skip.ratioAfterWarmup, 4), ratio: r(d.skip.ratio, 4), tokens: d.tokens,
      kl: r(d.kl), klAfterWarmup: r(d.klAfterWarmup), klP99: r(d.klP99, 3), top1: r(d.top1), top1AfterWarmup: r(d.top1AfterWarmup),
      perplexity: r(d.perplexity, 2), perplexityFull: r(d.perplexityFull, 2),
    };
    rows.push(row);
    log(`${JSON.stringify(row)} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
}

const rounds = flags.rounds ?? 7;
const speed = new Map<string, number[]>();
const ratios = new Map<string, number[]>();
/** Per round, a setting with surrogates over the same setting without: the surrogates' own cost. */
const costs = new Map<string, number[]>();
if (rounds > 0) {
  const configs: [string, SkipPolicy | "off", boolean][] = [["off", "off", false]];
  for (const [setting, policy] of policies) configs.push([setting, policy, false], [`${setting} + surrogates`, policy, true]);
  for (let round = 0; round <= rounds; round++) {
    const measured = new Map<string, number>();
    for (const [name, policy, withSurrogates] of configs) {
      model.transformer.surrogates = withSurrogates ? placed : null;
      await model.generate("\n", { maxTokens: 1, stopOnEos: false }).result; // a fresh prefill each round
      const { stats } = await model.generate(BENCH_PROMPT, { maxTokens: BENCH_GENERATED_TOKENS, stopOnEos: false, temperature: 0, skip: policy }).result;
      measured.set(name, stats.decodeTokensPerSecond);
    }
    if (round === 0) continue; // warm-up
    for (const [name, tps] of measured) {
      speed.set(name, [...(speed.get(name) ?? []), tps]);
      ratios.set(name, [...(ratios.get(name) ?? []), tps / measured.get("off")!]);
      const plain = name.replace(/ \+ surrogates$/, "");
      if (plain !== name) costs.set(name, [...(costs.get(name) ?? []), tps / measured.get(plain)!]);
    }
  }
}
model.transformer.surrogates = null;

const out: string[] = [];
if (rows.length > 0) out.push(`| setting | surrogates | FFN skipped after warm-up | mean KL | KL after warm-up | KL p99 | top-1 (after warm-up) | perplexity (full ${rows[0]?.perplexityFull}) |`);
if (rows.length > 0) out.push("|---|---|---|---|---|---|---|---|");
for (const row of rows) {
  out.push(`| \`${row.setting}\` | ${row.surrogates ? "yes" : "no"} | ${(100 * (row.ratioAfterWarmup as number)).toFixed(1)}% | ${row.kl} | ${row.klAfterWarmup} | ${row.klP99} | ${(100 * (row.top1 as number)).toFixed(1)}% (${(100 * (row.top1AfterWarmup as number)).toFixed(1)}%) | ${row.perplexity} |`);
}
if (rounds > 0) {
  out.push("", `| setting (decode, ${model.threads} thread${model.threads === 1 ? "" : "s"}, ${rounds} rounds) | decode tok/s (median, range) | vs off (median of per-round ratios) | vs the setting without surrogates |`, "|---|---|---|---|");
  for (const [name, samples] of speed) {
    const s = summarize(samples);
    const cost = costs.get(name);
    out.push(`| ${name} | ${s.median.toFixed(1)} (${s.min.toFixed(1)}-${s.max.toFixed(1)}) | ${summarize(ratios.get(name)!).median.toFixed(3)}x | ${cost === undefined ? "" : `${summarize(cost).median.toFixed(3)}x`} |`);
  }
}
out.push("", `load average at the end: ${loadAverageText()}`);
console.log(out.join("\n"));
if (flags.json) console.log(JSON.stringify({ rows, speed: Object.fromEntries(speed), ratios: Object.fromEntries(ratios), costs: Object.fromEntries(costs) }));
await model.close();
