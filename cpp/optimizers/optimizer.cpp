#include "optimizers/optimizer.h"

#include "tensor/fpenv.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace xk {

namespace {
constexpr size_t kMaxSlots = 4;

double sum_of_squares(const float* g, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(g[i]) * g[i];
  return s;
}
}  // namespace

const std::vector<std::vector<std::string>>& Optimizer::slot_layout() {
  if (!layout_fixed_) {
    layout_ = slot_groups();
    slot_names_.clear();
    for (auto& group : layout_) slot_names_.insert(slot_names_.end(), group.begin(), group.end());
    if (slot_names_.size() > kMaxSlots) fail("optimizer", "internal: too many slots per variable");
    layout_fixed_ = true;
  }
  return layout_;
}

bool Optimizer::has_slot(const std::string& name) const {
  return std::find(slot_names_.begin(), slot_names_.end(), name) != slot_names_.end();
}

void Optimizer::build(const std::vector<NodePtr>& nodes) {
  slot_layout();
  for (const NodePtr& node : nodes) {
    bool known = std::any_of(variables.begin(), variables.end(), [&](auto& v) { return v.node == node; });
    if (known) continue;
    OptimizerVariable v;
    v.node = node;
    for (size_t k = 0; k < slot_names_.size(); ++k) {
      v.slots.push_back(Array::from_shape(node->value.shape()));
      std::fill(v.slots.back().begin(), v.slots.back().end(), slot_initial_value());
    }
    if (use_ema) v.average = xt::zeros<float>(node->value.shape());
    variables.push_back(std::move(v));
  }
}

OptimizerVariable& Optimizer::variable(const NodePtr& node) {
  for (auto& v : variables)
    if (v.node == node) return v;
  fail("optimizer", "Unknown variable '" + node->name + "': the optimizer was not built for it.");
}

const std::vector<size_t>& Optimizer::indices_for(const std::vector<NodePtr>& nodes) {
  bool same = cached_nodes_.size() == nodes.size();
  for (size_t i = 0; same && i < nodes.size(); ++i) same = cached_nodes_[i] == nodes[i].get();
  if (same) return cached_index_;
  build(nodes);  // a new list (first step, or another program): map it once
  cached_nodes_.clear();
  cached_index_.clear();
  for (const NodePtr& node : nodes) {
    cached_nodes_.push_back(node.get());
    cached_index_.push_back(static_cast<size_t>(&variable(node) - variables.data()));
  }
  return cached_index_;
}

double Optimizer::current_learning_rate() const {
  // Keras keeps the rate (and evaluates schedules) in float32.
  float lr = schedule.kind == Schedule::Kind::none ? learning_rate : static_cast<float>(schedule.value(iterations));
  if (decay > 0) lr = lr / (1.f + static_cast<float>(decay) * static_cast<float>(iterations));
  return lr;
}

bool Optimizer::can_fuse_sgd() {
  slot_layout();
  return is_plain_sgd() && clipnorm <= 0 && clipvalue <= 0 && global_clipnorm <= 0 && !use_weight_decay && !use_ema;
}

void Optimizer::clip_gradients() {
  auto grad_of = [&](size_t k) -> Node& { return *variables[active_[k]].node; };
  auto scratch = [&](size_t k) {
    OptimizerVariable& v = variables[active_[k]];
    ensure_shape(v.clipped, to_shape(v.node->grad.shape()));
    grads_[k] = v.clipped.data();
    return v.clipped.data();
  };
  if (clipnorm > 0) {  // per variable: g * c / max(||g||, c)
    const float c = static_cast<float>(clipnorm);
    for (size_t k = 0; k < active_.size(); ++k) {
      const Array& g = grad_of(k).grad;
      float norm = static_cast<float>(std::sqrt(sum_of_squares(g.data(), g.size())));
      float denom = std::max(norm, c);
      float* out = scratch(k);
      for (size_t i = 0; i < g.size(); ++i) out[i] = g.data()[i] * c / denom;
    }
  } else if (global_clipnorm > 0) {  // all together: g * c * min(1/||G||, 1/c), NaN if ||G|| is not finite
    double total = 0;
    for (size_t k = 0; k < active_.size(); ++k) total += sum_of_squares(grad_of(k).grad.data(), grad_of(k).grad.size());
    float norm = static_cast<float>(std::sqrt(total)), c = static_cast<float>(global_clipnorm);
    float scale = c * std::min(1.f / norm, 1.f / c) + (norm - norm);
    for (size_t k = 0; k < active_.size(); ++k) {
      const Array& g = grad_of(k).grad;
      float* out = scratch(k);
      for (size_t i = 0; i < g.size(); ++i) out[i] = g.data()[i] * scale;
    }
  } else if (clipvalue > 0) {
    const float c = static_cast<float>(clipvalue);
    for (size_t k = 0; k < active_.size(); ++k) {
      const Array& g = grad_of(k).grad;
      float* out = scratch(k);
      for (size_t i = 0; i < g.size(); ++i) out[i] = std::min(std::max(g.data()[i], -c), c);
    }
  }
}

