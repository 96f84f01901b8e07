// The GEMM entry point of the engine: row-major C = alpha * op(A) * op(B) + beta * C on raw buffers,
// so callers can multiply sub-blocks (a batch slice) into reused outputs without copies.
//
// Two engines sit behind it: OpenBLAS (through xtensor-blas, always built) and oneDNN's sgemm (built when
// Debian's libdnnl-dev is found; the default then, as it is ~1.3x faster at the training-step shapes and
// ignores OPENBLAS_CORETYPE). `set_gemm_engine` switches at run time so benchmarks can show both.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace xk {

void gemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, const float* a,
          size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc);

// "openblas" or "onednn"; raises ValueError for an engine this build does not have.
void set_gemm_engine(const std::string& name);
std::string gemm_engine();
std::vector<std::string> gemm_engines();  // the engines compiled in

// Threads used inside one GEMM (both engines). Declared here so that <cblas.h> never meets xtensor-blas.
void set_blas_threads(int n);
int blas_threads();
std::string blas_corename();

}  // namespace xk
