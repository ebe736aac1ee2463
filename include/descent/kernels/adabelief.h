// descent/kernels/adabelief.h: AdaBelief, one fused pass.
//
// Reference: juntang-zhuang/Adabelief-Optimizer @ 2855178, package
// adabelief_pytorch 0.2.1 (AdaBelief.py, class AdaBelief). Per step t:
//   p  = p·decay                          (weight_decouple: decay = 1 − lr·wd, or 1 − wd
//                                          with fixed_decay; applied even when wd = 0)
//   g  = g + wd·p                         (not weight_decouple and wd ≠ 0: L2, into the gradient)
//   m  = β1·m + (1 − β1)·g
//   s  = β2·s + (1 − β2)·(g − m)²         (the residual uses the UPDATED m)
//   s  = s + eps                          (in place, every step, on every path)
//   ŝ  = max(ŝ, s)                        (amsgrad; the running max is over s + eps)
// then one of four steps, chosen per tensor and step (Kind):
//   adam       (rectify off):        p = p + (−lr/bc1)·m / (sqrt(ŝ or s)/sqrt(bc2) + eps)
//   rectified  (rectify, ρ_t ≥ 5):   p = p + (−r·lr)·m / (sqrt(s) + eps)
//                                    (no /sqrt(bc2): it is inside r; amsgrad's max is NOT used)
//   sgd        (rectify, ρ_t < 5, degenerated_to_sgd): p = p + (−(1/bc1)·lr)·m
//   none       (rectify, ρ_t < 5, not degenerated_to_sgd): p unchanged
// with r = sqrt((1−β2^t)(ρ_t−4)/(ρ∞−4)·(ρ_t−2)/ρ_t·ρ∞/(ρ∞−2)) / bc1 computed in
// double, in the reference's order, by the optimizer.
// States: s[0] = exp_avg, s[1] = exp_avg_var, s[2] = max_exp_avg_var (amsgrad).
#pragma once

#include <descent/kernels/aten_minmax.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

enum class AdaBeliefStep { adam, rectified, sgd, none };

template <bool Amsgrad, AdaBeliefStep Kind>
struct AdaBeliefRule {
  static constexpr int kStates = Amsgrad ? 3 : 2;  // exp_avg, exp_avg_var[, max_exp_avg_var]
  double decay = 1;
  bool l2_on = false;
  double l2 = 0;
  double beta1 = 0.9, beta2 = 0.999, one_minus_beta1 = 0.1, one_minus_beta2 = 0.001;
  double eps = 1e-16, bc2_sqrt = 1;
  double neg_step_size = 0;  // adam: −(lr/bc1); rectified: −r·lr; sgd: −(1/bc1)·lr

  template <class A> void operator()(A& p, A g, A* s) const {
    p = p * A(decay);
    g = select_flag(l2_on, g + A(l2) * p, g);
    A& m = s[0];
    A& var = s[1];
    m = ema(m, g, beta1, one_minus_beta1);
    const A r = g - m;
    var = ema_product(var, r, r, beta2, one_minus_beta2);
    var = var + A(eps);
    A vd = var;
    if constexpr (Amsgrad) {
      s[2] = maximum(s[2], var);
      vd = s[2];
    }
    if constexpr (Kind == AdaBeliefStep::adam) {
      p = p + A(neg_step_size) * m / adam_denominator(vd, bc2_sqrt, eps);
    } else if constexpr (Kind == AdaBeliefStep::rectified) {
      p = p + A(neg_step_size) * m / (std::sqrt(var) + A(eps));
    } else if constexpr (Kind == AdaBeliefStep::sgd) {
      p = p + A(neg_step_size) * m;
    }
    (void)vd;
  }
};

}  // namespace descent::kernels
