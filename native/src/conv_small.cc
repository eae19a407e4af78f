// Direct stride-1 convolution and filter gradient for layers with few channels (LeNet's 3->6 and 6->16,
// the RGB stems of ResNet34 and VGG16 at reduced width). With 3 input channels a patch row is 9-15
// floats, so packing patches for a matrix product costs several times the arithmetic. Here input and
// output gradient are first laid out channel-planar (one zero-padded image plane per channel, a cheap
// pass over few channels), and the arithmetic runs on vectors of 16 neighbouring output pixels of one
// row, read straight from the planes with the filter's horizontal offset as an unaligned load.
#include <algorithm>
#include <cstring>

#include "conv_geometry.h"
#include "gemm.h"
#include "parallel.h"

namespace bdlab {

#if defined(__AVX512F__)
namespace {

typedef float V __attribute__((vector_size(64)));
typedef float VU __attribute__((vector_size(64), aligned(4)));
constexpr int kLanes = 16;
constexpr int kCoBlock = 8;    // output channels per forward tile (x 2 row vectors = 16 accumulators)
constexpr int kGradCo = 4;     // output channels per gradient tile (x up to 5 filter columns = 20 accumulators)
constexpr int kMaxFilterW = 5;
/**
 * Most groups of images the filter gradient keeps sums for: each costs its tiles' sums (up to ~150 KB)
 * to clear and add up, so beyond the threads that can use them they only cost time. A constant, not
 * the thread count, so the gradient's bits do not depend on the thread count.
 */
constexpr int64_t kMaxGradientGroups = 8;

thread_local Scratch planarInput, planarGradient, blockedFilter, gradientSums;

inline V loadu(const float* p) { return *reinterpret_cast<const VU*>(p); }

bool handles(const ConvGeometry& g) {
  return g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1 && g.inC <= 8 && g.outC <= 16 &&
         g.outW <= 2 * kLanes && g.filterW <= kMaxFilterW && g.batch > 0 && g.outH > 0 && g.outW > 0;
}

/** Row length of the planes: room for two vectors from any filter column, so loads never need masks. */
int64_t planeWidth(const ConvGeometry& g) { return 2 * kLanes + g.filterW - 1; }
int64_t planeHeight(const ConvGeometry& g) { return g.outH + g.filterH - 1; }

/** x as [batch][inC][outH + filterH - 1][planeWidth], shifted by the padding, zeros outside the image. */
const float* planarize(const ConvGeometry& g, const float* x) {
  const int64_t ph = planeHeight(g), pw = planeWidth(g);
  float* p = planarInput.get(static_cast<size_t>(g.batch * g.inC * ph * pw));
  parallelFor(g.batch, grainFor(g.inC * ph * pw, kMinChunkFloats), [&](int64_t, int64_t b0, int64_t b1) {
    std::memset(p + b0 * g.inC * ph * pw, 0, static_cast<size_t>((b1 - b0) * g.inC * ph * pw) * sizeof(float));
    for (int64_t b = b0; b < b1; ++b) {
      for (int64_t ih = 0; ih < g.inH; ++ih) {
        const int64_t r = ih + g.padTop;
        if (r < 0 || r >= ph) continue;
        const float* src = x + (b * g.inH + ih) * g.inW * g.inC;
        for (int64_t iw = 0; iw < g.inW; ++iw) {
          const int64_t col = iw + g.padLeft;
          if (col < 0 || col >= pw) continue;
          for (int64_t c = 0; c < g.inC; ++c) p[((b * g.inC + c) * ph + r) * pw + col] = src[iw * g.inC + c];
        }
      }
    }
  });
  return p;
}

template <int NV>
void forward(const ConvGeometry& g, const float* planes, const float* w, float* y, const Epilogue& epilogue) {
  const int64_t ph = planeHeight(g), pw = planeWidth(g);
  const int64_t blocks = (g.outC + kCoBlock - 1) / kCoBlock;
  const int64_t taps = g.filterH * g.filterW * g.inC;
  // Filter as [block][ci][kh][kw][kCoBlock], zero-padded past outC.
  float* wb = blockedFilter.get(static_cast<size_t>(blocks * taps * kCoBlock));
  std::memset(wb, 0, static_cast<size_t>(blocks * taps * kCoBlock) * sizeof(float));
  for (int64_t kh = 0; kh < g.filterH; ++kh) {
    for (int64_t kw = 0; kw < g.filterW; ++kw) {
      for (int64_t ci = 0; ci < g.inC; ++ci) {
        for (int64_t co = 0; co < g.outC; ++co) {
          wb[((((co / kCoBlock) * g.inC + ci) * g.filterH + kh) * g.filterW + kw) * kCoBlock + co % kCoBlock] = w[((kh * g.filterW + kw) * g.inC + ci) * g.outC + co];
        }
      }
    }
  }
  // One output row (all channels) is the unit of work.
  parallelFor(g.batch * g.outH, grainFor(g.outW * g.outC * taps, kMinChunkMacs), [&](int64_t, int64_t row0, int64_t row1) {
    alignas(64) float tile[kCoBlock][NV * kLanes];
    for (int64_t bh = row0; bh < row1; ++bh) {
      const int64_t b = bh / g.outH, oh = bh % g.outH;
      for (int64_t block = 0; block < blocks; ++block) {
        V acc[kCoBlock][NV] = {};
        const float* wk = wb + block * taps * kCoBlock;
        for (int64_t ci = 0; ci < g.inC; ++ci) {
          for (int64_t kh = 0; kh < g.filterH; ++kh) {
            const float* row = planes + ((b * g.inC + ci) * ph + oh + kh) * pw;
            for (int64_t kw = 0; kw < g.filterW; ++kw, wk += kCoBlock) {
              V xv[NV];
              for (int v = 0; v < NV; ++v) xv[v] = loadu(row + kw + v * kLanes);
#pragma GCC unroll 8
              for (int c = 0; c < kCoBlock; ++c) {
                const V wc = splat<V>(wk[c]);
                for (int v = 0; v < NV; ++v) acc[c][v] += wc * xv[v];
              }
            }
          }
        }
        for (int c = 0; c < kCoBlock; ++c) {
          for (int v = 0; v < NV; ++v) *reinterpret_cast<V*>(&tile[c][v * kLanes]) = acc[c][v];
        }
        const int64_t co0 = block * kCoBlock, cn = std::min<int64_t>(kCoBlock, g.outC - co0);
        float* out = y + ((b * g.outH + oh) * g.outW) * g.outC + co0;
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          for (int64_t c = 0; c < cn; ++c) out[ow * g.outC + c] = epilogue.apply(tile[c][ow], co0 + c);
        }
      }
    }
  });
}

template <int NV, int KW>
void filterGradient(const ConvGeometry& g, const float* planes, const float* dy, float* dw) {
  const int64_t ph = planeHeight(g), pw = planeWidth(g);
  const int64_t coPadded = (g.outC + kGradCo - 1) / kGradCo * kGradCo;
  const int64_t rowLen = NV * kLanes;
  // dy as [batch][coPadded][outH][NV * 16]: lanes past outW and channels past outC are zero, so the
  // input values they meet contribute nothing.
  const int64_t imageFloats = coPadded * g.outH * rowLen;
  float* d = planarGradient.get(static_cast<size_t>(g.batch * imageFloats));
  parallelFor(g.batch, grainFor(imageFloats, kMinChunkFloats), [&](int64_t, int64_t b0, int64_t b1) {
    std::memset(d + b0 * imageFloats, 0, static_cast<size_t>((b1 - b0) * imageFloats) * sizeof(float));
    for (int64_t b = b0; b < b1; ++b) {
      for (int64_t oh = 0; oh < g.outH; ++oh) {
        const float* src = dy + (b * g.outH + oh) * g.outW * g.outC;
        for (int64_t ow = 0; ow < g.outW; ++ow) {
          for (int64_t c = 0; c < g.outC; ++c) d[((b * coPadded + c) * g.outH + oh) * rowLen + ow] = src[ow * g.outC + c];
        }
      }
    }
  });
  // Image by image, so that one image's planes (tens of KB) stay in L1/L2 while every (channel, filter
  // row, channel block) tile passes over them; the tiles' sums live in `sums` between images. Each
  // group of images keeps sums of its own, added up in group order at the end; the groups depend on
  // the shape only (at most kMaxGradientGroups), so the gradient has the same bits at every thread count.
  const int64_t blocks = coPadded / kGradCo;
  const int64_t tiles = g.inC * g.filterH * blocks;
  const int64_t sumsPerGroup = tiles * kMaxFilterW * kGradCo;  // vectors
  const int64_t imageMacs = tiles * g.outH * rowLen * KW * kGradCo;
  const int64_t imagesPerGroup = std::max(grainFor(imageMacs, kMinChunkMacs), (g.batch + kMaxGradientGroups - 1) / kMaxGradientGroups);
  const int64_t groups = (g.batch + imagesPerGroup - 1) / imagesPerGroup;
  V* sums = reinterpret_cast<V*>(gradientSums.get(static_cast<size_t>(groups * sumsPerGroup * kLanes)));
  // Adds the products of images [b0, b1) to one group's sums.
  const auto accumulate = [&](int64_t b0, int64_t b1, V* groupSums) {
    for (int64_t b = b0; b < b1; ++b) {
      for (int64_t tile = 0; tile < tiles; ++tile) {
        const int64_t ci = tile / (g.filterH * blocks), kh = (tile / blocks) % g.filterH, co0 = (tile % blocks) * kGradCo;
        V acc[kMaxFilterW][kGradCo];
        V* saved = groupSums + tile * kMaxFilterW * kGradCo;
        for (int kw = 0; kw < kMaxFilterW; ++kw) {
          for (int c = 0; c < kGradCo; ++c) acc[kw][c] = saved[kw * kGradCo + c];
        }
        for (int64_t oh = 0; oh < g.outH; ++oh) {
          const float* row = planes + ((b * g.inC + ci) * ph + oh + kh) * pw;
          const float* grad = d + ((b * coPadded + co0) * g.outH + oh) * rowLen;
          for (int v = 0; v < NV; ++v) {
            // Each shifted input vector is loaded once (unaligned loads split cache lines) and meets every
            // channel's gradient in registers.
            V xs[KW];
            for (int kw = 0; kw < KW; ++kw) xs[kw] = loadu(row + kw + v * kLanes);
            for (int c = 0; c < kGradCo; ++c) {
              const V dv = *reinterpret_cast<const VU*>(grad + c * g.outH * rowLen + v * kLanes);
              for (int kw = 0; kw < KW; ++kw) acc[kw][c] += xs[kw] * dv;
            }
          }
        }
        for (int kw = 0; kw < kMaxFilterW; ++kw) {
          for (int c = 0; c < kGradCo; ++c) saved[kw * kGradCo + c] = acc[kw][c];
        }
      }
    }
  };
  parallelFor(groups, 1, [&](int64_t, int64_t group0, int64_t group1) {
    for (int64_t group = group0; group < group1; ++group) {
      V* groupSums = sums + group * sumsPerGroup;
      std::memset(static_cast<void*>(groupSums), 0, static_cast<size_t>(sumsPerGroup) * sizeof(V));
      accumulate(group * imagesPerGroup, std::min(g.batch, (group + 1) * imagesPerGroup), groupSums);
    }
  });
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t ci = tile / (g.filterH * blocks), kh = (tile / blocks) % g.filterH, co0 = (tile % blocks) * kGradCo;
    for (int64_t kw = 0; kw < g.filterW; ++kw) {
      for (int64_t c = 0; c < kGradCo && co0 + c < g.outC; ++c) {
        // The groups' lane sums are added in group order as vectors, then the lanes in double.
        const int64_t at = (tile * kMaxFilterW + kw) * kGradCo + c;
        V total = sums[at];
        for (int64_t group = 1; group < groups; ++group) total += sums[group * sumsPerGroup + at];
        alignas(64) float lanes[kLanes];
        *reinterpret_cast<V*>(lanes) = total;
        double sum = 0;
        for (int l = 0; l < kLanes; ++l) sum += lanes[l];
        dw[((kh * g.filterW + kw) * g.inC + ci) * g.outC + co0 + c] = static_cast<float>(sum);
      }
    }
  }
}

