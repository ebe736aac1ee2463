// descent/kernels/sgd_sai.h: SGD-SaI (SGD with learning-rate scaling at
// initialization), one fused pass.
//
// Reference: AnonymousAlethiometer/SGD_SaI @ e213080, sgd_sai/sgd_sai.py (SGD_sai, v1.0.3):
//   buf = g                                   (the first step: momentum_buffer = grad.clone())
//   buf = μ·buf + (1 − μ)·g                   (later steps: buf.mul_(μ).add_(g, alpha=1 − μ))
//   p   = p·(1 − wd·lr) − (lr·gsnr)·buf       (p.mul_(decay).add_(buf, alpha=−step_size))
// gsnr is a per-tensor scalar frozen at the first step (see optim/sgd_sai.h); the
// decoupled weight decay is not scaled by it. With momentum = 0 (where the
// reference crashes) descent keeps no buffer and steps along g itself.
// States: s[0] = momentum_buffer (when Momentum).
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

namespace descent::kernels {

template <bool Momentum, bool First>
struct SgdSaiRule {
  static constexpr int kStates = Momentum ? 1 : 0;
  double momentum = 0.9, one_minus_momentum = 0.1;
  double decay = 1;       // 1 − wd·lr
  double neg_step = 0;    // −(lr·gsnr), rounded as the reference rounds it

  template <class A> void operator()(A& p, A g, A* s) const {
    A buf = g;
    if constexpr (Momentum) {
      if constexpr (!First) s[0] = ema(s[0], g, momentum, one_minus_momentum);
      else s[0] = g;
      buf = s[0];
    }
    p = p * A(decay) + A(neg_step) * buf;
  }
};

}  // namespace descent::kernels
