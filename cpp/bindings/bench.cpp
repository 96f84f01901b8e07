// Measurement helpers for benchmarks/: the GEMM floor of a training step.
#include <pybind11/stl.h>

#include <chrono>

#include "bindings/convert.h"
#include "tensor/blas.h"

namespace xk {

namespace {

// Seconds per training step spent in the GEMMs alone, for a dense stack `sizes` (input, hidden..., output)
// at `batch`, with the buffers shared the way a replayed step shares them: forward H_l = H_{l-1} W_l,
// backward dH_{l-1} = dH_l W_l^T (not for the input layer) and the weight gradient H_{l-1}^T dH_l, written
// into a gradient buffer, or, for plain SGD (`fused_sgd`), added into W_l itself (beta = 1).
double time_dense_step(const std::vector<size_t>& sizes, size_t batch, bool fused_sgd, int repeats) {
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

}  // namespace

void init_bench(py::module_& m) {
  m.def("time_dense_step", &time_dense_step, py::arg("sizes"), py::arg("batch"), py::arg("fused_sgd") = false,
        py::arg("repeats") = 200,
        "Seconds per training step spent in GEMMs for a dense stack, buffers shared as in a replayed step.");
}

}  // namespace xk
