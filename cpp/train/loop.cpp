#include "train/loop.h"

#include "train/monitor.h"

#include "tensor/fpenv.h"

#include <chrono>
#include <cmath>
#include <cstring>

// An allocation probe for tests and benchmarks (benchmarks/alloc_probe.c, loaded with LD_PRELOAD): when
// present it is told when a step's native work starts and ends, and counts the heap allocations between.
extern "C" void xkeras_alloc_probe(int active) __attribute__((weak));

namespace xk {

namespace {

class AllocProbe {  // brackets the native part of one step (never the Python hooks)
 public:
  explicit AllocProbe(bool on = true) : on_(on && xkeras_alloc_probe) { if (on_) xkeras_alloc_probe(1); }
  ~AllocProbe() { if (on_) xkeras_alloc_probe(0); }

 private:
  bool on_;
};

using Clock = std::chrono::steady_clock;

size_t row_size(const Array& a) { return a.dimension() == 0 || a.shape()[0] == 0 ? 0 : a.size() / a.shape()[0]; }

// Copies rows order[begin, begin + n) of `src` into the placeholder's buffer (shape fixed at recording).
void gather_rows(const Rows& src, const std::vector<long long>& order, size_t begin, size_t n, Node& dst) {
  size_t row = src.row_size;
  if (dst.value.size() != n * row)
    fail("fit", "a batch of " + std::to_string(n) + " rows of " + std::to_string(row) +
                    " values does not fit the recorded input of shape " + shape_str(dst.value.shape()));
  if (row == 0) return;  // zero-width samples: nothing to copy (memcpy from a null buffer is undefined)
  float* out = dst.value.data();
  for (size_t i = 0; i < n; ++i)
    std::memcpy(out + i * row, src.data + order[begin + i] * row, row * sizeof(float));
}

const Program& program_for(const std::map<size_t, Program>& programs, size_t n) {
  auto it = programs.find(n);
  if (it == programs.end()) fail("fit", "internal: no recorded step for batch size " + std::to_string(n));
  return it->second;
}

size_t argmax(const float* p, size_t c) {
  size_t best = 0;
  for (size_t j = 1; j < c; ++j)
    if (p[j] > p[best]) best = j;
  return best;
}

// Sum over the batch of each sample's metric value (already averaged over its last axis).
double metric_sum(const MetricSpec& m, const Array& pred, const Node& labels) {
  const float *p = pred.data(), *y = labels.value.data();
  size_t c = pred.dimension() ? pred.shape().back() : 1, rows = pred.size() / std::max<size_t>(c, 1);
  size_t yc = labels.value.size() / std::max<size_t>(rows, 1);
  double s = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float *pr = p + r * c, *yr = y + r * yc;
    switch (m.kind) {
      case MetricKind::sparse_categorical_accuracy:
        s += static_cast<float>(argmax(pr, c)) == yr[0] ? 1.0 : 0.0;
        break;
      case MetricKind::categorical_accuracy:
        s += argmax(pr, c) == argmax(yr, yc) ? 1.0 : 0.0;
        break;
      case MetricKind::binary_accuracy: {
        double k = 0;
        for (size_t j = 0; j < c; ++j) k += ((pr[j] > m.threshold ? 1.f : 0.f) == yr[j]) ? 1.0 : 0.0;
        s += k / c;
        break;
      }
      case MetricKind::mean_squared_error: {
        double k = 0;
        for (size_t j = 0; j < c; ++j) k += double(pr[j] - yr[j]) * (pr[j] - yr[j]);
        s += k / c;
        break;
      }
      case MetricKind::mean_absolute_error: {
        double k = 0;
        for (size_t j = 0; j < c; ++j) k += std::fabs(pr[j] - yr[j]);
        s += k / c;
        break;
      }
    }
  }
  return s;
}

// Plain SGD is fused into the weight-gradient GEMM (W += -lr * x^T g, see Node::fused_sgd_step) for each
// kernel that exactly one dense op of the program consumes: nothing else then needs its gradient.
// The RAII holder turns fusion off again however the epoch ends.
class FusedSgd {
 public:
  FusedSgd(const std::map<size_t, Program>& programs, Optimizer* optimizer) {
    if (!optimizer || !optimizer->can_fuse_sgd()) return;
    for (auto& [size, p] : programs) {
      std::map<Node*, std::pair<int, bool>> uses;  // variable -> (consumers, consumed as a dense kernel)
      for (auto& node : p.trace->nodes)
        for (size_t i = 0; i < node->inputs.size(); ++i) {
          auto& u = uses[node->inputs[i].get()];
          ++u.first;
          u.second = std::strcmp(node->op, "dense") == 0 && i == 1;
        }
      auto& fused = by_size_[size];
      for (auto& v : p.variables)
        if (v->trainable && uses[v.get()] == std::make_pair(1, true)) fused.push_back(v.get());
    }
  }
  ~FusedSgd() {
    for (auto& [size, vars] : by_size_)
      for (Node* v : vars) v->fused_sgd_step = 0.f, v->fused_sgd_done = false;
  }
  // Before each step's backward pass: this step's rate on the program's fused kernels.
  void arm(size_t batch, const Optimizer& optimizer) {
    auto it = by_size_.find(batch);
    if (it == by_size_.end()) return;
    float step = -static_cast<float>(optimizer.current_learning_rate());
    for (Node* v : it->second) v->fused_sgd_step = step;
  }

