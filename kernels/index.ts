// The kernel module: every export here is callable from src/runtime/kernels.ts. Kernels take byte addresses
// into the one linear memory the host owns (imported), allocate nothing and keep no state between calls.

export { matvec_f32, matvec_f16, matvec_bf16, matvec_q8_0, matvec_q4_0, matvec_q4_1 } from "./matvec";
export { dequant_row_f32, dequant_row_f16, dequant_row_bf16, dequant_row_q8_0, dequant_row_q4_0, dequant_row_q4_1 } from "./matvec";
export { matmul_f32, matmul_f16, matmul_bf16, matmul_q8_0, matmul_q4_0, matmul_q4_1 } from "./matmul";
export { quantize_q16, matmul_q4_1x4, matmul_q4_0x4, matmul_q8_0x4, dequant_row_q4_1x4, dequant_row_q4_0x4, dequant_row_q8_0x4, kernel_selftest } from "./qmatmul";
export { rmsnorm } from "./norm";
export { rope } from "./rope";
export { softmax, attention, attention_f16kv, store_f16 } from "./attention";
export { add, swiglu, residual_add_cosine } from "./elementwise";

/** First byte the host may use: everything below belongs to the module's own static data. */
export function heap_base(): usize {
  return __heap_base;
}
