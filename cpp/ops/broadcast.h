// Index arithmetic for NumPy broadcasting over contiguous row-major buffers.
#pragma once
#include "tensor/array.h"

namespace xk {

// Strides (in elements) of `in` viewed in the rank of `out`, 0 on broadcast axes.
Shape broadcast_strides(const Shape& in, const Shape& out);

// Calls f(i, offset_a, offset_b) for every flat index i of `out`.
template <class F>
void for_each_broadcast(const Shape& out, const Shape& a, const Shape& b, F f) {
  Shape sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  size_t rank = out.size(), n = numel(out);
  Shape idx(rank, 0);
  size_t oa = 0, ob = 0;
  for (size_t i = 0; i < n; ++i) {
    f(i, oa, ob);
    for (size_t d = rank; d-- > 0;) {  // odometer increment
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

// dst (shape `to`, already initialised) += src (shape `from`) summed over the axes broadcast from `to`.
void reduce_sum_into(const float* src, const Shape& from, float* dst, const Shape& to);

// dst (shape `to`) = src (shape `from`) broadcast.
void broadcast_copy(const float* src, const Shape& from, float* dst, const Shape& to);

}  // namespace xk
