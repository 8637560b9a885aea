// Structured output cost on SmolLM2, one thread: decode tokens/s with and without a JSON-schema constraint (same
// prompt, greedy; wall time per generated token, so masking and sampling count), and milliseconds per mask step,
// cold (a state's first trie walk) and warm (the memoized mask applied), replaying the constrained run's tokens.
//
//   node --import tsx bench/json-schema.bench.ts [path/to/model.gguf]

import { readFileSync } from "node:fs";
import { loadModel, type ModelGenerateOptions } from "../src/index.js";
import { compileResponseFormat, JsonConstraint, type ResponseFormat, VocabularyTrie } from "../src/sample/json-schema.js";

const MODEL = process.argv[2] ?? new URL("../weights/SmolLM2-135M-Instruct.Q4_1.gguf", import.meta.url).pathname;
const PROMPT = "Describe three fictional people as JSON: name, age, city and hobbies for each.";
const REPEATS = 3;
const SCHEMA = {
  type: "object",
  properties: {
    people: {
      type: "array", minItems: 3, maxItems: 3,
      items: {
        type: "object",
        properties: { name: { type: "string", maxLength: 40 }, age: { type: "integer", minimum: 0, maximum: 120 }, city: { type: "string", maxLength: 40 }, hobbies: { type: "array", items: { type: "string", maxLength: 40 }, maxItems: 3 } },
        required: ["name", "age", "city", "hobbies"], additionalProperties: false,
      },
    },
  },
  required: ["people"], additionalProperties: false,
};
const FORMAT: ResponseFormat = { type: "json_schema", json_schema: { name: "people", schema: SCHEMA } };

const model = await loadModel({ gguf: new Uint8Array(readFileSync(MODEL)), name: MODEL.split("/").pop()! }, { maxContext: 1024, threads: 1 });

async function run(options: ModelGenerateOptions): Promise<{ msPerToken: number; tokens: readonly number[]; text: string; finishReason: string }> {
  const start = performance.now();
  const result = await model.generate(PROMPT, { chat: true, ...options }).result;
  const decodeWall = performance.now() - start - result.stats.prefillMs;
  return { msPerToken: decodeWall / result.tokens.length, tokens: result.tokens, text: result.text, finishReason: result.finishReason };
}

await run({ maxTokens: 8 }); // warm-up: kernels, the prompt's KV cache rows
const free: number[] = [];
const constrained: number[] = [];
let last: Awaited<ReturnType<typeof run>> | undefined;
for (let repeat = 0; repeat < REPEATS; repeat++) {
  last = await run({ maxTokens: 200, responseFormat: FORMAT });
  constrained.push(last.msPerToken);
  // The same number of tokens without the constraint (EOS off so it runs as long).
  free.push((await run({ maxTokens: last.tokens.length, stopOnEos: false })).msPerToken);
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

// Replay the constrained tokens through a fresh grammar (empty memo), then again on it (every mask memoized).
const trieStart = performance.now();
const trie = new VocabularyTrie(model.tokenizer.vocabularyBytes());
const trieMs = performance.now() - trieStart;
const constraint = new JsonConstraint(compileResponseFormat(FORMAT)!, trie, model.tokenizer.eosTokenIds);
const logits = new Float32Array(model.config.vocabSize);
const masked = new Float32Array(logits.length);
const stepMs: number[] = [];
for (const token of last!.tokens) {
  const start = performance.now();
  constraint.maskLogits(logits, masked);
  stepMs.push(performance.now() - start);
  constraint.accept(token);
}
const hits = new JsonConstraint(constraint.grammar, trie, model.tokenizer.eosTokenIds);
const hitMs: number[] = [];
for (const token of last!.tokens) {
  const start = performance.now();
  hits.maskLogits(logits, masked);
  hitMs.push(performance.now() - start);
  hits.accept(token);
}

const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;
console.log(`model ${MODEL.split("/").pop()}, 1 thread, vocabulary ${trie.vocabSize} tokens; ${last!.tokens.length} tokens generated, finish ${last!.finishReason}`);
console.log(`output: ${last!.text.replace(/\s+/g, " ")}`);
console.log(`free text:    ${median(free).toFixed(2)} ms/token (${(1000 / median(free)).toFixed(1)} tok/s), runs ${free.map((v) => v.toFixed(2)).join(", ")}`);
console.log(`json_schema:  ${median(constrained).toFixed(2)} ms/token (${(1000 / median(constrained)).toFixed(1)} tok/s), runs ${constrained.map((v) => v.toFixed(2)).join(", ")}`);
console.log(`vocabulary trie built in ${trieMs.toFixed(1)} ms (once per tokenizer)`);
console.log(`mask step, empty memo: mean ${mean(stepMs).toFixed(3)} ms, max ${Math.max(...stepMs).toFixed(2)} ms, ${constraint.walks} walks in ${constraint.walkMs.toFixed(1)} ms`);
console.log(`mask step, memo hits only (same grammar again): mean ${mean(hitMs).toFixed(3)} ms, max ${Math.max(...hitMs).toFixed(3)} ms`);
await model.close();
