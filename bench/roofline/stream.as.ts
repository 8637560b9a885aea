// AssemblyScript (not TypeScript): the roofline probe's read-bandwidth kernel. Built by `ffnskip bench roofline`
// (src/cli/bench.ts) with asc into bench/build/stream.wasm: SIMD + threads, importing a shared memory, so several
// worker threads can each stream their own slice of one buffer.
//
// sum_v128(ptr, bytes, passes): reads [ptr, ptr + bytes) `passes` times with v128 loads, eight loads (128 bytes)
// per iteration into four independent accumulators, and returns a checksum so the loads cannot be dropped. This is
// what a weight-streaming decode kernel does at best: sequential 16-byte loads, no stores, minimal arithmetic.
// bytes must be a multiple of 128.

export function sum_v128(ptr: usize, bytes: usize, passes: i32): i32 {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  const end = ptr + bytes;
  for (let pass = 0; pass < passes; pass++) {
    for (let p = ptr; p < end; p += 128) {
      a0 = i32x4.add(a0, i32x4.add(v128.load(p), v128.load(p, 16)));
      a1 = i32x4.add(a1, i32x4.add(v128.load(p, 32), v128.load(p, 48)));
      a2 = i32x4.add(a2, i32x4.add(v128.load(p, 64), v128.load(p, 80)));
      a3 = i32x4.add(a3, i32x4.add(v128.load(p, 96), v128.load(p, 112)));
    }
  }
  const s = i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3));
  return i32x4.extract_lane(s, 0) ^ i32x4.extract_lane(s, 1) ^ i32x4.extract_lane(s, 2) ^ i32x4.extract_lane(s, 3);
}

// fill(ptr, bytes, seed): writes a non-zero pattern, so every page is backed by its own memory (untouched pages
// all map the kernel's one zero page, which reads from cache at absurd speed).
export function fill(ptr: usize, bytes: usize, seed: i32): void {
  const v = i32x4(seed, seed ^ 0x5bd1e995, seed + 0x1234567, ~seed);
  const end = ptr + bytes;
  for (let p = ptr; p < end; p += 16) v128.store(p, i32x4.add(v, i32x4.splat(<i32>p)));
}
