// A small, fast, seedable generator for masks and noise (mt19937 costs ~5 ns a draw, which would
// dominate a dropout step). xoshiro256+ seeded through splitmix64.
#pragma once
#include <cstdint>

namespace xk {

struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed);
  uint64_t next();
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }  // [0, 1)
  double uniform_double() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  float normal();  // Box-Muller
};

// The process-wide generator behind every op that has no seed of its own; set_seed resets it.
Rng& global_rng();

}  // namespace xk
