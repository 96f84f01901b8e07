// Shape ops: values are copied into a fresh contiguous buffer (no views are kept).
#include <numeric>

#include "ops/broadcast.h"
#include "ops/ops.h"

namespace xk {

namespace {
std::string spec_str(const std::vector<long>& spec) {  // "(-1, 4)": shape_str would print -1 as size_t
  std::string s = "(";
  for (size_t d = 0; d < spec.size(); ++d) s += (d ? ", " : "") + std::to_string(spec[d]);
  return s + (spec.size() == 1 ? ",)" : ")");
}

Shape resolve_shape(const Shape& in, const std::vector<long>& spec) {
  Shape out(spec.size());
  long known = 1;
  int infer = -1;
  for (size_t d = 0; d < spec.size(); ++d) {
    if (spec[d] == -1) {
      if (infer >= 0) fail("reshape", "Only one dimension may be -1. Received: shape=" + spec_str(spec));
      infer = static_cast<int>(d);
    } else if (spec[d] < 0) {
      fail("reshape", "Dimensions must be >= 0 or -1. Received: shape=" + spec_str(spec));
    } else {
      out[d] = static_cast<size_t>(spec[d]);
      known *= spec[d];
    }
  }
  size_t n = numel(in);
  if (infer >= 0) {
    if (known == 0 || n % static_cast<size_t>(known) != 0)
      fail("reshape", "Cannot reshape an input of shape " + shape_str(in) + " into one with a -1 dimension "
                      "and " + std::to_string(known) + " other elements.");
    out[infer] = n / static_cast<size_t>(known);
  }
  if (numel(out) != n)
    fail("reshape", "Cannot reshape an input of shape " + shape_str(in) + " (" + std::to_string(n) +
                        " elements) into shape " + shape_str(out) + ".");
  return out;
}
}  // namespace

Tensor reshape(const Tensor& x, std::vector<long> spec) {
  resolve_shape(x.shape(), spec);
  return make_op(
      "reshape", {x},
      [spec](Node& self) {
        const Array& in = self.in(0);
        ensure_shape(self.value, resolve_shape(to_shape(in.shape()), spec));
        std::copy(in.begin(), in.end(), self.value.begin());
      },
      [](Node& self) { accumulate_grad(*self.inputs[0], self.grad); });  // same element count
}

Tensor transpose(const Tensor& x, std::vector<int> axes) {
  size_t rank = x.ndim();
  if (axes.empty())
    for (size_t d = rank; d-- > 0;) axes.push_back(static_cast<int>(d));
  std::vector<bool> seen(rank, false);
  if (axes.size() != rank) fail("transpose", "axes must list every axis once. Received: " +
                                                 std::to_string(axes.size()) + " axes for an input of shape " +
                                                 shape_str(x.shape()));
  for (auto& a : axes) {
    if (a < 0) a += static_cast<int>(rank);
    if (a < 0 || a >= static_cast<int>(rank) || seen[a])
      fail("transpose", "axes must be a permutation of the input's axes. Received an invalid axis for shape " +
                            shape_str(x.shape()));
    seen[a] = true;
  }
  std::vector<int> inverse(rank);
  for (size_t d = 0; d < rank; ++d) inverse[axes[d]] = static_cast<int>(d);
  auto permute = [](const Array& src, Array& dst, const std::vector<int>& perm) {
    Shape s = to_shape(src.shape()), out(perm.size()), strides(perm.size());
    Shape src_strides(s.size(), 1);
    for (size_t d = s.size(); d-- > 1;) src_strides[d - 1] = src_strides[d] * s[d];
    for (size_t d = 0; d < perm.size(); ++d) {
      out[d] = s[perm[d]];
      strides[d] = src_strides[perm[d]];
    }
    ensure_shape(dst, out);
    // Walk the output in order; the source offset follows the permuted strides.
    Shape zero(out.size(), 0);
    const float* p = src.data();
    float* o = dst.data();
    for_each_broadcast(out, out, out, [&](size_t i, size_t, size_t) {
      size_t rem = i, off = 0;
      for (size_t d = out.size(); d-- > 0;) {
        off += (rem % out[d]) * strides[d];
        rem /= out[d];
      }
      o[i] = p[off];
    });
  };
  return make_op(
      "transpose", {x}, [axes, permute](Node& self) { permute(self.in(0), self.value, axes); },
      [inverse, permute](Node& self) {
        if (self.scratch.empty()) self.scratch.resize(1);
        permute(self.grad, self.scratch[0], inverse);
        accumulate_grad(*self.inputs[0], self.scratch[0]);
      });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Shape b = broadcast_shapes(x.shape(), shape, "broadcast_to");
  if (!shapes_equal(b, shape))
    fail("broadcast_to", "Cannot broadcast shape " + shape_str(x.shape()) + " to " + shape_str(shape) + ".");
  if (shapes_equal(x.shape(), shape)) return x;
  return make_op(
      "broadcast_to", {x},
      [shape](Node& self) {
        ensure_shape(self.value, shape);
        broadcast_copy(self.in(0).data(), to_shape(self.in(0).shape()), self.value.data(), shape);
      },
      [](Node& self) { accumulate_grad(*self.inputs[0], self.grad); });  // the engine sums broadcast axes
}

}  // namespace xk
