// Elementwise ops: the binary ones broadcast like NumPy; gradients are returned in the output's shape
// and reduced to each input's shape by the engine (accumulate_grad).
#include <cmath>

#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/unary.h"

namespace xk {

namespace {

// Calls f(i, ia, ib) over the output of a broadcast binary op, with fast paths for the common cases.
template <class F>
void visit(const Shape& out, const Shape& a, const Shape& b, F f) {
  size_t n = numel(out), na = numel(a), nb = numel(b);
  if (na == n && nb == n && shapes_equal(a, b)) {
    for (size_t i = 0; i < n; ++i) f(i, i, i);
  } else if (nb == 1 && na == n) {
    for (size_t i = 0; i < n; ++i) f(i, i, 0);
  } else if (na == 1 && nb == n) {
    for (size_t i = 0; i < n; ++i) f(i, 0, i);
  } else {
    for_each_broadcast(out, a, b, f);
  }
}

// Writes g * d(i, ia, ib) as the gradient of input k; d is the local derivative.
template <class D>
void push_grad(Node& self, size_t k, const Shape& out, D d) {
  Node& in = *self.inputs[k];
  const Shape sa = to_shape(self.in(0).shape()), sb = to_shape(self.in(1).shape());
  const float* g = self.grad.data();
  if (shapes_equal(in.value.shape(), out)) {  // no reduction needed: write straight into the gradient
    float beta = grad_beta(in);
    float* dst = in.grad.data();
    if (beta == 0.f) std::fill(dst, dst + numel(out), 0.f);  // a fresh gradient buffer holds garbage
    visit(out, sa, sb, [&](size_t i, size_t ia, size_t ib) { dst[i] = beta * dst[i] + g[i] * d(i, ia, ib); });
    return;
  }
  if (self.scratch.size() < 2) self.scratch.resize(2);
  Array& tmp = self.scratch[k];
  ensure_shape(tmp, out);
  float* t = tmp.data();
  visit(out, sa, sb, [&](size_t i, size_t ia, size_t ib) { t[i] = g[i] * d(i, ia, ib); });
  accumulate_grad(in, tmp);
}

// f(a, b) -> y; da(a, b, y) and db(a, b, y) are the partial derivatives.
template <class F, class DA, class DB>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, F f, DA da, DB db) {
  broadcast_shapes(a.shape(), b.shape(), op);  // validate now, with the op's name
  return make_op(
      op, {a, b},
      [op, f](Node& self) {
        const Array &x = self.in(0), &y = self.in(1);
        Shape out = broadcast_shapes(to_shape(x.shape()), to_shape(y.shape()), op);
        ensure_shape(self.value, out);
        const float *px = x.data(), *py = y.data();
        float* po = self.value.data();
        visit(out, to_shape(x.shape()), to_shape(y.shape()),
              [&](size_t i, size_t ia, size_t ib) { po[i] = f(px[ia], py[ib]); });
      },
      [da, db](Node& self) {
        Shape out = to_shape(self.value.shape());
        const float *px = self.in(0).data(), *py = self.in(1).data(), *po = self.value.data();
        if (self.needs(0))
          push_grad(self, 0, out, [&](size_t i, size_t ia, size_t ib) { return da(px[ia], py[ib], po[i]); });
        if (self.needs(1))
          push_grad(self, 1, out, [&](size_t i, size_t ia, size_t ib) { return db(px[ia], py[ib], po[i]); });
      });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary("add", a, b, [](float x, float y) { return x + y; },
                [](float, float, float) { return 1.f; }, [](float, float, float) { return 1.f; });
}

Tensor subtract(const Tensor& a, const Tensor& b) {
  return binary("subtract", a, b, [](float x, float y) { return x - y; },
                [](float, float, float) { return 1.f; }, [](float, float, float) { return -1.f; });
}

Tensor multiply(const Tensor& a, const Tensor& b) {
  return binary("multiply", a, b, [](float x, float y) { return x * y; },
                [](float, float y, float) { return y; }, [](float x, float, float) { return x; });
}

Tensor divide(const Tensor& a, const Tensor& b) {
  return binary("divide", a, b, [](float x, float y) { return x / y; },
                [](float, float y, float) { return 1.f / y; },
                [](float x, float y, float) { return -x / (y * y); });
}

Tensor power(const Tensor& a, const Tensor& b) {
  return binary("power", a, b, [](float x, float y) { return std::pow(x, y); },
                [](float x, float y, float) { return y == 0.f ? 0.f : y * std::pow(x, y - 1.f); },
                [](float x, float, float o) { return x > 0.f ? o * std::log(x) : 0.f; });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary("maximum", a, b, [](float x, float y) { return x >= y ? x : y; },
                [](float x, float y, float) { return x >= y ? 1.f : 0.f; },
                [](float x, float y, float) { return x >= y ? 0.f : 1.f; });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary("minimum", a, b, [](float x, float y) { return x <= y ? x : y; },
                [](float x, float y, float) { return x <= y ? 1.f : 0.f; },
                [](float x, float y, float) { return x <= y ? 0.f : 1.f; });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  // cond is not differentiable; computed as cond*a + (1-cond)*b would lose inf/nan safety, so: a mask op.
  Shape out = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor ca = broadcast_to(a, out), cb = broadcast_to(b, out), cc = broadcast_to(cond, out);
  return make_op(
      "where", {cc, ca, cb},
      [](Node& self) {
        const float *c = self.in(0).data(), *x = self.in(1).data(), *y = self.in(2).data();
        ensure_shape(self.value, to_shape(self.in(0).shape()));
        float* o = self.value.data();
        for (size_t i = 0, n = self.value.size(); i < n; ++i) o[i] = c[i] != 0.f ? x[i] : y[i];
      },
      [](Node& self) {
        const float *c = self.in(0).data(), *g = self.grad.data();
        for (size_t k = 1; k <= 2; ++k) {
          if (!self.needs(k)) continue;
          Node& in = *self.inputs[k];
          float beta = grad_beta(in);
          float* d = in.grad.data();
          if (beta == 0.f) std::fill(d, d + self.value.size(), 0.f);
          for (size_t i = 0, n = self.value.size(); i < n; ++i)
            d[i] = beta * d[i] + (((c[i] != 0.f) == (k == 1)) ? g[i] : 0.f);
        }
      });
}

Tensor negative(const Tensor& x) {
  return unary("negative", x, [](float v) { return -v; }, [](float, float) { return -1.f; });
}
Tensor exp(const Tensor& x) {
  return unary("exp", x, [](float v) { return std::exp(v); }, [](float, float y) { return y; });
}
Tensor log(const Tensor& x) {
  return unary("log", x, [](float v) { return std::log(v); }, [](float v, float) { return 1.f / v; });
}
Tensor sqrt(const Tensor& x) {
  return unary("sqrt", x, [](float v) { return std::sqrt(v); }, [](float, float y) { return 0.5f / y; });
}
Tensor square(const Tensor& x) {
  return unary("square", x, [](float v) { return v * v; }, [](float v, float) { return 2.f * v; });
}
Tensor abs(const Tensor& x) {
  return unary("abs", x, [](float v) { return std::fabs(v); },
               [](float v, float) { return static_cast<float>((v > 0.f) - (v < 0.f)); });  // branch-free: vectorizes
}
Tensor clip(const Tensor& x, float lo, float hi) {
  if (lo > hi) fail("clip", "Expected x_min <= x_max. Received: x_min=" + std::to_string(lo) +
                               ", x_max=" + std::to_string(hi));
  return unary("clip", x, [lo, hi](float v) { return v < lo ? lo : (v > hi ? hi : v); },
               [lo, hi](float v, float) { return (v >= lo && v <= hi) ? 1.f : 0.f; });
}

}  // namespace xk
