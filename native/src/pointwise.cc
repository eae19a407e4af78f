// Element-wise, broadcast and reduction kernels (see src/engine/kernels/pointwise_native.ts). In
// training these run on every batch-norm and bias gradient and every optimizer update; they are memory
// bound, so the loops are written for the compiler to vectorize and read each input once.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "napi_args.h"
#include "parallel.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace bdlab {
namespace {

int64_t checkedCount(int64_t a, int64_t b) {
  if (a < 0 || b < 0) throw std::invalid_argument("sizes must not be negative");
  if (b != 0 && a > std::numeric_limits<int64_t>::max() / 4 / b) throw std::invalid_argument("size overflow");
  return a * b;
}

// Rows summed in float32 before being folded into the float64 total: short enough that the float32
// partial sums stay exact to about 1e-6 (TF.js' CPU kernels accumulate in float64 and tests compare
// against them), long enough that the float64 adds cost nothing next to the loads.
constexpr int64_t kBlockRows = 32;
constexpr int kLanes = 16;

/** Sum of n contiguous floats: lane-wise float32 partials over short blocks, totalled in float64. */
double sumContiguous(const float* __restrict x, int64_t n) {
  double total = 0;
  int64_t i = 0;
  constexpr int64_t kBlock = kLanes * kBlockRows;
  for (; i + kBlock <= n; i += kBlock) {
    float lanes[kLanes] = {};
    for (int64_t j = 0; j < kBlock; j += kLanes) {
      for (int l = 0; l < kLanes; ++l) lanes[l] += x[i + j + l];
    }
    double block = 0;
    for (int l = 0; l < kLanes; ++l) block += lanes[l];
    total += block;
  }
  for (; i < n; ++i) total += x[i];
  return total;
}

/** totals[c] = sum over r of x[r * cols + c], in float32 over blocks of kBlockRows rows and float64 across them. */
void sumRows(const float* __restrict x, int64_t rows, int64_t cols, double* __restrict totals, std::vector<float>& partial) {
  partial.assign(static_cast<size_t>(cols), 0.f);
  std::fill(totals, totals + cols, 0.0);
  float* __restrict p = partial.data();
  for (int64_t r0 = 0; r0 < rows; r0 += kBlockRows) {
    const int64_t r1 = std::min(rows, r0 + kBlockRows);
    const float* row = x + r0 * cols;
    for (int64_t c = 0; c < cols; ++c) p[c] = row[c];
    for (int64_t r = r0 + 1; r < r1; ++r) {
      row = x + r * cols;
      for (int64_t c = 0; c < cols; ++c) p[c] += row[c];
    }
    for (int64_t c = 0; c < cols; ++c) totals[c] += p[c];
  }
}

/**
 * sumRows for fewer columns than a vector has lanes (LeNet's 6-channel bias gradient: 300,000 rows of
 * 6): the rows are summed as one flat array in periods of lcm(cols, 16) floats, every lane of which
 * always holds the same column, and the lanes are folded into columns at the end.
 */
void sumNarrowRows(const float* __restrict x, int64_t rows, int64_t cols, double* __restrict totals) {
  int64_t period = cols;
  while (period % kLanes != 0) period += cols;
  const int64_t n = rows * cols;
  std::vector<double> total(static_cast<size_t>(period), 0.0);
  std::vector<float> lanes(static_cast<size_t>(period));
  float* __restrict l = lanes.data();
  int64_t i = 0;
  for (; i + period * kBlockRows <= n; i += period * kBlockRows) {
    std::memcpy(l, x + i, static_cast<size_t>(period) * sizeof(float));
    for (int64_t b = 1; b < kBlockRows; ++b) {
      const float* __restrict block = x + i + b * period;
      for (int64_t j = 0; j < period; ++j) l[j] += block[j];
    }
    for (int64_t j = 0; j < period; ++j) total[j] += l[j];
  }
  std::fill(totals, totals + cols, 0.0);
  for (int64_t j = 0; j < period; ++j) totals[j % cols] += total[j];
  for (; i < n; ++i) totals[i % cols] += x[i];
}

/**
 * Rows per partial sum when one [rows, cols] block is split across threads: whole kBlockRows blocks
 * (in periods of narrow rows) holding at least kMinChunkFloats, fixed by the shape and never by the
 * thread count, so the partials and their ordered total are the same at every count.
 */
int64_t rowsPerPartial(int64_t rows, int64_t cols, int64_t multiple) {
  const int64_t wanted = std::max<int64_t>(multiple, kMinChunkFloats / std::max<int64_t>(cols, 1));
  return std::min(rows, (wanted + multiple - 1) / multiple * multiple);
}

/**
 * out[c] = scale * Σ_r x[r][c] for one large block: partial column sums over fixed slices of rows on
 * the pool (each in float64 from `sliceSum`, scale 1), added in slice order.
 */
template <typename SliceSum>
void sumSlices(const float* x, int64_t rows, int64_t cols, float* out, double scale, int64_t multiple, const SliceSum& sliceSum) {
  const int64_t step = rowsPerPartial(rows, cols, multiple), parts = (rows + step - 1) / step;
  std::vector<double> partials(static_cast<size_t>(parts * cols));
  parallelFor(parts, 1, [&](int64_t, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) sliceSum(x + p * step * cols, std::min(step, rows - p * step), &partials[p * cols]);
  });
  for (int64_t c = 0; c < cols; ++c) {
    double total = 0;
    for (int64_t p = 0; p < parts; ++p) total += partials[p * cols + c];
    out[c] = static_cast<float>(total * scale);
  }
}

