#include "train/monitor.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace xk {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double l2_norm(const Array& a) {
  double s = 0;
  const float* p = a.data();
  for (size_t i = 0, n = a.size(); i < n; ++i) s += double(p[i]) * p[i];
  return std::sqrt(s);
}

// Mean, population std and dead-unit fraction of a (batch, ...) output; units are the per-sample values.
void output_stats(const Node& out, double* dst) {
  const Array& a = out.value;
  const float* p = a.data();
  size_t n = a.size();
  double mean = 0, var = 0;
  for (size_t i = 0; i < n; ++i) mean += p[i];
  mean = n ? mean / n : kNaN;
  for (size_t i = 0; i < n; ++i) var += (p[i] - mean) * (p[i] - mean);
  dst[0] = mean;
  dst[1] = n ? std::sqrt(var / n) : kNaN;
  dst[2] = kNaN;
  bool relu = std::strcmp(out.op, "relu") == 0 || std::strcmp(out.op, "relu6") == 0;
  size_t rows = a.dimension() ? a.shape()[0] : 0, units = rows ? n / rows : 0;
  if (!relu || units == 0) return;
  size_t dead = 0;
  for (size_t j = 0; j < units; ++j) {  // column by column, stopping at the first active sample
    size_t r = 0;
    while (r < rows && p[r * units + j] == 0.f) ++r;
    dead += r == rows;
  }
  dst[2] = double(dead) / units;
}

}  // namespace

StepMonitor::StepMonitor(long long every_n, size_t num_variables, size_t num_outputs)
    : every_n_(every_n), num_variables_(num_variables), num_outputs_(num_outputs) {
  if (every_n < 1) fail("GradientMonitor", "every_n_batches must be a positive integer. Received: " +
                                               std::to_string(every_n));
}

void StepMonitor::begin_epoch(size_t steps, const std::map<size_t, Program>& programs) {
  for (auto& [size, p] : programs)
    if (p.variables.size() != num_variables_ || p.outputs.size() != num_outputs_)
      fail("GradientMonitor", "internal: the recorded step for batch size " + std::to_string(size) + " has " +
                                  std::to_string(p.variables.size()) + " variables and " +
                                  std::to_string(p.outputs.size()) + " layer outputs, expected " +
                                  std::to_string(num_variables_) + " and " + std::to_string(num_outputs_));
  size_t capacity = used_ + steps / every_n_ + 1;
  if (rows_.size() < capacity * columns()) rows_.resize(capacity * columns());
}

void StepMonitor::after_backward(size_t batch, const Program& p) {
  long long step = seen_++;
  if (step % every_n_ != 0 || (used_ + 1) * columns() > rows_.size()) return;
  double* row = rows_.data() + used_++ * columns();
  *row++ = double(step);
  *row++ = double(batch);
  *row++ = p.loss ? double(*p.loss.value().data()) : kNaN;
  for (auto& v : p.variables) *row++ = v->grad_fresh ? kNaN : l2_norm(v->grad);
  for (auto& o : p.outputs) {
    output_stats(*o, row);
    row += 3;
  }
}

std::vector<double> StepMonitor::take(size_t& rows) {
  rows = used_;
  std::vector<double> out(rows_.begin(), rows_.begin() + used_ * columns());
  used_ = 0;
  return out;
}

}  // namespace xk
