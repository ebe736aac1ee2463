// descent/kernels/lookahead.h: Lookahead's synchronisation with its slow weights.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/lookahead.py
// (Lookahead.update), every k-th step, for each parameter with a gradient:
//   p    = α·p + (1 − α)·slow        (p.mul_(alpha).add_(slow, alpha=1 − alpha))
//   slow = p
// and, on the inner optimizer's "momentum_buffer" b:
//   pullback_momentum = "reset":    b = 0
//   pullback_momentum = "pullback": b = α·b + (1 − α)·slow_b;  slow_b = b
// Quirk kept: the reference's `slow_b = b` makes slow_b the inner optimizer's
// buffer itself (the same tensor), which the inner optimizer then updates in
// place; so slow_b is 0 at a parameter's first sync only, and afterwards
//   b = x + (1 − α)·x,  x = α·b        (mul_ first, then add_ of the same tensor).
#pragma once

#include <descent/kernels/elementwise.h>

#include <cstdint>

namespace descent::kernels {

// p ← α·p + (1 − α)·slow; slow ← p. State: [slow].
struct LookaheadRule {
  static constexpr int kStates = 1;
  double alpha = 0.5, one_minus_alpha = 0.5;
  template <class A> void operator()(A& p, A, A* s) const {
    p = p * A(alpha) + A(one_minus_alpha) * s[0];
    s[0] = p;
  }
};

// The "pullback" of a momentum buffer (n contiguous values); `aliased` once
// the slow momentum is the buffer itself (every sync after the first).
template <class A>
void pull_back_momentum(A* b, std::int64_t n, double alpha, double one_minus_alpha, bool aliased) {
  const A a = A(alpha), oma = A(one_minus_alpha);
  if (aliased) {
    for (std::int64_t i = 0; i < n; ++i) {
      const A x = b[i] * a;
      b[i] = x + oma * x;
    }
  } else {
    for (std::int64_t i = 0; i < n; ++i) b[i] = b[i] * a + oma * A(0);
  }
}

}  // namespace descent::kernels
