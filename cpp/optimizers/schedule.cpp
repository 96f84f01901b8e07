#include "optimizers/schedule.h"

#include <algorithm>

#include "tensor/array.h"

namespace xk {

namespace {

constexpr double kPi = 3.14159265358979323846;

double cosine(double step, double decay_steps, double from_lr, double alpha) {
  double decayed = 0.5 * (1.0 + std::cos(kPi * step / decay_steps));
  return from_lr * ((1 - alpha) * decayed + alpha);
}

double cosine_restarts(const Schedule& s, double step) {
  double f = step / s.decay_steps, i;
  if (s.t_mul == 1.0) {
    i = std::floor(f);
    f -= i;
  } else {
    i = std::floor(std::log(1.0 - f * (1.0 - s.t_mul)) / std::log(s.t_mul));
    double sum_r = (1.0 - std::pow(s.t_mul, i)) / (1.0 - s.t_mul);
    f = (f - sum_r) / std::pow(s.t_mul, i);
  }
  double decayed = 0.5 * std::pow(s.m_mul, i) * (1.0 + std::cos(kPi * f));
  return s.initial_learning_rate * ((1 - s.alpha) * decayed + s.alpha);
}

long long one_cycle_half(const Schedule& s) {
  return std::max<long long>(0, static_cast<long long>(s.total_steps - s.final_steps) / 2);
}

double one_cycle(const Schedule& s, double step) {
  double start = s.initial_learning_rate, peak = s.max_learning_rate, end = s.end_learning_rate;
  double half = static_cast<double>(one_cycle_half(s)), rest = s.total_steps - 2 * half;
  if (step < half) return start + (peak - start) * step / half;
  if (step < 2 * half) return peak - (peak - start) * (step - half) / half;
  if (step < s.total_steps) return start + (end - start) * (step - 2 * half) / rest;
  return end;
}

}  // namespace

Schedule::Kind Schedule::kind_from_name(const std::string& name) {
  static const std::pair<const char*, Kind> names[] = {
      {"none", Kind::none}, {"exponential_decay", Kind::exponential_decay},
      {"piecewise_constant_decay", Kind::piecewise_constant_decay}, {"inverse_time_decay", Kind::inverse_time_decay},
      {"polynomial_decay", Kind::polynomial_decay}, {"cosine_decay", Kind::cosine_decay},
      {"cosine_decay_restarts", Kind::cosine_decay_restarts}, {"one_cycle", Kind::one_cycle},
      {"function", Kind::function}};
  for (auto& [n, k] : names)
    if (name == n) return k;
  fail("schedule", "unknown schedule kind. Received: kind=" + name);
}

double Schedule::value(long long step_count) const {
  double step = static_cast<double>(step_count);
  switch (kind) {
    case Kind::none:
      return NAN;
    case Kind::exponential_decay: {
      double p = step / decay_steps;
      return initial_learning_rate * std::pow(decay_rate, staircase ? std::floor(p) : p);
    }
    case Kind::piecewise_constant_decay: {
      size_t i = 0;  // values[i] for boundaries[i-1] < step <= boundaries[i]
      while (i < boundaries.size() && step > boundaries[i]) ++i;
      return values[i];
    }
    case Kind::inverse_time_decay: {
      double p = step / decay_steps;
      return initial_learning_rate / (1.0 + decay_rate * (staircase ? std::floor(p) : p));
    }
    case Kind::polynomial_decay: {
      double steps = decay_steps;
      if (cycle) steps *= step == 0 ? 1.0 : std::ceil(step / decay_steps);
      else step = std::min(step, decay_steps);
      return (initial_learning_rate - end_learning_rate) * std::pow(1.0 - step / steps, power) + end_learning_rate;
    }
    case Kind::cosine_decay:
      if (std::isnan(warmup_target))
        return cosine(std::min(step, decay_steps), decay_steps, initial_learning_rate, alpha);
      step = std::min(step, decay_steps + warmup_steps);
      if (step < warmup_steps)
        return (warmup_target - initial_learning_rate) * (step / warmup_steps) + initial_learning_rate;
      return cosine(step - warmup_steps, decay_steps, warmup_target, alpha);
    case Kind::cosine_decay_restarts:
      return cosine_restarts(*this, step);
    case Kind::one_cycle:
      return one_cycle(*this, step);
    case Kind::function:
      return function(step_count);
  }
  return NAN;
}

double Schedule::momentum(long long step) const {
  // Inverse to the rate while it cycles (max_momentum at initial_learning_rate, min at the peak).
  double half = static_cast<double>(one_cycle_half(*this));
  if (step >= 2 * half || max_learning_rate == initial_learning_rate) return max_momentum;
  double lr = one_cycle(*this, static_cast<double>(step));
  return max_momentum - (max_momentum - min_momentum) * (lr - initial_learning_rate) /
                            (max_learning_rate - initial_learning_rate);
}

}  // namespace xk
