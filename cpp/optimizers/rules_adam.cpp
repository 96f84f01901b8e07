// Adam (and AdamW), Adamax and Nadam (keras/src/optimizers/adam.py, adamax.py, nadam.py).
#include <algorithm>
#include <cmath>

#include "optimizers/rules.h"

namespace xk {

std::vector<std::vector<std::string>> Adam::slot_groups() const {
  std::vector<std::vector<std::string>> groups = {{"momentum", "velocity"}};
  if (amsgrad) groups.push_back({"velocity_hat"});
  return groups;
}

void Adam::begin_step(double lr, long long t) {
  // Bias correction folded into the rate, so eps meets the uncorrected sqrt(v) ("epsilon hat").
  alpha_ = static_cast<float>(lr * std::sqrt(1 - std::pow(beta_2, t)) / (1 - std::pow(beta_1, t)));
  has_v_hat_ = has_slot("velocity_hat");
}

void Adam::update(float* w, const float* g, float* const* s, size_t n) {
  const float c1 = static_cast<float>(1 - beta_1), c2 = static_cast<float>(1 - beta_2);
  const float eps = static_cast<float>(epsilon);
  const float alpha = alpha_;
  float *m = s[0], *v = s[1];
  if (!has_v_hat_) {  // separate loops keep each one branch-free (vectorised)
    for (size_t i = 0; i < n; ++i) {
      m[i] += (g[i] - m[i]) * c1;
      v[i] += (g[i] * g[i] - v[i]) * c2;
      w[i] -= m[i] * alpha / (std::sqrt(v[i]) + eps);
    }
    return;
  }
  float* vh = s[2];
  for (size_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * c1;
    v[i] += (g[i] * g[i] - v[i]) * c2;
    vh[i] = std::max(vh[i], v[i]);
    w[i] -= m[i] * alpha / (std::sqrt(vh[i]) + eps);
  }
}

void Adamax::begin_step(double lr, long long t) {
  lr_ = static_cast<float>(lr);
  bias_ = static_cast<float>(1 - std::pow(beta_1, t));
}

void Adamax::update(float* w, const float* g, float* const* s, size_t n) {
  const float c1 = static_cast<float>(1 - beta_1), b2 = static_cast<float>(beta_2);
  const float eps = static_cast<float>(epsilon);
  const float lr = lr_, bias = bias_;
  float *m = s[0], *u = s[1];
  for (size_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * c1;
    u[i] = std::max(b2 * u[i], std::fabs(g[i]));
    w[i] -= lr * m[i] / (bias * (u[i] + eps));
  }
}

void Nadam::begin_step(double lr, long long t) {
  const double u_t = beta_1 * (1 - 0.5 * std::pow(0.96, t));
  const double u_next = beta_1 * (1 - 0.5 * std::pow(0.96, t + 1));
  u_product() = static_cast<float>(u_product() * u_t);  // updated once per step, before the variables
  const double prod = u_product();
  lr_ = static_cast<float>(lr);
  m_coef_ = static_cast<float>(u_next / (1 - prod * u_next));
  g_coef_ = static_cast<float>((1 - u_t) / (1 - prod));
  v_coef_ = static_cast<float>(1 / (1 - std::pow(beta_2, t)));
}

void Nadam::update(float* w, const float* g, float* const* s, size_t n) {
  const float c1 = static_cast<float>(1 - beta_1), c2 = static_cast<float>(1 - beta_2);
  const float eps = static_cast<float>(epsilon);
  const float lr = lr_, mc = m_coef_, gc = g_coef_, vc = v_coef_;
  float *m = s[0], *v = s[1];
  for (size_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * c1;
    v[i] += (g[i] * g[i] - v[i]) * c2;
    float m_hat = mc * m[i] + gc * g[i];
    w[i] -= m_hat * lr / (std::sqrt(v[i] * vc) + eps);
  }
}

}  // namespace xk
