// The evaluation data sets, parsed from their files' text (portable: the CLI reads the files). Each task takes the
// fields its SOURCE.md describes (/work/shared/data/<set>/SOURCE.md); rows keep their 0-based index in the file
// so that results can name them.
//
//   freebaseqa  JSONL: question_unquoted (else question), answers[]            (freebaseqa_eval/dev.jsonl)
//   nq          JSONL: question, answer[]                                      (nq_open_dev/dev.jsonl)
//   cnndm       JSONL: article + bart_reference (FRANK, PTB-tokenised), or article + highlights[] (LLM-KICK stories;
//               joined with spaces), or article + reference/summary            (cnndm_test_frank/dev.jsonl)
//   mtbench     JSONL: question_id, category, turns[]                          (mt_bench/question.jsonl)
//   wikitext    raw text (CRLF read as LF)                                     (wikitext2/wiki.test.raw.nonblank_crlf.txt)

import { InputError, show } from "../../src/errors.js";

export const TASKS = ["freebaseqa", "nq", "wikitext", "cnndm", "mtbench"] as const;
export type TaskName = (typeof TASKS)[number];
export type GenerationTask = Exclude<TaskName, "wikitext">;

export function isTaskName(value: string): value is TaskName {
  return (TASKS as readonly string[]).includes(value);
}

export interface QaRow {
  readonly index: number;
  readonly id: string;
  readonly question: string;
  readonly answers: readonly string[];
}

export interface SummaryRow {
  readonly index: number;
  readonly id: string;
  readonly article: string;
  readonly reference: string;
}

export interface ConversationRow {
  readonly index: number;
  readonly id: string;
  readonly category: string;
  readonly turns: readonly string[];
}

/** Parses JSON Lines; blank lines are skipped, a bad line is an InputError naming the file and line. */
export function parseJsonl(text: string, file: string): { line: number; value: Record<string, unknown> }[] {
  const rows: { line: number; value: Record<string, unknown> }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new InputError({ file, field: `line ${i + 1}`, expected: "one JSON object per line", actual: error instanceof Error ? error.message : String(error) });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InputError({ file, field: `line ${i + 1}`, expected: "a JSON object", actual: show(value) });
    rows.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  return rows;
}

function stringField(row: Record<string, unknown>, keys: readonly string[], file: string, line: number): string {
  for (const key of keys) if (typeof row[key] === "string") return row[key] as string;
  throw new InputError({ file, field: `line ${line}`, expected: `a string field ${keys.join(" or ")}`, actual: `keys ${Object.keys(row).slice(0, 8).join(", ")}` });
}

function stringList(row: Record<string, unknown>, key: string, file: string, line: number): string[] {
  const value = row[key];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string")) {
    throw new InputError({ file, field: `line ${line}: ${key}`, expected: "a non-empty list of strings", actual: show(value) });
  }
  return value as string[];
}

/** FreebaseQA (the question with CSV quoting undone, all answer aliases) or NQ-open (question, answer aliases). */
export function parseQa(task: "freebaseqa" | "nq", text: string, file: string): QaRow[] {
  return parseJsonl(text, file).map(({ line, value }, index) => {
    if (task === "freebaseqa") {
      const question = stringField(value, ["question_unquoted", "question"], file, line);
      const id = typeof value.row === "number" ? `row${value.row}` : `line${line}`;
      return { index, id, question, answers: stringList(value, "answers", file, line) };
    }
    return { index, id: `line${line}`, question: stringField(value, ["question"], file, line), answers: stringList(value, "answer", file, line) };
  });
}

/** CNN/DM articles and their reference summaries (field choice in the header). */
export function parseSummaries(text: string, file: string): SummaryRow[] {
  return parseJsonl(text, file).map(({ line, value }, index) => {
    const article = stringField(value, ["article"], file, line);
    let reference: string;
    if (Array.isArray(value.highlights)) reference = stringList(value, "highlights", file, line).join(" ");
    else reference = stringField(value, ["bart_reference", "reference", "summary"], file, line);
    const id = typeof value.id === "string" ? value.id : typeof value.hash === "string" ? value.hash : `line${line}`;
    return { index, id, article, reference };
  });
}

/** MT-Bench questions: two user turns each. */
export function parseConversations(text: string, file: string): ConversationRow[] {
  return parseJsonl(text, file).map(({ line, value }, index) => {
    const id = typeof value.question_id === "number" || typeof value.question_id === "string" ? String(value.question_id) : `line${line}`;
    const category = typeof value.category === "string" ? value.category : "";
    return { index, id, category, turns: stringList(value, "turns", file, line) };
  });
}

/** A plain text file as the model reads it (CRLF -> LF). */
export function parseText(text: string): string {
  return text.replace(/\r\n/g, "\n");
}

/** Rows offset..offset+limit-1 of a list (limit undefined = all). */
export function selectRows<T>(rows: readonly T[], offset = 0, limit?: number): T[] {
  return rows.slice(offset, limit === undefined ? undefined : offset + limit);
}
