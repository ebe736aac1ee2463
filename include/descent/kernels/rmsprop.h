// descent/kernels/rmsprop.h: RMSprop (plain, centered, with momentum), one fused pass.
//
// Reference: torch.optim.RMSprop (PyTorch 1.13, torch/optim/rmsprop.py,
// _single_tensor_rmsprop):
//   g   = ±g                                    (maximize flips g)
//   g   = g + wd·p                              (only when weight_decay ≠ 0)
//   v   = α·v + (1 − α)·g·g                     (square_avg.mul_(α).addcmul_(g, g, value=1−α))
//   centered:  ḡ = α·ḡ + (1 − α)·g              (grad_avg.mul_(α).add_(g, alpha=1−α))
//              avg = sqrt(v − ḡ·ḡ)              (square_avg.addcmul(ḡ, ḡ, value=−1).sqrt_())
//   otherwise: avg = sqrt(v)
//   avg = avg + eps                             (eps outside the square root)
//   momentum > 0:  b = μ·b + g/avg ;  p = p − lr·b   (buf.mul_(μ).addcdiv_(g, avg); param.add_(buf, alpha=−lr))
//   otherwise:     p = p + (−lr·g)/avg               (param.addcdiv_(g, avg, value=−lr))
// Quirks kept:
//  * the step count is not used: there is no bias correction, v starts at 0;
//  * momentum_buffer exists only when momentum > 0, grad_avg only when centered
//    (the optimizer layer creates them lazily when the option is switched on);
//  * ATen's addcmul is self + value·t1·t2 and addcdiv self + value·t1/t2,
//    evaluated left to right: (−1·ḡ)·ḡ, ((1−α)·g)·g, (−lr·g)/avg.
// States, in kernel order: s[0] = square_avg, then grad_avg (Centered), then
// momentum_buffer (Momentum).
#pragma once

#include <descent/kernels/elementwise.h>

#include <cmath>

namespace descent::kernels {

template <bool Centered, bool Momentum>
struct RmspropRule {
  static constexpr int kStates = 1 + (Centered ? 1 : 0) + (Momentum ? 1 : 0);
  double gsign = 1, weight_decay = 0, alpha = 0.99, one_minus_alpha = 0.01, eps = 1e-8, momentum = 0;
  double neg_lr = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    if (weight_decay != 0) g = g + A(weight_decay) * p;
    A& v = s[0];
    v = v * A(alpha) + A(one_minus_alpha) * g * g;
    A avg;
    if constexpr (Centered) {
      A& gavg = s[1];
      gavg = gavg * A(alpha) + A(one_minus_alpha) * g;
      avg = std::sqrt(v + A(-1) * gavg * gavg);
    } else {
      avg = std::sqrt(v);
    }
    avg = avg + A(eps);
    if constexpr (Momentum) {
      A& b = s[Centered ? 2 : 1];
      b = b * A(momentum) + g / avg;
      p = p + A(neg_lr) * b;
    } else {
      p = p + A(neg_lr) * g / avg;
    }
  }
};

}  // namespace descent::kernels
