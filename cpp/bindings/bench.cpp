// Measurement helpers for benchmarks/: the GEMM floor of a training step.
#include <pybind11/stl.h>

#include <chrono>

#include "bindings/convert.h"
#include "tensor/blas.h"

namespace xk {

void init_bench(py::module_& m) {
  m.def("time_gemms",
        [](const std::vector<std::tuple<bool, bool, size_t, size_t, size_t>>& gemms, int repeats) {
          // Each entry (trans_a, trans_b, m, n, k) runs C = op(A) op(B) into a reused buffer.
          std::vector<Array> a, b, c;
          for (auto& [ta, tb, mm, nn, kk] : gemms) {
            a.push_back(xt::ones<float>({mm * kk}));
            b.push_back(xt::ones<float>({kk * nn}));
            c.push_back(xt::zeros<float>({mm * nn}));
          }
          py::gil_scoped_release release;
          auto run = [&] {
            for (size_t i = 0; i < gemms.size(); ++i) {
              auto [ta, tb, mm, nn, kk] = gemms[i];
              gemm(ta, tb, mm, nn, kk, 1.f, a[i].data(), ta ? mm : kk, b[i].data(), tb ? kk : nn, 0.f,
                   c[i].data(), nn);
            }
          };
          run();  // warm up
          auto start = std::chrono::steady_clock::now();
          for (int r = 0; r < repeats; ++r) run();
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
        },
        py::arg("gemms"), py::arg("repeats") = 200,
        "Seconds per pass over the given GEMMs (trans_a, trans_b, m, n, k), single call each.");
}

}  // namespace xk
