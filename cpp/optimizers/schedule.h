// Learning-rate schedules evaluated natively at `iterations` before each update (the first update
// uses step 0), with the formulas of keras/src/optimizers/schedules/learning_rate_schedule.py, plus
// xkeras's 1cycle (OneCycle) and a Python-function fallback for user-defined schedules.
// Values are computed in double; Keras computes them in float32 (see value()).
#pragma once
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace xk {

struct Schedule {
  enum class Kind { none, exponential_decay, piecewise_constant_decay, inverse_time_decay, polynomial_decay,
                    cosine_decay, cosine_decay_restarts, one_cycle, function };
  Kind kind = Kind::none;

  // Fields are named after the Keras arguments; each kind reads only its own.
  double initial_learning_rate = 0;
  double decay_steps = 1;      // CosineDecayRestarts: first_decay_steps
  double decay_rate = 1;
  bool staircase = false;
  double end_learning_rate = 1e-4, power = 1;  // PolynomialDecay
  bool cycle = false;
  double alpha = 0;                             // CosineDecay(Restarts)
  double warmup_target = NAN, warmup_steps = 0;  // CosineDecay; NaN: no warmup
  double t_mul = 2, m_mul = 1;                  // CosineDecayRestarts
  std::vector<double> boundaries, values;      // PiecewiseConstantDecay
  // OneCycle: initial -> max over `half` steps, back to initial over `half`, then down to
  // end_learning_rate over the last `final_steps` (half = (total_steps - final_steps) / 2, integer).
  double max_learning_rate = 0, total_steps = 0, final_steps = 0;
  double max_momentum = 0.95, min_momentum = 0.85;  // cycled inversely to the rate (SGD with momentum)
  bool cycle_momentum = true;
  std::function<double(long long)> function;  // Kind::function: a Python schedule, called with the GIL

  static Kind kind_from_name(const std::string& name);
  double value(long long step) const;
  bool cycles_momentum() const { return kind == Kind::one_cycle && cycle_momentum; }
  double momentum(long long step) const;  // OneCycle only
};

}  // namespace xk
