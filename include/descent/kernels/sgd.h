// descent/kernels/sgd.h: SGD with momentum, dampening, Nesterov, L2 weight decay.
//
// Reference: torch.optim.SGD (PyTorch 1.13, _single_tensor_sgd):
//   d = ±g + wd·p                               (maximize flips g)
//   momentum ≠ 0:  b = d                         at the buffer's first step
//                  b = μ·b + (1 − τ)·d           afterwards (τ: dampening)
//                  d = d + μ·b  (nesterov)  or  d = b
//   p = p − lr·d
#pragma once

#include <descent/kernels/elementwise.h>

namespace descent::kernels {

struct SgdRule {
  static constexpr int kStates = 0;
  double gsign = 1, weight_decay = 0, lr = 0;
  template <class A> void operator()(A& p, A g, A*) const {
    const A d = g * A(gsign) + A(weight_decay) * p;
    p = p + A(-lr) * d;
  }
};

struct SgdMomentumRule {
  static constexpr int kStates = 1;  // momentum_buffer
  double gsign = 1, weight_decay = 0, lr = 0, momentum = 0, one_minus_dampening = 1;
  bool first = false;     // the buffer starts as a copy of d (PyTorch's clone)
  bool nesterov = false;
  template <class A> void operator()(A& p, A g, A* s) const {
    A d = g * A(gsign) + A(weight_decay) * p;
    A& b = s[0];
    b = first ? d : b * A(momentum) + A(one_minus_dampening) * d;
    d = nesterov ? d + A(momentum) * b : b;
    p = p + A(-lr) * d;
  }
};

}  // namespace descent::kernels
