// Per-sample losses with Keras 3's formulas (keras/src/losses/losses.py and the TensorFlow backend's
// nn.py). Each reduces the last axis of `pred`; the caller applies sample weights and the mean.
// Labels are not differentiated.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "ops/ops.h"

namespace xk {

namespace {
constexpr float kEps = 1e-7f;  // keras.config.epsilon()

// A row loss: returns the loss of one row of `c` predictions; when `grad` is non-null, also writes
// d(loss)/d(pred) for that row into it.
using RowLoss = std::function<float(const float* y, const float* p, size_t c, float* grad)>;

// Keras' squeeze_or_expand_to_same_rank: a trailing axis of 1 may be missing on either side.
bool same_up_to_trailing_one(Shape a, Shape b) {
  if (a.size() == b.size() + 1 && a.back() == 1) a.pop_back();
  if (b.size() == a.size() + 1 && b.back() == 1) b.pop_back();
  return shapes_equal(a, b);
}

// `api` is the Keras function the op implements, named in error messages.
Tensor row_loss_op(const char* op, const char* api, const Tensor& labels, const Tensor& pred, bool sparse,
                   RowLoss f) {
  Shape ps = pred.shape(), ls = labels.shape();
  if (ps.empty()) fail(api, "Predictions must have rank >= 1. Received: y_pred.shape=" + shape_str(ps));
  Shape want = ps;
  if (sparse) want.pop_back();  // one label per row of predictions
  if (!same_up_to_trailing_one(ls, want))
    fail(api, std::string(sparse ? "Expected one integer label per sample (y_pred.shape[:-1])"
                                 : "Labels must match the predictions' shape") +
                  ". Received: y_true.shape=" + shape_str(ls) + ", y_pred.shape=" + shape_str(ps));
  return make_op(
      op, {labels, pred},
      [f, sparse](Node& self) {
        const Array &y = self.in(0), &p = self.in(1);
        size_t c = p.shape().back(), rows = p.size() / std::max<size_t>(c, 1);
        Shape out = to_shape(p.shape());
        out.pop_back();
        ensure_shape(self.value, out);
        float* o = self.value.data();
        for (size_t r = 0; r < rows; ++r)
          o[r] = f(y.data() + (sparse ? r : r * c), p.data() + r * c, c, nullptr);
      },
      [f, sparse](Node& self) {
        if (!self.needs(1)) return;
        Node& pn = *self.inputs[1];
        const Array& y = self.in(0);
        size_t c = pn.value.shape().back(), rows = pn.value.size() / std::max<size_t>(c, 1);
        if (self.scratch.empty()) self.scratch.resize(1);
        ensure_shape(self.scratch[0], {c});
        float beta = grad_beta(pn);
        float *dp = pn.grad.data(), *row = self.scratch[0].data();
        if (beta == 0.f) std::fill(dp, dp + pn.value.size(), 0.f);  // a fresh gradient buffer holds garbage
        const float* g = self.grad.data();
        for (size_t r = 0; r < rows; ++r) {
          f(y.data() + (sparse ? r : r * c), pn.value.data() + r * c, c, row);
          for (size_t j = 0; j < c; ++j) dp[r * c + j] = beta * dp[r * c + j] + g[r] * row[j];
        }
      });
}

size_t class_index(float label, size_t c, const char* op) {
  if (!(label >= 0.f) || label >= static_cast<float>(c) || label != std::floor(label)) {
    std::ostringstream value;  // "7" as TF prints it, not std::to_string's "7.000000"; "1.5" stays "1.5"
    value << label;
    if (label >= 0.f && label < static_cast<float>(c))  // in range, but fractional
      fail(op, "Received a label value of " + value.str() + " which is not an integer. Labels must be integer "
                   "class indices in [0, " + std::to_string(c) + ").");
    fail(op, "Received a label value of " + value.str() + " which is outside the valid range of [0, " +
                 std::to_string(c) + "). Labels must be integers in [0, num_classes).");
  }
  return static_cast<size_t>(label);
}

float clip_p(float p) { return p < kEps ? kEps : (p > 1.f - kEps ? 1.f - kEps : p); }
float in_range(float p) { return (p > kEps && p < 1.f - kEps) ? 1.f : 0.f; }
}  // namespace

Tensor sparse_softmax_cross_entropy(const Tensor& labels, const Tensor& logits) {
  return row_loss_op("sparse_softmax_cross_entropy", "sparse_categorical_crossentropy", labels, logits, true,
                     [](const float* y, const float* z, size_t c, float* grad) {
                       size_t t = class_index(*y, c, "sparse_categorical_crossentropy");
                       float m = z[0];
                       for (size_t j = 1; j < c; ++j) m = std::max(m, z[j]);
                       float s = 0.f;
                       for (size_t j = 0; j < c; ++j) s += std::exp(z[j] - m);
                       if (grad) {  // softmax - onehot
                         for (size_t j = 0; j < c; ++j) grad[j] = std::exp(z[j] - m) / s;
                         grad[t] -= 1.f;
                       }
                       return std::log(s) + m - z[t];
                     });
}

Tensor softmax_cross_entropy(const Tensor& labels, const Tensor& logits) {
  return row_loss_op("softmax_cross_entropy", "categorical_crossentropy", labels, logits, false,
                     [](const float* y, const float* z, size_t c, float* grad) {
                       float m = z[0], s = 0.f, ysum = 0.f, yz = 0.f;
                       for (size_t j = 1; j < c; ++j) m = std::max(m, z[j]);
                       for (size_t j = 0; j < c; ++j) {
                         s += std::exp(z[j] - m);
                         ysum += y[j];
                         yz += y[j] * z[j];
                       }
                       if (grad)  // softmax * sum(y) - y
                         for (size_t j = 0; j < c; ++j) grad[j] = std::exp(z[j] - m) / s * ysum - y[j];
                       return ysum * (std::log(s) + m) - yz;
                     });
}

// TF backend: log of clipped probabilities fed to a softmax cross-entropy, i.e.
// -log(c_t) + log(sum c), c = clip(p, eps, 1 - eps).
Tensor sparse_categorical_crossentropy(const Tensor& labels, const Tensor& probs) {
  return row_loss_op("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", labels, probs, true,
                     [](const float* y, const float* p, size_t c, float* grad) {
                       size_t t = class_index(*y, c, "sparse_categorical_crossentropy");
                       float s = 0.f;
                       for (size_t j = 0; j < c; ++j) s += clip_p(p[j]);
                       if (grad)
                         for (size_t j = 0; j < c; ++j)
                           grad[j] = (1.f / s - (j == t ? 1.f / clip_p(p[j]) : 0.f)) * in_range(p[j]);
                       return -std::log(clip_p(p[t])) + std::log(s);
                     });
}

// p / sum(p), clipped, then -sum(y log q).
Tensor categorical_crossentropy(const Tensor& labels, const Tensor& probs) {
  return row_loss_op("categorical_crossentropy", "categorical_crossentropy", labels, probs, false,
                     [](const float* y, const float* p, size_t c, float* grad) {
                       float s = 0.f, loss = 0.f;
                       for (size_t j = 0; j < c; ++j) s += p[j];
                       for (size_t j = 0; j < c; ++j) loss -= y[j] * std::log(clip_p(p[j] / s));
                       if (grad) {  // dL/dp_j = (h_j - sum_k h_k q_k) / s with h = dL/dq
                         float hq = 0.f;
                         for (size_t k = 0; k < c; ++k) {
                           float q = p[k] / s;
                           grad[k] = -y[k] / clip_p(q) * in_range(q);
                           hq += grad[k] * q;
                         }
                         for (size_t j = 0; j < c; ++j) grad[j] = (grad[j] - hq) / s;
                       }
                       return loss;
                     });
}

Tensor binary_crossentropy(const Tensor& labels, const Tensor& probs) {
  return row_loss_op("binary_crossentropy", "binary_crossentropy", labels, probs, false,
                     [](const float* y, const float* p, size_t c, float* grad) {
                       float loss = 0.f;
                       for (size_t j = 0; j < c; ++j) {
                         float q = clip_p(p[j]);
                         loss -= y[j] * std::log(q) + (1.f - y[j]) * std::log(1.f - q);
                         if (grad) grad[j] = (-y[j] / q + (1.f - y[j]) / (1.f - q)) * in_range(p[j]) / c;
                       }
                       return loss / c;
                     });
}

Tensor sigmoid_cross_entropy(const Tensor& labels, const Tensor& logits) {
  return row_loss_op("sigmoid_cross_entropy", "binary_crossentropy", labels, logits, false,
                     [](const float* y, const float* z, size_t c, float* grad) {
                       float loss = 0.f;
                       for (size_t j = 0; j < c; ++j) {
                         loss += std::max(z[j], 0.f) - z[j] * y[j] + std::log1p(std::exp(-std::fabs(z[j])));
                         if (grad) {
                           float s = z[j] >= 0.f ? 1.f / (1.f + std::exp(-z[j])) : std::exp(z[j]) / (1.f + std::exp(z[j]));
                           grad[j] = (s - y[j]) / c;
                         }
                       }
                       return loss / c;
                     });
}

Tensor mean_squared_error(const Tensor& labels, const Tensor& pred) {
  return row_loss_op("mean_squared_error", "mean_squared_error", labels, pred, false,
                     [](const float* y, const float* p, size_t c, float* grad) {
                       float loss = 0.f;
                       for (size_t j = 0; j < c; ++j) {
                         float e = p[j] - y[j];
                         loss += e * e;
                         if (grad) grad[j] = 2.f * e / c;
                       }
                       return loss / c;
                     });
}

Tensor mean_absolute_error(const Tensor& labels, const Tensor& pred) {
  return row_loss_op("mean_absolute_error", "mean_absolute_error", labels, pred, false,
                     [](const float* y, const float* p, size_t c, float* grad) {
                       float loss = 0.f;
                       for (size_t j = 0; j < c; ++j) {
                         float e = p[j] - y[j];
                         loss += std::fabs(e);
                         if (grad) grad[j] = (e > 0.f ? 1.f : (e < 0.f ? -1.f : 0.f)) / c;
                       }
                       return loss / c;
                     });
}

Tensor huber(const Tensor& labels, const Tensor& pred, float delta) {
  return row_loss_op("huber", "huber", labels, pred, false,
                     [delta](const float* y, const float* p, size_t c, float* grad) {
                       float loss = 0.f;
                       for (size_t j = 0; j < c; ++j) {
                         float e = p[j] - y[j], a = std::fabs(e);
                         loss += a <= delta ? 0.5f * e * e : delta * a - 0.5f * delta * delta;
                         if (grad) grad[j] = (a <= delta ? e : delta * (e > 0.f ? 1.f : -1.f)) / c;
                       }
                       return loss / c;
                     });
}

}  // namespace xk
