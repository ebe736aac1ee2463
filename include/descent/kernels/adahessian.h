// descent/kernels/adahessian.h: AdaHessian, one fused pass.
//
// Reference: amirgholami/adahessian @ 85ebc00 :
// image_classification/optim_adahessian.py (Adahessian.step). With D the
// Hessian-diagonal term (|Hz| of a Rademacher probe z, spatially averaged over
// each kh×kw slice of a conv kernel; computed before this rule runs) and
// k = hessian_power:
//   m     = β1·m + (1 − β1)·g
//   v     = β2·v + (1 − β2)·D·D                   addcmul_(D, D, value=1-β2)
//   denom = sqrt(v)^k / sqrt(1 − β2^t)^k + eps
//   p     = p − lr·( m/(1 − β1^t)/denom + wd·p )   wd·p is not preconditioned
// The power follows ATen's pow(Tensor, Scalar): k = 0 gives 1, k = 1 the base,
// k = 0.5 sqrt, otherwise std::pow; sqrt(1 − β2^t)^k is a Python float.
#pragma once

#include <descent/kernels/elementwise.h>

#include <cmath>

namespace descent::kernels {

enum class PowerKind { zero, half, one, other };

inline PowerKind power_kind(double k) {
  if (k == 0) return PowerKind::zero;
  if (k == 0.5) return PowerKind::half;
  if (k == 1) return PowerKind::one;
  return PowerKind::other;
}

struct AdaHessianRule {
  static constexpr int kStates = 3;  // exp_avg, exp_hessian_diag_sq, D (read only)
  double beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001;
  double bc1 = 1;                    // 1 − β1^t
  double bc2_pow = 1;                // sqrt(1 − β2^t)^k
  double eps = 1e-4, weight_decay = 0, lr = 0.15, power = 1;
  PowerKind kind = PowerKind::one;

  template <class A> A pow_k(A x) const {
    switch (kind) {
      case PowerKind::zero: return A(1);
      case PowerKind::half: return std::sqrt(x);
      case PowerKind::one: return x;
      default: return std::pow(x, A(power));
    }
  }

  static constexpr unsigned kStoreStates = 0b011;  // d (the Hessian estimate) is only read
  template <class A> void operator()(A& p, A g, A* s) const {
    A& m = s[0];
    A& v = s[1];
    const A d = s[2];
    m = m * A(beta1) + A(one_minus_beta1) * g;
    v = v * A(beta2) + A(one_minus_beta2) * d * d;
    const A denom = pow_k(std::sqrt(v)) / A(bc2_pow) + A(eps);
    const A t = m / A(bc1) / denom + A(weight_decay) * p;
    p = p - A(lr) * t;
  }
};

}  // namespace descent::kernels
