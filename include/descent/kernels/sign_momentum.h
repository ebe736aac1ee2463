// descent/kernels/sign_momentum.h: the sign-momentum family (Lion, Tiger,
// signSGD / Signum) and Lion-κ, one fused pass.
//
// One rule covers them all. With m the momentum (or 0 for the stateless rule):
//   g = ±g (+ λ·p where the reference adds L2 weight decay to the gradient)
//   p = p·decay                              (decoupled weight decay, applied first)
//   c = β1·m + (1 − β1)·g                     (the interpolation the step looks at)
//   p = p − lr·∇K(c)
//   m = β2·m + (1 − β2)·g                     (the momentum, updated after the step)
// where ∇K is
//   sign      sign(c), sign(0) = sign(NaN) = 0 (torch.sign): Lion, Tiger, signSGD, Lion-κ with K = ℓ1;
//   scaled    c·scale with scale = 1/‖c‖₂ of the whole tensor (0 when c = 0),
//             computed by a first pass: Lion-κ with K = ℓ2;
//   clamp     clamp(c/δ, −1, 1) elementwise: Lion-κ with a Huber K.
//
// How the references map onto it:
//  * Lion (google/automl lion_pytorch.py): p.mul_(1 − lr·wd); update = m·β1 + g·(1 − β1);
//    p.add_(sign(update), alpha=−lr); m.mul_(β2).add_(g, alpha=1 − β2). No maximize, no L2.
//  * Tiger (kozistr): β1 = β2 = β. The reference updates m first and takes sign(m_new);
//    c computed here is that same value (same operations, same order), so the two agree
//    bit for bit.
//  * signSGD (kozistr SignSGD): the reference re-creates its momentum buffer as zeros at
//    every step, so its "momentum" is c = 0·μ + (1 − μ)·g: the stateless rule (m = 0,
//    β1 = μ) computes exactly that, and keeps no buffer. With μ = 0 the reference takes
//    sign(g) directly; 0·0 + 1·g has the same sign.
//
// All products and sums keep the references' operation order (ATen add with alpha is
// self + alpha·other), so float64 and float32 runs match them exactly.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <algorithm>

namespace descent::kernels {

// ∇K of Lion-κ (sign for Lion, Tiger and signSGD).
enum class SignDirection { sign, scaled, clamp };

template <bool Stateful, SignDirection D = SignDirection::sign>
struct SignMomentumRule {
  static constexpr int kStates = Stateful ? 1 : 0;  // exp_avg (momentum_buffer)
  double gsign = 1;          // −1 with maximize
  bool l2_on = false;        // the reference adds λ·p to the gradient (only when λ > 0)
  double l2 = 0;
  double decay = 1;          // decoupled weight decay factor
  double beta1 = 0.9, one_minus_beta1 = 0.1;
  double beta2 = 0.99, one_minus_beta2 = 0.01;
  double neg_lr = 0;
  double scale = 1;          // scaled: 1/‖c‖₂ (0 when ‖c‖₂ = 0)
  double delta = 1;          // clamp: Huber δ

  template <class A> A direction(A c) const {
    if constexpr (D == SignDirection::sign) {
      return signum(c);
    } else if constexpr (D == SignDirection::scaled) {
      return c * A(scale);
    } else {
      return std::min(std::max(c / A(delta), A(-1)), A(1));
    }
  }

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    const A gd = g + A(l2) * p;  // grad.add_(p, alpha=weight_decay)
    g = select_flag(l2_on, gd, g);
    p = p * A(decay);
    A m = A(0);
    if constexpr (Stateful) m = s[0];
    const A c = m * A(beta1) + A(one_minus_beta1) * g;
    p = p + A(neg_lr) * direction(c);
    if constexpr (Stateful) s[0] = ema(m, g, beta2, one_minus_beta2);
  }
};

// First pass of Lion-κ with K = ℓ2: Σ c² over the tensor, changing nothing.
struct SignInterpolationSquares {
  static constexpr int kStates = 1;  // exp_avg, read only
  static constexpr int kSums = 1;
  static constexpr unsigned kStoreStates = 0;
  static constexpr bool kStoreP = false;
  double beta1 = 0.9, one_minus_beta1 = 0.1;

  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    const A c = s[0] * A(beta1) + A(one_minus_beta1) * g;
    terms[0] = c * c;
  }
};

}  // namespace descent::kernels
