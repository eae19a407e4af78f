// NHWC 2-D convolution and its two gradients as packed matrix multiplies over the implicit patch
// ("im2col") matrix: row = output pixel (b, oh, ow), column = filter tap (kh, kw, ci). The patch matrix
// is never materialized: the GEMM's packing routines gather it block by block from the input.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_geometry.h"
#include "gemm.h"
#include "napi_args.h"
#include "parallel.h"

namespace bdlab {
namespace {

/**
 * A run of consecutive taps starting at (kh, kw, channel), `length` long, at position `offset` in the
 * block. With dilation 1 along the width, the taps of one filter row are contiguous in the NHWC input
 * (kw + 1 is the next pixel), so a run covers a whole filter row: 15 floats instead of 3 for a 5x5
 * filter over RGB, which is what makes packing the first layer's patches cheap.
 */
struct TapRun {
  int64_t offset, length, kh, kw, channel, kwLast;
};

std::vector<TapRun> tapRuns(const ConvGeometry& g, int64_t first, int64_t count) {
  std::vector<TapRun> runs;
  const int64_t rowTaps = g.filterW * g.inC;
  int64_t t = first;
  while (t < first + count) {
    const int64_t channel = t % g.inC;
    const int64_t kw = (t / g.inC) % g.filterW;
    const int64_t kh = t / rowTaps;
    const int64_t limit = g.dilationW == 1 ? (kh + 1) * rowTaps : t - channel + g.inC;
    const int64_t length = std::min(limit, first + count) - t;
    runs.push_back({t - first, length, kh, kw, channel, kw + (channel + length - 1) / g.inC});
    t += length;
  }
  return runs;
}

/** Where an output pixel's receptive field starts in the input. */
struct PixelOrigin {
  int64_t batch, ih, iw;
};

PixelOrigin originOf(const ConvGeometry& g, int64_t pixel) {
  const int64_t ow = pixel % g.outW;
  const int64_t oh = (pixel / g.outW) % g.outH;
  return {pixel / (g.outW * g.outH), oh * g.strideH - g.padTop, ow * g.strideW - g.padLeft};
}

/** Walks output pixels in order without a division per pixel. */
class PixelCursor {
 public:
  PixelCursor(const ConvGeometry& g, int64_t pixel) : g_(g), origin_(originOf(g, pixel)), ow_(pixel % g.outW), oh_((pixel / g.outW) % g.outH) {}
  const PixelOrigin& origin() const { return origin_; }
  void next() {
    origin_.iw += g_.strideW;
    if (++ow_ < g_.outW) return;
    ow_ = 0;
    origin_.iw = -g_.padLeft;
    origin_.ih += g_.strideH;
    if (++oh_ < g_.outH) return;
    oh_ = 0;
    origin_.ih = -g_.padTop;
    ++origin_.batch;
  }

 private:
  const ConvGeometry& g_;
  PixelOrigin origin_;
  int64_t ow_, oh_;
};

// Runs are short (a filter row: 15 floats for 5x5 RGB), where an inline loop beats a memcpy call.
inline void copyStrided(float* out, int64_t stride, const float* src, int64_t n) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = src[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * stride] = src[i];
  }
}

inline void zeroStrided(float* out, int64_t stride, int64_t n) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.f;
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * stride] = 0.f;
  }
}

/** Copies a run of a pixel's patch to out[i * stride], zeros where the receptive field lies in the padding. */
inline void gatherRun(const ConvGeometry& g, const float* x, const PixelOrigin& o, const TapRun& run, float* out, int64_t stride) {
  const int64_t ih = o.ih + run.kh * g.dilationH;
  if (ih < 0 || ih >= g.inH) return zeroStrided(out, stride, run.length);
  const float* row = x + (o.batch * g.inH + ih) * g.inW * g.inC;
  const int64_t iwFirst = o.iw + run.kw * g.dilationW;
  if (iwFirst >= 0 && o.iw + run.kwLast * g.dilationW < g.inW) return copyStrided(out, stride, row + iwFirst * g.inC + run.channel, run.length);
  // Partly in the padding: one filter column at a time.
  int64_t done = 0, kw = run.kw, channel = run.channel;
  while (done < run.length) {
    const int64_t n = std::min(g.inC - channel, run.length - done);
    const int64_t iw = o.iw + kw * g.dilationW;
    if (iw < 0 || iw >= g.inW) {
      zeroStrided(out + done * stride, stride, n);
    } else {
      copyStrided(out + done * stride, stride, row + iw * g.inC + channel, n);
    }
    done += n;
    channel = 0;
    ++kw;
  }
}

