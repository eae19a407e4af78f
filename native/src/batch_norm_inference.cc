// Batch normalization with fixed statistics (inference, and the moving-average path of any model in
// predict()): per channel, y = x * a + b with a = scale / sqrt(variance + epsilon) and
// b = offset - mean * a, folded once per call so the pass over x is one multiply-add per element.
#include <cmath>
#include <vector>

#include "napi_args.h"
#include "parallel.h"

namespace bdlab {
namespace {

// batchNormInference(memory, x, mean, variance, offset | -1, scale | -1, y, rows, channels, epsilon)
void batchNormInference(Args& a) {
  a.memory(0);
  const int64_t rows = a.integer(7), channels = a.integer(8);
  const double epsilon = a.number(9);
  if (rows < 0 || channels <= 0) throw std::invalid_argument("batch norm sizes must be positive");
  const float* x = a.floats(1, rows * channels);
  const float* mean = a.floats(2, channels);
  const float* variance = a.floats(3, channels);
  const float* offset = a.optionalFloats(4, channels);
  const float* scale = a.optionalFloats(5, channels);
  float* y = a.floats(6, rows * channels);
  std::vector<float> mul(static_cast<size_t>(channels)), add(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double m = (scale != nullptr ? scale[c] : 1.0) / std::sqrt(static_cast<double>(variance[c]) + epsilon);
    mul[c] = static_cast<float>(m);
    add[c] = static_cast<float>((offset != nullptr ? offset[c] : 0.0) - mean[c] * m);
  }
  const float* __restrict pm = mul.data();
  const float* __restrict pa = add.data();
  parallelFor(rows, grainFor(channels, kMinChunkFloats), [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict in = x + r * channels;
      float* __restrict out = y + r * channels;
      for (int64_t c = 0; c < channels; ++c) out[c] = in[c] * pm[c] + pa[c];
    }
  });
}

}  // namespace

void registerBatchNormInferenceKernels(napi_env env, napi_value exports) {
  exportKernel(env, exports, "batchNormInference", batchNormInference);
}

}  // namespace bdlab
