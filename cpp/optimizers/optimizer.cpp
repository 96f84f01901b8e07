#include "optimizers/optimizer.h"

namespace xk {

void Optimizer::apply(const std::vector<NodePtr>& variables) {
  if (built_for_ != variables.size()) {
    build(variables.size());
    built_for_ = variables.size();
  }
  float lr = learning_rate;
  for (size_t i = 0; i < variables.size(); ++i) {
    Node& v = *variables[i];
    if (!v.trainable || v.grad_fresh) continue;  // frozen, or no gradient reached it this step
    update_step(i, v.value.data(), v.grad.data(), v.value.size(), lr);
  }
  ++iterations;
}

void SGD::update_step(size_t index, float* w, const float* g, size_t n, float lr) {
  if (momentum == 0.f) {
    for (size_t i = 0; i < n; ++i) w[i] -= lr * g[i];
    return;
  }
  Array& vel = velocities[index];
  if (vel.size() != n) vel = xt::zeros<float>({n});
  float* v = vel.data();
  for (size_t i = 0; i < n; ++i) {
    v[i] = momentum * v[i] - lr * g[i];
    w[i] += nesterov ? momentum * v[i] - lr * g[i] : v[i];
  }
}

}  // namespace xk
