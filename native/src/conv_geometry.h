// The shape of one NHWC convolution as the kernels receive it, shared by the GEMM-based path
// (conv.cc) and the direct path for layers with very few channels (conv_small.cc).
#pragma once
#include <cstdint>
#include <stdexcept>

#include "gemm.h"
#include "napi_args.h"

namespace bdlab {

struct ConvGeometry {
  int64_t batch, inH, inW, inC, outH, outW, outC, filterH, filterW, strideH, strideW, dilationH, dilationW, padTop, padLeft;

  int64_t pixels() const { return batch * outH * outW; }
  int64_t taps() const { return filterH * filterW * inC; }
  bool isPointwise() const { return filterH == 1 && filterW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && outH == inH && outW == inW; }

  static ConvGeometry read(const Args& a, size_t i) {
    ConvGeometry g{};
    int64_t* fields[] = {&g.batch, &g.inH, &g.inW, &g.inC, &g.outH, &g.outW, &g.outC, &g.filterH, &g.filterW, &g.strideH, &g.strideW, &g.dilationH, &g.dilationW, &g.padTop, &g.padLeft};
    for (int64_t* f : fields) *f = a.integer(i++);
    for (int64_t* f : fields) {
      if (*f < 0) throw std::invalid_argument("convolution geometry must not be negative");
    }
    if (g.strideH == 0 || g.strideW == 0 || g.dilationH == 0 || g.dilationW == 0) throw std::invalid_argument("strides and dilations must be positive");
    return g;
  }
};

/**
 * Direct convolution for layers with few input and output channels (RGB and LeNet-sized layers), where
 * packing patches for a matrix product costs more than the arithmetic. Return false when the geometry
 * is not one they handle (the caller then uses the GEMM path).
 */
bool smallConvolution(const ConvGeometry& g, const float* x, const float* w, float* y, const Epilogue& epilogue);
bool smallFilterGradient(const ConvGeometry& g, const float* x, const float* dy, float* dw);
/** Stride-1 convolution of 16 -> 16 or 32 -> 32k channels without packing patches (false: not that geometry). */
bool unpackedConvolution(const ConvGeometry& g, const float* x, const float* w, float* y, const Epilogue& epilogue);

}  // namespace bdlab
