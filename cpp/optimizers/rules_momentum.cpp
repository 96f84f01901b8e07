// SGD, RMSprop and Lion (keras/src/optimizers/sgd.py, rmsprop.py, lion.py).
#include <cmath>

#include "optimizers/rules.h"

namespace xk {

std::vector<std::vector<std::string>> SGD::slot_groups() const {
  if (momentum != 0) return {{"momentum"}};
  return {};
}

void SGD::begin_step(double lr, long long t) {
  lr_ = static_cast<float>(lr);
  momentum_ = static_cast<float>(schedule.cycles_momentum() ? schedule.momentum(t - 1) : momentum);
  has_momentum_ = has_slot("momentum");
}

void SGD::update(float* w, const float* g, float* const* s, size_t n) {
  const float lr = lr_, mom = momentum_;
  if (!has_momentum_) {
    for (size_t i = 0; i < n; ++i) w[i] -= g[i] * lr;
    return;
  }
  float* m = s[0];
  if (nesterov) {
    for (size_t i = 0; i < n; ++i) {
      m[i] = m[i] * mom - g[i] * lr;
      w[i] += m[i] * mom - g[i] * lr;
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    m[i] = m[i] * mom - g[i] * lr;
    w[i] += m[i];
  }
}

std::vector<std::vector<std::string>> RMSprop::slot_groups() const {
  std::vector<std::vector<std::string>> groups = {{"velocity"}};
  if (momentum > 0) groups.push_back({"momentum"});
  if (centered) groups.push_back({"average_gradient"});
  return groups;
}

void RMSprop::begin_step(double lr, long long t) {
  lr_ = static_cast<float>(lr);
  has_momentum_ = has_slot("momentum");
  has_average_ = has_slot("average_gradient");
}

namespace {
// One loop per variant (centered, with momentum) so each stays branch-free.
template <bool Centered, bool Momentum>
void rmsprop_loop(float* w, const float* g, float* v, float* m, float* a, size_t n, float lr, float r, float r1,
                  float eps, float mom) {
  for (size_t i = 0; i < n; ++i) {
    v[i] = r * v[i] + r1 * (g[i] * g[i]);
    float den;
    if constexpr (Centered) {
      a[i] = r * a[i] + r1 * g[i];
      den = v[i] - a[i] * a[i] + eps;
    } else {
      den = v[i] + eps;
    }
    float inc = lr * g[i] / std::sqrt(den);
    if constexpr (Momentum) {
      m[i] = mom * m[i] + inc;
      w[i] -= m[i];
    } else {
      w[i] -= inc;
    }
  }
}
}  // namespace

void RMSprop::update(float* w, const float* g, float* const* s, size_t n) {
  // v = rho*v + (1-rho)*g^2; den = v (- a^2, centered) + eps; inc = lr*g/sqrt(den)
  const float r = static_cast<float>(rho), r1 = static_cast<float>(1 - rho), eps = static_cast<float>(epsilon);
  const float mom = static_cast<float>(momentum);
  float *v = s[0], *m = has_momentum_ ? s[1] : nullptr, *a = has_average_ ? s[has_momentum_ ? 2 : 1] : nullptr;
  if (a && m) rmsprop_loop<true, true>(w, g, v, m, a, n, lr_, r, r1, eps, mom);
  else if (a) rmsprop_loop<true, false>(w, g, v, m, a, n, lr_, r, r1, eps, mom);
  else if (m) rmsprop_loop<false, true>(w, g, v, m, a, n, lr_, r, r1, eps, mom);
  else rmsprop_loop<false, false>(w, g, v, m, a, n, lr_, r, r1, eps, mom);
}

void Lion::update(float* w, const float* g, float* const* s, size_t n) {
  const float b1 = static_cast<float>(beta_1), c1 = static_cast<float>(1.0 - beta_1);
  const float b2 = static_cast<float>(beta_2), c2 = static_cast<float>(1.0 - beta_2);
  const float lr = lr_;
  float* m = s[0];
  for (size_t i = 0; i < n; ++i) {
    float c = m[i] * b1 + g[i] * c1;
    w[i] -= lr * static_cast<float>((c > 0) - (c < 0));
    m[i] = m[i] * b2 + g[i] * c2;
  }
}

}  // namespace xk
