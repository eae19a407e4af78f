// Batched matrix multiply with optional transposes (free: they only change the operand strides),
// bias and activation, for TF.js' BatchMatMul and _FusedMatMul.
#include "gemm.h"
#include "napi_args.h"

namespace bdlab {
namespace {

// matmul(memory, a, b, c, batchA, batchB, M, N, K, transposeA, transposeB, bias | -1, activation)
// a is [batchA, M, K] (or [batchA, K, M] transposed), b is [batchB, K, N] (or [batchB, N, K]), c is
// [max(batchA, batchB), M, N]; a batch of 1 broadcasts.
void matmul(Args& a) {
  a.memory(0);
  const int64_t batchA = a.integer(4), batchB = a.integer(5), M = a.integer(6), N = a.integer(7), K = a.integer(8);
  const bool transposeA = a.integer(9) != 0, transposeB = a.integer(10) != 0;
  const int64_t activation = a.integer(12);
  if (batchA <= 0 || batchB <= 0 || M < 0 || N < 0 || K < 0) throw std::invalid_argument("matmul sizes must be positive");
  if (batchA != batchB && batchA != 1 && batchB != 1) throw std::invalid_argument("matmul batch sizes must match or be 1");
  const int64_t batch = std::max(batchA, batchB);
  const float* pa = a.floats(1, batchA * M * K);
  const float* pb = a.floats(2, batchB * K * N);
  float* pc = a.floats(3, batch * M * N);
  Epilogue epilogue;
  epilogue.bias = a.optionalFloats(11, N);
  epilogue.activation = activation;
  if (activation < Epilogue::kLinear || activation > Epilogue::kRelu6) throw std::invalid_argument("unknown activation");
  for (int64_t i = 0; i < batch; ++i) {
    const float* ai = pa + (batchA == 1 ? 0 : i) * M * K;
    const float* bi = pb + (batchB == 1 ? 0 : i) * K * N;
    float* ci = pc + i * M * N;
    const StridedOperand A = transposeA ? StridedOperand(ai, 1, M) : StridedOperand(ai, K, 1);
    const StridedOperand B = transposeB ? StridedOperand(bi, K, 1) : StridedOperand(bi, 1, N);
    gemm(M, N, K, A, B, ci, N, 1, false, epilogue);
  }
}

}  // namespace

void registerMatMulKernels(napi_env env, napi_value exports) { exportKernel(env, exports, "matmul", matmul); }

}  // namespace bdlab
