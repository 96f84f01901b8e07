// Internal: the per-engine GEMM functions behind tensor/blas.h (each in its own translation unit, so
// that oneDNN's and OpenBLAS's headers never meet xtensor-blas's).
#pragma once
#include <cstddef>

namespace xk::engines {

void openblas_sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
                    size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc);

#ifdef XKERAS_HAVE_ONEDNN
void onednn_sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
                  size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc, int threads);
#endif

}  // namespace xk::engines
