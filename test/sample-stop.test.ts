import { test } from "uvu";
import * as assert from "uvu/assert";
import { InputError } from "../src/errors.js";
import { SeededRandom } from "../src/sample/random.js";
import { createStopMatcher, MAX_STOP_STRINGS } from "../src/sample/stop.js";

interface StreamResult {
  /** Every emit concatenated, plus flush() when not stopped. */
  text: string;
  stopped: boolean;
  emits: string[];
}

function stream(stopStrings: string[], chunks: string[]): StreamResult {
  const matcher = createStopMatcher(stopStrings);
  const emits: string[] = [];
  let stopped = false;
  for (const chunk of chunks) {
    const result = matcher.push(chunk);
    emits.push(result.emit);
    if (result.stopped) {
      stopped = true;
      break;
    }
  }
  let text = emits.join("");
  if (!stopped) text += matcher.flush();
  return { text, stopped, emits };
}

/**
 * Independent definition: scan end offsets left to right; the first offset where some stop string ends wins, the
 * longest such stop string if several end there; output is everything before it.
 */
function referenceStop(stopStrings: string[], text: string): { text: string; stopped: boolean } {
  for (let end = 1; end <= text.length; end++) {
    let longest = 0;
    for (const stop of stopStrings) {
      if (stop.length <= end && stop.length > longest && text.slice(end - stop.length, end) === stop) longest = stop.length;
    }
    if (longest > 0) return { text: text.slice(0, end - longest), stopped: true };
  }
  return { text, stopped: false };
}

test("no stop strings: everything is emitted immediately", () => {
  const matcher = createStopMatcher([]);
  assert.equal(matcher.push("hello "), { emit: "hello ", stopped: false });
  assert.equal(matcher.push("world"), { emit: "world", stopped: false });
  assert.is(matcher.flush(), "");
});

test("text that cannot start a stop string is emitted at once", () => {
  const matcher = createStopMatcher(["<end>"]);
  assert.equal(matcher.push("Hello, world"), { emit: "Hello, world", stopped: false });
  assert.is(matcher.flush(), "");
});

test("a stop string split across two pushes: the prefix is held, then dropped on the match", () => {
  const matcher = createStopMatcher(["<end>"]);
  assert.equal(matcher.push("Hello<e"), { emit: "Hello", stopped: false });
  assert.equal(matcher.push("nd> and more"), { emit: "", stopped: true });
});

test("a stop string arriving one character at a time", () => {
  const matcher = createStopMatcher(["STOP"]);
  assert.equal(matcher.push("abS"), { emit: "ab", stopped: false });
  assert.equal(matcher.push("T"), { emit: "", stopped: false });
  assert.equal(matcher.push("O"), { emit: "", stopped: false });
  assert.equal(matcher.push("P!"), { emit: "", stopped: true });
});

test("text before the stop string inside the same chunk is emitted", () => {
  const matcher = createStopMatcher(["\n\nUser:"]);
  assert.equal(matcher.push("The answer is 4."), { emit: "The answer is 4.", stopped: false });
  assert.equal(matcher.push("\n\nUser: next"), { emit: "", stopped: true });
  const another = createStopMatcher(["\n\nUser:"]);
  assert.equal(another.push("The answer is 4.\n\nUser: next"), { emit: "The answer is 4.", stopped: true });
});

test("a false start is released once it can no longer match", () => {
  const matcher = createStopMatcher(["<end>"]);
  assert.equal(matcher.push("a <e"), { emit: "a ", stopped: false });
  assert.equal(matcher.push("x"), { emit: "<ex", stopped: false });
  // A held prefix that is still live after the next chunk stays held: "<en" then "<" -> "<en<" keeps only "<".
  assert.equal(matcher.push("<en"), { emit: "", stopped: false });
  assert.equal(matcher.push("<"), { emit: "<en", stopped: false });
  assert.is(matcher.flush(), "<");
});

test("overlapping self-prefix: 'aab' in 'aaab' fed one character at a time", () => {
  const matcher = createStopMatcher(["aab"]);
  assert.equal(matcher.push("a"), { emit: "", stopped: false });
  assert.equal(matcher.push("a"), { emit: "", stopped: false });
  // "aaa": the longest suffix that starts "aab" is "aa", so one "a" is released.
  assert.equal(matcher.push("a"), { emit: "a", stopped: false });
  assert.equal(matcher.push("b"), { emit: "", stopped: true });
});

test("several stop strings: the one that completes first wins, then the longest", () => {
  // "bc" ends at offset 4 in "xabcd", before "abcd" (offset 5) could complete.
  assert.equal(stream(["abcd", "bc"], ["xabcd"]), { text: "xa", stopped: true, emits: ["xa"] });
  assert.equal(stream(["abcd", "bc"], ["xab", "cd"]), { text: "xa", stopped: true, emits: ["x", "a"] });
  // "b" and "ab" both end at offset 3 in "xab": the longer one is removed.
  assert.equal(stream(["b", "ab"], ["xab"]), { text: "x", stopped: true, emits: ["x"] });
  assert.equal(stream(["b", "ab"], ["xa", "b"]), { text: "x", stopped: true, emits: ["x", ""] });
});