// reduceSum(memory, x, out, outer, rows, cols, scale): x viewed as [outer, rows, cols],
// out[o][c] = scale * sum over r of x[o][r][c] (scale 1 for Sum, 1/rows for Mean). Many blocks are
// spread over the pool block by block; a single large block (a bias gradient: all pixels of a batch)
// in slices of rows.
void reduceSum(Args& a) {
  a.memory(0);
  const int64_t outer = a.integer(3), rows = a.integer(4), cols = a.integer(5);
  const double scale = a.number(6);
  const float* x = a.floats(1, checkedCount(checkedCount(outer, rows), cols));
  float* out = a.floats(2, checkedCount(outer, cols));
  const bool narrow = cols > 1 && cols < kLanes && rows >= 2 * kBlockRows * kLanes;
  if (outer == 1 && rows * cols >= 2 * kMinChunkFloats) {
    if (cols == 1) {
      return sumSlices(x, rows, 1, out, scale, kLanes * kBlockRows, [](const float* xs, int64_t n, double* total) { *total = sumContiguous(xs, n); });
    }
    if (narrow) {
      int64_t period = cols;
      while (period % kLanes != 0) period += cols;
      return sumSlices(x, rows, cols, out, scale, period / cols * kBlockRows,
                       [&](const float* xs, int64_t n, double* totals) { sumNarrowRows(xs, n, cols, totals); });
    }
    return sumSlices(x, rows, cols, out, scale, kBlockRows, [&](const float* xs, int64_t n, double* totals) {
      std::vector<float> partial;
      sumRows(xs, n, cols, totals, partial);
    });
  }
  parallelFor(outer, grainFor(rows * cols, kMinChunkFloats), [&](int64_t, int64_t o0, int64_t o1) {
    std::vector<float> partial;
    std::vector<double> totals(static_cast<size_t>(cols));
    for (int64_t o = o0; o < o1; ++o) {
      const float* xo = x + o * rows * cols;
      if (cols == 1) {
        totals[0] = sumContiguous(xo, rows);
      } else if (narrow) {
        sumNarrowRows(xo, rows, cols, totals.data());
      } else {
        sumRows(xo, rows, cols, totals.data(), partial);
      }
      for (int64_t c = 0; c < cols; ++c) out[o * cols + c] = static_cast<float>(totals[c] * scale);
    }
  });
}

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

template <int Op>
inline float apply(float x, float y) {
  if constexpr (Op == kAdd) return x + y;
  if constexpr (Op == kSub) return x - y;
  if constexpr (Op == kMul) return x * y;
  return x / y;
}

/**
 * y[o][i] = a[o * aOuter + i * SA] op b[o * bOuter + i * SB]. Inner strides are template constants (1:
 * the operand varies along the row, 0: it is constant along it) so each combination compiles to its own
 * vectorized loop, with the broadcast operand hoisted into a register or reused from cache.
 */
template <int Op, int SA, int SB>
void binaryLoop(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t outer, int64_t inner, int64_t aOuter,
                int64_t bOuter) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* __restrict pa = a + o * aOuter;
    const float* __restrict pb = b + o * bOuter;
    float* __restrict py = y + o * inner;
    for (int64_t i = 0; i < inner; ++i) py[i] = apply<Op>(pa[i * SA], pb[i * SB]);
  }
}

