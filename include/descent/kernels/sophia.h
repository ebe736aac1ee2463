// descent/kernels/sophia.h: SophiaG and SophiaH, one fused pass each.
//
// SophiaG — reference: Liuhong99/Sophia @ a7e1572 : sophia.py (SophiaG,
// _single_tensor_sophiag):
//   g = ±g                                        (− when maximize)
//   p = p·(1 − lr·wd)                              param.mul_(1 - lr*weight_decay)
//   m = β1·m + (1 − β1)·g                          NO bias correction
//   r = min(|m| / (ρ·bs·h + 1e-15), 1)             clamp(None, 1): NaN stays NaN
//   p = p + (−lr·sign(m))·r                        param.addcmul_(sign(m), r, value=-lr)
// h, the EMA of the Hessian-diagonal estimate, changes only in update_hessian
// (h = β2·h + (1 − β2)·ĝ⊙ĝ); it starts at 0, so until the first refresh every
// element is clipped (sign descent). bs (tokens per batch in the GPT-2 script)
// multiplies h in the step; it is not folded into h.
//
// SophiaH — reference: Liuhong99/Sophia @ 01af183 (the initial commit) :
// sophia.py (SophiaH, _single_tensor_sophiah):
//   p = p·(1 − lr·wd);  m = β1·m + (1 − β1)·g
//   r = min(|m| / (γ·relu(h) + 1e-12), 1)
//   p = p + (−lr/(1 − β1^t))·(sign(m)·r)           m IS bias-corrected, through the step size
// with update_hessian h = β2·h + (1 − β2)·(u⊙Hu), the product unsquared.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

struct SophiaGRule {
  static constexpr int kStates = 2;  // exp_avg, hessian
  static constexpr unsigned kStoreStates = 0b01;  // the hessian is only read (its own update is elsewhere)
  double gsign = 1, decay = 1;
  double beta1 = 0.965, one_minus_beta1 = 0.035;
  double rho_bs = 0.04 * 5120;       // rho·bs, as Python computes `rho * bs`
  double neg_lr = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    A& m = s[0];
    const A h = s[1];
    p = p * A(decay);
    m = m * A(beta1) + A(one_minus_beta1) * g;
    A ratio = std::abs(m) / (h * A(rho_bs) + A(1e-15));
    ratio = ratio > A(1) ? A(1) : ratio;
    p = p + A(neg_lr) * signum(m) * ratio;
  }
};

struct SophiaHRule {
  static constexpr int kStates = 2;  // exp_avg, hessian
  static constexpr unsigned kStoreStates = 0b01;  // the hessian is only read (its own update is elsewhere)
  double gsign = 1, decay = 1;
  double beta1 = 0.9, one_minus_beta1 = 0.1;
  double gamma = 10;
  double neg_step = 0;               // −lr / (1 − β1^t)

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    A& m = s[0];
    const A h = s[1];
    p = p * A(decay);
    m = m * A(beta1) + A(one_minus_beta1) * g;
    const A relu_h = h < A(0) ? A(0) : h;  // relu: NaN stays NaN
    A ratio = std::abs(m) / (A(gamma) * relu_h + A(1e-12));
    ratio = ratio > A(1) ? A(1) : ratio;
    p = p + A(neg_step) * (signum(m) * ratio);
  }
};

}  // namespace descent::kernels
