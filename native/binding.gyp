{
  "targets": [
    {
      "target_name": "bdlab_kernels",
      "sources": [
        "src/addon.cc",
        "src/parallel.cc",
        "src/gemm.cc",
        "src/conv.cc",
        "src/conv_small.cc",
        "src/matmul.cc",
        "src/pointwise.cc",
        "src/batch_norm.cc",
        "src/batch_norm_inference.cc",
        "src/optimizer.cc"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-pthread", "-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
