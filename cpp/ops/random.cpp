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

Tensor dropout(const Tensor& x, float rate, std::vector<long> noise_shape) {
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
  auto rng = std::make_shared<Rng>(global_rng().next());
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
        for (auto& m : mask) m = rng->uniform() < keep ? scale : 0.f;
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

}  // namespace xk
