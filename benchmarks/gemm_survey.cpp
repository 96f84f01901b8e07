// What each GEMM library reaches at the matrix products of one training step, on one core, next to the
// core's FMA peak and to what a register-blocked inner loop reaches with all its data in L1. It answers
// "is another GEMM engine what stands between xkeras and its speed targets?" (issue #9).
// Built and run by benchmarks/gemm_survey.sh, which adds libxsmm when it is installed and MKL (loaded at run
// time from the path in $MKL_RT, as its cblas_sgemm has the same name as OpenBLAS's) when pip has it.
#include <dlfcn.h>
#include <omp.h>
#include <cblas.h>
#include <dnnl.h>
#ifdef WITH_LIBXSMM
#include <libxsmm.h>
#endif
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

using Clock = std::chrono::steady_clock;

struct Gemm {  // row-major C = alpha op(A) op(B) + beta C
  bool ta, tb;
  int m, n, k;
  float alpha, beta;
  int lda() const { return ta ? m : k; }
  int ldb() const { return tb ? k : n; }
};

// The step of a dense stack as xkeras runs it with plain SGD: forward, then per layer from the top the input
// gradient (not for the first layer) and the weight gradient added into W (alpha = -lr, beta = 1).
std::vector<Gemm> step_gemms(const std::vector<int>& sizes, int batch) {
  std::vector<Gemm> g;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) g.push_back({false, false, batch, sizes[l + 1], sizes[l], 1, 0});
  for (size_t l = sizes.size() - 1; l-- > 0;) {
    if (l > 0) g.push_back({false, true, batch, sizes[l], sizes[l + 1], 1, 0});
    g.push_back({true, false, sizes[l], sizes[l + 1], batch, -1e-30f, 1});
  }
  return g;
}

struct Buffers {
  std::vector<std::vector<float>> a, b, c;
  explicit Buffers(const std::vector<Gemm>& gs) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    for (auto& g : gs) {
      a.emplace_back(size_t(g.m) * g.k), b.emplace_back(size_t(g.k) * g.n), c.emplace_back(size_t(g.m) * g.n);
      for (auto* v : {&a.back(), &b.back(), &c.back()})
        for (auto& x : *v) x = u(rng);
    }
  }
};

// Best over trials of the mean step time; per-GEMM times are the best means too.
void survey(const char* name, const std::vector<Gemm>& gs, double peak,
            const std::function<bool(size_t)>& run) {  // run(i) returns false when the engine lacks gemm i
  const int reps = 400;
  double flops = 0, best = 1e30;
  for (auto& g : gs) flops += 2.0 * g.m * g.n * g.k;
  std::vector<double> per(gs.size(), 1e30);
  std::vector<bool> has(gs.size(), true);
  for (int trial = 0; trial < 7; ++trial) {
    std::vector<double> sum(gs.size(), 0);
    auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r)
      for (size_t i = 0; i < gs.size(); ++i) {
        auto t = Clock::now();
        has[i] = run(i);
        sum[i] += std::chrono::duration<double>(Clock::now() - t).count();
      }
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / reps);
    for (size_t i = 0; i < gs.size(); ++i) per[i] = std::min(per[i], sum[i] / reps);
  }
  if (std::find(has.begin(), has.end(), false) != has.end()) {
    std::printf("| %s | no kernel for some products | | |", name);
  } else {
    std::printf("| %s | %.0f | %.0f |", name, best * 1e6, flops / best / 1e9);
    peak > 0 ? std::printf(" %.0f %% |", 100 * flops / best / 1e9 / peak) : std::printf(" n/a |");
  }
  for (size_t i = 0; i < gs.size(); ++i) has[i] ? std::printf(" %.1f |", per[i] * 1e6) : std::printf(" none |");
  std::printf("\n");
}

// 16 independent FMA chains on registers: the core's FP32 peak.
__attribute__((target("avx512f,fma"))) double fma_peak() {
  __m512 a[16], x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f);
  for (int j = 0; j < 16; ++j) a[j] = _mm512_set1_ps(1.0f + 0.001f * j);
  const long iters = 5'000'000;
  double best = 0;
  for (int t = 0; t < 5; ++t) {
    auto t0 = Clock::now();
    for (long i = 0; i < iters; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) a[j] = _mm512_fmadd_ps(a[j], x, y);
    best = std::max(best, 2.0 * 16 * 16 * iters / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
  }
  __m512 all = a[0];  // every chain feeds the result, or the compiler drops the unused ones
  for (int j = 1; j < 16; ++j) all = _mm512_add_ps(all, a[j]);
  volatile float sink = _mm512_reduce_add_ps(all);
  (void)sink;
  return best;
}

