// descent/kernels/muon.h: the elementwise parts of Muon and of the AdamW it
// runs on the parameters it does not orthogonalise.
//
// Reference: KellerJordan/Muon @ 857d1ad : muon.py (muon_update,
// zeropower_via_newtonschulz5, adam_update; SingleDeviceMuon[WithAuxAdam]).
//
// Muon, per matrix parameter (β = momentum):
//   m = lerp(m, g, 1 − β)                        momentum.lerp_(grad, 1 − beta)
//   u = lerp(g, m, β)  (nesterov)  or  u = m      grad.lerp_(momentum, beta)
//   O = NS5(u) · sqrt(max(1, rows/cols))          rows/cols: the last two dims of
//                                                  the ORIGINAL tensor (a conv
//                                                  kernel [O, I, kh, kw]: kh/kw)
//   p = p·(1 − lr·wd);  p = p − lr·O
// NS5 (Newton–Schulz, quintic, `steps` iterations) on the matrix X = u (a conv
// kernel viewed as [O, I·kh·kw]), in the iteration dtype, on the wide
// orientation (transposed when rows > cols):
//   X = X / (‖X‖_F + 1e-7)
//   repeat: A = X·Xᵀ;  B = b·A + c·A·A;  X = a·X + B·X
// with (a, b, c) = (3.4445, −4.7750, 2.0315). The matrix products are not
// elementwise and run through ATen (src/optim/muon.cpp); this file holds the
// momentum rule, the normalisation and the final update.
//
// The auxiliary Adam (adam_update, params of groups with use_muon = False):
//   m = lerp(m, g, 1 − β1);  v = lerp(v, g², 1 − β2)
//   p = p·(1 − lr·wd);  p = p − lr · (m / bc1) / (sqrt(v / bc2) + eps)
// (note: lerp, and eps outside the bias-corrected square root).
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>
#include <cstdint>

namespace descent::kernels {

struct NewtonSchulz5 {
  static constexpr double a = 3.4445, b = -4.7750, c = 2.0315;
  static constexpr double eps = 1e-7;  // added to the Frobenius norm
};

// Momentum and Nesterov blend. Run with the parameter slot holding the update
// buffer u (written), the gradient slot the gradient, state 0 the momentum.
struct MuonMomentumRule {
  static constexpr int kStates = 1;  // momentum_buffer
  double w_momentum = 0.05;          // 1 − β: weight of g in the momentum lerp
  double w_nesterov = 0.95;          // β: weight of m in the Nesterov lerp
  bool nesterov = true;

  template <class A> void operator()(A& u, A g, A* s) const {
    A& m = s[0];
    m = lerp(m, g, A(w_momentum));
    u = nesterov ? lerp(g, m, A(w_nesterov)) : m;
  }
};

// SingleDeviceMuonWithAuxAdam's adam_update, with the decoupled decay and the
// step of the parameter.
struct MuonAdamRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  double w1 = 0.1, w2 = 0.05;        // 1 − β1, 1 − β2 (lerp weights)
  double bc1 = 1, bc2 = 1;           // 1 − β^t
  double eps = 1e-10, decay = 1, neg_lr = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    A& m = s[0];
    A& v = s[1];
    m = lerp(m, g, A(w1));
    v = lerp(v, g * g, A(w2));
    const A update = (m / A(bc1)) / (std::sqrt(v / A(bc2)) + A(eps));
    p = p * A(decay);
    p = p + A(neg_lr) * update;
  }
};

// ---- the final update, on raw memory ---------------------------------------------

// p[i] = p[i]·decay − lr·O[i], O read through (row stride, column stride): the
// update O is in the iteration dtype and possibly transposed; the parameter is
// contiguous with `rows` × `cols` elements (its matrix view). Load and Store
// convert between storage and compute type (see scalar_types.h).
template <class P, class O>
void muon_apply(P* p, const O* o, std::int64_t rows, std::int64_t cols, std::int64_t o_row_stride,
                std::int64_t o_col_stride, double decay, double neg_lr) {
  using A = compute_t<P>;
  const A d = A(decay), lr = A(neg_lr);
  for (std::int64_t r = 0; r < rows; ++r) {
    P* pr = p + r * cols;
    const O* orow = o + r * o_row_stride;
    for (std::int64_t c = 0; c < cols; ++c) {
      A x = load(pr, c);
      const A u = static_cast<A>(load(orow, c * o_col_stride));
      x = x * d;
      x = x + lr * u;
      store(pr, c, x);
    }
  }
}

}  // namespace descent::kernels
