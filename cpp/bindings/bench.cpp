// Measurement helpers for benchmarks/: the GEMM floor of a training step (or of a forward pass) and one
// core's FP32 peak as its FMA units deliver it.
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>

#include "bindings/convert.h"
#include "tensor/blas.h"

namespace xk {

namespace {

// Seconds per training step spent in the GEMMs alone, for a dense stack `sizes` (input, hidden..., output)
// at `batch`, with the buffers shared the way a replayed step shares them: forward H_l = H_{l-1} W_l,
// backward dH_{l-1} = dH_l W_l^T (not for the input layer) and the weight gradient H_{l-1}^T dH_l, written
// into a gradient buffer, or, for plain SGD (`fused_sgd`), added into W_l itself (beta = 1).
// `forward_only`: the forward products alone, the floor of predict/evaluate.
double time_dense_step(const std::vector<size_t>& sizes, size_t batch, bool fused_sgd, int repeats,
                       bool forward_only) {
  size_t layers = sizes.size() - 1;
  std::vector<Array> h(layers + 1), dh(layers + 1), w(layers), dw(layers);
  for (size_t l = 0; l <= layers; ++l) {
    h[l] = xt::ones<float>({batch * sizes[l]});
    dh[l] = xt::ones<float>({batch * sizes[l]});
  }
  for (size_t l = 0; l < layers; ++l) {
    w[l] = xt::zeros<float>({sizes[l] * sizes[l + 1]});
    dw[l] = xt::zeros<float>({sizes[l] * sizes[l + 1]});
  }
  py::gil_scoped_release release;
  auto step = [&] {
    for (size_t l = 0; l < layers; ++l)
      gemm(false, false, batch, sizes[l + 1], sizes[l], 1.f, h[l].data(), sizes[l], w[l].data(), sizes[l + 1], 0.f,
           h[l + 1].data(), sizes[l + 1]);
    if (forward_only) return;
    for (size_t l = layers; l-- > 0;) {
      size_t in = sizes[l], out = sizes[l + 1];
      if (l > 0) gemm(false, true, batch, in, out, 1.f, dh[l + 1].data(), out, w[l].data(), out, 0.f, dh[l].data(), in);
      if (fused_sgd)
        gemm(true, false, in, out, batch, -1e-30f, h[l].data(), in, dh[l + 1].data(), out, 1.f, w[l].data(), out);
      else
        gemm(true, false, in, out, batch, 1.f, h[l].data(), in, dh[l + 1].data(), out, 0.f, dw[l].data(), out);
    }
  };
  for (int r = 0; r < 20; ++r) step();  // warm up (JIT kernels, caches)
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeats; ++r) step();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
}

// 16 independent multiply-add chains on registers: no loads, no dependencies the FMA latency can expose,
// so the loop runs at the FMA ports' throughput. Generic vector code, compiled per ISA by the callers.
template <class V>
__attribute__((always_inline)) inline float fma_chains(long iters) {
  constexpr int lanes = sizeof(V) / sizeof(float), chains = 16;
  V a[chains], x, y;
  for (int k = 0; k < lanes; ++k) x[k] = 0.999f, y[k] = 1e-4f;
#pragma GCC unroll 16
  for (int j = 0; j < chains; ++j) a[j] = x * (1.0f + 0.001f * j);  // distinct, or the compiler merges them
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < chains; ++j) a[j] = a[j] * x + y;
  }
  float s = 0;
  for (int j = 0; j < chains; ++j) s += a[j][0];
  return s;
}

typedef float f32x16 __attribute__((vector_size(64)));
typedef float f32x8 __attribute__((vector_size(32)));
__attribute__((target("avx512f,fma"), noinline)) float fma_chains_avx512(long iters) { return fma_chains<f32x16>(iters); }
__attribute__((target("avx2,fma"), noinline)) float fma_chains_avx2(long iters) { return fma_chains<f32x8>(iters); }

// FLOP/s of the widest FMA this CPU has, best of `trials` runs of ~0.05 s on the calling thread.
double fma_peak_gflops(int trials) {
  bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx512 && !avx2) return 0.0;  // no FMA to measure: benchmarks then need --peak-gflops
  int lanes = avx512 ? 16 : 8;
  const long iters = 5'000'000;
  py::gil_scoped_release release;
  double best = 0;
  volatile float sink = 0;
  for (int t = 0; t < trials; ++t) {
    auto start = std::chrono::steady_clock::now();
    sink = sink + (avx512 ? fma_chains_avx512(iters) : fma_chains_avx2(iters));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * 16 * lanes * iters / s / 1e9);
  }
  return best;
}

}  // namespace

void init_bench(py::module_& m) {
  m.def("time_dense_step", &time_dense_step, py::arg("sizes"), py::arg("batch"), py::arg("fused_sgd") = false,
        py::arg("repeats") = 200, py::arg("forward_only") = false,
        "Seconds per training step spent in GEMMs for a dense stack, buffers shared as in a replayed step.");
  m.def("fma_peak_gflops", &fma_peak_gflops, py::arg("trials") = 5,
        "One core's FP32 peak in GFLOP/s: independent AVX-512 (else AVX2) FMA chains on the calling thread.");
}

}  // namespace xk
