// Adagrad and Adadelta (keras/src/optimizers/adagrad.py, adadelta.py).
#include <cmath>

#include "optimizers/rules.h"

namespace xk {

void Adagrad::update(float* w, const float* g, float* const* s, size_t n) {
  const float eps = static_cast<float>(epsilon), lr = lr_;
  float* acc = s[0];
  for (size_t i = 0; i < n; ++i) {
    acc[i] += g[i] * g[i];
    w[i] -= lr * g[i] / std::sqrt(acc[i] + eps);
  }
}

void Adadelta::update(float* w, const float* g, float* const* s, size_t n) {
  // Eg = rho*Eg + (1-rho)*g^2; d = -sqrt(Edx+eps)*g/sqrt(Eg+eps); Edx = rho*Edx + (1-rho)*d^2; w += lr*d
  const float r = static_cast<float>(rho), r1 = static_cast<float>(1 - rho), eps = static_cast<float>(epsilon);
  const float lr = lr_;
  float *eg = s[0], *edx = s[1];
  for (size_t i = 0; i < n; ++i) {
    eg[i] = r * eg[i] + r1 * (g[i] * g[i]);
    float d = -(std::sqrt(edx[i] + eps) * g[i] / std::sqrt(eg[i] + eps));
    edx[i] = r * edx[i] + r1 * (d * d);
    w[i] += lr * d;
  }
}

}  // namespace xk
