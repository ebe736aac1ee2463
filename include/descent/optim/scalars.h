// descent/optim/scalars.h: per-step scalars many rules share, computed once per
// tensor and step in double (as the Python references compute them).
#pragma once

#include <cmath>
#include <cstdint>

namespace descent {

// 1 − β^t for the moments of Adam-like rules.
struct BiasCorrection {
  double bc1 = 1, bc2 = 1, bc2_sqrt = 1;
};

inline BiasCorrection bias_correction(double beta1, double beta2, std::int64_t step) {
  BiasCorrection b;
  const double t = static_cast<double>(step);
  b.bc1 = 1 - std::pow(beta1, t);
  b.bc2 = 1 - std::pow(beta2, t);
  b.bc2_sqrt = std::sqrt(b.bc2);
  return b;
}

}  // namespace descent
