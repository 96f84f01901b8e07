// The shape of every elementwise unary op: y = f(x) forward, dx = g * d(x, y) backward.
#pragma once
#include <cstddef>

#include "autograd/tensor.h"

namespace xk {

// The loops live in functions with __restrict parameters: GCC vectorises them there, not in the lambdas
// below (restrict on local pointers was ignored, and the relu derivative then compiled to a branch).
template <class F>
void map_unary(const float* __restrict x, float* __restrict y, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// dx = g * d(x, y), or dx += ... when `accumulate` (a fresh gradient buffer holds garbage: assign).
template <class D>
void map_unary_grad(const float* __restrict x, const float* __restrict y, const float* __restrict g,
                    float* __restrict dx, size_t n, bool accumulate, D d) {
  if (accumulate)
    for (size_t i = 0; i < n; ++i) dx[i] += g[i] * d(x[i], y[i]);
  else
    for (size_t i = 0; i < n; ++i) dx[i] = g[i] * d(x[i], y[i]);
}

template <class F, class D>
Tensor unary(const char* op, const Tensor& x, F f, D d) {
  return make_op(
      op, {x},
      [f](Node& self) {
        const Array& in = self.in(0);
        ensure_shape(self.value, to_shape(in.shape()));
        map_unary(in.data(), self.value.data(), in.size(), f);
      },
      [d](Node& self) {
        Node& in = *self.inputs[0];
        bool accumulate = grad_beta(in) != 0.f;
        map_unary_grad(in.value.data(), self.value.data(), self.grad.data(), in.grad.data(), in.value.size(),
                       accumulate, d);
      });
}

}  // namespace xk
