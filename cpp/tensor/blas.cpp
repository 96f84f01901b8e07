// The GEMM dispatcher (see blas.h) and the OpenBLAS engine through xtensor-blas's cxxblas layer.
#include "tensor/blas.h"

#include <algorithm>
#include <atomic>
#include <xtensor-blas/xblas.hpp>

#include "tensor/array.h"
#include "tensor/gemm_engines.h"

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
}

// The allocation probe (benchmarks/alloc_probe.c) counts what the GEMM library allocates apart from ours.
extern "C" void xkeras_alloc_probe_engine(int inside) __attribute__((weak));

namespace xk {

namespace engines {

void openblas_sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
                    size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  using cxxblas::Transpose;
  using I = xt::blas_index_t;
  cxxblas::gemm<I>(cxxblas::StorageOrder::RowMajor, trans_a ? Transpose::Trans : Transpose::NoTrans,
                   trans_b ? Transpose::Trans : Transpose::NoTrans, static_cast<I>(m), static_cast<I>(n),
                   static_cast<I>(k), alpha, a, static_cast<I>(lda), b, static_cast<I>(ldb), beta, c,
                   static_cast<I>(ldc));
}

}  // namespace engines

namespace {

enum class Engine { openblas, onednn };
#ifdef XKERAS_HAVE_ONEDNN
std::atomic<Engine> g_engine{Engine::onednn};
#else
std::atomic<Engine> g_engine{Engine::openblas};
#endif
std::atomic<int> g_threads{openblas_get_num_threads()};  // OPENBLAS_NUM_THREADS/OMP_NUM_THREADS

}  // namespace

void gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
          size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS leaves C untouched when k == 0 only if beta == 1; make it explicit.
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  if (xkeras_alloc_probe_engine) xkeras_alloc_probe_engine(1);
#ifdef XKERAS_HAVE_ONEDNN
  if (g_engine.load(std::memory_order_relaxed) == Engine::onednn)
    engines::onednn_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                          g_threads.load(std::memory_order_relaxed));
  else
#endif
    engines::openblas_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (xkeras_alloc_probe_engine) xkeras_alloc_probe_engine(0);
}

std::vector<std::string> gemm_engines() {
#ifdef XKERAS_HAVE_ONEDNN
  return {"onednn", "openblas"};
#else
  return {"openblas"};
#endif
}

void set_gemm_engine(const std::string& name) {
  auto have = gemm_engines();
  if (std::find(have.begin(), have.end(), name) == have.end()) {
    std::string list;
    for (auto& e : have) list += (list.empty() ? "'" : ", '") + e + "'";
    fail("gemm", "Unknown or unavailable GEMM engine. This build has: " + list + ". Received: engine='" + name + "'");
  }
  g_engine = name == "onednn" ? Engine::onednn : Engine::openblas;
}

std::string gemm_engine() { return g_engine.load() == Engine::onednn ? "onednn" : "openblas"; }

void set_blas_threads(int n) {
  if (n < 1) fail("gemm", "The thread count must be >= 1. Received: " + std::to_string(n));
  g_threads = n;
  openblas_set_num_threads(n);
}
int blas_threads() { return g_threads.load(); }
std::string blas_corename() { return openblas_get_corename(); }

}  // namespace xk
