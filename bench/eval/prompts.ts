// Prompts of the generation tasks and the article truncation rule. All prompts go through the model's chat
// template (for SmolLM2 that adds its default system prompt); decoding is greedy.
//
// The QA prompt was written before looking at any results and checked once on a few questions from the END of the
// dev files (FreebaseQA dev rows 1994-1999, NQ dev lines 1800-1805), which the sweep (first 300+ rows) never scores.
// Nothing else was tuned on evaluation data.

import type { ChatMessage } from "../../src/text/chat-template.js";

/** Factoid QA: one user turn, greedy, at most QA_MAX_TOKENS new tokens. */
export const QA_INSTRUCTION = "Answer the question with just the answer, in a few words.";
export const QA_MAX_TOKENS = 24;

export function qaMessages(question: string): ChatMessage[] {
  return [{ role: "user", content: `${QA_INSTRUCTION}\nQuestion: ${question}` }];
}

/** Summarisation: the (truncated) article after a one-line instruction, greedy, at most SUMMARY_MAX_TOKENS. */
export const SUMMARY_INSTRUCTION = "Summarize the following news article in three sentences.";
export const SUMMARY_MAX_TOKENS = 128;
/** Article tokens kept at most (see truncateArticle). */
export const ARTICLE_TOKENS = 1024;

export function summaryMessages(article: string): ChatMessage[] {
  return [{ role: "user", content: `${SUMMARY_INSTRUCTION}\n\n${article}` }];
}

/** MT-Bench: both turns, each answer greedy with at most CONVERSATION_MAX_TOKENS new tokens. */
export const CONVERSATION_MAX_TOKENS = 256;

/** The sentence ends a truncated article may be cut after: . ! ? (optionally closing quotes/brackets), then a space. */
const SENTENCE_END = /[.!?]["'\u201d\u2019)\]]*(?=\s|$)/g;

export interface Truncated {
  readonly text: string;
  /** Tokens of the text kept. */
  readonly tokens: number;
  /** Tokens of the whole article. */
  readonly originalTokens: number;
  readonly truncated: boolean;
}

/**
 * The article truncation rule. With `budget` = min(ARTICLE_TOKENS (or --article-tokens), maxContext - the prompt's
 * other tokens - the summary's max tokens):
 *   1. an article of at most `budget` tokens is kept whole;
 *   2. otherwise its first `budget` tokens are decoded back to text, and that text is cut after its last sentence
 *      end (". ", "! ", "? ", closing quotes allowed) when that keeps at least half of it, else at its last
 *      whitespace (dropping the word the token cut may have split); a cut that still re-encodes to more than `budget` tokens drops words from the end until it fits.
 * News articles put the essentials first (CNN/DM highlights mostly come from the lead), so the head is what counts.
 */
export function truncateArticle(article: string, budget: number, tokenizer: { encode(text: string): number[]; decode(ids: readonly number[]): string }): Truncated {
  const text = article.trim();
  const ids = tokenizer.encode(text);
  if (ids.length <= budget) return { text, tokens: ids.length, originalTokens: ids.length, truncated: false };
  const head = tokenizer.decode(ids.slice(0, Math.max(0, budget)));
  let cut = -1;
  for (const match of head.matchAll(SENTENCE_END)) cut = match.index! + match[0].length;
  if (cut < head.length / 2) {
    const space = head.search(/\s\S*$/);
    cut = space > 0 ? space : head.length;
  }
  let kept = head.slice(0, cut).trimEnd();
  let count = tokenizer.encode(kept).length;
  while (count > budget && kept.includes(" ")) {
    kept = kept.slice(0, kept.lastIndexOf(" ")).trimEnd();
    count = tokenizer.encode(kept).length;
  }
  return { text: kept, tokens: count, originalTokens: ids.length, truncated: true };
}
