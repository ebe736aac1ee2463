// descent/kernels/qhm.h: quasi-hyperbolic momentum (QHM), one fused pass.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/qhm.py (QHM):
//   g   = ±g                                   (maximize negates the gradient in place)
//   p   = p·(1 − wd·lr) or p·(1 − wd)          (weight_decouple; fixed_decay drops lr)
//   g   = g + wd·p                             (otherwise, only when wd > 0: L2)
//   buf = μ·buf + (1 − μ)·g                    (buf starts at zero: no bias correction)
//   p   = p + (−lr·ν)·buf
//   p   = p + (−lr·(1 − ν))·g                  (two separate adds, as the reference)
// States: s[0] = momentum_buffer.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

namespace descent::kernels {

struct QhmRule {
  static constexpr int kStates = 1;
  double gsign = 1;
  bool l2_on = false;
  double l2 = 0, decay = 1;
  double momentum = 0, one_minus_momentum = 1;
  double neg_lr_nu = 0, neg_lr_one_minus_nu = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    p = p * A(decay);
    const A gd = g + A(l2) * p;
    g = select_flag(l2_on, gd, g);
    s[0] = ema(s[0], g, momentum, one_minus_momentum);
    p = p + A(neg_lr_nu) * s[0];
    p = p + A(neg_lr_one_minus_nu) * g;
  }
};

}  // namespace descent::kernels
