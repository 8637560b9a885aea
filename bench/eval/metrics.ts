// Text metrics of the evaluation harness: SQuAD-style answer normalisation and alias matching (factoid QA), and
// ROUGE-L (summaries, conversations). Portable, no dependencies.
//
// Answer normalisation follows the SQuAD v1.1 evaluation script (lower-case, remove punctuation, remove the
// articles a/an/the, collapse whitespace), with two Unicode extensions: the text is NFKC-normalised first, and
// "punctuation" is every Unicode punctuation or symbol character (\p{P}, \p{S}: SQuAD's string.punctuation is the
// ASCII subset). Like SQuAD, punctuation is removed, not replaced by a space ("U.S." -> "us", "don't" -> "dont").
//
// A QA output is correct when the normalised form of one of the answer aliases appears in the normalised output as
// a run of whole words ("ghana" in "the answer is ghana", not "one" in "someone"). Aliases that normalise to nothing
// never match.
//
// ROUGE-L here is the sentence-level ROUGE-L of Lin (2004) on the whole text, as rouge-score's "rougeL" computes
// it without stemming: tokens are the runs of letters and digits of the lower-cased text (every other character
// separates tokens, so "Kilmarnock's" and the PTB-tokenised "Kilmarnock 's" both give "kilmarnock s"), LCS is the
// longest common subsequence of the two token lists, precision = LCS / candidate tokens, recall = LCS / reference
// tokens, F1 their harmonic mean. Deviation from rouge-score: two empty texts score 1 (they are identical; rouge-score
// says 0); one empty text scores 0.

const ARTICLES: ReadonlySet<string> = new Set(["a", "an", "the"]);

/** SQuAD-style normalisation of an answer or a model output (see the header). */
export function normalizeAnswer(text: string): string {
  const lowered = text.normalize("NFKC").toLowerCase();
  const noPunctuation = lowered.replace(/[\p{P}\p{S}]/gu, "");
  return noPunctuation.split(/\s+/u).filter((word) => word !== "" && !ARTICLES.has(word)).join(" ");
}

/** The aliases (if any) whose normalised form appears in the normalised output as whole words. */
export function matchedAliases(output: string, aliases: readonly string[]): string[] {
  const haystack = ` ${normalizeAnswer(output)} `;
  return aliases.filter((alias) => {
    const needle = normalizeAnswer(alias);
    return needle !== "" && haystack.includes(` ${needle} `);
  });
}

/** True when one of the answer aliases appears in the output (normalised, whole words). */
export function matchesAnswer(output: string, aliases: readonly string[]): boolean {
  return matchedAliases(output, aliases).length > 0;
}

/** ROUGE tokens: lower-cased runs of letters and digits. */
export function rougeTokens(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((token) => token !== "");
}

/** Length of the longest common subsequence of two token lists (O(n m) time, O(m) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let previous = new Int32Array(b.length + 1);
  let current = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const token = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      current[j] = token === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

export interface RougeScore {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** Sentence-level ROUGE-L of `candidate` against `reference` (see the header). */
export function rougeL(candidate: string, reference: string): RougeScore {
  const c = rougeTokens(candidate);
  const r = rougeTokens(reference);
  if (c.length === 0 && r.length === 0) return { precision: 1, recall: 1, f1: 1 };
  if (c.length === 0 || r.length === 0) return { precision: 0, recall: 0, f1: 0 };
  const lcs = lcsLength(c, r);
  const precision = lcs / c.length;
  const recall = lcs / r.length;
  return { precision, recall, f1: lcs === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}

export interface Repetition {
  /** n-grams of the sequence (max(0, length - n + 1)) and how many of them occurred earlier in it. */
  readonly ngrams: number;
  readonly repeated: number;
  /** The most consecutive equal items. */
  readonly longestRun: number;
}

/** Repeated n-grams and the longest run of one item in a sequence (see the header). */
export function repetition(items: readonly string[], n = 3): Repetition {
  const seen = new Set<string>();
  let repeated = 0;
  const ngrams = Math.max(0, items.length - n + 1);
  for (let i = 0; i < ngrams; i++) {
    const key = items.slice(i, i + n).join("\u0000");
    if (seen.has(key)) repeated++;
    else seen.add(key);
  }
  let longestRun = items.length === 0 ? 0 : 1;
  for (let i = 1, run = 1; i < items.length; i++) {
    run = items[i] === items[i - 1] ? run + 1 : 1;
    if (run > longestRun) longestRun = run;
  }
  return { ngrams, repeated, longestRun };
}

/** Repetition of the words (ROUGE tokens) of generated texts, pooled: the run's degeneration metrics. */
export function degeneration(texts: readonly string[]): { repeated3gramFraction: number; longestRunMax: number; longestRunMean: number } {
  const each = texts.map((t) => repetition(rougeTokens(t), 3));
  const ngrams = each.reduce((a, r) => a + r.ngrams, 0);
  return {
    repeated3gramFraction: ngrams === 0 ? 0 : each.reduce((a, r) => a + r.repeated, 0) / ngrams,
    longestRunMax: each.reduce((a, r) => Math.max(a, r.longestRun), 0),
    longestRunMean: mean(each.map((r) => r.longestRun)),
  };
}

/** Mean of a list (NaN when empty). */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Standard error of the mean of a 0/1 (or any) sample: sd / sqrt(n), with the n - 1 sample variance. */
export function standardError(values: readonly number[]): number {
  if (values.length < 2) return NaN;
  const m = mean(values);
  const variance = values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance / values.length);
}
