// descent/kernels/yogi.h: Yogi, one fused pass.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, optimizer/yogi.py (Yogi). Per
// step t of the GROUP (bc1, sqrt(bc2) and the step size once per group and step):
//   g  = −g                                (maximize)
//   p  = p·decay;  g = g + wd·p            (BaseOptimizer.apply_weight_decay: decoupled
//                                           by default, applied even when wd = 0; L2 when
//                                           weight_decouple is off and wd > 0)
//   m  = β1·m + (1 − β1)·g
//   v  = v + (−(1 − β2))·sign(v − g²)·g²   (addcmul; both moments start at initial_accumulator)
//   p  = p + (−step_size)·m / (sqrt(v)/sqrt(bc2) + eps)
// with step_size = lr/bc1 (lr with adam_debias).
// States: s[0] = exp_avg, s[1] = exp_avg_sq.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct YogiRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  double gsign = 1, decay = 1;
  bool l2_on = false;
  double l2 = 0;
  double beta1 = 0.9, one_minus_beta1 = 0.1, neg_one_minus_beta2 = -0.001;
  double bc2_sqrt = 1, eps = 1e-3, neg_step_size = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    p = p * A(decay);
    g = select_flag(l2_on, g + A(l2) * p, g);
    const A g2 = g * g;
    A& m = s[0];
    A& v = s[1];
    m = ema(m, g, beta1, one_minus_beta1);
    v = v + A(neg_one_minus_beta2) * signum(v - g2) * g2;
    p = p + A(neg_step_size) * m / adam_denominator(v, bc2_sqrt, eps);
  }
};

}  // namespace descent::kernels
