// The gradient monitor behind keras.callbacks.GradientMonitor: every N training steps, statistics of
// that step's gradients and layer outputs, read from the node buffers between backward and the
// optimizer update, into rows preallocated once per epoch (a step allocates nothing).
#pragma once
#include <map>
#include <vector>

#include "train/loop.h"

namespace xk {

class StepMonitor {
 public:
  // Row layout: step (training steps since the monitor was created), batch (in the epoch), loss,
  // then the L2 norm of each variable's gradient (NaN: no gradient this step), then per recorded
  // layer output: mean, std (over batch and units) and the fraction of dead units (relu outputs
  // only, else NaN: a unit is dead when it is 0 for every sample of the batch).
  StepMonitor(long long every_n, size_t num_variables, size_t num_outputs);

  size_t columns() const { return 3 + num_variables_ + 3 * num_outputs_; }
  // Before an epoch of `steps` batches (with the GIL): checks the programs, makes room for the rows.
  void begin_epoch(size_t steps, const std::map<size_t, Program>& programs);
  // Every training step, after backward: records a row every `every_n` steps.
  void after_backward(size_t batch, const Program& p);
  // The rows recorded since the last call (row-major), then forgets them.
  std::vector<double> take(size_t& rows);

 private:
  long long every_n_, seen_ = 0;
  size_t num_variables_, num_outputs_;
  std::vector<double> rows_;  // capacity for this epoch's rows
  size_t used_ = 0;           // rows written
};

}  // namespace xk
