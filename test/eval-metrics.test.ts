// The evaluation harness without a model: SQuAD-style normalisation and alias matching, ROUGE-L on hand-computed
// examples, the data parsers, the article truncation rule, the metrics of row records (accuracy, agreement, skip
// ratios with and without warm-up, decode speed-up, repetition), configuration ids, the commit read from .git, and the resumable row files.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { JsonlRowStore } from "../bench/eval/eval.js";
import { gitCommit } from "../src/cli/git.js";
import { InputError } from "../src/errors.js";
import { parseConversations, parseQa, parseSummaries, selectRows } from "../bench/eval/data.js";
import { type RowRecord, type RowStats, summarizeGeneration } from "../bench/eval/harness.js";
import { skipStats } from "../src/skip/controller.js";
import { degeneration, lcsLength, matchedAliases, matchesAnswer, normalizeAnswer, repetition, rougeL, rougeTokens, standardError } from "../bench/eval/metrics.js";
import { truncateArticle } from "../bench/eval/prompts.js";
import { configId, resolveConfig } from "../bench/eval/result.js";
import { DEFAULT_PROFILES } from "../src/skip/default-profiles.js";

const test = suite("eval metrics");
const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

test("normalisation: lower-case, punctuation and symbols removed, articles dropped, whitespace collapsed", () => {
  assert.is(normalizeAnswer("The Philippines!"), "philippines");
  assert.is(normalizeAnswer("  U.S.A.  "), "usa");
  assert.is(normalizeAnswer("An apple a day, the doctor"), "apple day doctor");
  assert.is(normalizeAnswer("Withnail & I"), "withnail i");
  assert.is(normalizeAnswer("\u201cReds\u201d (1981)"), "reds 1981");
  assert.is(normalizeAnswer("Erwin Schr\u00f6dinger"), "erwin schr\u00f6dinger");
  assert.is(normalizeAnswer("theatre anthem"), "theatre anthem", "only whole-word articles go");
  assert.is(normalizeAnswer("The"), "");
  assert.is(normalizeAnswer("don't\tstop\n"), "dont stop");
});

test("alias matching: whole normalised words anywhere in the output", () => {
  assert.ok(matchesAnswer("The answer is Ghana.", ["ghana"]));
  assert.ok(matchesAnswer("It happened on 14 December 1972.", ["14 December 1972 UTC", "December 1972"]));
  assert.equal(matchedAliases("It happened on 14 December 1972.", ["14 December 1972 UTC", "December 1972"]), ["December 1972"]);
  assert.ok(matchesAnswer("THE BEATLES were a band", ["The Beatles"]));
  assert.ok(matchesAnswer("the philippines", ["philippines", "the philippines"]));
  assert.not.ok(matchesAnswer("someone else", ["one"]), "not inside a word");
  assert.not.ok(matchesAnswer("Ghanaian cedi", ["ghana"]));
  assert.not.ok(matchesAnswer("the the the", ["The"]), "an alias that normalises to nothing never matches");
  assert.not.ok(matchesAnswer("Withnail & I", ["withnail and i"]), "& is removed, not spelt out (as SQuAD)");
  assert.not.ok(matchesAnswer("", ["x"]));
});