template <int Op>
void binaryDispatch(int sa, int sb, const float* a, const float* b, float* y, int64_t outer, int64_t inner, int64_t aOuter, int64_t bOuter) {
  if (sa == 1 && sb == 1) return binaryLoop<Op, 1, 1>(a, b, y, outer, inner, aOuter, bOuter);
  if (sa == 1 && sb == 0) return binaryLoop<Op, 1, 0>(a, b, y, outer, inner, aOuter, bOuter);
  if (sa == 0 && sb == 1) return binaryLoop<Op, 0, 1>(a, b, y, outer, inner, aOuter, bOuter);
  return binaryLoop<Op, 0, 0>(a, b, y, outer, inner, aOuter, bOuter);
}

/** How many floats an operand read with these strides spans. */
int64_t spanOf(int64_t outer, int64_t inner, int64_t outerStride, int64_t innerStride) {
  if (outer == 0 || inner == 0) return 0;
  return (outer - 1) * outerStride + (inner - 1) * innerStride + 1;
}

// A short per-channel row (e.g. 16 channels) makes the inner loop mostly loop overhead; repeating the
// broadcast row this many times lets one inner loop cover several output rows.
constexpr int64_t kMinInner = 256;

/** y = a op b over [outer, inner] on the calling thread (see binary()). */
void binaryBlock(int64_t op, const float* pa, const float* pb, float* py, int64_t outer, int64_t inner, int64_t aOuter, int64_t aInner, int64_t bOuter,
                 int64_t bInner) {
  // Per-channel broadcast with short rows: fold k rows into one by tiling the broadcast row.
  std::vector<float> tiled;
  int64_t head = 0;  // rows handled by the folded loop
  const bool aRow = aOuter == 0 && aInner == 1, bRow = bOuter == 0 && bInner == 1;
  const bool aFull = aOuter == inner && aInner == 1, bFull = bOuter == inner && bInner == 1;
  if (((aRow && bFull) || (bRow && aFull)) && inner > 0 && inner < kMinInner && outer > 1) {
    const int64_t k = std::min(outer, (kMinInner + inner - 1) / inner);
    const float* row = aRow ? pa : pb;
    tiled.resize(static_cast<size_t>(k * inner));
    for (int64_t j = 0; j < k; ++j) std::memcpy(tiled.data() + j * inner, row, static_cast<size_t>(inner) * sizeof(float));
    head = outer / k * k;
    const float* ta = aRow ? tiled.data() : pa;
    const float* tb = bRow ? tiled.data() : pb;
    const int64_t fa = aRow ? 0 : aOuter * k, fb = bRow ? 0 : bOuter * k;
    switch (op) {
      case kAdd: binaryDispatch<kAdd>(1, 1, ta, tb, py, head / k, k * inner, fa, fb); break;
      case kSub: binaryDispatch<kSub>(1, 1, ta, tb, py, head / k, k * inner, fa, fb); break;
      case kMul: binaryDispatch<kMul>(1, 1, ta, tb, py, head / k, k * inner, fa, fb); break;
      default: binaryDispatch<kDiv>(1, 1, ta, tb, py, head / k, k * inner, fa, fb); break;
    }
  }
  pa += head * aOuter;
  pb += head * bOuter;
  py += head * inner;
  outer -= head;
  const int sa = static_cast<int>(aInner), sb = static_cast<int>(bInner);
  switch (op) {
    case kAdd: binaryDispatch<kAdd>(sa, sb, pa, pb, py, outer, inner, aOuter, bOuter); break;
    case kSub: binaryDispatch<kSub>(sa, sb, pa, pb, py, outer, inner, aOuter, bOuter); break;
    case kMul: binaryDispatch<kMul>(sa, sb, pa, pb, py, outer, inner, aOuter, bOuter); break;
    default: binaryDispatch<kDiv>(sa, sb, pa, pb, py, outer, inner, aOuter, bOuter); break;
  }
}

