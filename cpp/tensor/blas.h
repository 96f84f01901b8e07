// The GEMM entry point of the engine: row-major C = alpha * op(A) * op(B) + beta * C on raw buffers,
// so callers can multiply sub-blocks (a batch slice) into reused outputs without copies.
#pragma once
#include <cstddef>
#include <string>

namespace xk {

void gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
          size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc);

// OpenBLAS controls (declared here so that <cblas.h> never meets xtensor-blas in one file).
void set_blas_threads(int n);
int blas_threads();
std::string blas_corename();

}  // namespace xk
