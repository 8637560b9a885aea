// Calibration and the teacher-forced evaluator: the cold-region rule on hand-made curves, the windows/warm-up/ratio
// bookkeeping of teacherForcedNll, calibration reaching its target on a short text (a random 8-layer model, and
// SmolLM2 when pulled) with a profile that parses, the SVG plot, and the shipped profile embedded in the package.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { formatProfileJson } from "../src/cli/calibrate.js";
import { InputError } from "../src/errors.js";
import { Session } from "../src/generate.js";
import { evaluatePerplexity, leadingTokens, splitWindows, teacherForcedNll, tokenNll } from "../src/score.js";
import { calibrate, coldRegions } from "../src/calibrate.js";
import { DEFAULT_PROFILES, defaultProfileFor } from "../src/skip/default-profiles.js";
import { similarityPlotSvg } from "../src/skip/plot.js";
import { parseSkipProfile, paperPolicy, type SkipProfile } from "../src/skip/profile.js";
import { decodeStepsAfterWarmup, quantile, recordSimilarities, simulatePaperRatio } from "../src/skip/similarity.js";
import { mostRedundantLayers } from "../src/skip/spec.js";
import { deepTinyModel, randomTokens, smolLM2 } from "./helpers/skip-models.js";
import { parseXml } from "./helpers/xml.js";

const test = suite("calibration");
const tiny = await deepTinyModel(8, { maxContext: 64 });

test("cold regions: the SmolLM2-shaped curve gives one cold layer at each end; the rule grows runs from the ends", () => {
  const mean = [0.06, 0.95, ...Array.from({ length: 27 }, (_, i) => 0.93 + (0.05 * ((i * 7) % 11)) / 10), 0.66];
  const curve = (m: number[]) => ({ mean: m, p10: m.map((v) => v - 0.03), p90: m.map((v) => Math.min(1, v + 0.02)) });
  const smol = coldRegions(curve(mean));
  assert.equal([smol.coldStart, smol.coldEnd], [1, 29]);
  assert.ok(smol.cutoff > 0.66 && smol.cutoff < 0.93);
  const twoCold = [0.1, 0.5, ...Array(8).fill(0.96), 0.7, 0.2];
  assert.equal(coldRegions(curve(twoCold)), { coldStart: 2, coldEnd: 10, cutoff: coldRegions(curve(twoCold)).cutoff });
  // A dip inside the middle does not move the cold regions; a uniform curve still keeps one cold layer per end.
  const dip = [0.1, ...Array(4).fill(0.96), 0.5, ...Array(4).fill(0.96), 0.3];
  assert.equal([coldRegions(curve(dip)).coldStart, coldRegions(curve(dip)).coldEnd], [1, 10]);
  assert.equal([coldRegions(curve(Array(6).fill(0.97))).coldStart, coldRegions(curve(Array(6).fill(0.97))).coldEnd], [1, 5]);
});

test("quantile interpolates like numpy", () => {
  assert.is(quantile([1, 2, 3, 4, 5], 0.1), 1.4);
  assert.is(quantile([1, 2, 3, 4, 5], 0.9), 4.6);
  assert.is(quantile([7], 0.1), 7);
});

test("teacher-forced NLL: windows, prefix, warm-up per window, and the ratio of a fixed policy", async () => {
  const tokens = randomTokens(200, 256, 5);
  const windows = splitWindows(tokens, 32);
  assert.is(windows.length, 6);
  assert.equal(windows[1], tokens.slice(32, 64));
  assert.equal(splitWindows(tokens, 32, { bos: 1 })[1], [1, ...tokens.slice(31, 62)]);
  const L = tiny.config.numLayers;
  const full = await teacherForcedNll(new Session(tiny.transformer), windows, { kind: "off" });
  assert.is(full.tokens, 6 * 31);
  assert.is(full.skip.tokens, 6 * 30);
  assert.is(full.skip.skipped, 0);
  // The same NLL from one batched prefill per window (matmul instead of matvec: equal to rounding).
  let sum = 0;
  for (const w of windows) {
    const logits = tiny.transformer.prefill(w, 0, "all");
    for (let i = 1; i < w.length; i++) sum += tokenNll(logits.subarray((i - 1) * 256, i * 256), w[i]!);
  }
  assert.ok(Math.abs(sum / full.tokens - full.nll) < 1e-4, `${sum / full.tokens} vs ${full.nll}`);
  assert.ok(Math.abs(full.perplexity - Math.exp(full.nll)) < 1e-9);

  const fixed = await teacherForcedNll(new Session(tiny.transformer), windows, { kind: "fixed", warmup: 4, layers: [2, 5] }, { prefix: 3 });
  assert.is(fixed.tokens, 6 * 29);
  assert.is(fixed.skip.tokens, 6 * 28);
  assert.is(fixed.skip.warmupTokens, 6 * 4);
  assert.is(fixed.skip.skipped, 2 * 6 * 24);
  assert.is(fixed.skip.ratioAfterWarmup, 2 / L);
  assert.is(fixed.skip.ratio, (2 * 24) / (L * 28));
  assert.equal(fixed.skippedPerLayer, [0, 0, 144, 0, 0, 144, 0, 0]);
  assert.is(fixed.tokenNll.length, fixed.tokens);
  assert.ok(Number.isFinite(fixed.perplexityAfterWarmup) && fixed.perplexity !== full.perplexity);
  let thrown: unknown;
  try {
    await teacherForcedNll(new Session(tiny.transformer), [[1]], { kind: "off" });
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof InputError, "a window without a token to score");
});

