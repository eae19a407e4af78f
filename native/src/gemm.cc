#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "parallel.h"

namespace bdlab {
namespace {

typedef float Vec __attribute__((vector_size(kVec * sizeof(float))));
typedef float VecU __attribute__((vector_size(kVec * sizeof(float)), aligned(sizeof(float))));

// Block sizes: a kKC x kNR sliver of B stays in L1 while the micro-kernel runs down a kMC x kKC block of
// A that stays in L2; kNC bounds the packed B block.
constexpr int64_t kMC = 192;
constexpr int64_t kNC = 2048;

thread_local Scratch packedA, packedB;

/** acc = A rows (MR rows of kc, kRowStride apart) x B sliver (kc x NV vectors, k-major). */
template <int MR, int NV>
inline void microKernel(int64_t kc, const float* __restrict a, const float* __restrict b, Vec acc[MR][NV]) {
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = Vec{};
  }
  for (int64_t k = 0; k < kc; ++k) {
    Vec bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = *reinterpret_cast<const Vec*>(b + v * kVec);
#pragma GCC unroll 24
    for (int r = 0; r < MR; ++r) {
      // A constant displacement from one moving pointer: no register per row.
      const Vec ar = splat<Vec>(a[r * kRowStride]);
      for (int v = 0; v < NV; ++v) acc[r][v] += ar * bv[v];
    }
    a += 1;
    b += NV * kVec;
  }
}

/** `epilogue` is non-null for the last k-block only; its bias is offset to the tile's first column. */
template <int MR, int NV>
inline void storeTile(Vec acc[MR][NV], float* c, int64_t rs, int64_t cs, int64_t rows, int64_t cols, bool add, const Epilogue* epilogue) {
  constexpr int NR = NV * kVec;
  if (cs == 1 && rows == MR && cols == NR) {
    const Vec zero = {}, six = splat<Vec>(6.f);
    for (int r = 0; r < MR; ++r) {
      for (int v = 0; v < NV; ++v) {
        VecU* p = reinterpret_cast<VecU*>(c + r * rs + v * kVec);
        Vec value = add ? *p + acc[r][v] : acc[r][v];
        if (epilogue != nullptr) {
          if (epilogue->bias != nullptr) value += *reinterpret_cast<const VecU*>(epilogue->bias + v * kVec);
          if (epilogue->activation == Epilogue::kRelu) value = value > zero ? value : zero;
          if (epilogue->activation == Epilogue::kRelu6) value = value < zero ? zero : (value > six ? six : value);
        }
        *p = value;
      }
    }
    return;
  }
  alignas(64) float tile[MR][NR];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) *reinterpret_cast<Vec*>(&tile[r][v * kVec]) = acc[r][v];
  }
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * rs;
    if (add) {
      for (int64_t col = 0; col < cols; ++col) row[col * cs] += tile[r][col];
    } else {
      for (int64_t col = 0; col < cols; ++col) row[col * cs] = tile[r][col];
    }
    if (epilogue != nullptr) {
      for (int64_t col = 0; col < cols; ++col) row[col * cs] = epilogue->apply(row[col * cs], col);
    }
  }
}

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/** C[m0, m1) x [n0, n1) (+)= A x B: one macro-tile, on the calling thread with its own packing buffers. */
template <int MR, int NV>
void gemmBlocked(int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t K, const Operand& A, const Operand& B, float* c, int64_t rs, int64_t cs,
                 bool accumulate, const Epilogue& epilogue) {
  constexpr int NR = NV * kVec;
  constexpr int64_t MC = MR * (kMC / MR);
  float* bp = packedB.get(static_cast<size_t>(roundUp(std::min(n1 - n0, kNC), NR) * std::min(K, kKC)));
  float* ap = packedA.get(static_cast<size_t>(roundUp(std::min(m1 - m0, MC), MR) * kRowStride));
  Vec acc[MR][NV];
  for (int64_t jc = n0; jc < n1; jc += kNC) {
    const int64_t nc = std::min(kNC, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      const bool add = accumulate || pc > 0;
      B.pack(bp, jc, nc, pc, kc, NR);
      for (int64_t ic = m0; ic < m1; ic += MC) {
        const int64_t mc = std::min(MC, m1 - ic);
        A.packRows(ap, ic, mc, pc, kc);
        // Rows past the end of A in the last sliver: zeros rather than stale floats (denormals, NaN).
        for (int64_t r = mc; r < roundUp(mc, MR); ++r) std::memset(ap + r * kRowStride, 0, static_cast<size_t>(kc) * sizeof(float));
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const float* bs = bp + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            microKernel<MR, NV>(kc, ap + ir * kRowStride, bs, acc);
            Epilogue tileEpilogue = epilogue;
            if (tileEpilogue.bias != nullptr) tileEpilogue.bias += jc + jr;
            const bool last = pc + kc >= K && !epilogue.empty();
            storeTile<MR, NV>(acc, c + (ic + ir) * rs + (jc + jr) * cs, rs, cs, std::min<int64_t>(MR, mc - ir), std::min<int64_t>(NR, nc - jr), add,
                              last ? &tileEpilogue : nullptr);
          }
        }
      }
    }
  }
}

