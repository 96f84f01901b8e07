// Fused batch and layer normalization: one forward and one backward loop each, no chain of small ops.
// Formulas as Keras 3 (keras/src/layers/normalization/*, ops/nn.py): biased moments, and the output
// written as x * a + b with a = gamma * rsqrt(var + eps), b = beta - mean * a.
#include <cmath>
#include <memory>
#include <vector>

#include "ops/ops.h"

namespace xk {

namespace {

// Element (o, c, i) of a tensor seen as (outer, channels, inner) lives at (o * channels + c) * inner + i.
struct ChannelView {
  size_t outer = 1, channels = 1, inner = 1;
  size_t count() const { return outer * inner; }  // elements per channel
};

ChannelView channel_view(const Shape& s, int axis, const char* op) {
  int rank = static_cast<int>(s.size());
  if (rank == 0 || axis < -rank || axis >= rank)
    fail(op, "Invalid axis for an input of rank " + std::to_string(rank) + ". Received: axis=" +
                 std::to_string(axis) + ", inputs.shape=" + shape_str(s));
  size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
  ChannelView v;
  for (size_t d = 0; d < s.size(); ++d) (d < a ? v.outer : d == a ? v.channels : v.inner) *= s[d];
  return v;
}

// Calls f(c, flat index) for every element, in memory order. The channels-last case (inner == 1,
// as after Dense) gets its own loop so the compiler vectorizes over channels.
template <class F>
void for_each_channel(const ChannelView& v, F f) {
  if (v.inner == 1) {
    for (size_t o = 0; o < v.outer; ++o)
      for (size_t c = 0; c < v.channels; ++c) f(c, o * v.channels + c);
    return;
  }
  size_t k = 0;
  for (size_t o = 0; o < v.outer; ++o)
    for (size_t c = 0; c < v.channels; ++c)
      for (size_t i = 0; i < v.inner; ++i, ++k) f(c, k);
}

// Writes `value` into an input's gradient buffer (assigning on the first write of a backward pass).
inline void put_grad(float* dst, size_t i, float beta, float value) {
  dst[i] = beta == 0.f ? value : dst[i] + value;
}

Tensor param_or(const Tensor& t, size_t n, float fill, const char* what, const char* op) {
  if (!t) return Tensor::constant(xt::xarray<float>(Shape{n}, fill));
  if (t.size() != n)
    fail(op, std::string("`") + what + "` must have " + std::to_string(n) + " elements. Received: " + what +
                 ".shape=" + shape_str(t.shape()));
  return t;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                  const Tensor& moving_variance, int axis, float momentum, float epsilon, bool training) {
  const char* op = "batch_normalization";
  size_t c = channel_view(x.shape(), axis, op).channels;
  if (moving_mean.size() != c || moving_variance.size() != c)
    fail(op, "The moving statistics must have " + std::to_string(c) + " elements (inputs.shape[axis]). Received: "
             "moving_mean.shape=" + shape_str(moving_mean.shape()) +
             ", moving_variance.shape=" + shape_str(moving_variance.shape()));
  Tensor g = param_or(gamma, c, 1.f, "gamma", op), b = param_or(beta, c, 0.f, "beta", op);
  // Per-channel double accumulators, shared by forward and backward, sized once.
  auto acc = std::make_shared<std::vector<double>>();
  return make_op(
      op, {x, g, b, moving_mean, moving_variance},
      [=](Node& self) {
        const Array& in = self.in(0);
        ChannelView v = channel_view(to_shape(in.shape()), axis, op);
        size_t n = v.channels;
        if (self.scratch.size() < 4) self.scratch.resize(4);
        Array &mean = self.scratch[0], &inv = self.scratch[1], &a = self.scratch[2], &shift = self.scratch[3];
        for (Array* s : {&mean, &inv, &a, &shift}) ensure_shape(*s, Shape{n});
        const float *px = in.data(), *pg = self.in(1).data(), *pb = self.in(2).data();
        float *mm = self.inputs[3]->value.data(), *mv = self.inputs[4]->value.data();
        if (training) {
          acc->assign(2 * n, 0.0);
          double *sum = acc->data(), *sq = sum + n;
          double count = static_cast<double>(std::max<size_t>(v.count(), 1));
          for_each_channel(v, [&](size_t ch, size_t k) { sum[ch] += px[k]; });
          for (size_t ch = 0; ch < n; ++ch) mean[ch] = static_cast<float>(sum[ch] / count);
          for_each_channel(v, [&](size_t ch, size_t k) {
            double d = static_cast<double>(px[k]) - mean[ch];
            sq[ch] += d * d;
          });
          for (size_t ch = 0; ch < n; ++ch) {
            float var = static_cast<float>(sq[ch] / count);
            inv[ch] = 1.f / std::sqrt(var + epsilon);
            // Keras assigns the moving averages during the forward pass (once per training step).
            mm[ch] = mm[ch] * momentum + mean[ch] * (1.f - momentum);
            mv[ch] = mv[ch] * momentum + var * (1.f - momentum);
          }
        } else {
          for (size_t ch = 0; ch < n; ++ch) {
            mean[ch] = mm[ch];
            inv[ch] = 1.f / std::sqrt(mv[ch] + epsilon);
          }
        }
        for (size_t ch = 0; ch < n; ++ch) {
          a[ch] = inv[ch] * pg[ch];
          shift[ch] = pb[ch] - mean[ch] * a[ch];
        }
        ensure_shape(self.value, to_shape(in.shape()));
        float* py = self.value.data();
        const float *pa = a.data(), *ps = shift.data();
        for_each_channel(v, [&](size_t ch, size_t k) { py[k] = px[k] * pa[ch] + ps[ch]; });
      },
      [=](Node& self) {
        const Array& in = self.in(0);
        ChannelView v = channel_view(to_shape(in.shape()), axis, op);
        size_t n = v.channels;
        const float *px = in.data(), *g = self.grad.data();
        const float *mean = self.scratch[0].data(), *inv = self.scratch[1].data(), *a = self.scratch[2].data();
        // Sums per channel of g and of g * xhat, with xhat = (x - mean) * inv.
        acc->assign(2 * n, 0.0);
        double *sg = acc->data(), *sgx = sg + n;
        for_each_channel(v, [&](size_t ch, size_t k) {
          sg[ch] += g[k];
          sgx[ch] += static_cast<double>(g[k]) * (px[k] - mean[ch]) * inv[ch];
        });
        if (self.needs(1)) {  // dgamma = sum(g * xhat)
          float bg = grad_beta(*self.inputs[1]);
          float* d = self.inputs[1]->grad.data();
          for (size_t ch = 0; ch < n; ++ch) put_grad(d, ch, bg, static_cast<float>(sgx[ch]));
        }
        if (self.needs(2)) {  // dbeta = sum(g)
          float bb = grad_beta(*self.inputs[2]);
          float* d = self.inputs[2]->grad.data();
          for (size_t ch = 0; ch < n; ++ch) put_grad(d, ch, bb, static_cast<float>(sg[ch]));
        }
        if (!self.needs(0)) return;
        float bx = grad_beta(*self.inputs[0]);
        float* dx = self.inputs[0]->grad.data();
        if (!training) {  // the statistics are constants: dx = g * a
          for_each_channel(v, [&](size_t ch, size_t k) { put_grad(dx, k, bx, g[k] * a[ch]); });
          return;
        }
        // dx = a / N * (N g - sum(g) - xhat * sum(g xhat)): the mean and variance depend on x too.
        float count = static_cast<float>(std::max<size_t>(v.count(), 1));
        if (self.scratch.size() < 6) self.scratch.resize(6);
        Array &mg = self.scratch[4], &mgx = self.scratch[5];
        ensure_shape(mg, Shape{n});
        ensure_shape(mgx, Shape{n});
        for (size_t ch = 0; ch < n; ++ch) {
          mg[ch] = static_cast<float>(sg[ch] / count);
          mgx[ch] = static_cast<float>(sgx[ch] / count);
        }
        const float *pmg = mg.data(), *pmgx = mgx.data();
        for_each_channel(v, [&](size_t ch, size_t k) {
          float xhat = (px[k] - mean[ch]) * inv[ch];
          put_grad(dx, k, bx, a[ch] * (g[k] - pmg[ch] - xhat * pmgx[ch]));
        });
      });
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int norm_ndim, float epsilon) {
  const char* op = "layer_normalization";
  Shape xs = x.shape();
  if (norm_ndim < 1 || norm_ndim > static_cast<int>(xs.size()))
    fail(op, "Expected 1 to " + std::to_string(xs.size()) + " normalized (trailing) axes. Received: " +
                 std::to_string(norm_ndim) + " for inputs.shape=" + shape_str(xs));
  size_t d = numel(Shape(xs.end() - norm_ndim, xs.end()));
  Tensor g = param_or(gamma, d, 1.f, "gamma", op), b = param_or(beta, d, 0.f, "beta", op);
  auto acc = std::make_shared<std::vector<double>>();
  return make_op(
      op, {x, g, b},
      [=](Node& self) {
        const Array& in = self.in(0);
        size_t rows = d ? in.size() / d : 0;
        if (self.scratch.size() < 2) self.scratch.resize(2);
        Array &mean = self.scratch[0], &inv = self.scratch[1];  // per row
        ensure_shape(mean, Shape{rows});
        ensure_shape(inv, Shape{rows});
        ensure_shape(self.value, to_shape(in.shape()));
        const float *px = in.data(), *pg = self.in(1).data(), *pb = self.in(2).data();
        float* py = self.value.data();
        for (size_t r = 0; r < rows; ++r) {
          const float* xr = px + r * d;
          double s = 0, sq = 0;
          for (size_t j = 0; j < d; ++j) s += xr[j];
          float m = static_cast<float>(s / d);
          for (size_t j = 0; j < d; ++j) sq += (static_cast<double>(xr[j]) - m) * (xr[j] - m);
          float iv = 1.f / std::sqrt(static_cast<float>(sq / d) + epsilon);
          mean[r] = m;
          inv[r] = iv;
          for (size_t j = 0; j < d; ++j) {
            float a = iv * pg[j];
            py[r * d + j] = xr[j] * a + (pb[j] - m * a);
          }
        }
      },
      [=](Node& self) {
        const Array& in = self.in(0);
        size_t rows = d ? in.size() / d : 0;
        const float *px = in.data(), *pg = self.in(1).data(), *g = self.grad.data();
        const float *mean = self.scratch[0].data(), *inv = self.scratch[1].data();
        bool need_g = self.needs(1), need_b = self.needs(2), need_x = self.needs(0);
        if (need_g || need_b) {  // dgamma = sum over rows of g * xhat, dbeta = sum over rows of g
          acc->assign(2 * d, 0.0);
          double *sgx = acc->data(), *sg = sgx + d;
          for (size_t r = 0; r < rows; ++r)
            for (size_t j = 0; j < d; ++j) {
              size_t k = r * d + j;
              sg[j] += g[k];
              sgx[j] += static_cast<double>(g[k]) * (px[k] - mean[r]) * inv[r];
            }
          if (need_g) {
            float bg = grad_beta(*self.inputs[1]);
            float* dg = self.inputs[1]->grad.data();
            for (size_t j = 0; j < d; ++j) put_grad(dg, j, bg, static_cast<float>(sgx[j]));
          }
          if (need_b) {
            float bb = grad_beta(*self.inputs[2]);
            float* db = self.inputs[2]->grad.data();
            for (size_t j = 0; j < d; ++j) put_grad(db, j, bb, static_cast<float>(sg[j]));
          }
        }
        if (!need_x) return;
        // With h = g * gamma: dx = inv * (h - mean(h) - xhat * mean(h * xhat)) over each row.
        float bx = grad_beta(*self.inputs[0]);
        float* dx = self.inputs[0]->grad.data();
        for (size_t r = 0; r < rows; ++r) {
          const float *xr = px + r * d, *gr = g + r * d;
          double sh = 0, shx = 0;
          for (size_t j = 0; j < d; ++j) {
            double h = static_cast<double>(gr[j]) * pg[j];
            sh += h;
            shx += h * (xr[j] - mean[r]) * inv[r];
          }
          float mh = static_cast<float>(sh / d), mhx = static_cast<float>(shx / d);
          for (size_t j = 0; j < d; ++j) {
            float xhat = (xr[j] - mean[r]) * inv[r];
            put_grad(dx, r * d + j, bx, inv[r] * (gr[j] * pg[j] - mh - xhat * mhx));
          }
        }
      });
}

}  // namespace xk
