// descent/kernels/novograd.h: NovoGrad, one fused pass per tensor after the
// per-tensor Σg² (kernels::SumOfSquaresRule) the normalisation needs.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/novograd.py
// (NovoGrad). Ginsburg et al., "Stochastic Gradient Methods with Layer-wise
// Adaptive Moments for Training of Deep Networks", arXiv:1905.11286, 2019.
//
// Per tensor (0-d tensors of the parameter's dtype in the reference, computed
// by optim/novograd.cpp in that precision):
//   first step: grads_ema = Σg²,  and moments are initialised below
//   grads_ema = β2·grads_ema + (1 − β2)·Σg²;  d = sqrt(grads_ema) + eps
// Per element:
//   first step: m = g / (sqrt(Σg²) + eps) + wd·p     (init_group: the raw gradient, before
//                                                     maximize, and wd·p even with weight_decouple)
//   g  = −g                          (maximize)
//   g  = g / d
//   p  = p·(1 − wd·lr)               (weight_decouple; 1 − wd with fixed_decay)
//   g  = g + wd·p                    (otherwise, when wd > 0)
//   g  = g·(1 − β1)                  (grad_averaging)
//   m  = β1·m + g
//   p  = p + (−step)·m               (step = lr·sqrt(1 − β2^t)/(1 − β1^t); without the
//                                     division by 1 − β1^t with adam_debias)
// States: s[0] = moments.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/zoo.h>

namespace descent::kernels {

template <Decay D, bool First, bool GradAveraging>
struct NovogradRule {
  static constexpr int kStates = 1;  // moments
  ZooGrad zg;
  double init_denom = 1;   // sqrt(Σg²) + eps of the first step
  double init_wd = 0;      // weight_decay (moments' initial wd·p)
  double denom = 1;        // sqrt(grads_ema) + eps
  double one_minus_beta1 = 0.05, beta1 = 0.95, neg_step = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    A& m = s[0];
    if constexpr (First) m = g / A(init_denom) + A(init_wd) * p;
    g = g * A(zg.gsign);
    g = g / A(denom);
    if constexpr (D == Decay::decoupled) p = p * A(zg.decay);
    if constexpr (D == Decay::l2) g = g + A(zg.weight_decay) * p;
    if constexpr (GradAveraging) g = g * A(one_minus_beta1);
    m = m * A(beta1) + g;
    p = p + A(neg_step) * m;
  }
};

}  // namespace descent::kernels