/** The input's channels at tap (kh, kw) of a pixel's receptive field, or nullptr in the padding. */
inline float* tapTarget(const ConvGeometry& g, float* x, const PixelOrigin& o, int64_t kh, int64_t kw) {
  const int64_t ih = o.ih + kh * g.dilationH;
  const int64_t iw = o.iw + kw * g.dilationW;
  if (ih < 0 || ih >= g.inH || iw < 0 || iw >= g.inW) return nullptr;
  return x + ((o.batch * g.inH + ih) * g.inW + iw) * g.inC;
}

/**
 * Offsets of taps [first, first + count) from a pixel's origin in the input, for receptive fields that
 * lie wholly inside it. With few channels per filter row (RGB layers: runs of 9 or 15 floats), a
 * table-driven gather beats copying run by run.
 */
std::vector<int32_t> tapOffsets(const ConvGeometry& g, int64_t first, int64_t count) {
  std::vector<int32_t> offsets(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t t = first + i;
    const int64_t channel = t % g.inC, kw = (t / g.inC) % g.filterW, kh = t / (g.inC * g.filterW);
    offsets[i] = static_cast<int32_t>((kh * g.dilationH * g.inW + kw * g.dilationW) * g.inC + channel);
  }
  return offsets;
}

inline bool shortRuns(const ConvGeometry& g) { return (g.dilationW == 1 ? g.filterW * g.inC : g.inC) < 16; }

inline const float* insideOrigin(const ConvGeometry& g, const float* x, const PixelOrigin& o) {
  if (o.ih < 0 || o.iw < 0 || o.ih + (g.filterH - 1) * g.dilationH >= g.inH || o.iw + (g.filterW - 1) * g.dilationW >= g.inW) return nullptr;
  return x + ((o.batch * g.inH + o.ih) * g.inW + o.iw) * g.inC;
}

/** The patch matrix with j = output pixel and k = tap: the A operand of the forward convolution. */
class PatchRows final : public Operand {
 public:
  PatchRows(const ConvGeometry& g, const float* x) : g_(g), x_(x) {}
  void packRows(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc) const override {
    const std::vector<TapRun> runs = tapRuns(g_, k0, kc);
    const bool table = shortRuns(g_);
    const std::vector<int32_t> offsets = table ? tapOffsets(g_, k0, kc) : std::vector<int32_t>();
    PixelCursor cursor(g_, j0);
    for (int64_t j = 0; j < jn; ++j, cursor.next()) {
      float* __restrict out = dst + j * kRowStride;
      const float* base = table ? insideOrigin(g_, x_, cursor.origin()) : nullptr;
      if (base != nullptr) {
        for (int64_t k = 0; k < kc; ++k) out[k] = base[offsets[k]];
      } else {
        for (const TapRun& run : runs) gatherRun(g_, x_, cursor.origin(), run, out + run.offset, 1);
      }
    }
  }
  void pack(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc, int width) const override {
    const std::vector<TapRun> runs = tapRuns(g_, k0, kc);
    for (int64_t s = 0; s < jn; s += width) {
      float* d = dst + s * kc;
      PixelCursor cursor(g_, j0 + s);
      for (int64_t w = 0; w < width; ++w, cursor.next()) {
        if (s + w >= jn) {
          for (int64_t k = 0; k < kc; ++k) d[k * width + w] = 0.f;
          continue;
        }
        for (const TapRun& run : runs) gatherRun(g_, x_, cursor.origin(), run, d + run.offset * width + w, width);
      }
    }
  }

 private:
  ConvGeometry g_;
  const float* x_;
};

