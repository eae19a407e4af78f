// Element-wise, broadcast and reduction kernels (owned by the pointwise work; see src/engine/kernels/pointwise_native.ts).
#include "napi_args.h"

namespace bdlab {

void registerPointwiseKernels(napi_env, napi_value) {}

}  // namespace bdlab
