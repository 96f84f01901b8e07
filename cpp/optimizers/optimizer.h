// Optimizers update Variables in place from their gradients, once per step, with Keras 3's formulas
// (keras/src/optimizers/*.py; keras-spec.md §6). The base class owns the step, in Keras' order
// (base_optimizer.py `apply`):
//   learning rate (float, or schedule(iterations)) -> clip gradients -> decoupled weight decay ->
//   update (the subclass, fused per variable) -> EMA of the weights -> constraints -> iterations += 1.
// Slots (momenta, velocities, ...) live with each variable the optimizer was built for, indexed by
// the variable's position in that list; they are allocated once, in build: a step allocates nothing.
#pragma once
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "optimizers/constraint.h"
#include "optimizers/schedule.h"

namespace xk {

// One model variable the optimizer knows, with its slots and per-variable settings.
struct OptimizerVariable {
  NodePtr node;
  std::vector<Array> slots;   // shaped like the variable, in the order of Optimizer::slot_names()
  Array average;              // the EMA of the variable (use_ema)
  Constraint constraint;      // from the Python Variable's `.constraint`
  bool weight_decay = true;   // false: excluded with exclude_from_weight_decay
  Array clipped;              // scratch: the clipped gradient
  std::vector<double> norms;  // scratch for the constraint
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Adds the variables not known yet (with zeroed slots). Keras builds once, on the first step.
  void build(const std::vector<NodePtr>& variables);
  // One training step for the variables whose gradient is in node->grad (grad_fresh == false).
  void apply(const std::vector<NodePtr>& variables);
  // use_ema: overwrite every variable with its moving average (Keras does this at the end of fit).
  void finalize_variable_values();
  // The rate the next step will use: schedule(iterations) or learning_rate, then tf.keras 2's `decay`.
  double current_learning_rate() const;
  // True when a step is plain SGD (no momentum, clipping, weight decay or EMA): the loop may then fuse
  // w -= lr * g into the ops that produce g (Node::fused_sgd_step); apply() skips those updates.
  bool can_fuse_sgd();
  OptimizerVariable& variable(const NodePtr& node);  // a built variable; fails for an unknown one

  // Keras' slot names per variable and how they are grouped in `optimizer.variables` (§6.4): slots of
  // one group are interleaved per variable, groups follow each other. Fixed at the first build (from
  // the hyperparameters then, e.g. SGD has a momentum slot only if momentum != 0).
  const std::vector<std::vector<std::string>>& slot_layout();
  // Scalar state after the per-variable slots (Nadam's u_product), as named 0-d arrays.
  virtual std::vector<std::pair<std::string, Array*>> extra_state() { return {}; }

  std::vector<OptimizerVariable> variables;

  float learning_rate = 0.01f;  // a float32 Variable in Keras
  Schedule schedule;            // when set (kind != none), replaces learning_rate
  double decay = 0;             // tf.keras 2's `decay=`: rate / (1 + decay * iterations)
  long long iterations = 0;
  double clipnorm = 0, clipvalue = 0, global_clipnorm = 0;  // off unless > 0
  bool use_weight_decay = false;
  double weight_decay = 0;
  bool use_ema = false;
  double ema_momentum = 0.99;
  long long ema_overwrite_frequency = 0;  // 0: never during training

 protected:
  virtual std::vector<std::vector<std::string>> slot_groups() const { return {}; }
  virtual float slot_initial_value() const { return 0.f; }
  virtual bool is_plain_sgd() const { return false; }
  // Called once per step before the updates, with the step's rate and t = iterations + 1.
  virtual void begin_step(double lr, long long t) {}
  // The update rule on n contiguous floats; `s` holds this variable's slots in slot_names() order.
  virtual void update(float* w, const float* g, float* const* s, size_t n) = 0;
  bool has_slot(const std::string& name) const;

 private:
  const std::vector<size_t>& indices_for(const std::vector<NodePtr>& nodes);
  void clip_gradients();

  bool layout_fixed_ = false;
  std::vector<std::vector<std::string>> layout_;
  std::vector<std::string> slot_names_;  // layout_ flattened: the order of OptimizerVariable::slots
  std::vector<Node*> cached_nodes_;   // the last list passed to apply ...
  std::vector<size_t> cached_index_;  // ... and the position of each in `variables`
  std::vector<size_t> active_;        // this step's variables with a gradient (capacity reused)
  std::vector<const float*> grads_;   // their (possibly clipped) gradients
};

}  // namespace xk