/** The transposed patch matrix, j = tap and k = output pixel: the A operand of the filter gradient. */
class PatchColumns final : public Operand {
 public:
  PatchColumns(const ConvGeometry& g, const float* x) : g_(g), x_(x) {}
  void packRows(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc) const override {
    // One tap across pixels: a strided gather, used only if a caller puts the filter gradient's patches
    // on the A side (conv2dBackpropFilter puts them on the B side).
    for (int64_t j = 0; j < jn; ++j) {
      const std::vector<TapRun> runs = tapRuns(g_, j0 + j, 1);
      PixelCursor cursor(g_, k0);
      float* out = dst + j * kRowStride;
      for (int64_t k = 0; k < kc; ++k, cursor.next()) gatherRun(g_, x_, cursor.origin(), runs[0], out + k, 1);
    }
  }
  void pack(float* dst, int64_t j0, int64_t jn, int64_t k0, int64_t kc, int width) const override {
    // Pixel-major, so each pixel's origin is found once for all slivers.
    std::vector<std::vector<TapRun>> runs;
    for (int64_t s = 0; s < jn; s += width) runs.push_back(tapRuns(g_, j0 + s, std::min<int64_t>(width, jn - s)));
    const bool table = shortRuns(g_);
    const std::vector<int32_t> offsets = table ? tapOffsets(g_, j0, jn) : std::vector<int32_t>();
    PixelCursor cursor(g_, k0);
    for (int64_t k = 0; k < kc; ++k, cursor.next()) {
      const float* base = table ? insideOrigin(g_, x_, cursor.origin()) : nullptr;
      for (size_t i = 0; i < runs.size(); ++i) {
        const int64_t s = static_cast<int64_t>(i) * width;
        const int64_t valid = std::min<int64_t>(width, jn - s);
        float* __restrict out = dst + s * kc + k * width;
        if (base != nullptr) {
          const int32_t* off = offsets.data() + s;
          for (int64_t w = 0; w < valid; ++w) out[w] = base[off[w]];
        } else {
          for (const TapRun& run : runs[i]) gatherRun(g_, x_, cursor.origin(), run, out + run.offset, 1);
        }
        for (int64_t w = valid; w < width; ++w) out[w] = 0.f;
      }
    }
  }

 private:
  ConvGeometry g_;
  const float* x_;
};

thread_local Scratch patchGradients;

// conv2d(memory, x, filter, y, bias | -1, activation, ...geometry)
void conv2d(Args& a) {
  a.memory(0);
  const ConvGeometry g = ConvGeometry::read(a, 6);
  const float* x = a.floats(1, g.batch * g.inH * g.inW * g.inC);
  const float* w = a.floats(2, g.taps() * g.outC);
  float* y = a.floats(3, g.pixels() * g.outC);
  Epilogue epilogue;
  epilogue.bias = a.optionalFloats(4, g.outC);
  epilogue.activation = a.integer(5);
  if (epilogue.activation < Epilogue::kLinear || epilogue.activation > Epilogue::kRelu6) throw std::invalid_argument("unknown activation");
  const StridedOperand filter(w, 1, g.outC);
  if (g.isPointwise()) {
    gemm(g.pixels(), g.outC, g.taps(), StridedOperand(x, g.inC, 1), filter, y, g.outC, 1, false, epilogue);
  } else if (!smallConvolution(g, x, w, y, epilogue) && !unpackedConvolution(g, x, w, y, epilogue)) {
    gemm(g.pixels(), g.outC, g.taps(), PatchRows(g, x), filter, y, g.outC, 1, false, epilogue);
  }
}

// With stride 1, dx is the forward convolution of dy by the filter rotated 180 degrees with its channel
// axes swapped, padded by (filter - 1 - pad): that reuses the forward path, whose patch packing is a
// plain copy, instead of a product with only outC terms per element followed by a scatter. Below 16
// input channels (one vector of output) the scatter is faster: LeNet's 6-channel layer.
bool backpropInputAsConvolution(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  const int64_t padTop = g.filterH - 1 - g.padTop, padLeft = g.filterW - 1 - g.padLeft;
  if (g.inC < 16 || g.strideH != 1 || g.strideW != 1 || g.dilationH != 1 || g.dilationW != 1 || padTop < 0 || padLeft < 0) return false;
  std::vector<float> rotated(static_cast<size_t>(g.taps() * g.outC));
  for (int64_t kh = 0; kh < g.filterH; ++kh) {
    for (int64_t kw = 0; kw < g.filterW; ++kw) {
      const float* src = w + ((g.filterH - 1 - kh) * g.filterW + (g.filterW - 1 - kw)) * g.inC * g.outC;
      float* dst = rotated.data() + (kh * g.filterW + kw) * g.outC * g.inC;
      for (int64_t ci = 0; ci < g.inC; ++ci) {
        for (int64_t co = 0; co < g.outC; ++co) dst[co * g.inC + ci] = src[ci * g.outC + co];
      }
    }
  }
  ConvGeometry t = g;
  t.inH = g.outH, t.inW = g.outW, t.inC = g.outC, t.outH = g.inH, t.outW = g.inW, t.outC = g.inC, t.padTop = padTop, t.padLeft = padLeft;
  if (unpackedConvolution(t, dy, rotated.data(), dx, {})) return true;
  gemm(t.pixels(), t.outC, t.taps(), PatchRows(t, dy), StridedOperand(rotated.data(), 1, t.outC), dx, t.outC, 1, false);
  return true;
}