// binary(memory, op, a, b, y, outer, inner, aOuterStride, aInnerStride, bOuterStride, bInnerStride):
// y viewed as [outer, inner]; inner strides must be 0 or 1. Rows (or, for a single row, slices of it)
// are split across the pool: every element is computed alone, so the split never changes a result.
void binary(Args& a) {
  a.memory(0);
  const int64_t op = a.integer(1);
  const int64_t outer = a.integer(5), inner = a.integer(6);
  const int64_t aOuter = a.integer(7), bOuter = a.integer(9);
  const int64_t aInner = a.integer(8), bInner = a.integer(10);
  if (op < kAdd || op > kDiv) throw std::invalid_argument("unknown binary operation");
  if ((aInner != 0 && aInner != 1) || (bInner != 0 && bInner != 1) || aOuter < 0 || bOuter < 0) throw std::invalid_argument("bad strides");
  const float* pa = a.floats(2, spanOf(outer, inner, aOuter, aInner));
  const float* pb = a.floats(3, spanOf(outer, inner, bOuter, bInner));
  float* py = a.floats(4, checkedCount(outer, inner));
  if (outer == 1) {
    parallelFor(inner, grainFor(1, kMinChunkFloats), [&](int64_t, int64_t i0, int64_t i1) {
      binaryBlock(op, pa + i0 * aInner, pb + i0 * bInner, py + i0, 1, i1 - i0, aOuter, aInner, bOuter, bInner);
    });
    return;
  }
  parallelFor(outer, grainFor(inner, kMinChunkFloats), [&](int64_t, int64_t o0, int64_t o1) {
    binaryBlock(op, pa + o0 * aOuter, pb + o0 * bOuter, py + o0 * inner, o1 - o0, inner, aOuter, aInner, bOuter, bInner);
  });
}

enum UnaryOp { kRelu = 0, kStep = 1, kSqrt = 2, kSquare = 3 };

template <int Op>
void unaryLoop(const float* __restrict x, float* __restrict y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if constexpr (Op == kRelu) y[i] = v > 0.f || v != v ? v : 0.f;  // NaN stays NaN and -0 becomes 0, as in TF.js' CPU kernel
    if constexpr (Op == kStep) y[i] = v > 0.f ? 1.f : (v != v ? v : alpha);
    if constexpr (Op == kSqrt) y[i] = std::sqrt(v);
    if constexpr (Op == kSquare) y[i] = v * v;
  }
}

// unary(memory, op, x, y, n, alpha): y = relu(x), step(x) (1 above 0, else alpha), sqrt(x) or x².
// The ReLUs and their gradients of training and the optimizer's square roots, in slices on the pool.
void unary(Args& a) {
  a.memory(0);
  const int64_t op = a.integer(1), n = a.integer(4);
  const float alpha = static_cast<float>(a.number(5));
  if (op < kRelu || op > kSquare) throw std::invalid_argument("unknown unary operation");
  const float* x = a.floats(2, n);
  float* y = a.floats(3, n);
  parallelFor(n, grainFor(1, kMinChunkFloats), [&](int64_t, int64_t i0, int64_t i1) {
    switch (op) {
      case kRelu: unaryLoop<kRelu>(x + i0, y + i0, i1 - i0, alpha); break;
      case kStep: unaryLoop<kStep>(x + i0, y + i0, i1 - i0, alpha); break;
      case kSqrt: unaryLoop<kSqrt>(x + i0, y + i0, i1 - i0, alpha); break;
      default: unaryLoop<kSquare>(x + i0, y + i0, i1 - i0, alpha); break;
    }
  });
}

#if defined(__AVX512F__)
/**
 * One pooling window, all channels: 16 channels per step, the tail under a mask (so short channel
 * counts such as LeNet's 6 neither fall back to scalar code nor read past the tensor). The running
 * maximum and its tap stay in registers; dx is read and written only where a tap won.
 */
