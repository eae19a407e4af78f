// Packed single-precision matrix multiply, C (+)= A x B, in the style of BLIS/GotoBLAS: both operands
// are copied block by block into contiguous "slivers" that a register-blocked micro-kernel streams
// through. The operands are abstract so a convolution can pack straight from its input (implicit
// im2col) instead of materializing the patch matrix.
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace bdlab {

// Micro-kernel tiles: kMR rows x 2 vectors, or kMRNarrow rows x 1 vector for matrices at most one vector
// wide (16 output channels and fewer), so narrow layers neither waste half of each tile nor need C^T.
#if defined(__AVX512F__)
constexpr int kVec = 16;
constexpr int kMR = 12;        // 24 accumulators + 2 B vectors + 1 broadcast of 32 zmm registers
constexpr int kMRNarrow = 24;  // 24 accumulators + 1 + 1
#elif defined(__AVX__)
constexpr int kVec = 8;
constexpr int kMR = 6;  // 12 accumulators of 16 ymm registers
constexpr int kMRNarrow = 12;
#else
constexpr int kVec = 4;
constexpr int kMR = 6;
constexpr int kMRNarrow = 12;
#endif
constexpr int kNR = 2 * kVec;

/**
 * A vector with every lane s, as one broadcast instruction. (`zero-vector + s` makes GCC add 0.0f to s
 * first, since that is not an identity for -0.0f: three instructions per FMA instead of one; a
 * lane-by-lane fill is worse still.)
 */
template <typename V>
inline V splat(float s) {
  if constexpr (sizeof(V) == 64) {
#if defined(__AVX512F__)
    return reinterpret_cast<V>(_mm512_set1_ps(s));
#endif
  } else if constexpr (sizeof(V) == 32) {
#if defined(__AVX__)
    return reinterpret_cast<V>(_mm256_set1_ps(s));
#endif
  }
  return V{} + s;
}

/** Largest k-block, and the distance between packed rows of A (padded so rows spread over cache sets). */
constexpr int64_t kKC = 256;
constexpr int64_t kRowStride = kKC + 16;

/**
 * One operand of C = A x B, addressed by (j, k): j is its own dimension (rows of A, columns of B) and k
 * the shared one. As B, pack() writes the block j in [j0, j0 + jn), k in [k0, k0 + kc) as consecutive
 * slivers of `width` j-values, each laid out k-major ([k][w]), zero-filling j beyond j0 + jn. As A,
 * packRows() writes row j - j0 of the block at dst + (j - j0) * kRowStride: the micro-kernel
 * broadcasts A's elements one by one, so A needs no transposition, and packing a patch matrix is a
 * copy of contiguous runs of the input.
 */
class Operand {
 public:
  virtual ~Operand() = default;
  virtual void pack(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc, int width) const = 0;
  virtual void packRows(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc) const = 0;
};

/** A plain matrix: element (j, k) is at data[j * jStride + k * kStride]. */
class StridedOperand final : public Operand {
 public:
  StridedOperand(const float* data, int64_t jStride, int64_t kStride) : data_(data), js_(jStride), ks_(kStride) {}
  void pack(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc, int width) const override;
  void packRows(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc) const override;

 private:
  const float* data_;
  int64_t js_, ks_;
};

/**
 * A growable 64-byte aligned buffer kept across calls (one per thread and purpose): large temporaries
 * allocated per call come from fresh mmap'ed pages, and their page faults cost as much as the work.
 */
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch();
  float* get(size_t floats);

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

/** What happens to each finished element of C in column n: + bias[n], then an activation. */
struct Epilogue {
  enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2 };
  const float* bias = nullptr;
  int64_t activation = kLinear;

  bool empty() const { return bias == nullptr && activation == kLinear; }
  float apply(float v, int64_t n) const {
    if (bias != nullptr) v += bias[n];
    if (activation == kRelu) return v > 0.f ? v : 0.f;
    if (activation == kRelu6) return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    return v;
  }
};

/**
 * C (+)= A x B with A of M x K and B of K x N; C element (m, n) at c[m * cRowStride + n * cColStride].
 * `accumulate` adds to C's current contents instead of overwriting them. The epilogue is applied as the
 * last k-block is stored, so bias and activation cost no extra pass over C.
 */
void gemm(int64_t M, int64_t N, int64_t K, const Operand& A, const Operand& B, float* c, int64_t cRowStride, int64_t cColStride, bool accumulate,
          const Epilogue& epilogue = {});

}  // namespace bdlab
