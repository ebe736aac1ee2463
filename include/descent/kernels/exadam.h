// descent/kernels/exadam.h: EXAdam, one fused pass.
//
// Reference: AhmedMostafa16/EXAdam @ 48d6ef5, exadam.py (class EXAdam); HEAD
// (989d7b6) fails with a NameError. Per step t (β1^t, β2^t, bc_i = 1 − β_i^t
// and α_t = lr·ln(sqrt(t + 1)·sqrt(2)) once per tensor, in double):
//   p  = p + (lr·(−wd))·p                 (only when wd ≠ 0: decoupled, before the moments,
//                                          not scaled by α_t; the docstring says "L2")
//   m  = β1·m + (1 − β1)·g
//   v  = β2·v + (1 − β2)·g·g
//   d1 = 1 + v/(v + eps)·β2^t             (the cross-moment corrections: m̃ uses v …
//   d2 = 1 + m²/(m² + eps)·β1^t            … and ṽ uses m)
//   m̃  = m/bc1·d1,  ṽ = v/bc2·d2,  g̃ = g/bc1·d1
//   p  = p + ((−α_t)·(m̃ + g̃)) / (sqrt(ṽ) + eps)
// Divisions by bc1, bc2 are true divisions (as ATen's div by a scalar on CPU).
// States: s[0] = m, s[1] = v.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct ExAdamRule {
  static constexpr int kStates = 2;  // m, v
  bool decay_on = false;
  double neg_lr_wd = 0;  // lr·(−wd)
  double beta1 = 0.9, beta2 = 0.999, one_minus_beta1 = 0.1, one_minus_beta2 = 0.001;
  double beta1_t = 0.9, beta2_t = 0.999, bc1 = 0.1, bc2 = 0.001;
  double eps = 1e-8, neg_step_size = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    p = select_flag(decay_on, p + A(neg_lr_wd) * p, p);
    A& m = s[0];
    A& v = s[1];
    m = ema(m, g, beta1, one_minus_beta1);
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    const A m2 = m * m;
    const A d1 = v / (v + A(eps)) * A(beta2_t) + A(1);
    const A d2 = m2 / (m2 + A(eps)) * A(beta1_t) + A(1);
    const A m_tilde = m / A(bc1) * d1;
    const A v_tilde = v / A(bc2) * d2;
    const A g_tilde = g / A(bc1) * d1;
    p = p + A(neg_step_size) * (m_tilde + g_tilde) / (std::sqrt(v_tilde) + A(eps));
  }
};

}  // namespace descent::kernels
