// One bump allocator over the kernels' WebAssembly.Memory. The model plans all its buffers up front (weights,
// KV cache, activations), so memory grows once at load and never again; typed-array views are made on demand
// from the current buffer, so a grow never leaves a stale view behind.

import { ResourceError } from "../errors.js";
import type { Ptr } from "./kernels.js";

const PAGE = 65536;
/** wasm32 addresses at most 4 GiB (65536 pages). */
export const MAX_WASM_BYTES = 65536 * PAGE;
const ALIGN = 64;

export class Arena {
  private top: number;

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    this.top = alignUp(base, ALIGN);
  }

  /** Bytes handed out so far, including the module's reserved low memory. */
  get used(): number {
    return this.top;
  }

  /** Reserves `bytes` (64-byte aligned), growing memory when needed. `what` names the buffer in errors. */
  alloc(bytes: number, what: string): Ptr {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new ResourceError({ field: what, expected: "a non-negative byte count", actual: String(bytes) });
    }
    const ptr = this.top;
    const end = alignUp(ptr + bytes, ALIGN);
    this.ensure(end, what);
    this.top = end;
    return ptr;
  }

  /** Grows memory so addresses below `end` are valid. */
  ensure(end: number, what: string): void {
    if (end > MAX_WASM_BYTES) {
      throw new ResourceError({
        field: what, expected: `at most ${MAX_WASM_BYTES} bytes of WASM memory (wasm32 limit)`,
        actual: `${end} bytes needed`,
      });
    }
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (error) {
      throw new ResourceError({
        field: what, expected: `WASM memory to grow to ${have + pages * PAGE} bytes`,
        actual: error instanceof Error ? error.message : "memory.grow failed",
      });
    }
  }

  f32(ptr: Ptr, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  u8(ptr: Ptr, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** A fresh memory for the kernels; shared when threads will use it (then a maximum is required). */
export function createMemory(initialBytes: number, shared: boolean): WebAssembly.Memory {
  const initial = Math.max(1, Math.ceil(initialBytes / PAGE));
  if (initial > 65536) {
    throw new ResourceError({ field: "WASM memory", expected: `at most ${MAX_WASM_BYTES} bytes`, actual: `${initialBytes} bytes needed` });
  }
  try {
    return shared ? new WebAssembly.Memory({ initial, maximum: 65536, shared: true }) : new WebAssembly.Memory({ initial });
  } catch (error) {
    throw new ResourceError({
      field: "WASM memory", expected: `${initial * PAGE} bytes of WASM memory`,
      actual: error instanceof Error ? error.message : "allocation failed",
    });
  }
}
