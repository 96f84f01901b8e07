// Reductions over a set of axes, with keepdims.
#include <algorithm>

#include "ops/broadcast.h"
#include "ops/ops.h"

namespace xk {

namespace {

// The input shape with reduced axes set to 1 (the keepdims shape) and the final output shape.
std::pair<Shape, Shape> reduced_shapes(const Shape& s, const std::optional<std::vector<int>>& axes,
                                       bool keepdims, const char* op) {
  int rank = static_cast<int>(s.size());
  xt::svector<char, 8> reduce(s.size(), !axes.has_value());  // no heap allocation on replay
  if (axes)
    for (int a : *axes) {
      if (a < -rank || a >= rank)
        fail(op, "Axis " + std::to_string(a) + " is out of bounds for an input of rank " +
                     std::to_string(rank) + ". Received: input.shape=" + shape_str(s));
      reduce[a < 0 ? a + rank : a] = true;
    }
  Shape keep = s, out;
  for (size_t d = 0; d < s.size(); ++d) {
    if (reduce[d]) keep[d] = 1;
    if (!reduce[d] || keepdims) out.push_back(keep[d]);
  }
  return {keep, out};
}

Tensor reduce_op(const char* op, const Tensor& x, std::optional<std::vector<int>> axes, bool keepdims,
                 bool average) {
  reduced_shapes(x.shape(), axes, keepdims, op);
  return make_op(
      op, {x},
      [=](Node& self) {
        Shape xs = to_shape(self.in(0).shape());
        auto [keep, out] = reduced_shapes(xs, axes, keepdims, op);
        ensure_shape(self.value, keep);
        std::fill(self.value.begin(), self.value.end(), 0.f);
        reduce_sum_into(self.in(0).data(), xs, self.value.data(), keep);
        if (average) {
          float scale = numel(keep) ? static_cast<float>(numel(keep)) / static_cast<float>(numel(xs)) : 0.f;
          for (auto& v : self.value) v *= scale;
        }
        if (!shapes_equal(keep, out)) self.value.reshape(out);
      },
      [=](Node& self) {
        Node& in = *self.inputs[0];
        Shape xs = to_shape(in.value.shape());
        Shape keep = reduced_shapes(xs, axes, keepdims, op).first;
        if (self.scratch.empty()) self.scratch.resize(1);
        ensure_shape(self.scratch[0], xs);
        broadcast_copy(self.grad.data(), keep, self.scratch[0].data(), xs);
        if (average) {
          float scale = static_cast<float>(numel(keep)) / static_cast<float>(std::max<size_t>(numel(xs), 1));
          for (auto& v : self.scratch[0]) v *= scale;
        }
        accumulate_grad(in, self.scratch[0]);
      });
}

}  // namespace

Tensor sum(const Tensor& x, std::optional<std::vector<int>> axes, bool keepdims) {
  return reduce_op("sum", x, std::move(axes), keepdims, false);
}

Tensor mean(const Tensor& x, std::optional<std::vector<int>> axes, bool keepdims) {
  return reduce_op("mean", x, std::move(axes), keepdims, true);
}

}  // namespace xk
