// Helpers private to the adaptive_lr family's optimizers (schedule-free, LAMB,
// NovoGrad, MADGRAD, Prodigy, ADOPT, AdEMAMix).
#pragma once

#include <descent/optim/launch.h>
#include <descent/optim/options.h>

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <string>
#include <tuple>

namespace descent::adaptive_lr {

// launch_reduce for any layout: dense tensors run in place; otherwise the rule
// runs on contiguous copies that are written back (allocates, as launch() does
// for such tensors).
template <class Rule, class... S>
std::array<double, Rule::kSums> reduce(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                       const S&... s) {
  if (p.is_contiguous() && g.is_contiguous() && (s.is_contiguous() && ...)) return launch_reduce(rule, p, g, s...);
  torch::Tensor pc = p.contiguous();
  const torch::Tensor gc = g.contiguous();
  std::array<torch::Tensor, sizeof...(S)> sc{s.contiguous()...};
  auto out = std::apply([&](auto&... c) { return launch_reduce(rule, pc, gc, c...); }, sc);
  if (!pc.is_same(p)) p.copy_(pc);
  const torch::Tensor* orig[] = {&s..., nullptr};
  for (std::size_t k = 0; k < sizeof...(S); ++k)
    if (!sc[k].is_same(*orig[k])) orig[k]->copy_(sc[k]);
  return out;
}

// Python's max(a, b) and min(a, b): the first argument unless the second
// compares greater (less); NaN never does.
inline double py_max(double a, double b) { return b > a ? b : a; }
inline double py_min(double a, double b) { return b < a ? b : a; }

// A value rounded as a 0-d tensor of the parameter's dtype holds it: float32
// for float32 (and, in descent, bfloat16) parameters, double for double ones.
inline bool single_precision(const torch::Tensor& p) { return p.scalar_type() != at::kDouble; }
inline double round_to(double x, bool single) { return single ? static_cast<double>(static_cast<float>(x)) : x; }

// Python's None for an optional number: the registry hands JSON null over as
// the string "None"; descent stores it as kNone.
inline constexpr double kNone = -1.0;
inline bool is_none_value(const OptionValue& v) { return v.kind == OptionValue::Kind::string && v.string == "None"; }
inline OptionValue none_as_number() {
  OptionValue n;
  n.kind = OptionValue::Kind::number;
  n.number = kNone;
  return n;
}

}  // namespace descent::adaptive_lr
