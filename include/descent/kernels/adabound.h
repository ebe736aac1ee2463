// descent/kernels/adabound.h: AdaBound and AMSBound, one fused pass.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, optimizer/adabound.py
// (AdaBound). Per step t of the GROUP (scalars once per group and step, double):
//   g  = −g                                (maximize)
//   p  = p·decay;  g = g + wd·p            (apply_weight_decay: decoupled by default)
//   m  = β1·m + (1 − β1)·g
//   v  = β2·v + (1 − β2)·g·g
//   v̂  = max(v̂, v)                          (ams_bound; the denominator then uses v̂)
//   u  = clamp(step_size / (sqrt(v + 1e-15) + eps), lower, upper)·m
//   p  = p − u
// with step_size = lr·sqrt(bc2)/bc1, final = final_lr·lr/base_lr (base_lr: the
// group's lr at construction), lower = final·(1 − 1/(γ·t + 1)), upper = final·(1 + 1/(γ·t)).
// States: s[0] = exp_avg, s[1] = exp_avg_sq, s[2] = max_exp_avg_sq (ams_bound).
#pragma once

#include <descent/kernels/aten_minmax.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

template <bool AmsBound>
struct AdaBoundRule {
  static constexpr int kStates = AmsBound ? 3 : 2;  // exp_avg, exp_avg_sq[, max_exp_avg_sq]
  double gsign = 1, decay = 1;
  bool l2_on = false;
  double l2 = 0;
  double beta1 = 0.9, beta2 = 0.999, one_minus_beta1 = 0.1, one_minus_beta2 = 0.001;
  double eps = 1e-8, step_size = 0, lower = 0, upper = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    p = p * A(decay);
    g = select_flag(l2_on, g + A(l2) * p, g);
    A& m = s[0];
    A& v = s[1];
    m = ema(m, g, beta1, one_minus_beta1);
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    A vd = v;
    if constexpr (AmsBound) {
      s[2] = maximum(s[2], v);
      vd = s[2];
    }
    const A denom = std::sqrt(vd + A(1e-15)) + A(eps);
    const A u = clamp(A(step_size) / denom, A(lower), A(upper)) * m;
    p = p - u;
  }
};

}  // namespace descent::kernels
