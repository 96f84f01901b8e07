// The native training loop: recorded steps (Programs) replayed over a whole epoch with the GIL released.
#pragma once
#include <functional>
#include <map>
#include <string>

#include "autograd/tensor.h"
#include "optimizers/optimizer.h"

namespace xk {

// One recorded step of a model for one batch size: placeholders in, prediction and loss out.
struct Program {
  std::shared_ptr<Trace> trace;
  Tensor x, y, sample_weight;    // placeholders; y and sample_weight may be empty
  Tensor y_pred, loss;           // loss may be empty (predict)
  std::vector<NodePtr> variables;  // what the optimizer updates, in model order
  std::vector<NodePtr> outputs;    // layer outputs the gradient monitor reads (train steps)
};

// Metrics computed natively from y_pred and y; per-sample values averaged over the epoch as Keras'
// MeanMetricWrapper does (total / count).
enum class MetricKind { sparse_categorical_accuracy, categorical_accuracy, binary_accuracy,
                        mean_squared_error, mean_absolute_error };
struct MetricSpec {
  std::string name;
  MetricKind kind;
  float threshold = 0.5f;
};

// A borrowed row-major float32 buffer with rows first (the caller keeps it alive during the call).
struct Rows {
  const float* data = nullptr;
  size_t rows = 0, row_size = 0;
};

struct EpochData {
  Rows x;
  Rows y;                        // labels, any shape with rows first
  Rows sample_weight;            // (N,) or empty
  std::vector<long long> order;  // row order (a permutation when shuffling)
};

class StepMonitor;  // train/monitor.h

struct LoopHooks {
  // Called (with the GIL) before/after each batch when Python callbacks want batch hooks
  // (phase 0 = begin, 1 = end). Returns true to stop (model.stop_training).
  std::function<bool(int phase, long long batch, const std::map<std::string, double>& logs)> batch;
  bool every_batch = false;       // otherwise `batch` is only called for phase 1, throttled
  double throttle_seconds = 0.05;  // the progress bar's refresh interval
  std::function<void()> check_interrupt;  // raises (through C++) on Ctrl-C; called every ~50 ms
  StepMonitor* monitor = nullptr;  // the gradient monitor, if a callback asked for one
  bool keep_gradients = false;     // leave each step's gradients in the variables' grad buffers (no fused SGD)
};

// Runs one pass over the data: training if `optimizer` is given, else evaluation.
// Returns the epoch logs: "loss" (batch-size-weighted mean) and every metric.
std::map<std::string, double> run_epoch(const std::map<size_t, Program>& programs, Optimizer* optimizer,
                                        const EpochData& data, size_t batch_size,
                                        const std::vector<MetricSpec>& metrics, const LoopHooks& hooks);

// Forward only, rows in order; returns the concatenated predictions.
Array run_predict(const std::map<size_t, Program>& programs, const Rows& x, size_t batch_size,
                  const LoopHooks& hooks);

}  // namespace xk
