// descent/kernels/adadelta.h: Adadelta, one fused pass.
//
// Reference: torch.optim.Adadelta (PyTorch 1.13, torch/optim/adadelta.py,
// _single_tensor_adadelta):
//   g     = ±g                                   (maximize flips g)
//   g     = g + wd·p                             (only when weight_decay ≠ 0)
//   v     = ρ·v + (1 − ρ)·g·g                    (square_avg.mul_(ρ).addcmul_(g, g, value=1−ρ))
//   std   = sqrt(v + eps)
//   delta = sqrt(u + eps) / std · g              (acc_delta.add(eps).sqrt_().div_(std).mul_(g))
//   u     = ρ·u + (1 − ρ)·delta·delta            (acc_delta.mul_(ρ).addcmul_(delta, delta, value=1−ρ))
//   p     = p − lr·delta                         (param.add_(delta, alpha=−lr))
// Quirks kept:
//  * PyTorch applies a learning rate to delta (Zeiler's paper has none; lr = 1
//    is the paper's rule and PyTorch's default);
//  * eps sits inside both square roots; delta is (sqrt(u+eps)/std)·g, divided
//    before it is multiplied;
//  * u is updated with the new delta after delta is computed from the old u.
// States: s[0] = square_avg, s[1] = acc_delta.
#pragma once

#include <descent/kernels/elementwise.h>

#include <cmath>

namespace descent::kernels {

struct AdadeltaRule {
  static constexpr int kStates = 2;  // square_avg, acc_delta
  double gsign = 1, weight_decay = 0, rho = 0.9, one_minus_rho = 0.1, eps = 1e-6, neg_lr = -1;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    if (weight_decay != 0) g = g + A(weight_decay) * p;
    A& v = s[0];
    A& u = s[1];
    v = v * A(rho) + A(one_minus_rho) * g * g;
    const A std_dev = std::sqrt(v + A(eps));
    const A delta = std::sqrt(u + A(eps)) / std_dev * g;
    u = u * A(rho) + A(one_minus_rho) * delta * delta;
    p = p + A(neg_lr) * delta;
  }
};

}  // namespace descent::kernels
