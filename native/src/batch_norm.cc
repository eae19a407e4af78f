// Fused batch normalization for training (see src/engine/kernels/batch_norm_native.ts). Tensors are
// [M, C] row-major with C the channel (last) axis, so every loop runs along a row of channels: the
// compiler vectorizes the channel loop and each pass streams the tensor once.
//
// Per-channel sums are accumulated in float over blocks of rows (short enough that float rounding
// stays ~1e-6 relative) and the block totals in double, so a 65,536-row batch keeps float accuracy
// without the cost of converting every element to double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "napi_args.h"
#include "parallel.h"

namespace bdlab {
namespace {

constexpr int64_t kBlockRows = 64;

/**
 * sumA[c] = Σ_r a[r, c] - shiftA[c] and, when b is given, sumAB[c] = Σ_r (a[r, c] - shiftA[c]) * (b[r, c] - shiftB[c]);
 * with b == nullptr the product is (a - shiftA)². Shifting by a value near the mean keeps the sums of
 * squares from cancelling catastrophically when the mean is large against the spread.
 */
void channelSumsOfRows(const float* a, const float* shiftA, const float* b, const float* shiftB, int64_t rows, int64_t channels,
                       double* sumA, double* sumAB) {
  std::vector<float> blockA(static_cast<size_t>(channels)), blockAB(static_cast<size_t>(channels));
  float* __restrict bA = blockA.data();
  float* __restrict bAB = blockAB.data();
  std::fill(sumA, sumA + channels, 0.0);
  std::fill(sumAB, sumAB + channels, 0.0);
  for (int64_t r0 = 0; r0 < rows; r0 += kBlockRows) {
    const int64_t r1 = std::min(rows, r0 + kBlockRows);
    std::fill(bA, bA + channels, 0.f);
    std::fill(bAB, bAB + channels, 0.f);
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict rowA = a + r * channels;
      if (b == nullptr) {
        for (int64_t c = 0; c < channels; ++c) {
          const float d = rowA[c] - shiftA[c];
          bA[c] += d;
          bAB[c] += d * d;
        }
      } else {
        const float* __restrict rowB = b + r * channels;
        for (int64_t c = 0; c < channels; ++c) {
          const float d = rowA[c] - shiftA[c];
          bA[c] += d;
          bAB[c] += d * (rowB[c] - shiftB[c]);
        }
      }
    }
    for (int64_t c = 0; c < channels; ++c) {
      sumA[c] += bA[c];
      sumAB[c] += bAB[c];
    }
  }
}

/**
 * Rows per partial sum: a multiple of kBlockRows holding at least kMinChunkFloats, fixed by the shape
 * and not by the thread count, so the partials and their ordered total are the same at every count.
 */
int64_t rowsPerPartial(int64_t channels) {
  const int64_t rows = std::max<int64_t>(kBlockRows, kMinChunkFloats / std::max<int64_t>(channels, 1));
  return (rows + kBlockRows - 1) / kBlockRows * kBlockRows;
}

/** channelSumsOfRows over blocks of rows on the pool, the blocks' totals added in block order. */
void channelSums(const float* a, const float* shiftA, const float* b, const float* shiftB, int64_t rows, int64_t channels, double* sumA,
                 double* sumAB) {
  const int64_t step = rowsPerPartial(channels), parts = (rows + step - 1) / step;
  std::vector<double> partA(static_cast<size_t>(parts * channels)), partAB(static_cast<size_t>(parts * channels));
  parallelFor(parts, 1, [&](int64_t, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t r0 = p * step, n = std::min(step, rows - r0);
      channelSumsOfRows(a + r0 * channels, shiftA, b == nullptr ? nullptr : b + r0 * channels, shiftB, n, channels, &partA[p * channels],
                        &partAB[p * channels]);
    }
  });
  std::fill(sumA, sumA + channels, 0.0);
  std::fill(sumAB, sumAB + channels, 0.0);
  for (int64_t p = 0; p < parts; ++p) {
    for (int64_t c = 0; c < channels; ++c) {
      sumA[c] += partA[p * channels + c];
      sumAB[c] += partAB[p * channels + c];
    }
  }
}

/** Runs rowPass(first, end) over blocks of rows on the pool: element-wise passes write disjoint rows. */
template <typename F>
void forRows(int64_t rows, int64_t channels, const F& rowPass) {
  parallelFor(rows, grainFor(channels, kMinChunkFloats), [&](int64_t, int64_t r0, int64_t r1) { rowPass(r0, r1); });
}

