// descent/kernels/adagrad.h: Adagrad, one fused pass.
//
// Reference: torch.optim.Adagrad (PyTorch 1.13, torch/optim/adagrad.py,
// _single_tensor_adagrad, dense path):
//   g   = ±g                                 (maximize flips g)
//   g   = g + wd·p                           (only when weight_decay ≠ 0: grad.add(param, alpha=wd))
//   clr = lr / (1 + (t − 1)·lr_decay)        (per tensor and step, in double; t counts from 1)
//   sum = sum + g·g                          (state_sum.addcmul_(g, g, value=1))
//   std = sqrt(sum) + eps
//   p   = p + (−clr·g) / std                 (param.addcdiv_(g, std, value=−clr))
// Quirks kept:
//  * "sum" starts at initial_accumulator_value (torch.full_like), not at zero;
//    with the default 0 and eps = 1e-10 the first step is ≈ lr·sign(g);
//  * that initial value is the constructor's (the optimizer's defaults), for
//    every parameter: PyTorch fills the state in __init__ from its argument,
//    so a param group's own initial_accumulator_value has no effect;
//  * eps is added outside the square root;
//  * ATen's addcdiv computes self + value·t1/t2, in that order: (−clr·g)/std.
#pragma once

#include <descent/kernels/elementwise.h>

#include <cmath>

namespace descent::kernels {

struct AdagradRule {
  static constexpr int kStates = 1;  // sum
  double gsign = 1, weight_decay = 0, eps = 1e-10, neg_clr = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    if (weight_decay != 0) g = g + A(weight_decay) * p;
    A& sum = s[0];
    sum = sum + g * g;
    const A std_dev = std::sqrt(sum) + A(eps);
    p = p + A(neg_clr) * g / std_dev;
  }
};

}  // namespace descent::kernels
