// descent/kernels/nadam.h: NAdam (Adam with Nesterov momentum), one fused pass.
//
// Reference: torch.optim.NAdam (PyTorch 1.13, torch/optim/nadam.py,
// _single_tensor_nadam). With t the step (from 1) and ψ the momentum_decay:
//   μ_t   = β1·(1 − 0.5·0.96^(t·ψ)),  μ_{t+1} = β1·(1 − 0.5·0.96^((t+1)·ψ))
//   Π_t   = Π_{t−1}·μ_t               (state "mu_product", starts at 1)
//   Π'    = Π_t·μ_t·μ_{t+1}           (sic: 1.13 multiplies μ_t in twice)
//   g     = g + wd·p                  (only when weight_decay ≠ 0; 1.13 has no maximize)
//   m     = β1·m + (1 − β1)·g
//   v     = β2·v + (1 − β2)·g·g
//   denom = sqrt(v / (1 − β2^t)) + eps
//   p     = p + (−lr·(1 − μ_t)/(1 − Π_t))·g / denom      (first addcdiv_)
//   p     = p + (−lr·μ_{t+1}/(1 − Π'))·m / denom         (second addcdiv_: p is rounded in between)
// Quirks kept (all in the scalars the optimizer layer computes per tensor):
//  * mu_product is torch.tensor(1.), a float32 0-d tensor even in a float64
//    run: Π_t = fl32(Π_{t−1} · fl32(μ_t)) and Π' = fl32(fl32(Π_t · fl32(μ_t)) · fl32(μ_{t+1}))
//    (a float32 tensor times a Python float multiplies by the float rounded to
//    float32); 1 − Π is then taken in double from the float32 value (.item());
//  * Π' uses Π_t (which already contains μ_t) times μ_t again, as 1.13 does
//    (later PyTorch versions fixed this to Π_t·μ_{t+1});
//  * denom divides v by the bias correction before the square root.
// States: s[0] = exp_avg, s[1] = exp_avg_sq.
#pragma once

#include <descent/kernels/elementwise.h>

#include <cmath>

namespace descent::kernels {

struct NadamRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  double weight_decay = 0, beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001;
  double bias_correction2 = 1, eps = 1e-8;
  double grad_coef = 0, avg_coef = 0;  // −lr(1−μ_t)/(1−Π_t), −lr·μ_{t+1}/(1−Π')

  template <class A> void operator()(A& p, A g, A* s) const {
    if (weight_decay != 0) g = g + A(weight_decay) * p;
    A& m = s[0];
    A& v = s[1];
    m = m * A(beta1) + A(one_minus_beta1) * g;
    v = v * A(beta2) + A(one_minus_beta2) * g * g;
    const A denom = std::sqrt(v / A(bias_correction2)) + A(eps);
    p = p + A(grad_coef) * g / denom;
    p = p + A(avg_coef) * m / denom;
  }
};

}  // namespace descent::kernels
