// descent/kernels/adamax.h: Adamax (Adam with the infinity norm), one fused pass.
//
// Reference: torch.optim.Adamax (PyTorch 1.13, torch/optim/adamax.py,
// _single_tensor_adamax):
//   g   = ±g                                   (maximize flips g)
//   g   = g + wd·p                             (only when weight_decay ≠ 0)
//   m   = β1·m + (1 − β1)·g                    (exp_avg.mul_(β1).add_(g, alpha=1−β1))
//   u   = max(β2·u, |g| + eps)                 (torch.amax(cat[exp_inf.mul_(β2), g.abs().add_(eps)], 0))
//   clr = lr / (1 − β1^t)                      (per tensor and step, in double)
//   p   = p + (−clr·m) / u                     (param.addcdiv_(exp_avg, exp_inf, value=−clr))
// Quirks kept:
//  * eps is added to |g| inside the max (not to the denominator), so u ≥ eps
//    from the first step on and the division is always defined;
//  * amax propagates NaN from either side (std::max would not); the rule
//    picks a when a > b or a is NaN, b otherwise (so b's NaN wins too).
// States: s[0] = exp_avg, s[1] = exp_inf.
#pragma once

#include <descent/kernels/elementwise.h>

#include <cmath>

namespace descent::kernels {

struct AdamaxRule {
  static constexpr int kStates = 2;  // exp_avg, exp_inf
  double gsign = 1, weight_decay = 0, beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, eps = 1e-8;
  double neg_clr = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    if (weight_decay != 0) g = g + A(weight_decay) * p;
    A& m = s[0];
    A& u = s[1];
    m = m * A(beta1) + A(one_minus_beta1) * g;
    const A a = u * A(beta2);
    const A b = std::abs(g) + A(eps);
    u = (a > b || a != a) ? a : b;  // amax: NaN-propagating max
    p = p + A(neg_clr) * m / u;
  }
};

}  // namespace descent::kernels