void poolWindowGrad(const float* xb, float* dxb, const float* dy, const std::vector<int64_t>& taps, int64_t C, float*, int32_t*) {
  for (int64_t c0 = 0; c0 < C; c0 += 16) {
    const int64_t n = std::min<int64_t>(16, C - c0);
    const __mmask16 m = n == 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
    __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512i arg = _mm512_set1_epi32(-1);
    for (size_t t = 0; t < taps.size(); ++t) {
      const __m512 v = _mm512_maskz_loadu_ps(m, xb + taps[t] + c0);
      const __mmask16 greater = _mm512_mask_cmp_ps_mask(m, v, best, _CMP_GT_OQ);  // ordered: NaN never wins
      best = _mm512_mask_mov_ps(best, greater, v);
      arg = _mm512_mask_mov_epi32(arg, greater, _mm512_set1_epi32(static_cast<int32_t>(t)));
    }
    const __m512 g = _mm512_maskz_loadu_ps(m, dy + c0);
    for (size_t t = 0; t < taps.size(); ++t) {
      const __mmask16 won = _mm512_cmpeq_epi32_mask(arg, _mm512_set1_epi32(static_cast<int32_t>(t)));
      if (won == 0) continue;
      float* d = dxb + taps[t] + c0;
      _mm512_mask_storeu_ps(d, won, _mm512_add_ps(_mm512_maskz_loadu_ps(won, d), g));
    }
  }
}
#else
void poolWindowGrad(const float* xb, float* dxb, const float* __restrict g0, const std::vector<int64_t>& taps, int64_t C, float* __restrict best,
                    int32_t* __restrict arg) {
  for (int64_t c = 0; c < C; ++c) {
    best[c] = -std::numeric_limits<float>::infinity();
    arg[c] = -1;
  }
  for (size_t t = 0; t < taps.size(); ++t) {
    const float* __restrict v = xb + taps[t];
    const int32_t tap = static_cast<int32_t>(t);
    for (int64_t c = 0; c < C; ++c) {
      const bool greater = v[c] > best[c];
      best[c] = greater ? v[c] : best[c];
      arg[c] = greater ? tap : arg[c];
    }
  }
  // Adding 0 where a tap is not the maximum keeps the loop branch-free; it leaves dx unchanged
  // (dx starts at +0, and +0 + +0 is +0).
  for (size_t t = 0; t < taps.size(); ++t) {
    float* __restrict d = dxb + taps[t];
    const int32_t tap = static_cast<int32_t>(t);
    for (int64_t c = 0; c < C; ++c) d[c] += arg[c] == tap ? g0[c] : 0.f;
  }
}
#endif

/** A 2-D pooling's geometry as MaxPool and MaxPoolGrad receive it: 14 integers from argument `first`. */
struct PoolGeometry {
  int64_t batch, inH, inW, C, outH, outW, strideH, strideW, dilationH, dilationW, filterH, filterW, top, left;

  static PoolGeometry read(const Args& a, size_t first) {
    PoolGeometry p{};
    int64_t* fields[] = {&p.batch, &p.inH, &p.inW, &p.C, &p.outH, &p.outW, &p.strideH, &p.strideW, &p.dilationH, &p.dilationW, &p.filterH, &p.filterW, &p.top, &p.left};
    for (int64_t* f : fields) {
      *f = a.integer(first++);
      if (*f < 0) throw std::invalid_argument("pooling geometry must not be negative");
    }
    if (p.strideH == 0 || p.strideW == 0 || p.dilationH == 0 || p.dilationW == 0) throw std::invalid_argument("strides and dilations must be positive");
    return p;
  }

  /** One axis of a window: its first input coordinate (`origin`, maybe in the padding) and the filter taps [first, end) inside the image. */
  struct Span {
    int64_t origin, first, end;
  };

  static Span span(int64_t out, int64_t stride, int64_t pad, int64_t dilation, int64_t filter, int64_t in) {
    const int64_t origin = out * stride - pad;
    return {origin, origin >= 0 ? 0 : (-origin + dilation - 1) / dilation * dilation, std::min(filter, in - origin)};
  }
  Span rows(int64_t oh) const { return span(oh, strideH, top, dilationH, filterH, inH); }
  Span cols(int64_t ow) const { return span(ow, strideW, left, dilationW, filterW, inW); }
};

