// Flush denormals to zero while native work runs, as TensorFlow does on CPU. Values that decay below
// 1e-38 (optimizer moments of dead ReLU units, tiny activations) are otherwise ~100x slower to compute.
#pragma once
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace xk {

class FlushDenormals {
 public:
#if defined(__SSE__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }  // FTZ | DAZ
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

}  // namespace xk