test("recorded similarities and the replay of the paper rule on them", () => {
  const windows = splitWindows(randomTokens(96, 256, 8), 32);
  const record = recordSimilarities(tiny.transformer, windows);
  assert.is(record.count, 96);
  assert.ok(record.similarity.every((v) => v > -1 && v <= 1));
  const steps = decodeStepsAfterWarmup(record, 2);
  assert.is(steps.length, 3 * (30 - 2));
  assert.is(simulatePaperRatio(record, steps, { coldStart: 1, coldEnd: 7, threshold: 1.01, k: 1 }), 0);
  // Threshold -1: every other middle layer skipped with k = 1 (1 runs, 2 skipped, 3 runs, ...): 3 of 8.
  assert.is(simulatePaperRatio(record, steps, { coldStart: 1, coldEnd: 7, threshold: -1, k: 1 }), 3 / 8);
});

let tinyProfile: SkipProfile | undefined;

test("calibration on a short text reaches the target ratio and writes a profile that parses", async () => {
  const windows = splitWindows(randomTokens(640, 256, 7), 32);
  const lines: string[] = [];
  const created = { command: "test", date: "2026-01-01T00:00:00.000Z" };
  const result = await calibrate(tiny, windows, { target: 0.25, data: "random tokens", warmup: 3, kCandidates: [1, 2], created, onProgress: (l) => lines.push(l) });
  const p = result.profile;
  tinyProfile = p;
  assert.ok(Math.abs(p.measured.ratioAfterWarmup - 0.25) <= 0.005, `ratio after warm-up ${p.measured.ratioAfterWarmup}`);
  assert.ok(p.measured.ratio < p.measured.ratioAfterWarmup);
  assert.is(p.measured.tokens, 640);
  assert.is(p.warmup, 3);
  assert.ok([1, 2].includes(p.k));
  assert.ok(p.coldStart >= 1 && p.coldEnd <= 7 && p.coldStart < p.coldEnd);
  assert.equal(p.fixedLayers, mostRedundantLayers(p.similarity.mean, p.coldStart, p.coldEnd, 2));
  assert.is(p.similarity.mean.length, 8);
  assert.ok(p.similarity.mean.every((m, l) => p.similarity.p10[l]! <= m && m <= p.similarity.p90[l]!));
  assert.equal(p.created, created);
  assert.ok(p.measured.perplexityFull! > 0 && p.measured.perplexitySkip! > 0 && p.measured.perplexityFixed! > 0 && p.measured.perplexityRandom! > 0);
  assert.ok(lines.some((l) => l.startsWith("chosen: k=")));
  // The profile's policy, run again, measures exactly what the profile records.
  const again = await teacherForcedNll(new Session(tiny.transformer), windows, paperPolicy(p));
  assert.is(Math.round(again.skip.ratioAfterWarmup * 1e5) / 1e5, p.measured.ratioAfterWarmup);
  assert.is(Math.round(again.perplexity * 1e4) / 1e4, p.measured.perplexitySkip);
  // JSON round trip.
  const text = formatProfileJson(p);
  assert.equal(parseSkipProfile(text), JSON.parse(JSON.stringify(p)));
  assert.ok(text.includes(`"mean": [${p.similarity.mean.join(", ")}]`), "number arrays on one line");
});

/** Checks the plot is well-formed XML and draws what it should. */
function checkPlot(svg: string, p: SkipProfile): void {
  const elements = parseXml(svg);
  const root = elements[0]!;
  assert.is(root.name, "svg");
  assert.is(root.attributes.xmlns, "http://www.w3.org/2000/svg");
  assert.ok(Number(root.attributes.width) > 0 && Number(root.attributes.height) > 0);
  const L = p.model.layers;
  const byClass = (c: string) => elements.filter((e) => e.attributes.class === c);
  const means = byClass("mean");
  assert.is(means.length, 2, "a mean line in each panel");
  for (const m of means) {
    assert.is(m.name, "polyline");
    assert.is(m.attributes.points!.trim().split(/\s+/).length, L);
  }
  for (const band of byClass("spread")) assert.is(band.attributes.points!.trim().split(/\s+/).length, 2 * L);
  assert.is(byClass("spread").length, 2);
  assert.is(byClass("cold").length, 2 * ((p.coldStart > 0 ? 1 : 0) + (p.coldEnd < L ? 1 : 0)));
  assert.is(byClass("threshold").length, 1);
  assert.is(byClass("fixed").length, p.fixedLayers.length);
  assert.is(byClass("point").length, 2 * L);
  const texts = elements.filter((e) => e.name === "text").map((e) => e.text);
  assert.ok(texts.filter((t) => t === "layer").length === 2, "x axis titles");
  assert.ok(texts.includes("cosine similarity"), "y axis title");
  for (let l = 0; l < L; l++) assert.ok(texts.includes(String(l)), `tick label ${l}`);
  assert.ok(texts.some((t) => t.startsWith("threshold ")));
  assert.ok(elements.some((e) => e.name === "title"));
}

