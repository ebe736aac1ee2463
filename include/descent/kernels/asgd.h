// descent/kernels/asgd.h: averaged SGD, one fused pass.
//
// Reference: torch.optim.ASGD (PyTorch 1.13, torch/optim/asgd.py,
// _single_tensor_asgd). With η and μ the per-parameter scalars of the previous
// step (η starts at lr, μ at 1) and t the step (from 1):
//   g  = ±g                                   (maximize flips g)
//   g  = g + wd·p                             (only when weight_decay ≠ 0)
//   p  = p·(1 − λ·η)                          (param.mul_(1 − lambd·eta.item()))
//   p  = p + (−η)·g                           (param.add_(g, alpha=−eta.item()))
//   ax = ax + (p − ax)·μ   if μ ≠ 1           (ax.add_(param.sub(ax).mul(mu)))
//   ax = p                 otherwise          (ax.copy_(param))
// and after the update, once per tensor (the optimizer layer):
//   η = fl32(lr / (1 + λ·lr·t)^α),  μ = fl32(1 / max(1, t − t0))
// Quirks kept:
//  * eta and mu are torch.tensor(python float): float32 0-d tensors even in a
//    float64 run, so both are rounded to float32 when stored and used through
//    .item() (η) or as a float32 0-d tensor (μ); the optimizer layer keeps them
//    as float32-representable doubles in ParamState::scalars;
//  * the decay uses the η of the previous step, and lr only enters η after
//    the first step (the first step uses η = fl32(lr at state creation));
//  * the averaged iterate ax does not feed back into p.
// States: s[0] = ax.
#pragma once

#include <descent/kernels/elementwise.h>

namespace descent::kernels {

template <bool Average>
struct AsgdRule {
  static constexpr int kStates = 1;  // ax
  double gsign = 1, weight_decay = 0, decay = 1, neg_eta = 0, mu = 1;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    if (weight_decay != 0) g = g + A(weight_decay) * p;
    p = p * A(decay);
    p = p + A(neg_eta) * g;
    A& ax = s[0];
    if constexpr (Average) {
      ax = ax + (p - ax) * A(mu);
    } else {
      ax = p;
    }
  }
};

}  // namespace descent::kernels
