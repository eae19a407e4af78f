// Fused batch normalization for training (see src/engine/kernels/batch_norm_native.ts).
#include "napi_args.h"

namespace bdlab {

void registerBatchNormKernels(napi_env, napi_value) {}

}  // namespace bdlab
