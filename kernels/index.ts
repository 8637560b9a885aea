// The kernel module: every export here is callable from src/runtime/kernels.ts. Kernels take byte addresses
// into the one linear memory the host owns (imported), allocate nothing and keep no state between calls.

export { matvec_f32, matvec_f16, matvec_bf16, matvec_q8_0, matvec_q4_0, matvec_q4_1, matvec_q5_0, matvec_q5_1 } from "./matvec";
export { dequant_row_f32, dequant_row_f16, dequant_row_bf16, dequant_row_q8_0, dequant_row_q4_0, dequant_row_q4_1, dequant_row_q5_0, dequant_row_q5_1 } from "./matvec";
export { matvec_q2_k, matvec_q3_k, matvec_q4_k, matvec_q5_k, matvec_q6_k } from "./kquant";
export { dequant_row_q2_k, dequant_row_q3_k, dequant_row_q4_k, dequant_row_q5_k, dequant_row_q6_k } from "./kquant";
export { matmul_f32, matmul_f16, matmul_bf16, matmul_q8_0, matmul_q4_0, matmul_q4_1 } from "./matmul";
export { matmul_q5_0, matmul_q5_1, matmul_q2_k, matmul_q3_k, matmul_q4_k, matmul_q5_k, matmul_q6_k } from "./matmul";
export { quantize_q16, matmul_q4_1x4, matmul_q4_0x4, matmul_q8_0x4, dequant_row_q4_1x4, dequant_row_q4_0x4, dequant_row_q8_0x4, kernel_selftest } from "./qmatmul";
export { matvec_q16_q5_0, matvec_q16_q4_k, matvec_q16_q6_k } from "./qmatvec";
export { rmsnorm, rmsnorm_heads } from "./norm";
export { rope } from "./rope";
export { softmax, attention, attention_f16kv, store_f16 } from "./attention";
export { add, scale, swiglu, geglu, residual_add_cosine } from "./elementwise";

/** First byte the host may use: everything below belongs to the module's own static data. */
export function heap_base(): usize {
  return __heap_base;
}
