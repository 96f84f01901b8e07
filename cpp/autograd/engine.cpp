#include <algorithm>
#include <unordered_set>

#include "autograd/tensor.h"
#include "ops/broadcast.h"

namespace xk {

namespace {
thread_local std::vector<Tape*> tapes;
thread_local int no_grad_depth = 0;
}  // namespace

Tensor Tensor::constant(Array value) {
  auto n = std::make_shared<Node>();
  n->value = std::move(value);
  return Tensor(n);
}

Tensor Tensor::variable(Array value, bool trainable, std::string name) {
  auto n = std::make_shared<Node>();
  n->value = std::move(value);
  n->op = "variable";
  n->trainable = trainable;
  n->requires_grad = trainable;
  n->name = std::move(name);
  return Tensor(n);
}

TapeScope::TapeScope(Tape* tape) : tape_(tape) { tapes.push_back(tape); }
TapeScope::~TapeScope() { tapes.erase(std::find(tapes.begin(), tapes.end(), tape_)); }
NoGradGuard::NoGradGuard() { ++no_grad_depth; }
NoGradGuard::~NoGradGuard() { --no_grad_depth; }
bool grad_enabled() { return no_grad_depth == 0 && !tapes.empty(); }

Tensor make_op(const char* op, std::vector<Tensor> inputs, NodeFn forward, NodeFn backward) {
  auto n = std::make_shared<Node>();
  n->op = op;
  n->inputs.reserve(inputs.size());
  bool needs_grad = false;
  for (auto& t : inputs) {
    n->inputs.push_back(t.node());
    needs_grad = needs_grad || t.requires_grad();
  }
  forward(*n);
  bool recorded = false;
  if (no_grad_depth == 0) {
    for (Tape* tape : tapes) {
      if (needs_grad || tape->record_all) {
        tape->nodes.push_back(n);
        recorded = true;
      }
    }
  }
  if (recorded) {
    n->requires_grad = needs_grad;
    n->forward = std::move(forward);
    n->backward = std::move(backward);
  } else {
    n->inputs.clear();  // nothing will differentiate through it: free the history now
  }
  return Tensor(n);
}

void accumulate_grad(Node& input, const Array& g) {
  Shape in_shape = to_shape(input.value.shape());
  float beta = grad_beta(input);
  float* dst = input.grad.data();
  const float* src = g.data();
  if (shapes_equal(g.shape(), in_shape) || g.size() == input.grad.size()) {
    size_t n = g.size();
    if (beta == 0.f) std::copy(src, src + n, dst);
    else for (size_t i = 0; i < n; ++i) dst[i] += src[i];
    return;
  }
  if (beta == 0.f) std::fill(dst, dst + input.grad.size(), 0.f);
  reduce_sum_into(src, to_shape(g.shape()), dst, in_shape);
}

float grad_beta(Node& input) {
  if (input.grad_fresh) {
    ensure_shape(input.grad, to_shape(input.value.shape()));
    input.grad_fresh = false;
    return 0.f;
  }
  return 1.f;
}

std::vector<NodePtr> collect_leaves(const std::vector<NodePtr>& nodes) {
  std::vector<NodePtr> leaves;
  std::unordered_set<Node*> seen;
  for (auto& n : nodes)
    for (auto& in : n->inputs)
      if (!in->backward && in->requires_grad && seen.insert(in.get()).second) leaves.push_back(in);
  return leaves;
}

void backward(const std::vector<NodePtr>& nodes, const std::vector<NodePtr>& leaves, Node& target) {
  for (auto& n : nodes) n->grad_fresh = true;
  for (auto& l : leaves) l->grad_fresh = true;
  target.grad_fresh = true;
  ensure_shape(target.grad, to_shape(target.value.shape()));
  std::fill(target.grad.begin(), target.grad.end(), 1.f);
  target.grad_fresh = false;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node& n = **it;
    if (n.grad_fresh || !n.requires_grad || !n.backward) continue;  // no gradient reached it
    n.backward(n);
  }
}

void Trace::forward() const {
  for (auto& n : nodes) n->forward(*n);
}

}  // namespace xk
