// descent/kernels/radam.h: RAdam (rectified Adam), one fused pass.
//
// Reference: torch.optim.RAdam (PyTorch 1.13, torch/optim/radam.py,
// _single_tensor_radam). With t the step (from 1):
//   g   = g + wd·p                          (only when weight_decay ≠ 0; 1.13 has no maximize)
//   m   = β1·m + (1 − β1)·g
//   v   = β2·v + (1 − β2)·g·g
//   m̂   = m / (1 − β1^t)
//   ρ∞  = 2/(1 − β2) − 1,   ρ_t = ρ∞ − 2·t·β2^t/(1 − β2^t)      (per tensor and step, in double)
//   ρ_t > 5:  r = sqrt((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t))
//             a = (1 / (sqrt(v) + eps)) · sqrt(1 − β2^t)
//             p = p − ((m̂·lr)·a)·r
//   otherwise p = p − m̂·lr                  (un-adapted SGD with momentum)
// Quirks kept:
//  * the threshold is ρ_t > 5 (the paper's code uses ≥ 5 on a different ρ);
//  * `math.sqrt(bc2) / tensor` is Tensor.__rtruediv__, which PyTorch 1.13
//    evaluates as tensor.reciprocal() * scalar: 1/(sqrt(v)+eps) is rounded
//    before it is multiplied by sqrt(bc2);
//  * the update is built as ((m̂·lr)·a)·r and subtracted with add_(…, alpha=−1).
// States: s[0] = exp_avg, s[1] = exp_avg_sq.
#pragma once

#include <descent/kernels/elementwise.h>

#include <cmath>

namespace descent::kernels {

template <bool Rectified>
struct RadamRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  double weight_decay = 0, beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001;
  double bias_correction1 = 1, lr = 1e-3, eps = 1e-8;
  double bc2_sqrt = 1, rect = 1;  // used when Rectified

  template <class A> void operator()(A& p, A g, A* s) const {
    if (weight_decay != 0) g = g + A(weight_decay) * p;
    A& m = s[0];
    A& v = s[1];
    m = m * A(beta1) + A(one_minus_beta1) * g;
    v = v * A(beta2) + A(one_minus_beta2) * g * g;
    const A mhat = m / A(bias_correction1);
    if constexpr (Rectified) {
      const A adaptive = A(1) / (std::sqrt(v) + A(eps)) * A(bc2_sqrt);
      p = p + A(-1) * (mhat * A(lr) * adaptive * A(rect));
    } else {
      p = p + A(-1) * (mhat * A(lr));
    }
  }
};

}  // namespace descent::kernels
