#include "ops/random.h"

#include <algorithm>
#include <cmath>

#include "ops/broadcast.h"
#include "ops/ops.h"

namespace xk {

static uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Rng::Rng(uint64_t seed) {
  for (auto& v : s) v = splitmix64(seed);
}

uint64_t Rng::next() {
  uint64_t result = s[0] + s[3], t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

float Rng::normal() {
  double u1 = 1.0 - uniform_double(), u2 = uniform_double();
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

Rng& global_rng() {
  static Rng rng(0x5eed);
  return rng;
}

void set_seed(uint64_t seed) { global_rng() = Rng(seed); }

// A seeded op (a layer built with `seed=`) gets its own stream; others draw theirs from the global one.
static std::shared_ptr<Rng> op_rng(int64_t seed) {
  return std::make_shared<Rng>(seed >= 0 ? static_cast<uint64_t>(seed) : global_rng().next());
}

Tensor dropout(const Tensor& x, float rate, std::vector<long> noise_shape, int64_t seed) {
  if (!(rate >= 0.f && rate <= 1.f))
    fail("dropout", "Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                    "Received: rate=" + std::to_string(rate));
  if (!noise_shape.empty()) {
    Shape mask_shape = x.shape();
    if (noise_shape.size() != mask_shape.size())
      fail("dropout", "noise_shape must have the input's rank. Received: noise_shape of rank " +
                          std::to_string(noise_shape.size()) + " for inputs.shape=" + shape_str(x.shape()));
    for (size_t d = 0; d < mask_shape.size(); ++d)
      if (noise_shape[d] >= 0) mask_shape[d] = static_cast<size_t>(noise_shape[d]);
    broadcast_shapes(mask_shape, x.shape(), "dropout");
  }
  // Each dropout op owns a generator drawn from the global one, so set_seed makes runs repeatable
  // and every replay of a recorded step draws a fresh mask.
  auto rng = op_rng(seed);
  bool full = noise_shape.empty();
  return make_op(
      "dropout", {x},
      [=](Node& self) {
        const Array& in = self.in(0);
        Shape xs = to_shape(in.shape());
        Shape ms = xs;  // None (-1) entries of noise_shape take the input's size on that axis
        for (size_t d = 0; d < noise_shape.size(); ++d)
          if (noise_shape[d] >= 0) ms[d] = static_cast<size_t>(noise_shape[d]);
        if (self.scratch.empty()) self.scratch.resize(1);
        Array& mask = self.scratch[0];
        ensure_shape(mask, ms);
        float keep = 1.f - rate, scale = rate < 1.f ? 1.f / keep : 0.f;
        Rng local = *rng;  // a local copy lets the compiler keep the state in registers
        float* pm_out = mask.data();
        for (size_t i = 0, n = mask.size(); i < n; ++i) pm_out[i] = local.uniform() < keep ? scale : 0.f;
        *rng = local;
        ensure_shape(self.value, xs);
        const float *px = in.data(), *pm = mask.data();
        float* po = self.value.data();
        if (full) {
          for (size_t i = 0, n = in.size(); i < n; ++i) po[i] = px[i] * pm[i];
        } else {
          for_each_broadcast(xs, xs, ms, [&](size_t i, size_t, size_t j) { po[i] = px[i] * pm[j]; });
        }
      },
      [=](Node& self) {
        Node& in = *self.inputs[0];
        Shape xs = to_shape(in.value.shape());
        const Array& mask = self.scratch[0];
        float beta = grad_beta(in);
        const float *g = self.grad.data(), *pm = mask.data();
        float* dx = in.grad.data();
        if (beta == 0.f) std::fill(dx, dx + in.value.size(), 0.f);  // a fresh gradient buffer holds garbage
        for_each_broadcast(xs, xs, to_shape(mask.shape()),
                           [&](size_t i, size_t, size_t j) { dx[i] = beta * dx[i] + g[i] * pm[j]; });
      });
}

// ---- AlphaDropout, GaussianNoise, GaussianDropout: a fresh draw on every forward (and replay) -----

namespace {

// Standard normals, both Box-Muller outputs used.
void fill_normal(Rng& rng, float* out, size_t n, float mean, float stddev) {
  for (size_t i = 0; i < n; i += 2) {
    double u1 = 1.0 - rng.uniform_double(), u2 = rng.uniform_double();
    double r = std::sqrt(-2.0 * std::log(u1)), t = 6.283185307179586 * u2;
    out[i] = mean + stddev * static_cast<float>(r * std::cos(t));
    if (i + 1 < n) out[i + 1] = mean + stddev * static_cast<float>(r * std::sin(t));
  }
}

void check_rate(float rate, const char* op) {
  if (!(rate >= 0.f && rate <= 1.f))
    fail(op, "Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
             "Received: rate=" + std::to_string(rate));
}

// The mask's shape: noise_shape with None (-1) entries taken from the input.
Shape noise_mask_shape(const Shape& xs, const std::vector<long>& noise_shape, const char* op) {
  if (noise_shape.empty()) return xs;
  if (noise_shape.size() != xs.size())
    fail(op, "noise_shape must have the input's rank. Received: noise_shape of rank " +
                 std::to_string(noise_shape.size()) + " for inputs.shape=" + shape_str(xs));
  Shape ms = xs;
  for (size_t d = 0; d < ms.size(); ++d)
    if (noise_shape[d] >= 0) ms[d] = static_cast<size_t>(noise_shape[d]);
  broadcast_shapes(ms, xs, op);
  return ms;
}

// y = x * noise (noise in scratch[0], same shape as x); dx = g * noise.
Tensor multiplicative_noise(const char* op, const Tensor& x, std::function<void(Rng&, Array&)> draw,
                            int64_t seed) {
  auto rng = op_rng(seed);
  return make_op(
      op, {x},
      [=](Node& self) {
        const Array& in = self.in(0);
        if (self.scratch.empty()) self.scratch.resize(1);
        Array& noise = self.scratch[0];
        ensure_shape(noise, to_shape(in.shape()));
        draw(*rng, noise);
        ensure_shape(self.value, to_shape(in.shape()));
        const float *px = in.data(), *pn = noise.data();
        float* py = self.value.data();
        for (size_t i = 0, n = in.size(); i < n; ++i) py[i] = px[i] * pn[i];
      },
      [](Node& self) {
        Node& in = *self.inputs[0];
        float beta = grad_beta(in);
        const float *g = self.grad.data(), *pn = self.scratch[0].data();
        float* dx = in.grad.data();
        for (size_t i = 0, n = in.value.size(); i < n; ++i) dx[i] = (beta == 0.f ? 0.f : dx[i]) + g[i] * pn[i];
      });
}

}  // namespace

Tensor gaussian_noise(const Tensor& x, float stddev, int64_t seed) {
  if (!(stddev >= 0.f && stddev <= 1.f))
    fail("gaussian_noise", "Invalid value received for argument `stddev`. Expected a float value between 0 and 1. "
                           "Received: stddev=" + std::to_string(stddev));
  auto rng = op_rng(seed);
  return make_op(
      "gaussian_noise", {x},
      [=](Node& self) {
        const Array& in = self.in(0);
        ensure_shape(self.value, to_shape(in.shape()));
        float* py = self.value.data();
        fill_normal(*rng, py, in.size(), 0.f, stddev);
        const float* px = in.data();
        for (size_t i = 0, n = in.size(); i < n; ++i) py[i] += px[i];
      },
      [](Node& self) { accumulate_grad(*self.inputs[0], self.grad); });
}

Tensor gaussian_dropout(const Tensor& x, float rate, int64_t seed) {
  check_rate(rate, "gaussian_dropout");
  float stddev = std::sqrt(rate / (1.f - rate));
  return multiplicative_noise("gaussian_dropout", x,
                              [stddev](Rng& rng, Array& noise) { fill_normal(rng, noise.data(), noise.size(), 1.f, stddev); },
                              seed);
}

Tensor alpha_dropout(const Tensor& x, float rate, std::vector<long> noise_shape, int64_t seed) {
  const char* op = "alpha_dropout";
  check_rate(rate, op);
  noise_mask_shape(x.shape(), noise_shape, op);
  // Keras' constants: dropped units are set to SELU's negative saturation alpha_p, then an affine
  // map (a, b) restores zero mean and unit variance.
  constexpr double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
  double alpha_p = -alpha * scale;
  double a = std::pow((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p), -0.5);
  float fa = static_cast<float>(a), fb = static_cast<float>(-a * alpha_p * rate);
  float dropped = static_cast<float>(a * alpha_p) + fb;
  auto rng = op_rng(seed);
  return make_op(
      op, {x},
      [=](Node& self) {
        const Array& in = self.in(0);
        Shape xs = to_shape(in.shape()), ms = noise_mask_shape(xs, noise_shape, op);
        if (self.scratch.empty()) self.scratch.resize(1);
        Array& kept = self.scratch[0];  // 1 where the unit is kept (U >= rate), else 0
        ensure_shape(kept, ms);
        for (auto& k : kept) k = rng->uniform() >= rate ? 1.f : 0.f;
        ensure_shape(self.value, xs);
        const float *px = in.data(), *pk = kept.data();
        float* py = self.value.data();
        for_each_broadcast(xs, xs, ms, [&](size_t i, size_t, size_t j) {
          py[i] = pk[j] != 0.f ? fa * px[i] + fb : dropped;
        });
      },
      [=](Node& self) {
        Node& in = *self.inputs[0];
        Shape xs = to_shape(in.value.shape());
        const Array& kept = self.scratch[0];
        float beta = grad_beta(in);
        const float *g = self.grad.data(), *pk = kept.data();
        float* dx = in.grad.data();
        for_each_broadcast(xs, xs, to_shape(kept.shape()), [&](size_t i, size_t, size_t j) {
          dx[i] = (beta == 0.f ? 0.f : dx[i]) + g[i] * fa * pk[j];
        });
      });
}

}  // namespace xk