test("ROUGE-L: hand-computed examples", () => {
  // rouge-score's README example: LCS "the quick brown jumps the" = 5 of 8 candidate and 9 reference tokens.
  const quick = rougeL("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog");
  close(quick.precision, 5 / 8);
  close(quick.recall, 5 / 9);
  close(quick.f1, 50 / 85);
  // Lin (2004): S1 "police killed the gunman"; S2 "police kill the gunman" has LCS 3, S3 "the gunman kill police" 2.
  close(rougeL("police kill the gunman", "police killed the gunman").f1, 0.75);
  close(rougeL("the gunman kill police", "police killed the gunman").f1, 0.5);
  // Different lengths: LCS "a b d" = 3; P = 3/4, R = 3/6, F = 2 * 3/4 * 1/2 / (5/4) = 0.6.
  const uneven = rougeL("a b c d", "a x b y d z");
  close(uneven.precision, 0.75);
  close(uneven.recall, 0.5);
  close(uneven.f1, 0.6);
  // Tokens: PTB-tokenised references match plain text; case and punctuation do not matter.
  assert.equal(rougeTokens("Kilmarnock 's boss , Locke ."), ["kilmarnock", "s", "boss", "locke"]);
  close(rougeL("Kilmarnock's boss, Locke.", "Kilmarnock 's boss , Locke .").f1, 1);
  assert.is(rougeL("completely different", "nothing shared here").f1, 0);
  assert.equal(rougeL("", ""), { precision: 1, recall: 1, f1: 1 });
  assert.is(rougeL("", "x").f1, 0);
  assert.is(rougeL("...", "x").f1, 0);
  // The classic LCS example (CLRS): ABCBDAB vs BDCABA -> 4.
  assert.is(lcsLength([..."ABCBDAB"], [..."BDCABA"]), 4);
  assert.is(lcsLength([], ["a"]), 0);
});

test("standard error of a 0/1 sample", () => {
  close(standardError([1, 0, 1, 0]), Math.sqrt(1 / 3 / 4));
  assert.ok(Number.isNaN(standardError([1])));
});

test("data: FreebaseQA, NQ, CNN/DM (FRANK and LLM-KICK fields), MT-Bench; bad lines name the file and line", () => {
  const fb = parseQa("freebaseqa", '{"row": 0, "question": "\\"\\"Hud\\"\\"?", "question_unquoted": "\\"Hud\\"?", "answers": ["x", "the x"]}\n\n{"row": 2, "question": "q2", "answers": ["y"]}\n', "fb.jsonl");
  assert.equal(fb, [{ index: 0, id: "row0", question: '"Hud"?', answers: ["x", "the x"] }, { index: 1, id: "row2", question: "q2", answers: ["y"] }]);
  const nq = parseQa("nq", '{"question": "who", "answer": ["a", "b"]}\n', "nq.jsonl");
  assert.equal(nq, [{ index: 0, id: "line1", question: "who", answers: ["a", "b"] }]);
  const frank = parseSummaries('{"id": "dm-test-1", "article": "Text.", "bart_reference": "Ref ."}\n{"hash": "h", "article": "A.", "highlights": ["One.", "Two."]}\n', "c.jsonl");
  assert.equal(frank.map((r) => [r.id, r.reference]), [["dm-test-1", "Ref ."], ["h", "One. Two."]]);
  const mt = parseConversations('{"question_id": 81, "category": "writing", "turns": ["t1", "t2"]}\n', "q.jsonl");
  assert.equal(mt, [{ index: 0, id: "81", category: "writing", turns: ["t1", "t2"] }]);
  assert.equal(selectRows([1, 2, 3, 4], 1, 2), [2, 3]);
  assert.equal(selectRows([1, 2, 3], 0), [1, 2, 3]);
  for (const [text, field] of [["{oops", "line 1"], ['{"question": "q"}', "line 1: answer"], ['\n{"question": "q", "answer": []}', "line 2: answer"]] as const) {
    try {
      parseQa("nq", text, "bad.jsonl");
      assert.unreachable(`accepted ${text}`);
    } catch (e) {
      assert.ok(e instanceof InputError, String(e));
      assert.ok((e as InputError).message.includes("bad.jsonl") && (e as InputError).message.includes(field), (e as InputError).message);
    }
  }
});

