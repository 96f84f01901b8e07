// Tensor: a cheap handle to a shared graph node. Copying a Tensor is a shallow copy: both handles see
// the same value, gradient and history (as flashlight's Variable and MLX's array).
//
// An op is created with make_op(name, inputs, forward, backward). `forward` computes node.value from
// the inputs' values; `backward` reads node.grad and pushes gradients to the inputs through
// accumulate_grad / grad_beta. Both are kept on the tape when a tape is recording, which lets a
// recorded training step be replayed on new data without touching Python (see Trace).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/array.h"

namespace xk {

struct Node;
using NodePtr = std::shared_ptr<Node>;
using NodeFn = std::function<void(Node&)>;

struct Node {
  Array value;
  Array grad;                      // shaped like value once a gradient arrives
  bool requires_grad = false;      // a trainable leaf, or an op that depends on one
  bool trainable = false;          // leaves only: a Variable the optimizer may update
  bool grad_fresh = true;          // engine state: the next gradient write assigns instead of adding
  const char* op = "constant";
  std::string name;                // Variables: "dense/kernel"
  std::vector<NodePtr> inputs;
  NodeFn forward, backward;
  std::vector<Array> scratch;      // per-op buffers reused across replays
  NodePtr logits;                  // softmax/sigmoid outputs keep their pre-activation (Keras' _keras_logits)
  bool logits_softmax = false;     // which activation produced `logits`
  // Plain SGD fused into the weight-gradient GEMM (train/loop.cpp): while nonzero, the one op consuming
  // this variable adds fused_sgd_step * dL/dvalue to its value instead of writing grad, and sets done.
  float fused_sgd_step = 0.f;
  bool fused_sgd_done = false;

  const Array& in(size_t i) const { return inputs[i]->value; }
  bool needs(size_t i) const { return inputs[i]->requires_grad; }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(NodePtr node) : node_(std::move(node)) {}
  static Tensor constant(Array value);
  static Tensor variable(Array value, bool trainable = true, std::string name = "");

  const Array& value() const { return node_->value; }
  Array& mutable_value() { return node_->value; }
  Shape shape() const { return to_shape(node_->value.shape()); }
  size_t ndim() const { return node_->value.dimension(); }
  size_t size() const { return node_->value.size(); }
  bool requires_grad() const { return node_->requires_grad; }
  const NodePtr& node() const { return node_; }
  explicit operator bool() const { return static_cast<bool>(node_); }

 private:
  NodePtr node_;
};

// Creates an op node, runs `forward` once, and records it on the active tapes if needed.
Tensor make_op(const char* op, std::vector<Tensor> inputs, NodeFn forward, NodeFn backward);

// Gradient plumbing for backward functions; broadcast reduction happens here and nowhere else.
// accumulate_grad: adds g (shaped like the op's output, or like the input) into input.grad,
// summing the axes that were broadcast.
void accumulate_grad(Node& input, const Array& g);
// For ops that write an input's gradient in place (e.g. a GEMM with beta): shapes input.grad and
// returns the beta to use: 0 on the first write of this backward pass, 1 afterwards. With beta 0 the
// buffer holds garbage (fresh memory, or a previous pass's inf/NaN): overwrite it, never scale it.
float grad_beta(Node& input);

// ---- Recording ----------------------------------------------------------------------------------
// A Tape records, in execution order, the ops that need a gradient (or, for a trace, every op).
struct Tape {
  std::vector<NodePtr> nodes;
  bool record_all = false;
  bool persistent = false;
  bool used = false;
};

class TapeScope {  // pushes a tape on this thread's stack of recording tapes
 public:
  explicit TapeScope(Tape* tape);
  ~TapeScope();
  TapeScope(const TapeScope&) = delete;
  TapeScope& operator=(const TapeScope&) = delete;

 private:
  Tape* tape_;
};

class NoGradGuard {  // ops run inside it are never recorded
 public:
  NoGradGuard();
  ~NoGradGuard();
};
bool grad_enabled();

// Reverse pass over `nodes` (topological order) from `target`, whose gradient is seeded with ones.
// Leaves' gradients are left in node->grad; nodes never reached keep grad_fresh == true.
void backward(const std::vector<NodePtr>& nodes, const std::vector<NodePtr>& leaves, Node& target);

// Leaves with requires_grad that feed the recorded nodes (Variables and watched constants).
std::vector<NodePtr> collect_leaves(const std::vector<NodePtr>& nodes);

// ---- Replay -------------------------------------------------------------------------------------
// A recorded computation whose inputs (placeholders) can be refilled and re-run natively.
struct Trace {
  std::vector<NodePtr> nodes;   // every op in execution order
  std::vector<NodePtr> leaves;  // leaves that require a gradient
  void forward() const;         // re-run every op's forward
};

}  // namespace xk
