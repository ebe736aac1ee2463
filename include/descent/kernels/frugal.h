// descent/kernels/frugal.h: the elementwise parts of FRUGAL's step (regular
// and block-mode parameters), one fused pass each.
//
// Reference: FRUGAL (Zmushko et al., "FRUGAL: Memory-Efficient Optimization by
// Reducing State Overhead for Scalable Training", ICML 2025), the authors'
// upload hungquangbui02022003/FRUGAL @ c7ebe4c : frugal/adamw.py (AdamW,
// BlockAdamW), frugal/proj_optimizer_templates.py (ProjOptimizer,
// BlockOptimizer).
//
// Every parameter first decays, p = p·(1 − lr·wd) (all of them, active or not).
// State-full (regular parameters, active blocks), the Hugging Face AdamW
// _compute_update with the operation order of the reference:
//   m = β1·m + (1 − β1)·g,  v = β2·v + (1 − β2)·g·g
//   d = sqrt(v) [/ sqrt(bc2) with correct_bias] + eps
//   p = p + (m/d)·(−step)          step = lr/bc1 with correct_bias, else lr
// State-free (inactive blocks):
//   p = p + (−lr')·sign(g)   (sign_sgd; torch.sign, sign(0) = 0)
//   p = p + (−lr')·g         (sgd)
//   p = p + 0                (no)
// with lr' = lr·proj_params_lr_scale·inactive_lr_scale.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct FrugalAdamRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  double decay = 1;
  double beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001;
  bool correct_bias = true;
  double bc2_sqrt = 1, eps = 1e-8, neg_step = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    p = p * A(decay);
    s[0] = ema(s[0], g, beta1, one_minus_beta1);
    s[1] = ema_product(s[1], g, g, beta2, one_minus_beta2);
    A d = std::sqrt(s[1]);
    if (correct_bias) d = d / A(bc2_sqrt);
    d = d + A(eps);
    p = p + (s[0] / d) * A(neg_step);
  }
};

enum class InactiveRule { sign_sgd, sgd, none };

template <InactiveRule R>
struct FrugalInactiveRule {
  static constexpr int kStates = 0;
  double decay = 1;
  double neg_lr = 0;  // −lr·proj_params_lr_scale·inactive_lr_scale

  template <class A> void operator()(A& p, A g, A*) const {
    p = p * A(decay);
    if constexpr (R == InactiveRule::sign_sgd) p = p + A(neg_lr) * signum(g);
    if constexpr (R == InactiveRule::sgd) p = p + A(neg_lr) * g;
    if constexpr (R == InactiveRule::none) p = p + A(0);
  }
};

}  // namespace descent::kernels
