// Matrix products go through xtensor-blas's cxxblas layer (OpenBLAS underneath).
#include "tensor/blas.h"

#include <xtensor-blas/xblas.hpp>

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
}

namespace xk {

void gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
          size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS leaves C untouched when k == 0 only if beta == 1; make it explicit.
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  using cxxblas::Transpose;
  cxxblas::gemm<xt::blas_index_t>(cxxblas::StorageOrder::RowMajor,
                              trans_a ? Transpose::Trans : Transpose::NoTrans,
                              trans_b ? Transpose::Trans : Transpose::NoTrans,
                              static_cast<xt::blas_index_t>(m), static_cast<xt::blas_index_t>(n),
                              static_cast<xt::blas_index_t>(k), alpha, a, static_cast<xt::blas_index_t>(lda),
                              b, static_cast<xt::blas_index_t>(ldb), beta, c,
                              static_cast<xt::blas_index_t>(ldc));
}

void set_blas_threads(int n) { openblas_set_num_threads(n); }
int blas_threads() { return openblas_get_num_threads(); }
std::string blas_corename() { return openblas_get_corename(); }

}  // namespace xk
