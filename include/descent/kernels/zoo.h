// descent/kernels/zoo.h: element steps that kozistr/pytorch_optimizer's
// optimizers share (BaseOptimizer helpers), with the operation order of that
// code (pytorch_optimizer/base/optimizer.py @ 7a076d2).
#pragma once

#include <descent/kernels/elementwise.h>

#include <algorithm>
#include <cmath>

namespace descent::kernels {

// BaseOptimizer.apply_weight_decay:
//   weight_decouple:      p.mul_(1 − wd·(1 if fixed_decay else lr))   (always, wd = 0 gives factor 1)
//   elif wd > 0 and grad: grad.add_(p, alpha=wd)                     (L2)
// descent selects `none` where the reference's operation is the identity.
enum class Decay { none, l2, decoupled };

// maximize_gradient (g.neg_()) then weight decay, in the order most of the
// optimizers call them. Returns the gradient the moments see; p is decayed in
// place for Decay::decoupled.
struct ZooGrad {
  double gsign = 1;      // −1 with maximize
  double weight_decay = 0;
  double decay = 1;      // 1 − wd·lr (or 1 − wd with fixed_decay)

  template <Decay D, class A> A apply(A g, A& p) const {
    g = g * A(gsign);
    if constexpr (D == Decay::decoupled) p = p * A(decay);
    if constexpr (D == Decay::l2) g = g + A(weight_decay) * p;
    return g;
  }
};

// BaseOptimizer.apply_cautious(update, grad): mask = (update·grad > 0),
// update ·= mask · numel/(Σmask + 1). The optimizer counts Σmask in a first
// pass and hands in `factor` = numel/(Σmask + 1) as the reference rounds it.
template <class A> inline A cautious(A update, A grad, double factor) {
  const A keep = update * grad > A(0) ? A(factor) : A(0);
  return update * keep;
}

// Terms of BaseOptimizer.get_stable_adamw_rms(grad, v):
// sqrt(mean(g² / max(v, 1e-16))), clipped below at 1 by the optimizer.
template <class A> inline A stable_adamw_term(A g, A v) {
  return g * g / std::max(v, A(1e-16));
}

// Σg² of a tensor, leaving everything unchanged (per-tensor gradient norms).
struct SumOfSquaresRule {
  static constexpr int kStates = 0;
  static constexpr int kSums = 1;
  template <class A> void operator()(A&, A g, A*, A* terms) const { terms[0] = g * g; }
};

}  // namespace descent::kernels
