// The shape of every elementwise unary op: y = f(x) forward, dx = g * d(x, y) backward.
#pragma once
#include <algorithm>

#include "autograd/tensor.h"

namespace xk {

template <class F, class D>
Tensor unary(const char* op, const Tensor& x, F f, D d) {
  return make_op(
      op, {x},
      [f](Node& self) {
        const Array& in = self.in(0);
        ensure_shape(self.value, to_shape(in.shape()));
        const float* px = in.data();
        float* py = self.value.data();
        for (size_t i = 0, n = in.size(); i < n; ++i) py[i] = f(px[i]);
      },
      [d](Node& self) {
        Node& in = *self.inputs[0];
        float beta = grad_beta(in);
        const float *px = in.value.data(), *py = self.value.data(), *g = self.grad.data();
        float* dx = in.grad.data();
        size_t n = in.value.size();
        if (beta == 0.f) std::fill(dx, dx + n, 0.f);  // a fresh gradient buffer holds garbage (maybe NaN)
        for (size_t i = 0; i < n; ++i) dx[i] = beta * dx[i] + g[i] * d(px[i], py[i]);
      });
}

}  // namespace xk