/**
 * Splits C into one macro-tile per thread along its longer side, in whole micro-tiles (MR rows or NR
 * columns). Each thread packs the operand it shares with the others again; splitting the longer side
 * makes that the smaller one (the filter in a convolution, dy in a filter gradient). Every element of
 * C is computed by the same micro-kernel over the same k-blocks whatever the split, so the result is
 * bit-identical at every thread count.
 */
template <int MR, int NV>
void gemmParallel(int64_t M, int64_t N, int64_t K, const Operand& A, const Operand& B, float* c, int64_t rs, int64_t cs, bool accumulate,
                  const Epilogue& epilogue) {
  constexpr int NR = NV * kVec;
  const bool splitM = M >= N;
  const int64_t unit = splitM ? MR : NR;
  const int64_t units = ((splitM ? M : N) + unit - 1) / unit;
  const int64_t unitMacs = unit * (splitM ? N : M) * K;
  parallelFor(units, grainFor(unitMacs, kMinChunkMacs), [&](int64_t, int64_t begin, int64_t end) {
    if (splitM) {
      gemmBlocked<MR, NV>(begin * unit, std::min(M, end * unit), 0, N, K, A, B, c, rs, cs, accumulate, epilogue);
    } else {
      gemmBlocked<MR, NV>(0, M, begin * unit, std::min(N, end * unit), K, A, B, c, rs, cs, accumulate, epilogue);
    }
  });
}

void gemmOriented(int64_t M, int64_t N, int64_t K, const Operand& A, const Operand& B, float* c, int64_t rs, int64_t cs, bool accumulate,
                  const Epilogue& epilogue) {
  if (N <= kVec) {
    gemmParallel<kMRNarrow, 1>(M, N, K, A, B, c, rs, cs, accumulate, epilogue);
  } else {
    gemmParallel<kMR, 2>(M, N, K, A, B, c, rs, cs, accumulate, epilogue);
  }
}

}  // namespace

Scratch::~Scratch() { std::free(data_); }

float* Scratch::get(size_t floats) {
  if (floats > capacity_) {
    std::free(data_);
    capacity_ = (floats + 15) & ~size_t(15);
    data_ = static_cast<float*>(std::aligned_alloc(64, capacity_ * sizeof(float)));
    if (data_ == nullptr) throw std::bad_alloc();
  }
  return data_;
}

void StridedOperand::pack(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc, int width) const {
  for (int64_t s = 0; s < jn; s += width) {
    const int64_t w = std::min<int64_t>(width, jn - s);
    float* d = dst + s * kc;
    const float* src = data_ + (j0 + s) * js_ + k0 * ks_;
    if (js_ == 1) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* col = src + k * ks_;
        float* out = d + k * width;
        std::memcpy(out, col, static_cast<size_t>(w) * sizeof(float));
        for (int64_t i = w; i < width; ++i) out[i] = 0.f;
      }
    } else {
      for (int64_t i = 0; i < w; ++i) {
        const float* row = src + i * js_;
        if (ks_ == 1) {
          for (int64_t k = 0; k < kc; ++k) d[k * width + i] = row[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) d[k * width + i] = row[k * ks_];
        }
      }
      for (int64_t i = w; i < width; ++i) {
        for (int64_t k = 0; k < kc; ++k) d[k * width + i] = 0.f;
      }
    }
  }
}

void StridedOperand::packRows(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc) const {
  for (int64_t j = 0; j < jn; ++j) {
    const float* src = data_ + (j0 + j) * js_ + k0 * ks_;
    float* out = dst + j * kRowStride;
    if (ks_ == 1) {
      std::memcpy(out, src, static_cast<size_t>(kc) * sizeof(float));
    } else {
      for (int64_t k = 0; k < kc; ++k) out[k] = src[k * ks_];
    }
  }
}

void gemm(int64_t M, int64_t N, int64_t K, const Operand& A, const Operand& B, float* c, int64_t rs, int64_t cs, bool accumulate,
          const Epilogue& epilogue) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) c[m * rs + n * cs] = epilogue.apply(accumulate ? c[m * rs + n * cs] : 0.f, n);
    }
    return;
  }
  // The micro-kernel stores rows of C as vectors; a C contiguous along M is computed as C^T = B^T A^T.
  if (cs != 1 && rs == 1) {
    // The epilogue is per column of C, which are rows of C^T: applied in a pass of its own here.
    gemmOriented(N, M, K, B, A, c, cs, rs, accumulate, {});
    if (epilogue.empty()) return;
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) c[m * rs + n * cs] = epilogue.apply(c[m * rs + n * cs], n);
    }
  } else {
    gemmOriented(M, N, K, A, B, c, rs, cs, accumulate, epilogue);
  }
}

}  // namespace bdlab
