// Allocation guard for fuzz workers: every typed array, ArrayBuffer and WebAssembly.Memory allocation (and
// memory.grow) larger than the case's limit is refused before any memory is taken and recorded as a violation,
// so "absurd allocation" is a failure the harness sees even when the code under test catches the exception.
// Installed only inside fuzz worker threads (it replaces globals of that thread).

export class AbsurdAllocation extends Error {}

interface GuardState {
  limit: number;
  violations: string[];
  largest: number;
}

export const guard: GuardState = { limit: Infinity, violations: [], largest: 0 };

function record(bytes: number, what: string): void {
  if (bytes > guard.largest) guard.largest = bytes;
  if (bytes > guard.limit) {
    const where = (new Error().stack ?? "").split("\n").slice(3, 7).map((line) => line.trim()).join(" < ");
    guard.violations.push(`${what} of ${bytes} bytes (limit ${guard.limit}) at ${where}`);
    throw new AbsurdAllocation(`fuzz guard: ${what} of ${bytes} bytes refused`);
  }
}

const TYPED_ARRAYS = [
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array",
  "Float64Array", "BigInt64Array", "BigUint64Array",
] as const;

let installed = false;

export function installAllocationGuard(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of TYPED_ARRAYS) {
    const original = g[name] as { new (...args: unknown[]): unknown; BYTES_PER_ELEMENT: number };
    g[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        if (typeof args[0] === "number") record(args[0] * target.BYTES_PER_ELEMENT, `new ${name}(${args[0]})`);
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  for (const name of ["ArrayBuffer", "SharedArrayBuffer"] as const) {
    const original = g[name] as new (...args: unknown[]) => unknown;
    g[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        if (typeof args[0] === "number") record(args[0], `new ${name}(${args[0]})`);
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  const wasm = WebAssembly as unknown as Record<string, unknown>;
  const Memory = WebAssembly.Memory;
  wasm["Memory"] = new Proxy(Memory, {
    construct(target, args, newTarget) {
      const descriptor = args[0] as WebAssembly.MemoryDescriptor;
      record(Number(descriptor?.initial ?? 0) * 65536, "new WebAssembly.Memory");
      return Reflect.construct(target, args, newTarget === wasm["Memory"] ? target : newTarget);
    },
  });
  const grow = Memory.prototype.grow;
  Memory.prototype.grow = function (this: WebAssembly.Memory, pages: number): number {
    record(this.buffer.byteLength + Number(pages) * 65536, "WebAssembly.Memory.grow");
    return grow.call(this, pages);
  };
}
