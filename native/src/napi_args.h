// Argument unpacking for the kernels' N-API entry points. Every kernel receives the memory that holds
// its tensors (the WebAssembly heap's ArrayBuffer, or any ArrayBuffer / typed array in tests), byte
// offsets into it and integer shape parameters. Offsets are bounds-checked against the buffer so a
// wrong shape from JavaScript raises an exception instead of corrupting memory.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace bdlab {

class Args {
 public:
  Args(napi_env env, napi_callback_info info) : env_(env) {
    argc_ = kMax;
    if (napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr) != napi_ok) throw std::runtime_error("cannot read arguments");
  }

  size_t count() const { return argc_; }

  int64_t integer(size_t i) const {
    int64_t v = 0;
    if (i >= argc_ || napi_get_value_int64(env_, argv_[i], &v) != napi_ok) throw std::invalid_argument("argument " + std::to_string(i) + " must be a number");
    return v;
  }

  double number(size_t i) const {
    double v = 0;
    if (i >= argc_ || napi_get_value_double(env_, argv_[i], &v) != napi_ok) throw std::invalid_argument("argument " + std::to_string(i) + " must be a number");
    return v;
  }

  /** Selects the memory (argument i) that later float pointers are taken from. */
  void memory(size_t i) {
    if (i >= argc_) throw std::invalid_argument("missing memory argument");
    bool is = false;
    void* data = nullptr;
    size_t length = 0;
    if (napi_is_arraybuffer(env_, argv_[i], &is) == napi_ok && is) {
      if (napi_get_arraybuffer_info(env_, argv_[i], &data, &length) != napi_ok) throw std::invalid_argument("cannot read the ArrayBuffer");
    } else if (napi_is_typedarray(env_, argv_[i], &is) == napi_ok && is) {
      napi_typedarray_type type;
      size_t elements = 0, offset = 0;
      napi_value buffer;
      if (napi_get_typedarray_info(env_, argv_[i], &type, &elements, &data, &buffer, &offset) != napi_ok) throw std::invalid_argument("cannot read the typed array");
      void* base = nullptr;
      napi_get_arraybuffer_info(env_, buffer, &base, &length);
      data = base;  // offsets are relative to the underlying ArrayBuffer, as wasm heap offsets are
    } else {
      throw std::invalid_argument("argument " + std::to_string(i) + " must be an ArrayBuffer or typed array");
    }
    base_ = static_cast<uint8_t*>(data);
    length_ = length;
  }

  /** A float pointer at the byte offset in argument i, checked to hold `count` floats. */
  float* floats(size_t i, int64_t count) const { return floatsAt(integer(i), count); }

  /** A float pointer at a byte offset of the memory (from a table argument), checked to hold `count` floats. */
  float* floatsAt(int64_t offset, int64_t count) const {
    if (base_ == nullptr) throw std::logic_error("memory() not selected");
    if (offset < 0 || offset % 4 != 0 || count < 0 || static_cast<uint64_t>(offset) + static_cast<uint64_t>(count) * 4 > length_) {
      throw std::out_of_range("tensor at byte offset " + std::to_string(offset) + " with " + std::to_string(count) +
                              " floats lies outside the " + std::to_string(length_) + "-byte memory");
    }
    return reinterpret_cast<float*>(base_ + offset);
  }

  /** The numbers of a Float64Array in argument i (a table of offsets and sizes), checked to hold a multiple of `row` values. */
  const double* table(size_t i, size_t row, size_t* rows) const {
    bool is = false;
    napi_typedarray_type type;
    size_t elements = 0, offset = 0;
    void* data = nullptr;
    napi_value buffer;
    if (i >= argc_ || napi_is_typedarray(env_, argv_[i], &is) != napi_ok || !is ||
        napi_get_typedarray_info(env_, argv_[i], &type, &elements, &data, &buffer, &offset) != napi_ok || type != napi_float64_array) {
      throw std::invalid_argument("argument " + std::to_string(i) + " must be a Float64Array");
    }
    if (row == 0 || elements % row != 0) throw std::invalid_argument("argument " + std::to_string(i) + " must hold rows of " + std::to_string(row) + " numbers");
    *rows = elements / row;
    return static_cast<const double*>(data);
  }

  /** The number the entry point returns to JavaScript (else undefined). */
  void setResult(double value) {
    result_ = value;
    hasResult_ = true;
  }
  bool hasResult() const { return hasResult_; }
  double result() const { return result_; }

  /** Like floats(), but a negative offset means "absent" and yields nullptr. */
  float* optionalFloats(size_t i, int64_t count) const { return integer(i) < 0 ? nullptr : floats(i, count); }

 private:
  static constexpr size_t kMax = 24;
  napi_env env_;
  napi_value argv_[kMax];
  size_t argc_;
  uint8_t* base_ = nullptr;
  size_t length_ = 0;
  double result_ = 0;
  bool hasResult_ = false;
};

using Kernel = void (*)(Args&);

/** Registers `kernel` as exports[name], turning C++ exceptions into JavaScript errors. */
void exportKernel(napi_env env, napi_value exports, const char* name, Kernel kernel);

// Each source file registers its own kernels.
void registerConvKernels(napi_env env, napi_value exports);
void registerMatMulKernels(napi_env env, napi_value exports);
void registerPointwiseKernels(napi_env env, napi_value exports);
void registerBatchNormKernels(napi_env env, napi_value exports);
void registerBatchNormInferenceKernels(napi_env env, napi_value exports);
void registerOptimizerKernels(napi_env env, napi_value exports);

}  // namespace bdlab
