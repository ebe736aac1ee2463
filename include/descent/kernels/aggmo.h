// descent/kernels/aggmo.h: aggregated momentum (AggMo), one fused pass per run
// of up to five momentum buffers.
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/aggmo.py (AggMo):
//   g = ±g                                     (maximize negates the gradient in place)
//   p = p·(1 − wd·lr) or p·(1 − wd)            (weight_decouple; fixed_decay drops lr)
//   g = g + wd·p                               (otherwise, only when wd > 0: L2)
//   for each β_k in betas, in order:
//     buf_k = β_k·buf_k + g                    (buf.mul_(β).add_(g): no dampening)
//     p     = p + (−lr/K)·buf_k                (K = len(betas); p moves after every buffer)
// The buffers live in a dict keyed by β, so a β listed twice shares one buffer,
// which is then updated (and stepped along) twice per step: the optimizer layer
// reproduces that by splitting the list into runs of distinct buffers.
//
// One rule handles N consecutive betas whose buffers are distinct (s[0..N)).
// With WriteGrad it also stores the effective gradient (after maximize and L2)
// in s[N], for the runs that follow to read as their gradient. Runs after the
// first pass decay = 1 and l2_on = false (p·1 is exact), and gsign = 1 when
// they read that stored gradient.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

namespace descent::kernels {

// States per pass: at most five. With six (kMaxStates) GCC no longer vectorises
// the driver's loop, and two vectorised passes beat one scalar pass.
inline constexpr int kAggmoMaxStates = kMaxStates - 1;

template <int N, bool WriteGrad>
struct AggmoRule {
  static_assert(N >= 1 && N + (WriteGrad ? 1 : 0) <= kAggmoMaxStates, "too many buffers for one pass");
  static constexpr int kStates = N + (WriteGrad ? 1 : 0);
  double gsign = 1;
  bool l2_on = false;
  double l2 = 0, decay = 1;
  double neg_step = 0;        // −lr/K
  double beta[N] = {};

  template <class A> void operator()(A& p, A g, A* s) const {
    g = g * A(gsign);
    p = p * A(decay);
    const A gd = g + A(l2) * p;
    g = select_flag(l2_on, gd, g);
    if constexpr (WriteGrad) s[N] = g;
    for (int k = 0; k < N; ++k) {
      s[k] = s[k] * A(beta[k]) + g;
      p = p + A(neg_step) * s[k];
    }
  }
};

}  // namespace descent::kernels