void Optimizer::apply(const std::vector<NodePtr>& nodes) {
  if (nodes.empty()) return;  // Keras: applying no gradients is a no-op (no step counted)
  const std::vector<size_t>& index = indices_for(nodes);
  active_.clear();
  grads_.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = *nodes[i];
    if (!n.trainable || (n.grad_fresh && !n.fused_sgd_done)) continue;  // frozen, or no gradient this step
    if (n.fused_sgd_done) {  // updated already inside its op (can_fuse_sgd): constraints still apply
      active_.push_back(index[i]);
      grads_.push_back(nullptr);
      continue;
    }
    if (!shapes_equal(n.grad.shape(), n.value.shape()))
      fail("optimizer", "gradient of shape " + shape_str(n.grad.shape()) + " for variable '" + n.name +
                            "' of shape " + shape_str(n.value.shape()));
    active_.push_back(index[i]);
    grads_.push_back(n.grad.data());
  }
  if (active_.empty()) fail("optimizer", "No gradients provided for any variable.");

  FlushDenormals flush;
  const double lr = current_learning_rate();
  clip_gradients();
  if (use_weight_decay) {  // decoupled: w -= w * wd * lr, before the update
    const float wd = static_cast<float>(weight_decay), lrf = static_cast<float>(lr);
    for (size_t k : active_) {
      if (!variables[k].weight_decay) continue;
      Array& w = variables[k].node->value;
      for (float& x : w) x -= x * wd * lrf;
    }
  }
  begin_step(lr, iterations + 1);
  std::array<float*, kMaxSlots> s{};
  for (size_t k = 0; k < active_.size(); ++k) {
    OptimizerVariable& v = variables[active_[k]];
    if (!grads_[k]) {
      v.node->fused_sgd_done = false;
      continue;
    }
    for (size_t j = 0; j < v.slots.size(); ++j) s[j] = v.slots[j].data();
    update(v.node->value.data(), grads_[k], s.data(), v.node->value.size());
  }
  if (use_ema) {  // every built variable; the first step copies the weights
    const float m = iterations == 0 ? 0.f : static_cast<float>(ema_momentum);
    bool overwrite = ema_overwrite_frequency > 0 && (iterations + 1) % ema_overwrite_frequency == 0;
    for (OptimizerVariable& v : variables) {
      Array& w = v.node->value;
      if (v.average.size() != w.size()) v.average = xt::zeros<float>(w.shape());  // use_ema set after build
      float* a = v.average.data();
      for (size_t i = 0; i < w.size(); ++i) a[i] = m * a[i] + (1.f - m) * w.data()[i];
      if (overwrite) std::copy(v.average.begin(), v.average.end(), w.begin());
    }
  }
  for (size_t k : active_) variables[k].constraint.apply(variables[k].node->value, variables[k].norms);
  ++iterations;
}

void Optimizer::finalize_variable_values() {
  if (!use_ema) return;
  for (OptimizerVariable& v : variables)
    if (v.average.size() == v.node->value.size())
      std::copy(v.average.begin(), v.average.end(), v.node->value.begin());
}

}  // namespace xk
