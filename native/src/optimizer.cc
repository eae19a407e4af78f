// Adam's update of every trainable variable in one call: TF.js' AdamOptimizer spends about a dozen
// kernel calls per variable and step (multiplies, adds, divides, a square root, three assigns), which
// at ~110 variables made over half of a ResNet34 step's ~2,000 kernel calls and a fifth of its time,
// all of it on one thread.
//
// The update is TF.js' own, operation for operation, each rounded to float32 (IEEE, no fused
// multiply-adds: contraction is switched off for this file), so a training gives the same bits as
// with TF.js' optimizer and cached results stay valid:
//   m' = m * beta1 + g * (1 - beta1)          v' = v * beta2 + g^2 * (1 - beta2)
//   w' = ((m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + epsilon)) * -lr + w
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <cmath>
#include <vector>

#include "napi_args.h"
#include "parallel.h"

namespace bdlab {
namespace {

/** One variable's tensors; the outputs may be the inputs (in place) or fresh tensors. */
struct AdamSlots {
  int64_t size;
  const float* gradient;
  const float* value;
  float* valueOut;
  const float* first;
  float* firstOut;
  const float* second;
  float* secondOut;
};

/** The scalars, already rounded to float32 as TF.js rounds them. */
struct AdamScalars {
  float beta1, oneMinusBeta1, beta2, oneMinusBeta2, oneMinusBeta1Power, oneMinusBeta2Power, epsilon, negativeLearningRate;
};

void update(const AdamSlots& s, const AdamScalars& c, int64_t begin, int64_t end) {
  // Through local buffers: an output may be its input (in place), which would keep the compiler from
  // vectorizing a loop that reads the inputs and writes the outputs directly.
  constexpr int64_t kLanes = 64;
  alignas(64) float m[kLanes], v[kLanes], w[kLanes];
  for (int64_t i0 = begin; i0 < end; i0 += kLanes) {
    const int64_t n = std::min(kLanes, end - i0);
    const float* g = s.gradient + i0;
    const float* m0 = s.first + i0;
    const float* v0 = s.second + i0;
    const float* w0 = s.value + i0;
    for (int64_t i = 0; i < n; ++i) {
      m[i] = m0[i] * c.beta1 + g[i] * c.oneMinusBeta1;
      v[i] = v0[i] * c.beta2 + (g[i] * g[i]) * c.oneMinusBeta2;
      w[i] = ((m[i] / c.oneMinusBeta1Power) / (std::sqrt(v[i] / c.oneMinusBeta2Power) + c.epsilon)) * c.negativeLearningRate + w0[i];
    }
    std::copy(m, m + n, s.firstOut + i0);
    std::copy(v, v + n, s.secondOut + i0);
    std::copy(w, w + n, s.valueOut + i0);
  }
}

/** Elements per unit of work: large variables are split, so threads share even a model with one big layer. */
constexpr int64_t kBlock = 16384;

// adamUpdate(memory, scalars: Float64Array(8), table: Float64Array(8 per variable: size, gradient,
// value, valueOut, first, firstOut, second, secondOut byte offsets)). Every element is independent, so
// the result is the same at every thread count.
void adamUpdate(Args& a) {
  a.memory(0);
  size_t one = 0, count = 0;
  const double* k = a.table(1, 8, &one);
  if (one != 1) throw std::invalid_argument("argument 1 must hold the 8 scalars");
  const AdamScalars c{static_cast<float>(k[0]), static_cast<float>(k[1]), static_cast<float>(k[2]), static_cast<float>(k[3]),
                      static_cast<float>(k[4]), static_cast<float>(k[5]), static_cast<float>(k[6]), static_cast<float>(k[7])};
  const double* t = a.table(2, 8, &count);
  std::vector<AdamSlots> slots;
  struct Unit {
    size_t slot;
    int64_t begin, end;
  };
  std::vector<Unit> units;
  for (size_t r = 0; r < count; ++r) {
    const double* row = t + 8 * r;
    const int64_t n = static_cast<int64_t>(row[0]);
    if (n < 0 || static_cast<double>(n) != row[0]) throw std::invalid_argument("variable sizes must be whole numbers");
    const auto at = [&](int column) { return a.floatsAt(static_cast<int64_t>(row[column]), n); };
    slots.push_back({n, at(1), at(2), at(3), at(4), at(5), at(6), at(7)});
    for (int64_t b = 0; b < n; b += kBlock) units.push_back({slots.size() - 1, b, std::min(n, b + kBlock)});
  }
  parallelFor(static_cast<int64_t>(units.size()), grainFor(kBlock, kMinChunkFloats), [&](int64_t, int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) update(slots[units[u].slot], c, units[u].begin, units[u].end);
  });
}

}  // namespace

void registerOptimizerKernels(napi_env env, napi_value exports) { exportKernel(env, exports, "adamUpdate", adamUpdate); }

}  // namespace bdlab