// The inner loop of a GEMM: a 12x32 block of C in 24 registers, one row of B (two vectors) and twelve
// broadcasts of A per k, everything in L1. What a well-blocked kernel can reach on this core at best.
__attribute__((target("avx512f,fma"), noinline)) void block_12x32(int k, const float* a, const float* b, float* c) {
  __m512 acc[12][2];
  for (int i = 0; i < 12; ++i) acc[i][0] = _mm512_loadu_ps(c + 32 * i), acc[i][1] = _mm512_loadu_ps(c + 32 * i + 16);
  for (int p = 0; p < k; ++p) {
    __m512 b0 = _mm512_loadu_ps(b + 32 * p), b1 = _mm512_loadu_ps(b + 32 * p + 16);
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
      __m512 x = _mm512_set1_ps(a[12 * p + i]);
      acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < 12; ++i) _mm512_storeu_ps(c + 32 * i, acc[i][0]), _mm512_storeu_ps(c + 32 * i + 16, acc[i][1]);
}

double l1_kernel_gflops() {
  const int k = 256;
  std::vector<float> a(12 * k, 1e-3f), b(32 * k, 1e-3f), c(12 * 32, 0.f);
  const int reps = 20000;
  double best = 1e30;
  for (int t = 0; t < 5; ++t) {
    auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r) block_12x32(k, a.data(), b.data(), c.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / reps);
  }
  return 2.0 * 12 * 32 * k / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int batch = argc > 1 ? std::atoi(argv[1]) : 32;
  std::vector<int> sizes = {784, 300, 100, 10};
  if (argc > 2) {
    sizes.clear();
    for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  }
  omp_set_num_threads(1);  // oneDNN (OpenMP build)
  openblas_set_num_threads(1);
  auto gs = step_gemms(sizes, batch);
  Buffers buf(gs);
  double peak = 0;  // the probes are AVX-512 code; without it the % column says n/a
  if (__builtin_cpu_supports("avx512f")) {
    peak = fma_peak();
    double kernel = l1_kernel_gflops();
    std::printf("one core: FMA peak %.0f GFLOP/s; a 12x32 register-blocked inner loop in L1: %.0f GFLOP/s (%.0f %%)\n\n",
                peak, kernel, 100 * kernel / peak);
  } else {
    std::printf("no AVX-512: the peak and inner-loop probes are skipped\n\n");
  }
  std::printf("step of %d", sizes[0]);
  for (size_t i = 1; i < sizes.size(); ++i) std::printf("-%d", sizes[i]);
  std::printf(" at batch %d, 1 thread; per product µs (m x n x k, T = transposed operand):\n\n", batch);
  std::printf("| engine | step µs | GFLOP/s | %% of peak |");
  for (auto& g : gs) std::printf(" %s%s %dx%dx%d |", g.ta ? "T" : "N", g.tb ? "T" : "N", g.m, g.n, g.k);
  std::printf("\n|---|---|---|---|");
  for (size_t i = 0; i < gs.size(); ++i) std::printf("---|");
  std::printf("\n");

  survey("oneDNN sgemm", gs, peak, [&](size_t i) {
    auto& g = gs[i];
    dnnl_sgemm(g.ta ? 'T' : 'N', g.tb ? 'T' : 'N', g.m, g.n, g.k, g.alpha, buf.a[i].data(), g.lda(), buf.b[i].data(),
               g.ldb(), g.beta, buf.c[i].data(), g.n);
    return true;
  });
  survey("OpenBLAS", gs, peak, [&](size_t i) {
    auto& g = gs[i];
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, g.m, g.n, g.k,
                g.alpha, buf.a[i].data(), g.lda(), buf.b[i].data(), g.ldb(), g.beta, buf.c[i].data(), g.n);
    return true;
  });
  if (const char* path = std::getenv("MKL_RT")) {
    void* mkl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    using sgemm_t = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, int, int, int, float, const float*, int,
                             const float*, int, float, float*, int);
    auto sgemm = mkl ? reinterpret_cast<sgemm_t>(dlsym(mkl, "cblas_sgemm")) : nullptr;
    auto threads = mkl ? reinterpret_cast<int (*)(int)>(dlsym(mkl, "MKL_Set_Num_Threads_Local")) : nullptr;
    if (!sgemm || !threads) {
      std::printf("| MKL | could not load %s: %s |\n", path, dlerror());
    } else {
      threads(1);
      survey("MKL", gs, peak, [&](size_t i) {
        auto& g = gs[i];
        sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, g.m, g.n, g.k,
              g.alpha, buf.a[i].data(), g.lda(), buf.b[i].data(), g.ldb(), g.beta, buf.c[i].data(), g.n);
        return true;
      });
    }
  }
#ifdef WITH_LIBXSMM
  // libxsmm is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
  libxsmm_init();
  std::vector<libxsmm_smmfunction> kernels;
  for (auto& g : gs) {
    int flags = (g.ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0) | (g.tb ? LIBXSMM_GEMM_FLAG_TRANS_A : 0);
    libxsmm_blasint lda = g.ldb(), ldb = g.lda(), ldc = g.n;  // libxsmm 1.17 JITs no transposed A
    kernels.push_back(libxsmm_smmdispatch(g.n, g.m, g.k, &lda, &ldb, &ldc, &g.alpha, &g.beta, &flags, nullptr));
  }
  survey("libxsmm", gs, peak, [&](size_t i) {
    if (!kernels[i]) return false;
    kernels[i](buf.b[i].data(), buf.a[i].data(), buf.c[i].data());
    return true;
  });
#endif
  return 0;
}