test("article truncation: whole if it fits, else cut back to a sentence end (or a word) within the budget", () => {
  // A whitespace tokenizer: one token per word.
  const words = { encode: (t: string) => t.split(/\s+/).filter((w) => w !== "").map((_, i) => i), decode: (ids: readonly number[]) => article.split(/\s+/).slice(0, ids.length).join(" ") };
  let article = "One two. Three four five. Six seven eight nine.";
  assert.equal(truncateArticle(article, 9, words), { text: article, tokens: 9, originalTokens: 9, truncated: false });
  assert.equal(truncateArticle(article, 7, words), { text: "One two. Three four five.", tokens: 5, originalTokens: 9, truncated: true });
  assert.is(truncateArticle(article, 5, words).text, "One two. Three four five.", "a head ending at a sentence end is kept whole");
  // The last sentence end would keep less than half: cut at the last whitespace instead (drops a maybe split word).
  assert.is(truncateArticle(article, 4, words).text, "One two. Three");
  article = 'He said "go." Then they left the building quietly';
  assert.is(truncateArticle(article, 6, words).text, 'He said "go." Then they', "fewer than half kept by the sentence cut");
  assert.is(truncateArticle(article, 4, words).text, 'He said "go."', "closing quotes stay with their sentence");
});

const stats = (over: Partial<RowStats> = {}): RowStats => ({
  promptTokens: 50, cachedPromptTokens: 40, generatedTokens: 10, decodeSteps: 10, warmupSteps: 6, skipped: 0, prefillMs: 100, decodeMs: 200, ...over,
});
const qa = (config: string, row: number, text: string, correct: boolean, s: Partial<RowStats> = {}): RowRecord => ({
  task: "nq", row, id: `line${row + 1}`, config, outputs: [text], finishReasons: ["eos"], stats: stats(s), correct, matched: [],
});

test("QA metrics: accuracy, agreement with the full model, gained/lost, both skip ratios, decode tok/s", () => {
  const full = [qa("full", 0, "a", true), qa("full", 1, "b", false), qa("full", 2, "c", true), qa("full", 3, "d", false)];
  const skip = [qa("x", 0, "a", true, { skipped: 12 }), qa("x", 1, "B", true, { skipped: 12, decodeMs: 100 }), qa("x", 2, "cc", false, { skipped: 12, decodeMs: 100 }), qa("x", 3, "d", false, { skipped: 12, decodeMs: 400 })];
  const s = summarizeGeneration("nq", skip, full, 30);
  assert.is(s.n, 4);
  assert.is(s.metrics.accuracy, 0.5);
  assert.is(s.metrics.accuracyFull, 0.5);
  assert.is(s.metrics.agreement, 0.5, "rows 0 and 3 are identical");
  assert.is(s.metrics.gained, 1);
  assert.is(s.metrics.lost, 1);
  // 48 skipped of 30 layers x 40 decode steps, 24 of them in the warm-up.
  close(s.skip.ratio, 48 / (30 * 40));
  close(s.skip.ratioAfterWarmup, 48 / (30 * 16));
  assert.is(s.skip.warmupTokens, 24);
  assert.is(s.decodeTokensPerSecond, 50, "40 steps in 800 ms");
  assert.is(s.metrics.decodeSpeedup, 1, "the full rows also took 800 ms for 40 steps");
  assert.is(summarizeGeneration("nq", skip.map((r) => ({ ...r, stats: { ...r.stats, decodeMs: 100 } })), full, 30).metrics.decodeSpeedup, 2);
  assert.is(s.prefillTokensPerSecond, 100, "40 uncached prompt tokens in 400 ms");
  assert.is(s.meanGeneratedTokens, 10);
  const alone = summarizeGeneration("nq", full, undefined, 30);
  assert.equal(Object.keys(alone.metrics).sort(), ["accuracy", "accuracyStderr", "longestRunMax", "longestRunMean", "repeated3gramFraction"]);
  assert.throws(() => summarizeGeneration("nq", skip, full.slice(0, 2), 30), (e: unknown) => e instanceof InputError && e.message.includes("missing rows 2, 3"));
  assert.equal(skipStats(30, 0, 0, 0), { tokens: 0, warmupTokens: 0, skipped: 0, ratio: 0, ratioAfterWarmup: 0 });
});

