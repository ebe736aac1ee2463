// descent/kernels/ademamix.h: AdEMAMix (Adam with a mixture of a fast and a
// slow EMA of the gradient), one fused pass; two with the cautious or
// stable_adamw options, which need per-tensor sums first.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/ademamix.py
// (AdEMAMix). Pagliardini et al., "The AdEMAMix Optimizer: Better, Faster,
// Older", arXiv:2409.03137, 2024.
//
// With t the group's step count (from 1), α_t and β3_t from the optional
// t_alpha_beta3 schedules (optim/ademamix.cpp, in double):
//   g  = −g                                          (maximize)
//   p  = p·(1 − wd·lr)  or  g = g + wd·p             (weight_decouple / L2 when wd > 0)
//   m  = β1·m + (1 − β1)·g
//   v  = β2·v + (1 − β2)·g·g
//   m₃ = β3_t·m₃ + (1 − β3_t)·g
//   d  = sqrt(v)/sqrt(1 − β2^t) + eps
//   u  = m,  or cautious(m, g)                       (cautious: mask of m·g > 0, scaled)
//   p  = p + (−step)·((u + α_t·m₃) / d)              (step = lr/(1 − β1^t), divided by
//                                                      the stable_adamw rms)
// The slow EMA is divided by the β1 bias correction too (the reference's choice).
// stable_adamw: rms = max(1, sqrt(mean(g² / max(v, 1e-16)))) with the updated v,
// and the reference divides its group-wide step size by it in place, so each
// tensor's rms compounds onto the next tensor's step (kept, see optim/ademamix.h).
// States: s[0] = exp_avg, s[1] = exp_avg_sq, s[2] = exp_avg_slow.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>
#include <descent/kernels/zoo.h>

#include <cmath>

namespace descent::kernels {

struct AdemamixStep {
  ZooGrad zg;
  double beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001;
  double beta3 = 0.9999, one_minus_beta3 = 1e-4, alpha = 5;
  double bc2_sqrt = 1, eps = 1e-8, neg_step = 0, cautious_factor = 0;

  template <class A> void moments(A g, A* s) const {
    s[0] = ema(s[0], g, beta1, one_minus_beta1);
    s[1] = ema_product(s[1], g, g, beta2, one_minus_beta2);
    s[2] = ema(s[2], g, beta3, one_minus_beta3);
  }
  template <class A> A update(A u, const A* s) const {
    return (u + A(alpha) * s[2]) / adam_denominator(s[1], bc2_sqrt, eps);
  }
};

// A whole step (neither cautious nor stable_adamw).
template <Decay D>
struct AdemamixRule {
  static constexpr int kStates = 3;
  AdemamixStep a;
  template <class A> void operator()(A& p, A g, A* s) const {
    g = a.zg.apply<D>(g, p);
    a.moments(g, s);
    p = p + A(a.neg_step) * a.update(s[0], s);
  }
};

// Pass 1 of the cautious / stable_adamw step: the moments, and the sums
// Σ[m·g > 0] and Σ g²/max(v, 1e-16). p is left as it is.
template <Decay D>
struct AdemamixMomentsRule {
  static constexpr int kStates = 3;
  static constexpr int kSums = 2;
  static constexpr bool kStoreP = false;
  AdemamixStep a;
  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    A q = p;  // the decay is applied in pass 2
    g = a.zg.apply<D>(g, q);
    a.moments(g, s);
    terms[0] = s[0] * g > A(0) ? A(1) : A(0);
    terms[1] = stable_adamw_term(g, s[1]);
  }
};

// Pass 2: the weight decay and the parameter update (the moments read only).
template <Decay D, bool Cautious>
struct AdemamixApplyRule {
  static constexpr int kStates = 3;
  static constexpr unsigned kStoreStates = 0;  // the moments are only read
  AdemamixStep a;
  template <class A> void operator()(A& p, A g, A* s) const {
    g = a.zg.apply<D>(g, p);
    A u = s[0];
    if constexpr (Cautious) u = cautious(u, g, a.cautious_factor);
    p = p + A(a.neg_step) * a.update(u, s);
  }
};

}  // namespace descent::kernels
