// descent/kernels/lamb.h: LAMB, two passes per tensor (the trust ratio needs
// the norms of the decayed parameter and of the update before the update).
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/lamb.py
// (Lamb), the per-parameter path (Lamb.update; foreach=False). You et al.,
// "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
// ICLR 2020 (v3 of the paper: no bias correction of v).
//
// Pass 1 (LambMomentsRule, with the sums):
//   g  = g / grad_norm                    (pre_norm: the clip FACTOR, see optim/lamb.h)
//   g  = −g                               (maximize)
//   m  = β1·m + β3·g                      (β3 = 1 − β1 with grad_averaging, else 1)
//   v  = β2·v + (1 − β2)·g·g
//   p  = p·(1 − wd·lr)                    (weight_decouple; 1 − wd with fixed_decay;
//                                          weight_decouple = False applies no decay at all)
//   u  = m / (sqrt(v) + eps)                                      (no rectify)
//   u  = p + (−step)·m / (sqrt(v) + eps)   (rectify, n_sma ≥ threshold: addcdiv on a copy of p)
//   u  = p + (−step)·m                     (rectify, n_sma < threshold)
//   sums: Σp², Σu²
// Between the passes (optim/lamb.cpp, in the parameter's dtype as the
// reference's 0-d tensors): w = min(‖p‖, 10), a = ‖u‖,
// trust = 1 if w = 0 or a = 0 else w/(a + eps), α = −step·trust (1 with adam=True).
// Pass 2 (LambApplyRule):
//   p  = p + α·(m / (sqrt(v) + eps))       (no rectify)
//   p  = p + α·m / (sqrt(v) + eps)          (rectify, n_sma ≥ threshold: addcdiv)
//   p  = p + α·m                            (rectify, n_sma < threshold)
// Note that with rectify the trust ratio's denominator is the norm of the
// would-be new parameter, not of the update: the reference's quirk, kept.
// States: s[0] = exp_avg, s[1] = exp_avg_sq.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

enum class LambUpdate { adaptive, rectified_adaptive, rectified_sgd };

template <LambUpdate U>
struct LambMomentsRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  static constexpr int kSums = 2;    // Σp² (after decay), Σu²
  double grad_norm = 1, gsign = 1, decay = 1;
  double beta1 = 0.9, beta3 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001, eps = 1e-6;
  double neg_step = 0;  // −step_size (rectify)

  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    g = g / A(grad_norm);
    g = g * A(gsign);
    A& m = s[0];
    A& v = s[1];
    m = ema(m, g, beta1, beta3);
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    p = p * A(decay);
    A u;
    if constexpr (U == LambUpdate::adaptive) {
      u = m / (std::sqrt(v) + A(eps));
    } else if constexpr (U == LambUpdate::rectified_adaptive) {
      u = p + A(neg_step) * m / (std::sqrt(v) + A(eps));
    } else {
      u = p + A(neg_step) * m;
    }
    terms[0] = p * p;
    terms[1] = u * u;
  }
};

template <LambUpdate U>
struct LambApplyRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq (read only)
  static constexpr unsigned kStoreStates = 0;
  double alpha = 0, eps = 1e-6;

  template <class A> void operator()(A& p, A, A* s) const {
    const A m = s[0];
    const A v = s[1];
    if constexpr (U == LambUpdate::adaptive) {
      p = p + A(alpha) * (m / (std::sqrt(v) + A(eps)));
    } else if constexpr (U == LambUpdate::rectified_adaptive) {
      p = p + A(alpha) * m / (std::sqrt(v) + A(eps));
    } else {
      p = p + A(alpha) * m;
    }
  }
};

}  // namespace descent::kernels