test("summary and conversation metrics: ROUGE-L against the reference and against the full model, per turn", () => {
  const rec = (config: string, outputs: string[], extra: Partial<RowRecord> = {}): RowRecord => ({ task: "cnndm", row: 0, id: "a", config, outputs, finishReasons: outputs.map(() => "length"), stats: stats(), ...extra });
  const cn = summarizeGeneration("cnndm", [rec("x", ["police kill the gunman"], { rougeLReference: 0.25, articleTokens: 900, truncated: true })], [rec("full", ["police killed the gunman"], { rougeLReference: 0.5, articleTokens: 900, truncated: true })], 30);
  assert.is(cn.metrics.rougeL, 0.25);
  assert.is(cn.metrics.rougeLFullReference, 0.5);
  assert.is(cn.metrics.rougeLVsFull, 0.75);
  assert.is(cn.metrics.identicalToFull, 0);
  assert.is(cn.metrics.truncatedArticles, 1);
  const mt = (config: string, outputs: string[]): RowRecord => ({ ...rec(config, outputs), task: "mtbench" });
  const m = summarizeGeneration("mtbench", [mt("x", ["police kill the gunman", "same"])], [mt("full", ["police killed the gunman", "same"])], 30);
  assert.is(m.metrics.rougeLVsFullTurn1, 0.75);
  assert.is(m.metrics.rougeLVsFullTurn2, 1);
  assert.is(m.metrics.rougeLVsFull, 0.875);
  assert.is(m.metrics.turns, 2);
  assert.is(m.meanGeneratedTokens, 5, "10 tokens per row over 2 turns");
});

test("repetition: repeated 3-grams and the longest run of one word, on hand-made strings", () => {
  assert.equal(repetition([]), { ngrams: 0, repeated: 0, longestRun: 0 });
  assert.equal(repetition(["a", "b"]), { ngrams: 0, repeated: 0, longestRun: 1 });
  assert.equal(repetition(["a", "b", "c", "d"]), { ngrams: 2, repeated: 0, longestRun: 1 });
  // a b a b a b: 3-grams aba bab aba bab -> the last two repeat earlier ones.
  assert.equal(repetition("a b a b a b".split(" ")), { ngrams: 4, repeated: 2, longestRun: 1 });
  // the the the the: 3-grams "the the the" twice -> one repeat; a run of 4.
  assert.equal(repetition("the the the the".split(" ")), { ngrams: 2, repeated: 1, longestRun: 4 });
  assert.equal(repetition("x y x y".split(" "), 2), { ngrams: 3, repeated: 1, longestRun: 1 });
  // n-grams are compared as sequences, not as joined text: "a b" + "c" is not "a" + "b c".
  assert.equal(repetition(["a b", "c", "x", "a", "b c", "x"], 3).repeated, 0);
  const issue = "The answer to this question lies in the the the sky and indeed the blue";
  assert.equal(repetition(rougeTokens(issue)).longestRun, 3);
  // Pooled over outputs: 1 repeated of 2 + 0 of 4 3-grams; runs 4 and 2 ("Sugar sugar" after lower-casing).
  const d = degeneration(["the the the the", "glucose (sugar Sugar) is sweet food"]);
  assert.is(d.repeated3gramFraction, 1 / 6);
  assert.is(d.longestRunMax, 4);
  assert.is(d.longestRunMean, 3);
  assert.equal(degeneration([""]), { repeated3gramFraction: 0, longestRunMax: 0, longestRunMean: 0 });
});

