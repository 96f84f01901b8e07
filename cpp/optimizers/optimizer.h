// Optimizers update Variables in place from their gradients, once per step, with Keras 3's formulas.
// The base owns the step counter and the learning rate; a subclass writes only update_step.
// Slots are indexed by the variable's position in the list passed to apply (stable per compile).
#pragma once
#include <vector>

#include "autograd/tensor.h"

namespace xk {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Updates every trainable variable that received a gradient in the last backward pass.
  void apply(const std::vector<NodePtr>& variables);

  float learning_rate = 0.01f;
  long long iterations = 0;

 protected:
  virtual void build(size_t num_variables) {}
  virtual void update_step(size_t index, float* w, const float* g, size_t n, float lr) = 0;

 private:
  size_t built_for_ = 0;
};

// SGD(learning_rate=0.01, momentum=0.0, nesterov=False) (keras/src/optimizers/sgd.py):
//   v = momentum*v - lr*g; w += v   (nesterov: w += momentum*v - lr*g)
class SGD : public Optimizer {
 public:
  SGD(float lr, float momentum, bool nesterov) : momentum(momentum), nesterov(nesterov) { learning_rate = lr; }
  float momentum;
  bool nesterov;
  std::vector<Array> velocities;

 protected:
  void build(size_t num_variables) override { velocities.resize(num_variables); }
  void update_step(size_t index, float* w, const float* g, size_t n, float lr) override;
};

}  // namespace xk