test("the similarity plot is well-formed SVG with the curve, spread, cold regions, threshold and fixed layers", () => {
  assert.ok(tinyProfile !== undefined);
  const p = { ...tinyProfile!, model: { ...tinyProfile!.model, name: 'a <model> & "friends"' } };
  checkPlot(similarityPlotSvg(p), p);
  assert.throws(() => parseXml("<svg><g></svg>"));
  assert.throws(() => parseXml('<svg a="1 & 2"/>'));
});

test("evaluatePerplexity leaves the model's prompt cache consistent", async () => {
  const smol = await smolLM2("skip-calibrate");
  if (smol === undefined) return;
  const prompt = "Name a large animal.";
  const first = await smol.generate(prompt, { chat: true, maxTokens: 6, skip: "off" }).result;
  const windows = splitWindows(smol.encode("The quick brown fox jumps over the lazy dog and runs far away into the forest."), 8);
  await evaluatePerplexity(smol, windows, { kind: "off" });
  const second = await smol.generate(prompt, { chat: true, maxTokens: 6, skip: "off" }).result;
  assert.equal(second.tokens, first.tokens);
  assert.is(second.stats.cachedPromptTokens, 0);
});

const SHORT_TEXT = [
  "The lighthouse stood on a rocky point at the northern end of the island, and for more than a century its keepers",
  "kept the lamp burning through storms and fog. Ships bound for the harbour relied on its beam to find the narrow",
  "channel between the reefs. In 1921 the station was electrified, and the last keeper left in 1968, when an automatic",
  "light was installed. Today the building is a small museum run by volunteers, who show visitors the original lens,",
  "the logbooks written by the keepers, and a collection of photographs of the wrecks that happened before the light was built.",
  "On clear summer evenings the museum stays open late, and the volunteers climb the spiral stairs with small groups to watch the sun set over the water.",
].join(" ");

test("calibration on SmolLM2 reaches the target on a short text", async () => {
  const smol = await smolLM2("skip-calibrate");
  if (smol === undefined) return;
  const tokens = leadingTokens((t) => smol.encode(t, { addSpecialTokens: false }), SHORT_TEXT, 128);
  assert.is(tokens.length, 128);
  const windows = splitWindows(tokens, 64);
  const result = await calibrate(smol, windows, { target: 0.25, data: "short text", warmup: 4, kCandidates: [2], tolerance: 0.02, maxRuns: 4, baselines: false });
  const p = result.profile;
  assert.ok(Math.abs(p.measured.ratioAfterWarmup - 0.25) <= 0.02, `ratio after warm-up ${p.measured.ratioAfterWarmup}`);
  assert.equal([p.coldStart, p.coldEnd], [1, 29]);
  assert.ok(p.measured.perplexitySkip! > p.measured.perplexityFull!);
  assert.equal(parseSkipProfile(formatProfileJson(p)), JSON.parse(JSON.stringify(p)));
});

test("leadingTokens tokenizes only what it needs and agrees with tokenizing everything", () => {
  const encode = (t: string) => t.split(/(?<= )/);
  const text = Array.from({ length: 5000 }, (_, i) => `w${i}${i % 10 === 9 ? "\n" : " "}`).join("");
  const needed = 300;
  const words = leadingTokens((t) => encode(t) as unknown as number[], text, needed) as unknown as string[];
  assert.equal(words, encode(text).slice(0, needed));
});

test("the shipped profiles: embedded objects equal profiles/*.json, with their plots", async () => {
  const dir = join(import.meta.dirname, "..", "profiles");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
  assert.is(DEFAULT_PROFILES.length, files.length);
  assert.ok(files.includes("smollm2-135m-instruct-q4_1.json"), "the SmolLM2 profile ships");
  for (const [i, file] of files.entries()) {
    const text = readFileSync(join(dir, file), "utf8");
    const parsed = parseSkipProfile(text, file);
    assert.equal(DEFAULT_PROFILES[i], JSON.parse(text), `${file} and src/skip/default-profiles.ts differ: run node scripts/embed-profiles.mjs`);
    assert.ok(Math.abs(parsed.measured.ratioAfterWarmup - parsed.target) <= (parsed.search?.tolerance ?? 0.01) + 1e-9, `${file}: measured ratio`);
    const svg = join(dir, file.replace(/\.json$/, ".svg"));
    assert.ok(existsSync(svg), `${svg} ships with the profile`);
    checkPlot(readFileSync(svg, "utf8"), parsed);
  }
  const smol = await smolLM2("skip-calibrate");
  if (smol !== undefined) assert.ok(defaultProfileFor(smol.fingerprint) !== undefined, "the shipped profile matches the pulled SmolLM2's fingerprint");
});

test.run();
