// descent/kernels/adan.h: Adan (adaptive Nesterov momentum), one fused pass.
//
// Reference: sail-sg/Adan @ 2c65bea, adan.py (Adan; _single_tensor_adan and
// _multi_tensor_adan do the same operations and agree bit for bit). Code betas
// are "1 − paper betas" (defaults 0.98, 0.92, 0.99). Per element, with c the
// global clip factor (1 without clipping) and bc_i = 1 − β_i^t of the GROUP's
// step count t:
//   g    = c·g                                   (grad.mul_(clip): the clipped gradient)
//   npg  = −c·g_raw at the group's first step or a new state (neg_pre_grad = grad.clone().mul_(−clip))
//   Δ    = npg + g                               (neg_grad_or_diff.add_(grad): g − g_prev)
//   m    = β1·m + (1 − β1)·g
//   d    = β2·d + (1 − β2)·Δ
//   u    = β2·Δ + g                              (neg_grad_or_diff.mul_(β2).add_(grad))
//   n    = β3·n + (1 − β3)·u·u
//   den  = sqrt(n)/sqrt(bc3) + eps
//   no_prox:  p = p·(1 − lr·wd); p = p − (lr/bc1)·m/den; p = p − (lr·β2/bc2)·d/den
//   else:     p = p − (lr/bc1)·m/den; p = p − (lr·β2/bc2)·d/den; p = p/(1 + lr·wd)
//   npg  = 0 − g                                 (zero_().add_(grad, alpha=−1))
// Quirks kept: the bias corrections the paper's Algorithm 1 lacks (m by bc1, d
// by bc2 with the extra factor β2, n by sqrt(bc3)); the proximal ÷(1 + lr·wd)
// after the step; at the first step Δ = 0 exactly (npg is −c·g).
// States: s[0] = exp_avg, s[1] = exp_avg_sq, s[2] = exp_avg_diff, s[3] = neg_pre_grad.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

template <bool First, bool NoProx>
struct AdanRule {
  static constexpr int kStates = 4;
  double clip = 1, neg_clip = -1;
  double beta1 = 0.98, beta2 = 0.92, beta3 = 0.99;
  double one_minus_beta1 = 0.02, one_minus_beta2 = 0.08, one_minus_beta3 = 0.01;
  double bc3_sqrt = 1, eps = 1e-8;
  double neg_step = 0, neg_step_diff = 0;
  double decay = 1;    // no_prox: 1 − lr·wd
  double divisor = 1;  // otherwise: 1 + lr·wd

  template <class A> void operator()(A& p, A g, A* s) const {
    A& m = s[0];
    A& n = s[1];
    A& d = s[2];
    A& npg = s[3];
    if constexpr (First) npg = g * A(neg_clip);
    g = g * A(clip);
    const A diff = npg + g;
    m = ema(m, g, beta1, one_minus_beta1);
    d = ema(d, diff, beta2, one_minus_beta2);
    const A u = diff * A(beta2) + g;
    n = ema_product(n, u, u, beta3, one_minus_beta3);
    const A den = adam_denominator(n, bc3_sqrt, eps);
    if constexpr (NoProx) p = p * A(decay);
    p = p + A(neg_step) * m / den;
    p = p + A(neg_step_diff) * d / den;
    if constexpr (!NoProx) p = p / A(divisor);
    npg = A(0) - g;
  }
};

}  // namespace descent::kernels