 private:
  std::map<size_t, std::vector<Node*>> by_size_;
};

struct Throttle {  // decides when to call back into Python
  Clock::time_point last_hook = Clock::now(), last_signal_check = Clock::now();
  bool due(Clock::time_point& last, double seconds) {
    auto now = Clock::now();
    if (std::chrono::duration<double>(now - last).count() < seconds) return false;
    last = now;
    return true;
  }
};

}  // namespace

std::map<std::string, double> run_epoch(const std::map<size_t, Program>& programs, Optimizer* optimizer,
                                        const EpochData& data, size_t batch_size,
                                        const std::vector<MetricSpec>& metrics, const LoopHooks& hooks) {
  FlushDenormals flush;
  size_t n = data.order.size(), steps = (n + batch_size - 1) / batch_size;
  double loss_sum = 0, count = 0;
  std::vector<double> totals(metrics.size(), 0.0);
  std::map<std::string, double> logs;
  auto fill_logs = [&] {
    logs["loss"] = count ? loss_sum / count : 0.0;
    for (size_t k = 0; k < metrics.size(); ++k) logs[metrics[k].name] = count ? totals[k] / count : 0.0;
  };
  Throttle throttle;
  // Fusion leaves no gradient buffers behind: off when something reads them (monitor, TensorBoard).
  FusedSgd fused(programs, hooks.monitor || hooks.keep_gradients ? nullptr : optimizer);
  for (size_t step = 0; step < steps; ++step) {
    size_t begin = step * batch_size, bn = std::min(batch_size, n - begin);
    if (hooks.batch && hooks.every_batch && hooks.batch(0, static_cast<long long>(step), logs)) break;
    {
      AllocProbe probe;
      const Program& p = program_for(programs, bn);
      gather_rows(data.x, data.order, begin, bn, *p.x.node());
      gather_rows(data.y, data.order, begin, bn, *p.y.node());
      if (data.sample_weight.data && p.sample_weight) gather_rows(data.sample_weight, data.order, begin, bn, *p.sample_weight.node());
      p.trace->forward();
      if (optimizer) {
        fused.arm(bn, *optimizer);
        backward(p.trace->nodes, p.trace->leaves, *p.loss.node());
        if (hooks.monitor) hooks.monitor->after_backward(step, p);
        optimizer->apply(p.variables);
      }
      // Keras weights each batch's loss by its size; metrics see predictions before the update.
      loss_sum += static_cast<double>(*p.loss.value().data()) * bn;
      count += bn;
      for (size_t k = 0; k < metrics.size(); ++k) totals[k] += metric_sum(metrics[k], p.y_pred.value(), *p.y.node());
    }
    bool last = step + 1 == steps;
    if (hooks.batch && (hooks.every_batch || last || throttle.due(throttle.last_hook, hooks.throttle_seconds))) {
      fill_logs();
      if (hooks.batch(1, static_cast<long long>(step), logs)) break;
    } else if (hooks.check_interrupt && throttle.due(throttle.last_signal_check, 0.05)) {
      hooks.check_interrupt();
    }
  }
  fill_logs();
  return logs;
}

Array run_predict(const std::map<size_t, Program>& programs, const Rows& x, size_t batch_size,
                  const LoopHooks& hooks) {
  FlushDenormals flush;
  size_t n = x.rows, steps = (n + batch_size - 1) / batch_size;
  std::vector<long long> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<long long>(i);
  Array out;
  size_t out_row = 0;
  Throttle throttle;
  for (size_t step = 0; step < steps; ++step) {
    size_t begin = step * batch_size, bn = std::min(batch_size, n - begin);
    {
      const Program& p = program_for(programs, bn);
      AllocProbe probe(step > 0);  // the first step allocates the output
      gather_rows(x, order, begin, bn, *p.x.node());
      p.trace->forward();
      const Array& y = p.y_pred.value();
      if (step == 0) {
        Shape s = to_shape(y.shape());
        s[0] = n;
        out = Array::from_shape(s);
        out_row = row_size(y);
      }
      std::memcpy(out.data() + begin * out_row, y.data(), bn * out_row * sizeof(float));
    }
    bool last = step + 1 == steps;
    if (hooks.batch && (hooks.every_batch || last || throttle.due(throttle.last_hook, hooks.throttle_seconds))) {
      if (hooks.batch(1, static_cast<long long>(step), {})) break;
    } else if (hooks.check_interrupt && throttle.due(throttle.last_signal_check, 0.05)) {
      hooks.check_interrupt();
    }
  }
  return out;
}

}  // namespace xk
