// descent/kernels/lars.h: LARS (layer-wise adaptive rate scaling), one fused
// pass after a read-only pass for the two norms.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/lars.py
// (LARS, per-parameter path):
//   g  = ±g                                       (maximize negates the gradient in place)
//   for tensors with ndim > 1 only:
//     r = tc·‖p‖/‖g‖ if ‖p‖ > 0 and ‖g‖ > 0, else 1   (norms of p and of ±g, before decay)
//     g = (g + wd·p)·r                            (grad.add_(p, alpha=wd).mul_(r): L2, then scaling)
//   with momentum μ > 0:
//     mb = μ·mb + (1 − dampening)·g               (mb starts as a clone of the RAW first
//                                                  gradient, so step 1 adds to it)
//     g  = g + μ·mb (nesterov) or g = mb
//   p  = p − lr·g
// States: s[0] = momentum_buffer (when Momentum).
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

namespace descent::kernels {

template <bool Momentum, bool Nesterov, bool Scaled>
struct LarsRule {
  static constexpr int kStates = Momentum ? 1 : 0;
  double gsign = 1;
  double weight_decay = 0;
  double ratio = 1;            // trust ratio r, rounded as the reference rounds it
  double momentum = 0.9, one_minus_dampening = 1;
  double neg_lr = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    if constexpr (Scaled) g = (g + A(weight_decay) * p) * A(ratio);
    if constexpr (Momentum) {
      A& mb = s[0];
      mb = mb * A(momentum) + A(one_minus_dampening) * g;
      if constexpr (Nesterov) g = g + A(momentum) * mb;
      else g = mb;
    }
    p = p + A(neg_lr) * g;
  }
};

// The read-only first pass: ‖p‖² and ‖g‖² (the sign of g does not matter).
struct SquaredNorms {
  static constexpr int kStates = 0;
  static constexpr int kSums = 2;
  static constexpr bool kStoreP = false;
  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    terms[0] = p * p;
    terms[1] = g * g;
  }
};

}  // namespace descent::kernels