// conv2dBackpropInput(memory, dy, filter, dx, ...geometry): dx = col2im(dy x filter^T)
void conv2dBackpropInput(Args& a) {
  a.memory(0);
  const ConvGeometry g = ConvGeometry::read(a, 4);
  const float* dy = a.floats(1, g.pixels() * g.outC);
  const float* w = a.floats(2, g.taps() * g.outC);
  float* dx = a.floats(3, g.batch * g.inH * g.inW * g.inC);
  const StridedOperand filterT(w, g.outC, 1);
  if (g.isPointwise()) {
    gemm(g.pixels(), g.inC, g.outC, StridedOperand(dy, g.outC, 1), filterT, dx, g.inC, 1, false);
    return;
  }
  if (backpropInputAsConvolution(g, dy, w, dx)) return;
  // Images are the independent units: the scatter of one image's patch gradients never touches another's.
  const int64_t taps = g.taps(), imagePixels = g.outH * g.outW, imageFloats = g.inH * g.inW * g.inC;
  parallelFor(g.batch, grainFor(imagePixels * taps * g.outC, kMinChunkMacs), [&](int64_t, int64_t b0, int64_t b1) {
    std::memset(dx + b0 * imageFloats, 0, static_cast<size_t>((b1 - b0) * imageFloats) * sizeof(float));
    // Patch-gradient rows are computed a chunk of pixels at a time (about 1 MB) and scattered into dx.
    const int64_t first = b0 * imagePixels, end = b1 * imagePixels;
    const int64_t chunk = std::max<int64_t>(kMR, std::min<int64_t>(end - first, (1 << 18) / std::max<int64_t>(taps, 1)));
    float* patches = patchGradients.get(static_cast<size_t>(chunk * taps));
    for (int64_t p0 = first; p0 < end; p0 += chunk) {
      const int64_t rows = std::min(chunk, end - p0);
      gemm(rows, taps, g.outC, StridedOperand(dy + p0 * g.outC, g.outC, 1), filterT, patches, taps, 1, false);
      for (int64_t r = 0; r < rows; ++r) {
        const PixelOrigin o = originOf(g, p0 + r);
        const float* row = patches + r * taps;
        for (int64_t kh = 0; kh < g.filterH; ++kh) {
          for (int64_t kw = 0; kw < g.filterW; ++kw) {
            float* target = tapTarget(g, dx, o, kh, kw);
            if (target == nullptr) continue;
            const float* src = row + (kh * g.filterW + kw) * g.inC;
            for (int64_t c = 0; c < g.inC; ++c) target[c] += src[c];
          }
        }
      }
    }
  });
}

// dfilter^T = dy^T x patches, so the patches are packed as B (k-major: each pixel's taps are contiguous
// runs of the input) and only dy, 1/taps of their size, is transposed; the small [outC, taps] product
// is transposed into dfilter at the end.
void filterGradient(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  if (smallFilterGradient(g, x, dy, dw)) return;
  const int64_t taps = g.taps();
  std::vector<float> product(static_cast<size_t>(g.outC * taps));
  const StridedOperand dyRows(dy, 1, g.outC);
  if (g.isPointwise()) {
    gemm(g.outC, taps, g.pixels(), dyRows, StridedOperand(x, 1, g.inC), product.data(), taps, 1, false);
  } else {
    gemm(g.outC, taps, g.pixels(), dyRows, PatchColumns(g, x), product.data(), taps, 1, false);
  }
  for (int64_t t = 0; t < taps; ++t) {
    for (int64_t c = 0; c < g.outC; ++c) dw[t * g.outC + c] = product[c * taps + t];
  }
}

// conv2dBackpropFilter(memory, x, dy, dfilter, ...geometry[, deferred]): with `deferred` set, the
// gradient is queued for an idle pool thread and the task id is returned (0: it ran at once), see
// defer() in parallel.h. The wasm heap's memory does not move when it grows, so the pointers stay valid.
void conv2dBackpropFilter(Args& a) {
  a.memory(0);
  const ConvGeometry g = ConvGeometry::read(a, 4);
  const float* x = a.floats(1, g.batch * g.inH * g.inW * g.inC);
  const float* dy = a.floats(2, g.pixels() * g.outC);
  float* dw = a.floats(3, g.taps() * g.outC);
  if (a.count() > 19 && a.integer(19) != 0) {
    a.setResult(static_cast<double>(defer([g, x, dy, dw] { filterGradient(g, x, dy, dw); })));
    return;
  }
  filterGradient(g, x, dy, dw);
}

}  // namespace

void registerConvKernels(napi_env env, napi_value exports) {
  exportKernel(env, exports, "conv2d", conv2d);
  exportKernel(env, exports, "conv2dBackpropInput", conv2dBackpropInput);
  exportKernel(env, exports, "conv2dBackpropFilter", conv2dBackpropFilter);
}

}  // namespace bdlab