// batchNormTraining(memory, x, gamma | -1, beta | -1, y, mean, variance, rows, channels, epsilon)
// mean and variance (biased, as tf.moments) over the rows; y = gamma * (x - mean) / sqrt(variance + epsilon) + beta.
void batchNormTraining(Args& a) {
  a.memory(0);
  const int64_t rows = a.integer(7), channels = a.integer(8);
  const double epsilon = a.number(9);
  if (rows <= 0 || channels <= 0) throw std::invalid_argument("batch norm needs at least one row and one channel");
  const float* x = a.floats(1, rows * channels);
  const float* gamma = a.optionalFloats(2, channels);
  const float* beta = a.optionalFloats(3, channels);
  float* y = a.floats(4, rows * channels);
  float* mean = a.floats(5, channels);
  float* variance = a.floats(6, channels);

  std::vector<double> sum(static_cast<size_t>(channels)), squares(static_cast<size_t>(channels));
  // The first row stands in for the mean as the shift: it is a sample of the same distribution.
  channelSums(x, x, nullptr, nullptr, rows, channels, sum.data(), squares.data());
  std::vector<float> meanF(static_cast<size_t>(channels)), scale(static_cast<size_t>(channels)), offset(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double shifted = sum[c] / static_cast<double>(rows);
    const double m = static_cast<double>(x[c]) + shifted;
    const double v = std::max(0.0, squares[c] / static_cast<double>(rows) - shifted * shifted);
    mean[c] = static_cast<float>(m);
    variance[c] = static_cast<float>(v);
    meanF[c] = static_cast<float>(m);
    scale[c] = static_cast<float>((gamma == nullptr ? 1.0 : gamma[c]) / std::sqrt(v + epsilon));
    offset[c] = beta == nullptr ? 0.f : beta[c];
  }
  // (x - mean) * scale + offset rather than x * scale + (offset - mean * scale): the latter loses the
  // low bits of y when the mean is large against the spread.
  const float* __restrict mu = meanF.data();
  const float* __restrict s = scale.data();
  const float* __restrict o = offset.data();
  forRows(rows, channels, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict in = x + r * channels;
      float* __restrict out = y + r * channels;
      for (int64_t c = 0; c < channels; ++c) out[c] = (in[c] - mu[c]) * s[c] + o[c];
    }
  });
}

// batchNormTrainingGrad(memory, dy, x, gamma | -1, mean, variance, dx, dgamma, dbeta, rows, channels, epsilon)
// With xhat = (x - mean) * invStd: dbeta = Σ dy, dgamma = Σ dy * xhat and
// dx = gamma * invStd / M * (M * dy - dbeta - xhat * dgamma), the gradient through the batch statistics included.
void batchNormTrainingGrad(Args& a) {
  a.memory(0);
  const int64_t rows = a.integer(9), channels = a.integer(10);
  const double epsilon = a.number(11);
  if (rows <= 0 || channels <= 0) throw std::invalid_argument("batch norm needs at least one row and one channel");
  const float* dy = a.floats(1, rows * channels);
  const float* x = a.floats(2, rows * channels);
  const float* gamma = a.optionalFloats(3, channels);
  const float* mean = a.floats(4, channels);
  const float* variance = a.floats(5, channels);
  float* dx = a.floats(6, rows * channels);
  float* dgamma = a.floats(7, channels);
  float* dbeta = a.floats(8, channels);

  // dy's sums need no shift (no squares); a zero shift keeps one summation routine for both.
  const std::vector<float> zero(static_cast<size_t>(channels), 0.f);
  std::vector<double> sumDy(static_cast<size_t>(channels)), sumDyXc(static_cast<size_t>(channels));
  channelSums(dy, zero.data(), x, mean, rows, channels, sumDy.data(), sumDyXc.data());

  // dx = a * dy + b * (x - mean) + k per channel.
  std::vector<float> ca(static_cast<size_t>(channels)), cb(static_cast<size_t>(channels)), ck(static_cast<size_t>(channels));
  const double m = static_cast<double>(rows);
  for (int64_t c = 0; c < channels; ++c) {
    const double invStd = 1.0 / std::sqrt(static_cast<double>(variance[c]) + epsilon);
    const double g = gamma == nullptr ? 1.0 : gamma[c];
    const double dg = sumDyXc[c] * invStd;
    dbeta[c] = static_cast<float>(sumDy[c]);
    dgamma[c] = static_cast<float>(dg);
    ca[c] = static_cast<float>(g * invStd);
    cb[c] = static_cast<float>(-g * invStd * invStd * dg / m);
    ck[c] = static_cast<float>(-g * invStd * sumDy[c] / m);
  }
  const float* __restrict pa = ca.data();
  const float* __restrict pb = cb.data();
  const float* __restrict pk = ck.data();
  const float* __restrict mu = mean;
  forRows(rows, channels, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict g = dy + r * channels;
      const float* __restrict in = x + r * channels;
      float* __restrict out = dx + r * channels;
      for (int64_t c = 0; c < channels; ++c) out[c] = pa[c] * g[c] + pb[c] * (in[c] - mu[c]) + pk[c];
    }
  });
}

}  // namespace

void registerBatchNormKernels(napi_env env, napi_value exports) {
  exportKernel(env, exports, "batchNormTraining", batchNormTraining);
  exportKernel(env, exports, "batchNormTrainingGrad", batchNormTrainingGrad);
}

}  // namespace bdlab