/**
 * Stride-1 convolution of few channels (16 -> 16 and 32 -> 32: ResNet34's and VGG16's first stages at
 * width 0.25) as an implicit matrix product without packing: over a zero-padded copy of the input,
 * the patch rows of neighbouring output pixels are CI floats apart, so the micro-kernel broadcasts them
 * at constant displacements from one pointer, and the filter, [taps][outC], already holds one row of
 * vectors per tap. Packing the patch rows was most of the time of the general path at these widths.
 * A tile is MR pixels of one output row by NV vectors of output channels.
 */
thread_local Scratch paddedInput;

template <int CI, int MR, int NV>
void unpackedForward(const ConvGeometry& g, const float* x, const float* w, float* y, const Epilogue& epilogue) {
  constexpr int64_t kBlock = NV * kLanes;
  const int64_t chunks = (g.outW + MR - 1) / MR;
  const int64_t pw = chunks * MR + g.filterW - 1;  // slack so the last chunk's extra pixels read zeros
  const int64_t ph = g.outH + g.filterH - 1;
  float* p = paddedInput.get(static_cast<size_t>(g.batch * ph * pw * CI));
  // Only the border is zeroed: clearing the whole copy first cost a tenth of the convolution.
  const int64_t first = std::max<int64_t>(0, -g.padLeft), last = std::min<int64_t>(g.inW, pw - g.padLeft);
  const int64_t dataStart = first + g.padLeft, dataEnd = std::max(dataStart, last + g.padLeft);
  parallelFor(g.batch, grainFor(ph * pw * CI, kMinChunkFloats), [&](int64_t, int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      for (int64_t r = 0; r < ph; ++r) {
        float* row = p + (b * ph + r) * pw * CI;
        const int64_t ih = r - g.padTop;
        if (ih < 0 || ih >= g.inH || first >= last) {
          std::memset(row, 0, static_cast<size_t>(pw * CI) * sizeof(float));
          continue;
        }
        std::memset(row, 0, static_cast<size_t>(dataStart * CI) * sizeof(float));
        std::memcpy(row + dataStart * CI, x + ((b * g.inH + ih) * g.inW + first) * CI, static_cast<size_t>((last - first) * CI) * sizeof(float));
        std::memset(row + dataEnd * CI, 0, static_cast<size_t>((pw - dataEnd) * CI) * sizeof(float));
      }
    }
  });
  const int64_t rowTaps = g.filterW * CI;
  const V zero = {}, six = splat<V>(6.f);
  // One output row (all channels) is the unit of work.
  parallelFor(g.batch * g.outH, grainFor(g.outW * g.outC * g.filterH * rowTaps, kMinChunkMacs), [&](int64_t, int64_t row0, int64_t row1) {
    for (int64_t bh = row0; bh < row1; ++bh) {
      const int64_t b = bh / g.outH, oh = bh % g.outH;
      for (int64_t co0 = 0; co0 < g.outC; co0 += kBlock) {
        for (int64_t chunk = 0; chunk < chunks; ++chunk) {
          V acc[MR][NV] = {};
          for (int64_t kh = 0; kh < g.filterH; ++kh) {
            const float* a = p + ((b * ph + oh + kh) * pw + chunk * MR) * CI;
            const float* wk = w + kh * rowTaps * g.outC + co0;
            for (int64_t k = 0; k < rowTaps; ++k, ++a, wk += g.outC) {
              V wv[NV];
              for (int v = 0; v < NV; ++v) wv[v] = *reinterpret_cast<const VU*>(wk + v * kLanes);
#pragma GCC unroll 16
              for (int r = 0; r < MR; ++r) {
                const V ar = splat<V>(a[r * CI]);
                for (int v = 0; v < NV; ++v) acc[r][v] += ar * wv[v];
              }
            }
          }
          const int64_t n = std::min<int64_t>(MR, g.outW - chunk * MR);
          float* out = y + ((b * g.outH + oh) * g.outW + chunk * MR) * g.outC + co0;
          for (int v = 0; v < NV; ++v) {
            const V bias = epilogue.bias != nullptr ? *reinterpret_cast<const VU*>(epilogue.bias + co0 + v * kLanes) : zero;
            for (int64_t r = 0; r < n; ++r) {
              V value = acc[r][v] + bias;
              if (epilogue.activation == Epilogue::kRelu) value = value > zero ? value : zero;
              if (epilogue.activation == Epilogue::kRelu6) value = value < zero ? zero : (value > six ? six : value);
              *reinterpret_cast<VU*>(out + r * g.outC + v * kLanes) = value;
            }
          }
        }
      }
    }
  });
}

}  // namespace

