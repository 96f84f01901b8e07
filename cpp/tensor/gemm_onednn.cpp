// oneDNN's sgemm (row-major, like ours). Debian builds oneDNN on OpenMP, so its thread count is the calling
// thread's OpenMP setting: set it per call from ours (a thread-local read when nothing changes).
#include "tensor/gemm_engines.h"

#include <dnnl.h>
#include <omp.h>

#include "tensor/array.h"

namespace xk::engines {

void onednn_sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
                  size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc, int threads) {
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
  auto d = [](size_t v) { return static_cast<dnnl_dim_t>(v); };
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', d(m), d(n), d(k), alpha, a, d(lda), b,
                                d(ldb), beta, c, d(ldc));
  if (st != dnnl_success)
    fail("gemm", "oneDNN sgemm failed with status " + std::to_string(static_cast<int>(st)) + " for m=" +
                     std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k));
}

}  // namespace xk::engines
