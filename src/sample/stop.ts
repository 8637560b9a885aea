// Stop strings for streamed text. Text arrives in chunks (one decoded token at a time), and a stop string may be
// split across chunks, so the matcher holds back exactly the tail that could still grow into a stop string and emits
// everything before it.
//
// Which match wins: the one that completes first (smallest end offset); among those ending at the same offset, the
// longest. This is the only rule under which the result does not depend on how the text was chunked: streaming
// sees a match the moment its last character arrives, before any later-ending match could complete.

import { InputError, show } from "../errors.js";

export const MAX_STOP_STRINGS = 16;

export interface StopPushResult {
  /** Text that can be shown now: it is not, and can no longer become, part of a stop string. */
  readonly emit: string;
  /** A stop string was found; `emit` ends right before it and the stop string itself is dropped. */
  readonly stopped: boolean;
}

export interface StopMatcher {
  /** Feeds the next chunk. After a stop, further pushes emit nothing and report stopped again. */
  push(text: string): StopPushResult;
  /** End of the stream: returns the held-back text (it did not become a stop string); "" after a stop. */
  flush(): string;
}

const SOURCE = "stop strings";

function hasLoneSurrogate(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      index += 1;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return true;
    }
  }
  return false;
}

function validateStopStrings(stopStrings: readonly string[]): string[] {
  if (!Array.isArray(stopStrings)) {
    throw new InputError({ file: SOURCE, expected: `an array of at most ${MAX_STOP_STRINGS} non-empty strings`, actual: show(stopStrings) });
  }
  if (stopStrings.length > MAX_STOP_STRINGS) {
    throw new InputError({ file: SOURCE, expected: `at most ${MAX_STOP_STRINGS} stop strings`, actual: `${stopStrings.length}` });
  }
  stopStrings.forEach((stop: unknown, index) => {
    if (typeof stop !== "string" || stop === "") {
      throw new InputError({ file: SOURCE, field: `[${index}]`, expected: "a non-empty string", actual: show(stop) });
    }
    // A lone surrogate could match half of a character and split a pair in the emitted text.
    if (hasLoneSurrogate(stop)) {
      throw new InputError({ file: SOURCE, field: `[${index}]`, expected: "well-formed text (no lone UTF-16 surrogates)", actual: show(stop) });
    }
  });
  return [...stopStrings];
}

export function createStopMatcher(stopStrings: readonly string[]): StopMatcher {
  const stops = validateStopStrings(stopStrings);
  const longestStop = stops.reduce((longest, stop) => Math.max(longest, stop.length), 0);
  let held = "";
  let stopped = false;

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  const pendingLength = (text: string): number => {
    for (let length = Math.min(text.length, longestStop - 1); length > 0; length--) {
      const suffix = text.slice(text.length - length);
      if (stops.some((stop) => stop.length > length && stop.startsWith(suffix))) return length;
    }
    return 0;
  };

  return {
    push(text: string): StopPushResult {
      if (typeof text !== "string") {
        throw new InputError({ file: "stop matcher", field: "text", expected: "a string", actual: show(text) });
      }
      if (stopped) return { emit: "", stopped: true };
      const buffer = held + text;
      let matchStart = -1;
      let matchEnd = Infinity;
      for (const stop of stops) {
        const start = buffer.indexOf(stop);
        if (start < 0) continue;
        const end = start + stop.length;
        if (end < matchEnd || (end === matchEnd && start < matchStart)) {
          matchStart = start;
          matchEnd = end;
        }
      }
      if (matchStart >= 0) {
        stopped = true;
        held = "";
        return { emit: buffer.slice(0, matchStart), stopped: true };
      }
      const holdLength = pendingLength(buffer);
      held = buffer.slice(buffer.length - holdLength);
      return { emit: buffer.slice(0, buffer.length - holdLength), stopped: false };
    },

    flush(): string {
      const rest = held;
      held = "";
      return rest;
    },
  };
}
