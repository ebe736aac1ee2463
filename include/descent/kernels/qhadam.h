// descent/kernels/qhadam.h: QHAdam, one fused pass.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, optimizer/qhadam.py (QHAdam).
// Per step (the optimizer updates the per-tensor float32 weights w_i = β_i·w_i + 1
// and passes a_i = 1 − 1/w_i, rounded to float32 as the reference's shape-[1]
// float32 tensors, and 1 − a1, likewise):
//   g  = −g                                (maximize)
//   p  = p·decay;  g = g + wd·p            (apply_weight_decay: L2 by default)
//   m  = m·a1 + (1 − a1)·g
//   v  = v·a2 + (1 − a2·g²)                (sic: operator precedence in the reference)
//   n  = m·ν1 [+ (1 − ν1)·g   when ν1 ≠ 1]
//   d  = sqrt(v·ν2 [+ (1 − ν2)·g²  when ν2 ≠ 1]) + eps
//   p  = p + (−lr)·n / d
// States: s[0] = exp_avg, s[1] = exp_avg_sq.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct QHAdamRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  double gsign = 1, decay = 1;
  bool l2_on = false;
  double l2 = 0;
  double beta1_adj = 0, one_minus_beta1_adj = 1, beta2_adj = 0;
  bool nu1_on = false, nu2_on = false;  // ν ≠ 1
  double nu1 = 1, one_minus_nu1 = 0, nu2 = 1, one_minus_nu2 = 0;
  double eps = 1e-8, neg_lr = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    p = p * A(decay);
    g = select_flag(l2_on, g + A(l2) * p, g);
    const A g2 = g * g;
    A& m = s[0];
    A& v = s[1];
    m = m * A(beta1_adj) + A(one_minus_beta1_adj) * g;
    v = v * A(beta2_adj) + (A(1) - A(beta2_adj) * g2);
    A avg = m * A(nu1);
    avg = select_flag(nu1_on, avg + A(one_minus_nu1) * g, avg);
    A rms = v * A(nu2);
    rms = select_flag(nu2_on, rms + A(one_minus_nu2) * g2, rms);
    rms = std::sqrt(rms) + A(eps);
    p = p + A(neg_lr) * avg / rms;
  }
};

}  // namespace descent::kernels
