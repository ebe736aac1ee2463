// Helpers private to the adaptive_lr family's optimizers (schedule-free, LAMB,
// NovoGrad, MADGRAD, Prodigy, ADOPT, AdEMAMix).
#pragma once

#include <descent/optim/launch.h>
#include <descent/optim/options.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <string>

namespace descent::adaptive_lr {

// Python's max(a, b) and min(a, b): the first argument unless the second
// compares greater (less); NaN never does.
inline double py_max(double a, double b) { return b > a ? b : a; }
inline double py_min(double a, double b) { return b < a ? b : a; }

// A value rounded as a 0-d tensor of the parameter's dtype holds it: float32
// for float32 (and, in descent, bfloat16) parameters, double for double ones.
inline bool single_precision(const torch::Tensor& p) { return p.scalar_type() != at::kDouble; }
inline double round_to(double x, bool single) { return single ? static_cast<double>(static_cast<float>(x)) : x; }

}  // namespace descent::adaptive_lr
