#include "ops/broadcast.h"

namespace xk {

Shape broadcast_strides(const Shape& in, const Shape& out) {
  Shape s(out.size(), 0);
  size_t stride = 1, off = out.size() - in.size();
  for (size_t d = in.size(); d-- > 0;) {
    s[d + off] = in[d] == 1 ? 0 : stride;
    stride *= in[d];
  }
  return s;
}

// Returns the length of `small` when it equals the trailing part of `big` (a row broadcast), else 0.
static size_t row_broadcast(const Shape& small, const Shape& big) {
  size_t first = 0;  // leading 1s of `small` broadcast like missing axes
  while (first < small.size() && small[first] == 1) ++first;
  size_t k = small.size() - first;
  if (k == 0 || k > big.size()) return 0;
  size_t off = big.size() - k, n = 1;
  for (size_t d = 0; d < k; ++d) {
    if (small[first + d] != big[off + d]) return 0;
    n *= small[first + d];
  }
  return n;
}

void reduce_sum_into(const float* src, const Shape& from, float* dst, const Shape& to) {
  size_t n = numel(from), m = numel(to);
  if (m == 1) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += src[i];
    dst[0] += static_cast<float>(s);
    return;
  }
  if (size_t r = row_broadcast(to, from)) {  // e.g. a bias gradient: sum rows
    for (size_t i = 0; i < n; i += r)
      for (size_t j = 0; j < r; ++j) dst[j] += src[i + j];
    return;
  }
  for_each_broadcast(from, to, from, [&](size_t i, size_t o, size_t) { dst[o] += src[i]; });
}

void broadcast_copy(const float* src, const Shape& from, float* dst, const Shape& to) {
  size_t n = numel(to), m = numel(from);
  if (m == 1) {
    std::fill(dst, dst + n, src[0]);
    return;
  }
  if (size_t r = row_broadcast(from, to)) {
    for (size_t i = 0; i < n; i += r) std::copy(src, src + r, dst + i);
    return;
  }
  for_each_broadcast(to, from, to, [&](size_t i, size_t o, size_t) { dst[i] = src[o]; });
}

}  // namespace xk
