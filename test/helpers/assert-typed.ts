// Asserts that a call throws one of our typed errors, of the given class, with a message matching a pattern.
import * as assert from "uvu/assert";
import type { FfnskipError } from "../../src/errors.js";

export function throwsTyped(fn: () => unknown, type: new (...args: never[]) => FfnskipError, pattern: RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, type, `expected ${type.name}, got ${String(error)}`);
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${type.name} matching ${pattern}`);
}