// maxPoolGrad(memory, x, dy, dx, batch, inH, inW, channels, outH, outW, strideH, strideW, dilationH,
// dilationW, effectiveFilterH, effectiveFilterW, padTop, padLeft): each dy value goes to the first
// maximum of its window in row-major order (strict '>', as TF.js' CPU kernel: ties after ReLU are
// common, and NaN never wins), all channels of a pixel at once.
void maxPoolGrad(Args& a) {
  a.memory(0);
  const PoolGeometry p = PoolGeometry::read(a, 4);
  const int64_t batch = p.batch, inH = p.inH, inW = p.inW, C = p.C, outH = p.outH, outW = p.outW;
  const int64_t dilationH = p.dilationH, dilationW = p.dilationW;
  const int64_t inSize = checkedCount(checkedCount(batch, inH), checkedCount(inW, C));
  const float* x = a.floats(1, inSize);
  const float* dy = a.floats(2, checkedCount(checkedCount(batch, outH), checkedCount(outW, C)));
  float* dx = a.floats(3, inSize);
  if (C == 0) {
    std::memset(dx, 0, static_cast<size_t>(inSize) * sizeof(float));
    return;
  }
  // Images are the units: a window's taps never leave its image, so chunks write disjoint parts of dx.
  const int64_t rowStride = inW * C, imageFloats = inH * rowStride;
  parallelFor(batch, grainFor(std::max(imageFloats, outH * outW * C), kMinChunkFloats), [&](int64_t, int64_t b0, int64_t b1) {
    std::memset(dx + b0 * imageFloats, 0, static_cast<size_t>((b1 - b0) * imageFloats) * sizeof(float));
    std::vector<float> bestBuffer(static_cast<size_t>(C));
    std::vector<int32_t> argBuffer(static_cast<size_t>(C));
    std::vector<int64_t> taps;  // offsets of the window's in-image taps from the image origin, in scan order
    float* __restrict best = bestBuffer.data();
    int32_t* __restrict arg = argBuffer.data();
    for (int64_t b = b0; b < b1; ++b) {
      const float* xb = x + b * imageFloats;
      float* dxb = dx + b * imageFloats;
      for (int64_t oh = 0; oh < outH; ++oh) {
        const PoolGeometry::Span rows = p.rows(oh);
        for (int64_t ow = 0; ow < outW; ++ow) {
          const PoolGeometry::Span cols = p.cols(ow);
          taps.clear();
          for (int64_t fh = rows.first; fh < rows.end; fh += dilationH) {
            for (int64_t fw = cols.first; fw < cols.end; fw += dilationW) taps.push_back((rows.origin + fh) * rowStride + (cols.origin + fw) * C);
          }
          const float* __restrict g0 = dy + ((b * outH + oh) * outW + ow) * C;
          if (taps.empty()) continue;
          poolWindowGrad(xb, dxb, g0, taps, C, best, arg);
        }
      }
    }
  });
}

// maxPool(memory, x, y, batch, inH, inW, channels, outH, outW, strideH, strideW, dilationH, dilationW,
// effectiveFilterH, effectiveFilterW, padTop, padLeft): the maximum of each window's in-image taps
// (strict '>', as TF.js' CPU kernel: NaN never wins; a window without taps gives -infinity), all
// channels of a pixel at once. Rows of output pixels are the units; every output is written once.
void maxPool(Args& a) {
  a.memory(0);
  const PoolGeometry p = PoolGeometry::read(a, 3);
  const int64_t batch = p.batch, inH = p.inH, inW = p.inW, C = p.C, outH = p.outH, outW = p.outW;
  const float* x = a.floats(1, checkedCount(checkedCount(batch, inH), checkedCount(inW, C)));
  float* y = a.floats(2, checkedCount(checkedCount(batch, outH), checkedCount(outW, C)));
  const int64_t rowStride = inW * C, imageFloats = inH * rowStride;
  parallelFor(batch * outH, grainFor(outW * C * p.filterH * p.filterW, kMinChunkFloats), [&](int64_t, int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const float* xb = x + row / outH * imageFloats;
      const PoolGeometry::Span rows = p.rows(row % outH);
      for (int64_t ow = 0; ow < outW; ++ow) {
        const PoolGeometry::Span cols = p.cols(ow);
        float* __restrict out = y + (row * outW + ow) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = -std::numeric_limits<float>::infinity();
        for (int64_t fh = rows.first; fh < rows.end; fh += p.dilationH) {
          for (int64_t fw = cols.first; fw < cols.end; fw += p.dilationW) {
            const float* __restrict v = xb + (rows.origin + fh) * rowStride + (cols.origin + fw) * C;
            // A select, not std::max: vectorizes, and keeps TF.js' rule that NaN never wins.
            for (int64_t c = 0; c < C; ++c) out[c] = v[c] > out[c] ? v[c] : out[c];
          }
        }
      }
    }
  });
}

}  // namespace

void registerPointwiseKernels(napi_env env, napi_value exports) {
  exportKernel(env, exports, "reduceSum", reduceSum);
  exportKernel(env, exports, "binary", binary);
  exportKernel(env, exports, "unary", unary);
  exportKernel(env, exports, "maxPoolGrad", maxPoolGrad);
  exportKernel(env, exports, "maxPool", maxPool);
}

}  // namespace bdlab