test("held text is emitted by flush when the stream ends without a match", () => {
  const matcher = createStopMatcher(["</s>", "<|im_end|>"]);
  assert.equal(matcher.push("done <|im"), { emit: "done ", stopped: false });
  assert.is(matcher.flush(), "<|im");
  assert.is(matcher.flush(), "");
});

test("after a stop, pushes emit nothing and flush returns nothing", () => {
  const matcher = createStopMatcher(["##"]);
  assert.equal(matcher.push("a##b"), { emit: "a", stopped: true });
  assert.equal(matcher.push("more"), { emit: "", stopped: true });
  assert.is(matcher.flush(), "");
});

test("unicode: stop strings with astral characters and CJK, split inside a surrogate pair", () => {
  const emoji = createStopMatcher(["😀"]);
  // "😀" is \uD83D\uDE00; a chunk ending in the high surrogate holds it back.
  assert.equal(emoji.push("hi \uD83D"), { emit: "hi ", stopped: false });
  assert.equal(emoji.push("\uDE00 there"), { emit: "", stopped: true });

  // A different emoji with the same high surrogate is released whole, never split.
  const other = createStopMatcher(["😀"]);
  assert.equal(other.push("a\uD83D"), { emit: "a", stopped: false });
  assert.equal(other.push("\uDE01b"), { emit: "😁b", stopped: false });

  assert.equal(stream(["終わり"], ["これで", "終", "わ", "り。"]), { text: "これで", stopped: true, emits: ["これで", "", "", ""] });
  assert.equal(stream(["é!"], ["caf", "é", "?é", "!x"]), { text: "café?", stopped: true, emits: ["caf", "", "é?", ""] });
});

test("any chunking gives the reference result; held text is always the longest live prefix", () => {
  const random = SeededRandom.fromSeed(2024);
  const pick = (limit: number): number => Math.floor(random.nextFloat() * limit);
  const alphabet = ["a", "b", "c", "😀", "é"];
  const stopSets = [["ab"], ["aab", "b"], ["abc", "bc", "c😀"], ["😀😀", "a😀é"], ["aaaa"], ["abab", "bab"], ["é", "éé"]];
  for (let trial = 0; trial < 400; trial++) {
    const stopStrings = stopSets[trial % stopSets.length]!;
    const text = Array.from({ length: 1 + pick(14) }, () => alphabet[pick(alphabet.length)]!).join("");
    const expected = referenceStop(stopStrings, text);

    // Split at random UTF-16 offsets (sometimes inside a surrogate pair), with empty chunks allowed.
    const cuts = Array.from({ length: pick(6) }, () => pick(text.length + 1)).sort((a, b) => a - b);
    const chunks: string[] = [];
    let previous = 0;
    for (const cut of [...cuts, text.length]) {
      chunks.push(text.slice(previous, cut));
      previous = cut;
    }

    const matcher = createStopMatcher(stopStrings);
    let pushed = "";
    let emitted = "";
    let stopped = false;
    for (const chunk of chunks) {
      const result = matcher.push(chunk);
      pushed += chunk;
      emitted += result.emit;
      assert.ok(expected.text.startsWith(emitted), `emitted ${JSON.stringify(emitted)} is not a prefix of ${JSON.stringify(expected.text)}`);
      if (result.stopped) {
        stopped = true;
        break;
      }
      const held = pushed.slice(emitted.length);
      assert.ok(pushed.startsWith(emitted));
      const isLivePrefix = (candidate: string): boolean => stopStrings.some((stop) => stop.length > candidate.length && stop.startsWith(candidate));
      if (held !== "") assert.ok(isLivePrefix(held), `held ${JSON.stringify(held)} cannot start a stop string`);
      for (let longer = held.length + 1; longer <= pushed.length; longer++) {
        assert.not.ok(isLivePrefix(pushed.slice(pushed.length - longer)), `a longer suffix than ${JSON.stringify(held)} was live`);
      }
    }
    if (!stopped) emitted += matcher.flush();
    assert.equal({ text: emitted, stopped }, expected, `${JSON.stringify(stopStrings)} over ${JSON.stringify(chunks)}`);
  }
});

test("rejects invalid stop strings with InputError", () => {
  const bad: unknown[] = [
    "stop",
    null,
    undefined,
    [""],
    ["ok", ""],
    ["ok", 5],
    [null],
    ["\uD83D"],
    ["a\uDE00b"],
    Array.from({ length: MAX_STOP_STRINGS + 1 }, (_, index) => `s${index}`),
  ];
  for (const stopStrings of bad) {
    assert.throws(() => createStopMatcher(stopStrings as string[]), (error: unknown) => error instanceof InputError, JSON.stringify(stopStrings));
  }
  createStopMatcher(Array.from({ length: MAX_STOP_STRINGS }, (_, index) => `s${index}`));
});

test("rejects a non-string chunk with InputError", () => {
  const matcher = createStopMatcher(["x"]);
  for (const chunk of [undefined, null, 5, ["a"]]) {
    assert.throws(() => matcher.push(chunk as unknown as string), (error: unknown) => error instanceof InputError, String(chunk));
  }
});

test("the caller's stop-string array is copied (later edits do not change the matcher)", () => {
  const stopStrings = ["end"];
  const matcher = createStopMatcher(stopStrings);
  stopStrings[0] = "zzz";
  assert.equal(matcher.push("the end"), { emit: "the ", stopped: true });
});

test.run();
