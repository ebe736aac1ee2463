// descent/kernels/adam.h: Adam and AdamW (with AMSGrad), one fused pass.
//
// Reference: torch.optim.Adam / AdamW (PyTorch 1.13, _single_tensor_adam[w]):
//   g = ±g + wd_l2·p                      (Adam's L2 weight decay; 0 for AdamW)
//   p = p·(1 − lr·wd)                     (AdamW's decoupled decay; factor 1 for Adam)
//   m = β1·m + (1 − β1)·g
//   v = β2·v + (1 − β2)·g²
//   v̂ = max(v̂, v)                          (amsgrad; the denominator uses v̂)
//   p = p − (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps)
// with bc_i = 1 − β_i^t computed once per tensor and step.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <algorithm>
#include <cmath>

namespace descent::kernels {

template <bool Amsgrad>
struct AdamRule {
  static constexpr int kStates = Amsgrad ? 3 : 2;  // exp_avg, exp_avg_sq[, max_exp_avg_sq]
  double gsign = 1, l2 = 0, decay = 1;
  double beta1 = 0.9, beta2 = 0.999, one_minus_beta1 = 0.1, one_minus_beta2 = 0.001;
  double bc2_sqrt = 1, eps = 1e-8, neg_step_size = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign) + A(l2) * p;
    p = p * A(decay);
    A& m = s[0];
    A& v = s[1];
    m = ema(m, g, beta1, one_minus_beta1);
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    A vd = v;
    if constexpr (Amsgrad) {
      s[2] = std::max(s[2], v);
      vd = s[2];
    }
    const A denom = adam_denominator(vd, bc2_sqrt, eps);
    p = p + A(neg_step_size) * m / denom;
  }
};

}  // namespace descent::kernels
