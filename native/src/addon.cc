#include "napi_args.h"
#include "parallel.h"

namespace bdlab {
namespace {

napi_value call(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, &data);
  try {
    Args args(env, info);
    reinterpret_cast<Kernel>(data)(args);
    if (args.hasResult()) {
      napi_value result;
      napi_create_double(env, args.result(), &result);
      return result;
    }
  } catch (const std::exception& error) {
    napi_throw_error(env, "BDLAB_NATIVE", error.what());
  }
  return nullptr;
}

// setThreads(n, splitEverything = 0): the threads every later kernel may use, the calling one included.
// splitEverything (tests only) ignores the minimum work per chunk, so small shapes are split too.
void setThreads(Args& a) {
  const int64_t n = a.integer(0);
  if (n < 1 || n > 1024) throw std::invalid_argument("the thread count must be between 1 and 1024");
  setThreadCount(static_cast<int>(n), a.count() > 1 && a.integer(1) != 0);
}

// waitForDeferred(): returns when every deferred kernel has finished (rethrowing the first failure).
void waitDeferred(Args&) { waitForDeferred(); }

// deferredFinishedBelow(): every deferred kernel with a smaller id has finished.
void finishedBelow(Args& a) { a.setResult(static_cast<double>(deferredFinishedBelow())); }

napi_value init(napi_env env, napi_value exports) {
  exportKernel(env, exports, "setThreads", setThreads);
  exportKernel(env, exports, "waitForDeferred", waitDeferred);
  exportKernel(env, exports, "deferredFinishedBelow", finishedBelow);
  // Parked workers are joined when Node tears the environment down (process exit, worker end).
  napi_add_env_cleanup_hook(env, [](void*) { stopThreads(); }, nullptr);
  registerConvKernels(env, exports);
  registerMatMulKernels(env, exports);
  registerPointwiseKernels(env, exports);
  registerBatchNormKernels(env, exports);
  registerBatchNormInferenceKernels(env, exports);
  registerOptimizerKernels(env, exports);
  napi_value isa;
#if defined(__AVX512F__)
  const char* name = "avx512";
#elif defined(__AVX2__)
  const char* name = "avx2";
#elif defined(__AVX__)
  const char* name = "avx";
#else
  const char* name = "generic";
#endif
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &isa);
  napi_set_named_property(env, exports, "isa", isa);
  return exports;
}

}  // namespace

void exportKernel(napi_env env, napi_value exports, const char* name, Kernel kernel) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, call, reinterpret_cast<void*>(kernel), &fn);
  napi_set_named_property(env, exports, name, fn);
}

}  // namespace bdlab

NAPI_MODULE(NODE_GYP_MODULE_NAME, bdlab::init)
