// descent/kernels/madgrad.h: MADGRAD (dual averaging with a cube-root
// denominator and momentum by averaging), one fused pass.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/madgrad.py
// (MADGRAD, dense path). Defazio & Jelassi, "Adaptivity without Compromise: A
// Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic
// Optimization", JMLR 2022.
//
// With k the optimizer's step count (from 0, one counter for all groups),
// lr' = lr + eps and λ = lr'·sqrt(k + 1) (in double):
//   g   = −g                                   (maximize)
//   g   = g + wd·p                             (wd > 0 and not weight_decouple)
//   momentum = 0:  x0 = p + 1·s / (gss^(1/3) + eps)     (before gss and s change)
//   momentum > 0:  x0 = the parameter at the first step (state "x0")
//   gss = gss + λ·g·g                          (addcmul_)
//   rms = gss^(1/3) + eps;  rms = inf where rms = 0, when eps = 0
//   s   = s + λ·g
//   z   = x0 + (−1)·s / rms                    (addcdiv, value −1)
//   p   = z                                    (momentum = 0)
//   p   = momentum·p + (1 − momentum)·z        (momentum > 0)
//   p   = p + (−lr'·wd)·p_old                  (wd > 0 and weight_decouple; p_old = p before the step)
// Notes: lr' = lr + eps everywhere (the reference's choice); the cube root is
// pow(x, 1/3) with the exponent in the element type, as ATen's vectorised pow
// receives it for float32 (double for float64), computed by pow_one_third
// (kernels/cbrt.h): branch-free and vectorised, within 3 ulp of the C
// library's pow (70% of float results identical); with Fma (chosen where
// the CPU has it, kernels::cpu_has_fma()) its fused form (75% identical).
// Deliberate deviation: the C library's pow per element held MADGRAD to 10% of
// the memory bandwidth.
// rms = inf where rms = 0 is applied always, with rms_if_zero = +inf when eps
// = 0 and 0 otherwise (replacing 0 by 0): a select costs less than a second
// set of instantiations, and stays exact where eps > 0 rounds to 0 in float.
// States: s[0] = grad_sum_sq, s[1] = s, s[2] = x0 (momentum > 0).
#pragma once

#include <descent/kernels/cbrt.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/zoo.h>

#include <cmath>

namespace descent::kernels {

template <bool Momentum, Decay D, bool Fma>
struct MadgradRule {
  static constexpr int kStates = Momentum ? 3 : 2;  // grad_sum_sq, s[, x0]
  static constexpr unsigned kStoreStates = 0b011;    // x0 is only read
  double gsign = 1, weight_decay = 0, lambda = 0, eps = 1e-6, momentum = 0.9, one_minus_momentum = 0.1;
  double neg_lr_wd = 0;  // −(lr + eps)·wd
  double rms_if_zero = 0;  // +inf when eps = 0

  template <class A> void operator()(A& p, A g, A* st) const {
    A& gss = st[0];
    A& s = st[1];
    g = g * A(gsign);
    if constexpr (D == Decay::l2) g = g + A(weight_decay) * p;
    A x0;
    if constexpr (Momentum) {
      x0 = st[2];
    } else {
      const A rms0 = pow_one_third<Fma>(gss) + A(eps);
      x0 = p + A(1) * s / rms0;
    }
    gss = gss + A(lambda) * g * g;
    A rms = pow_one_third<Fma>(gss) + A(eps);
    rms = rms == A(0) ? A(rms_if_zero) : rms;
    s = s + A(lambda) * g;
    const A p_old = p;
    const A z = x0 + A(-1) * s / rms;
    if constexpr (Momentum) {
      p = p * A(momentum) + A(one_minus_momentum) * z;
    } else {
      p = z;
    }
    if constexpr (D == Decay::decoupled) p = p + A(neg_lr_wd) * p_old;
  }
};

}  // namespace descent::kernels