bool unpackedConvolution(const ConvGeometry& g, const float* x, const float* w, float* y, const Epilogue& epilogue) {
  if (g.strideH != 1 || g.strideW != 1 || g.dilationH != 1 || g.dilationW != 1 || g.batch == 0 || g.outH == 0) return false;
  if (g.inC == 16 && g.outC == 16 && g.outW >= 16) {
    unpackedForward<16, 16, 1>(g, x, w, y, epilogue);
    return true;
  }
  if (g.inC == 32 && g.outC % 32 == 0 && g.outW >= 8) {
    unpackedForward<32, 8, 2>(g, x, w, y, epilogue);
    return true;
  }
  // From 64 channels on, packing is a small part of the work and the GEMM's wider tiles win.
  return false;
}

bool smallConvolution(const ConvGeometry& g, const float* x, const float* w, float* y, const Epilogue& epilogue) {
  if (!handles(g)) return false;
  const float* planes = planarize(g, x);
  if (g.outW <= kLanes) {
    forward<1>(g, planes, w, y, epilogue);
  } else {
    forward<2>(g, planes, w, y, epilogue);
  }
  return true;
}

bool smallFilterGradient(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  if (!handles(g) || (g.filterW != 3 && g.filterW != 5)) return false;
  const float* planes = planarize(g, x);
  const bool narrow = g.outW <= kLanes;
  if (g.filterW == 5) {
    narrow ? filterGradient<1, 5>(g, planes, dy, dw) : filterGradient<2, 5>(g, planes, dy, dw);
  } else {
    narrow ? filterGradient<1, 3>(g, planes, dy, dw) : filterGradient<2, 3>(g, planes, dy, dw);
  }
  return true;
}

#else

bool unpackedConvolution(const ConvGeometry&, const float*, const float*, float*, const Epilogue&) { return false; }
bool smallConvolution(const ConvGeometry&, const float*, const float*, float*, const Epilogue&) { return false; }
bool smallFilterGradient(const ConvGeometry&, const float*, const float*, float*) { return false; }

#endif

}  // namespace bdlab
