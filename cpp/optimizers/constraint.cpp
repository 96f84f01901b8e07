#include "optimizers/constraint.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace xk {

namespace {

constexpr size_t kMaxDims = 8;  // fixed-size bookkeeping: no allocation per step

// For each element of a row-major array, calls fn(flat index, index into the kept-dims norms).
template <class F>
void for_each_with_norm_index(const size_t* shape, size_t nd, const std::array<size_t, kMaxDims>& out_stride,
                              F&& fn) {
  if (nd == 0) return fn(size_t(0), size_t(0));
  std::array<size_t, kMaxDims> idx{};
  size_t total = 1;
  for (size_t d = 0; d < nd; ++d) total *= shape[d];
  size_t last = shape[nd - 1], o = 0;
  if (last == 0) return;
  for (size_t flat = 0; flat < total; flat += last) {
    for (size_t j = 0; j < last; ++j) fn(flat + j, o + j * out_stride[nd - 1]);
    for (size_t d = nd - 1; d-- > 0;) {  // odometer over the leading dims
      o += out_stride[d];
      if (++idx[d] < shape[d]) break;
      o -= out_stride[d] * shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

void Constraint::apply(Array& w, std::vector<double>& norms) const {
  float* p = w.data();
  size_t n = w.size();
  if (kind == Kind::none) return;
  if (kind == Kind::non_neg) {
    for (size_t i = 0; i < n; ++i) p[i] = std::max(p[i], 0.f);
    return;
  }
  const size_t nd = w.dimension();
  const size_t* shape = w.shape().data();
  if (nd > kMaxDims) fail("constraint", "weights with more than 8 dimensions are not supported");
  std::array<bool, kMaxDims> reduced{};
  for (size_t d = 0; d < nd; ++d) reduced[d] = all_axes;
  for (int a : axes) {
    int d = a < 0 ? a + static_cast<int>(nd) : a;
    if (d < 0 || d >= static_cast<int>(nd))
      fail("constraint", "axis " + std::to_string(a) + " is out of bounds for a weight of shape " +
                             shape_str(w.shape()));
    reduced[d] = true;
  }
  std::array<size_t, kMaxDims> out_stride{};  // stride of each kept dim in `norms`, 0 for reduced dims
  size_t kept = 1;
  for (size_t d = nd; d-- > 0;)
    if (!reduced[d]) {
      out_stride[d] = kept;
      kept *= shape[d];
    }
  norms.assign(kept, 0.0);  // no reallocation once sized
  for_each_with_norm_index(shape, nd, out_stride, [&](size_t i, size_t o) { norms[o] += double(p[i]) * p[i]; });
  const float eps = 1e-7f;
  for (double& v : norms) {  // becomes the factor each element is multiplied by
    float norm = static_cast<float>(std::sqrt(v)), desired = norm;
    if (kind == Kind::max_norm) desired = std::min(std::max(norm, 0.f), static_cast<float>(max_value));
    if (kind == Kind::unit_norm) desired = 1.f;
    if (kind == Kind::min_max_norm)
      desired = static_cast<float>(rate) *
                    std::min(std::max(norm, static_cast<float>(min_value)), static_cast<float>(max_value)) +
                static_cast<float>(1 - rate) * norm;
    v = desired / (eps + norm);
  }
  for_each_with_norm_index(shape, nd, out_stride,
                           [&](size_t i, size_t o) { p[i] = p[i] * static_cast<float>(norms[o]); });
}

}  // namespace xk
