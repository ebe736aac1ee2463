// descent/kernels/prodigy.h: Prodigy, two passes per tensor (the distance
// estimate d needs sums over every parameter before any parameter moves).
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/prodigy.py
// (Prodigy). Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive
// Parameter-Free Learner", ICML 2024.
//
// Pass 1 (ProdigyMomentsRule), for every parameter of every group, with the
// step's d, d0, d_lr = d·lr/bias_correction of group 0:
//   g  = −g                                        (maximize)
//   sums: Σ g·(p0 − p)                             (torch.dot(g, p0 − p))
//   m  = β1·m + (d·(1 − β1))·g                     (add_(g, alpha))
//   v  = β2·v + (d·d·(1 − β2))·g·g                 (addcmul_(g, g, value))
//   s  = β3·s + ((d/d0)·(d or d_lr))·g             (d with safeguard_warmup)
//   sums: Σ|s|
// Then (optim/prodigy.cpp) d_numerator and d_de_nom, float32 tensors in the
// reference whatever the parameters' dtype, give d_hat, the new d and d_max.
// Pass 2 (ProdigyApplyRule):
//   p  = p·(1 − wd·d_lr)                           (weight_decouple; 1 − wd with fixed_decay)
//   p  = p + (−d_lr)·m / (sqrt(v) + d_new·eps)     (addcdiv)
//   p  = p + (−d_lr)·atan2(m, sqrt(v))             (eps = None)
// (L2 weight decay, weight_decouple = False, is added to the gradient after the
// moments were updated: it changes nothing, as in the reference.)
// States: pass 1 s[0] = p0, s[1] = exp_avg, s[2] = exp_avg_sq, s[3] = s;
//         pass 2 s[0] = exp_avg, s[1] = exp_avg_sq.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct ProdigyMomentsRule {
  static constexpr int kStates = 4;  // p0, exp_avg, exp_avg_sq, s
  static constexpr int kSums = 2;    // Σ g·(p0 − p), Σ|s|
  double gsign = 1, beta1 = 0.9, m_coef = 0, beta2 = 0.999, v_coef = 0, beta3 = 0, s_coef = 0;

  template <class A> void operator()(A& p, A g, A* st, A* terms) const {
    g = g * A(gsign);
    const A p0 = st[0];
    A& m = st[1];
    A& v = st[2];
    A& s = st[3];
    terms[0] = g * (p0 - p);
    m = ema(m, g, beta1, m_coef);
    v = ema_product(v, g, g, beta2, v_coef);
    s = ema(s, g, beta3, s_coef);
    terms[1] = std::abs(s);
  }
};

template <bool Decoupled, bool Atan2>
struct ProdigyApplyRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq (read only)
  double decay = 1, neg_d_lr = 0, d_eps = 0;

  template <class A> void operator()(A& p, A, A* st) const {
    const A m = st[0];
    const A v = st[1];
    if constexpr (Decoupled) p = p * A(decay);
    const A denom = std::sqrt(v);
    if constexpr (Atan2) {
      p = p + A(neg_d_lr) * std::atan2(m, denom);
    } else {
      p = p + A(neg_d_lr) * m / (denom + A(d_eps));
    }
  }
};

}  // namespace descent::kernels
