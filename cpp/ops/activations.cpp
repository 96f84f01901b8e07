// Activation functions with Keras 3's formulas (keras/src/activations/activations.py).
#include <cmath>

#include "ops/ops.h"
#include "ops/unary.h"

namespace xk {

namespace {
constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;

inline float sigmoid_f(float v) {
  return v >= 0.f ? 1.f / (1.f + std::exp(-v)) : std::exp(v) / (1.f + std::exp(v));
}
inline float softplus_f(float v) { return v > 0.f ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }
}  // namespace

Tensor relu(const Tensor& x) {
  // `v < 0 ? 0 : v` lets NaN through, as max(x, 0) does in TensorFlow: a diverged model must show loss nan.
  return unary("relu", x, [](float v) { return v < 0.f ? 0.f : v; },
               [](float v, float) { return v > 0.f ? 1.f : 0.f; });
}

Tensor relu6(const Tensor& x) {
  return unary("relu6", x, [](float v) { return v < 0.f ? 0.f : (v > 6.f ? 6.f : v); },
               [](float v, float) { return (v > 0.f && v < 6.f) ? 1.f : 0.f; });
}

Tensor leaky_relu(const Tensor& x, float slope) {
  return unary("leaky_relu", x, [slope](float v) { return v > 0.f ? v : slope * v; },
               [slope](float v, float) { return v > 0.f ? 1.f : slope; });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = unary("sigmoid", x, sigmoid_f, [](float, float y) { return y * (1.f - y); });
  y.node()->logits = x.node();
  y.node()->logits_softmax = false;
  return y;
}

Tensor hard_sigmoid(const Tensor& x) {
  return unary("hard_sigmoid", x, [](float v) { return std::min(std::max(v + 3.f, 0.f), 6.f) / 6.f; },
               [](float v, float) { return (v > -3.f && v < 3.f) ? 1.f / 6.f : 0.f; });
}

Tensor tanh(const Tensor& x) {
  return unary("tanh", x, [](float v) { return std::tanh(v); }, [](float, float y) { return 1.f - y * y; });
}

Tensor softplus(const Tensor& x) {
  return unary("softplus", x, softplus_f, [](float v, float) { return sigmoid_f(v); });
}

Tensor softsign(const Tensor& x) {
  return unary("softsign", x, [](float v) { return v / (1.f + std::fabs(v)); },
               [](float v, float) { float d = 1.f + std::fabs(v); return 1.f / (d * d); });
}

Tensor elu(const Tensor& x, float alpha) {
  return unary("elu", x, [alpha](float v) { return v > 0.f ? v : alpha * std::expm1(v); },
               [alpha](float v, float y) { return v > 0.f ? 1.f : y + alpha; });
}

Tensor selu(const Tensor& x) {
  return unary("selu", x,
               [](float v) { return kSeluScale * (v > 0.f ? v : kSeluAlpha * std::expm1(v)); },
               [](float v, float y) { return v > 0.f ? kSeluScale : y + kSeluScale * kSeluAlpha; });
}

Tensor gelu(const Tensor& x, bool approximate) {
  if (approximate) {
    constexpr float c = 0.7978845608028654f;  // sqrt(2/pi)
    return unary("gelu", x,
                 [](float v) { return 0.5f * v * (1.f + std::tanh(c * (v + 0.044715f * v * v * v))); },
                 [](float v, float) {
                   float t = std::tanh(c * (v + 0.044715f * v * v * v));
                   return 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * c * (1.f + 3.f * 0.044715f * v * v);
                 });
  }
  constexpr float inv_sqrt2 = 0.7071067811865476f, inv_sqrt2pi = 0.3989422804014327f;
  return unary("gelu", x, [](float v) { return 0.5f * v * (1.f + std::erf(v * inv_sqrt2)); },
               [](float v, float) {
                 return 0.5f * (1.f + std::erf(v * inv_sqrt2)) + v * inv_sqrt2pi * std::exp(-0.5f * v * v);
               });
}

Tensor silu(const Tensor& x) {
  return unary("silu", x, [](float v) { return v * sigmoid_f(v); },
               [](float v, float) { float s = sigmoid_f(v); return s * (1.f + v * (1.f - s)); });
}

Tensor mish(const Tensor& x) {
  return unary("mish", x, [](float v) { return v * std::tanh(softplus_f(v)); },
               [](float v, float) {
                 float t = std::tanh(softplus_f(v));
                 return t + v * (1.f - t * t) * sigmoid_f(v);
               });
}

// ---- softmax family over any axis: element (o, k, i) lives at o*n*inner + k*inner + i ----------

namespace {
struct AxisView {
  size_t outer = 1, n = 1, inner = 1;
};

AxisView axis_view(const Shape& s, int axis, const char* op) {
  int rank = static_cast<int>(s.size());
  if (axis < -rank || axis >= rank || rank == 0)
    fail(op, "Invalid axis for an input of rank " + std::to_string(rank) + ". Received: axis=" +
                 std::to_string(axis) + ", input.shape=" + shape_str(s));
  size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
  AxisView v;
  for (size_t d = 0; d < s.size(); ++d) (d < a ? v.outer : d == a ? v.n : v.inner) *= s[d];
  return v;
}

// y = softmax or log_softmax of x along the view's axis.
void softmax_kernel(const float* x, float* y, AxisView v, bool log_form) {
  if (v.n == 0) return;  // an empty axis: nothing to normalize (and no xs[0] to read)
  for (size_t o = 0; o < v.outer; ++o)
    for (size_t i = 0; i < v.inner; ++i) {
      const float* xs = x + o * v.n * v.inner + i;
      float* ys = y + o * v.n * v.inner + i;
      float m = xs[0];
      for (size_t k = 1; k < v.n; ++k) m = std::max(m, xs[k * v.inner]);
      float s = 0.f;
      for (size_t k = 0; k < v.n; ++k) s += std::exp(xs[k * v.inner] - m);
      if (log_form) {
        float ls = std::log(s) + m;
        for (size_t k = 0; k < v.n; ++k) ys[k * v.inner] = xs[k * v.inner] - ls;
      } else {
        float inv = 1.f / s;
        for (size_t k = 0; k < v.n; ++k) ys[k * v.inner] = std::exp(xs[k * v.inner] - m) * inv;
      }
    }
}

Tensor softmax_op(const char* op, const Tensor& x, int axis, bool log_form) {
  axis_view(x.shape(), axis, op);
  return make_op(
      op, {x},
      [=](Node& self) {
        const Array& in = self.in(0);
        ensure_shape(self.value, to_shape(in.shape()));
        softmax_kernel(in.data(), self.value.data(), axis_view(to_shape(in.shape()), axis, op), log_form);
      },
      [=](Node& self) {
        Node& in = *self.inputs[0];
        AxisView v = axis_view(to_shape(in.value.shape()), axis, op);
        float beta = grad_beta(in);
        const float *y = self.value.data(), *g = self.grad.data();
        float* dx = in.grad.data();
        if (beta == 0.f) std::fill(dx, dx + in.value.size(), 0.f);  // a fresh gradient buffer holds garbage
        for (size_t o = 0; o < v.outer; ++o)
          for (size_t i = 0; i < v.inner; ++i) {
            size_t base = o * v.n * v.inner + i;
            float s = 0.f;
            for (size_t k = 0; k < v.n; ++k) {
              size_t j = base + k * v.inner;
              s += log_form ? g[j] : g[j] * y[j];
            }
            for (size_t k = 0; k < v.n; ++k) {
              size_t j = base + k * v.inner;
              float d = log_form ? g[j] - std::exp(y[j]) * s : y[j] * (g[j] - s);
              dx[j] = beta * dx[j] + d;
            }
          }
      });
}
}  // namespace

Tensor softmax(const Tensor& x, int axis) {
  Tensor y = softmax_op("softmax", x, axis, false);
  if (axis == -1 || axis == static_cast<int>(x.ndim()) - 1) {
    y.node()->logits = x.node();
    y.node()->logits_softmax = true;
  }
  return y;
}

Tensor log_softmax(const Tensor& x, int axis) { return softmax_op("log_softmax", x, axis, true); }

}  // namespace xk
