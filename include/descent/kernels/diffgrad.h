// descent/kernels/diffgrad.h: diffGrad, one fused pass.
//
// Reference: shivram1987/diffGrad @ 73233ba, diffGrad_v2.py (class diffgrad),
// the version that fixes the original's previous-gradient aliasing. Per step t:
//   g    = g + wd·p                        (only when wd ≠ 0; written into the gradient
//                                           itself, so previous_grad keeps this g)
//   m    = β1·m + (1 − β1)·g
//   v    = β2·v + (1 − β2)·g·g
//   den  = sqrt(v) + eps                   (eps on the UNcorrected sqrt(v))
//   ξ    = 1 / (1 + exp(−|g_prev − g|))    (previous_grad starts at 0)
//   g_prev = g
//   p    = p + (−lr·sqrt(bc2)/bc1)·(m·ξ) / den      (addcdiv: (value·t1)/t2)
// The step size −lr·sqrt(1 − β2^t)/(1 − β1^t) is computed once per tensor, in double.
// States: s[0] = exp_avg, s[1] = exp_avg_sq, s[2] = previous_grad.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct DiffGradRule {
  static constexpr int kStates = 3;  // exp_avg, exp_avg_sq, previous_grad
  bool l2_on = false;
  double l2 = 0;
  double beta1 = 0.9, beta2 = 0.999, one_minus_beta1 = 0.1, one_minus_beta2 = 0.001;
  double eps = 1e-8, neg_step_size = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = l2_on ? g + A(l2) * p : g;
    A& m = s[0];
    A& v = s[1];
    A& prev = s[2];
    m = ema(m, g, beta1, one_minus_beta1);
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    const A denom = std::sqrt(v) + A(eps);
    const A dfc = A(1) / (A(1) + std::exp(-std::abs(prev - g)));
    prev = g;
    p = p + A(neg_step_size) * (m * dfc) / denom;
  }
};

}  // namespace descent::kernels