test("configurations: ids, the warm-up override, profiles", () => {
  const profile = DEFAULT_PROFILES[0]!;
  const L = profile.model.layers;
  assert.is(resolveConfig("off", { layers: L, warmup: 3 }).id, "full");
  const on = resolveConfig("on", { profile, layers: L, warmup: 0, profileName: "p" });
  assert.is(on.id, "on-w0");
  assert.equal(on.policy, { kind: "paper", warmup: 0, coldStart: profile.coldStart, coldEnd: profile.coldEnd, threshold: profile.threshold, k: profile.k });
  assert.is(resolveConfig("random:0.25:7", { profile, layers: L }).id, `random-0.25-s7-w${profile.warmup}`);
  const fixed = resolveConfig("fixed:0.25", { profile, layers: L, id: "fixed-0.25-w6", target: 0.25 });
  assert.is(fixed.policy.kind === "fixed" && fixed.policy.layers.length, 8);
  assert.is(fixed.target, 0.25);
  assert.is(resolveConfig(profile, { layers: L, warmup: 2 }).id, "profile-w2");
  assert.is(configId("on", { kind: "off" }), "full");
  assert.throws(() => resolveConfig("bogus", { profile, layers: L }), (e: unknown) => e instanceof InputError);
});

test("the commit from .git without git: ref file, packed-refs, detached HEAD, worktree pointer, none", () => {
  const sha = "0123456789abcdef0123456789abcdef01234567";
  const other = "fedcba9876543210fedcba9876543210fedcba98";
  const repo = mkdtempSync(join(tmpdir(), "ffnskip-git-"));
  mkdirSync(join(repo, ".git", "refs", "heads"), { recursive: true });
  writeFileSync(join(repo, ".git", "HEAD"), "ref: refs/heads/main\n");
  writeFileSync(join(repo, ".git", "refs", "heads", "main"), `${sha}\n`);
  mkdirSync(join(repo, "src", "deep"), { recursive: true });
  assert.is(gitCommit(join(repo, "src", "deep")), sha, "found walking up");
  writeFileSync(join(repo, ".git", "HEAD"), "ref: refs/heads/packed\n");
  writeFileSync(join(repo, ".git", "packed-refs"), `# pack-refs with: peeled fully-peeled sorted\n${other} refs/heads/packed\n`);
  assert.is(gitCommit(repo), other);
  writeFileSync(join(repo, ".git", "HEAD"), `${sha}\n`);
  assert.is(gitCommit(repo), sha, "detached");
  writeFileSync(join(repo, ".git", "HEAD"), "ref: refs/heads/none\n");
  assert.is(gitCommit(repo), "unknown", "a ref that does not exist");
  const worktree = mkdtempSync(join(tmpdir(), "ffnskip-wt-"));
  writeFileSync(join(repo, ".git", "HEAD"), "ref: refs/heads/main\n");
  writeFileSync(join(worktree, ".git"), `gitdir: ${join(repo, ".git")}\n`);
  assert.is(gitCommit(worktree), sha);
  const bare = mkdtempSync(join(tmpdir(), "ffnskip-nogit-"));
  assert.is(gitCommit(bare), "unknown");
});

test("row files: appended as computed, a line cut by a kill is dropped on reload, other tasks' rows ignored", () => {
  const dir = mkdtempSync(join(tmpdir(), "ffnskip-rows-"));
  const path = (config: string) => join(dir, `nq--${config}.jsonl`);
  const store = new JsonlRowStore(path, { task: "nq" });
  assert.is(store.get("full", 0), undefined);
  store.put(qa("full", 0, "a", true));
  store.put(qa("full", 1, "b", false));
  const text = readFileSync(path("full"), "utf8");
  writeFileSync(path("full"), `${text}${JSON.stringify({ ...qa("full", 9, "x", true), task: "cnndm" })}\n{"task":"nq","row":2,"con`);
  const again = new JsonlRowStore(path, { task: "nq" });
  assert.equal(again.all("full").map((r) => r.row), [0, 1]);
  assert.is(again.get("full", 1)?.outputs[0], "b");
  assert.ok(readFileSync(path("full"), "utf8").endsWith("\n"), "the partial line is cut off");
  again.put(qa("full", 2, "c", true));
  assert.equal(new JsonlRowStore(path, { task: "nq" }).all("full").map((r) => r.row), [0, 1, 2]);
  assert.equal(new JsonlRowStore(path, { task: "nq", fresh: true }).all("full"), []);
});

test.run();
