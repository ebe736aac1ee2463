// descent/kernels/adopt.h: ADOPT (Adam with the current gradient left out of
// its own normalisation), one fused pass; two with the cautious or
// stable_adamw options, which need per-tensor sums first.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/adopt.py
// (ADOPT, _step_per_param; foreach=False). Taniguchi et al., "ADOPT: Modified
// Adam Can Converge with Any β2 with the Optimal Rate", NeurIPS 2024.
//
// With t the group's step count (from 1):
//   g  = −g                                         (maximize)
//   p  = p·(1 − wd·lr)  or  g = g + wd·p            (weight_decouple / L2 when wd > 0)
//   t = 1:  v = v + 1·g·g, nothing else             (addcmul_; the parameter only decays)
//   t > 1:  n = g / max(sqrt(v), eps)               (clamp_(min=eps))
//           n = clamp(n, −t^¼, t^¼)                 (unless clip_lambda is None)
//           m = lerp(m, n, 1 − β1)
//           u = m,  or cautious(m, n)               (cautious: mask of m·n > 0, scaled)
//           p = p + (−lr/rms)·u                     (rms = 1 without stable_adamw)
//           v = β2·v + (1 − β2)·g·g
// stable_adamw: rms = max(1, sqrt(mean(g² / max(v, 1e-16)))) with v before
// its update; cautious: factor = numel/(Σ[m·n > 0] + 1). Both are sums over
// the tensor: AdoptMomentsRule updates m and returns them, AdoptApplyRule
// finishes the step.
// States: s[0] = exp_avg, s[1] = exp_avg_sq.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>
#include <descent/kernels/zoo.h>

#include <algorithm>
#include <cmath>

namespace descent::kernels {

// The common scalars.
struct AdoptStep {
  ZooGrad zg;
  double eps = 1e-6, clip = 0, one_minus_beta1 = 0.1, beta2 = 0.9999, one_minus_beta2 = 1e-4;
  double neg_lr = 0;  // −lr (/ rms)
  double cautious_factor = 0;

  // n = clamp(g / max(sqrt(v), eps), −clip, clip)
  template <bool Clip, class A> A normed(A g, A v) const {
    const A denom = std::max(std::sqrt(v), A(eps));
    A n = g / denom;
    if constexpr (Clip) n = std::min(std::max(n, A(-clip)), A(clip));
    return n;
  }
};

// First step: v = v + 1·g·g (and the weight decay).
template <Decay D>
struct AdoptFirstRule {
  static constexpr int kStates = 2;
  AdoptStep a;
  template <class A> void operator()(A& p, A g, A* s) const {
    g = a.zg.apply<D>(g, p);
    s[1] = s[1] + A(1) * g * g;
  }
};

// A whole step (neither cautious nor stable_adamw).
template <Decay D, bool Clip>
struct AdoptRule {
  static constexpr int kStates = 2;
  AdoptStep a;
  template <class A> void operator()(A& p, A g, A* s) const {
    A& m = s[0];
    A& v = s[1];
    g = a.zg.apply<D>(g, p);
    const A n = a.template normed<Clip>(g, v);
    m = lerp(m, n, A(a.one_minus_beta1));
    p = p + A(a.neg_lr) * m;
    v = ema_product(v, g, g, a.beta2, a.one_minus_beta2);
  }
};

// Pass 1 of the cautious / stable_adamw step: m, and the sums
// Σ[m·n > 0] and Σ g²/max(v, 1e-16). p and v are left as they are.
template <Decay D, bool Clip>
struct AdoptMomentsRule {
  static constexpr int kStates = 2;
  static constexpr int kSums = 2;
  static constexpr unsigned kStoreStates = 0b01;  // v is only read
  static constexpr bool kStoreP = false;
  AdoptStep a;
  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    A& m = s[0];
    const A v = s[1];
    A q = p;  // the decay is applied in pass 2
    g = a.zg.apply<D>(g, q);
    const A n = a.template normed<Clip>(g, v);
    m = lerp(m, n, A(a.one_minus_beta1));
    terms[0] = m * n > A(0) ? A(1) : A(0);
    terms[1] = stable_adamw_term(g, v);
  }
};

// Pass 2: the weight decay, the parameter update and v.
template <Decay D, bool Clip, bool Cautious>
struct AdoptApplyRule {
  static constexpr int kStates = 2;
  static constexpr unsigned kStoreStates = 0b10;  // m is only read
  AdoptStep a;
  template <class A> void operator()(A& p, A g, A* s) const {
    const A m = s[0];
    A& v = s[1];
    g = a.zg.apply<D>(g, p);
    A u = m;
    if constexpr (Cautious) u = cautious(m, a.template normed<Clip>(g, v), a.cautious_factor);
    p = p + A(a.neg_lr) * u;
    v = ema_product(v, g, g, a.beta2, a.one_minus_beta2);
  }
};

}  // namespace descent::kernels
