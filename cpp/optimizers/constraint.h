// Weight constraints applied by the optimizer after each update (keras/src/constraints/constraints.py),
// with Keras' formulas; `n` is the L2 norm over `axes` (kept dims), eps = 1e-7:
//   max_norm:     w * clip(n, 0, max_value) / (eps + n)
//   non_neg:      max(w, 0)
//   unit_norm:    w / (eps + n)
//   min_max_norm: w * (rate * clip(n, min_value, max_value) + (1 - rate) * n) / (eps + n)
#pragma once
#include <vector>

#include "tensor/array.h"

namespace xk {

struct Constraint {
  enum class Kind { none, max_norm, non_neg, unit_norm, min_max_norm };
  Kind kind = Kind::none;
  double min_value = 0, max_value = 0, rate = 1;
  std::vector<int> axes;  // may be negative; empty with all_axes = true means axis=None
  bool all_axes = false;

  // Constrains w in place; `norms` is scratch reused between calls (sized on first use).
  void apply(Array& w, std::vector<double>& norms) const;
};

}  // namespace xk
