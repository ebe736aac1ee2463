// descent/kernels/adamod.h: AdaMod, one fused pass.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, optimizer/adamod.py (AdaMod).
// Per step t of the GROUP (step_size = lr·sqrt(bc2)/bc1, or lr·sqrt(bc2) with
// adam_debias, once per group and step):
//   g  = −g                                (maximize)
//   p  = p·decay;  g = g + wd·p            (apply_weight_decay: decoupled by default)
//   m  = β1·m + (1 − β1)·g
//   v  = β2·v + (1 − β2)·g·g
//   u  = step_size / (sqrt(v) + eps)
//   ℓ  = β3·ℓ + (1 − β3)·u                 (exp_avg_lr)
//   p  = p − min(u, ℓ)·m
// States: s[0] = exp_avg, s[1] = exp_avg_sq, s[2] = exp_avg_lr.
#pragma once

#include <descent/kernels/aten_minmax.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct AdaModRule {
  static constexpr int kStates = 3;  // exp_avg, exp_avg_sq, exp_avg_lr
  double gsign = 1, decay = 1;
  bool l2_on = false;
  double l2 = 0;
  double beta1 = 0.9, beta2 = 0.99, beta3 = 0.9999;
  double one_minus_beta1 = 0.1, one_minus_beta2 = 0.01, one_minus_beta3 = 0.0001;
  double eps = 1e-8, step_size = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    p = p * A(decay);
    g = select_flag(l2_on, g + A(l2) * p, g);
    A& m = s[0];
    A& v = s[1];
    A& lr_avg = s[2];
    m = ema(m, g, beta1, one_minus_beta1);
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    A u = A(step_size) / (std::sqrt(v) + A(eps));
    lr_avg = ema(lr_avg, u, beta3, one_minus_beta3);
    u = minimum(u, lr_avg) * m;
    p = p - u;
  }
};

}  // namespace descent::kernels
