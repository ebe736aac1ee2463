// descent/kernels/rprop.h: Rprop (resilient backpropagation, the Rprop− variant
// PyTorch ships), one fused pass.
//
// Reference: torch.optim.Rprop (PyTorch 1.13, torch/optim/rprop.py,
// _single_tensor_rprop):
//   g  = ±g                                  (maximize flips g)
//   s  = sign(g·prev)
//   f  = η+ where s > 0, η− where s < 0, 1 where s = 0      (three masked assignments, in this order)
//   Δ  = clamp(Δ·f, Δmin, Δmax)              (step_size.mul_(sign).clamp_(min, max))
//   g  = 0 where f == η−                     (grad[sign.eq(etaminus)] = 0: no move after a sign change)
//   p  = p + (−1·sign(g))·Δ                  (param.addcmul_(g.sign(), step_size, value=−1))
//   prev = g                                 (the zeroed gradient)
// Quirks kept:
//  * the factor is built by three masked assignments on the sign tensor, each
//    looking at the result of the previous one, in the parameter's dtype: η±
//    are rounded to the compute type, and the zeroing tests f == η− literally
//    (so, e.g., an η− that rounds to 1 in float32 also zeroes the s = 0 entries,
//    as PyTorch does);
//  * torch.sign(0) = torch.sign(−0) = torch.sign(NaN) = 0 (kernels::sign);
//  * "step_size" starts at lr (filled in the state dtype) and the clamp is
//    min(max(Δ·f, Δmin), Δmax): NaN propagates, Δmax wins if Δmin > Δmax;
//  * the step count and the learning rate are not used after the first step.
// States: s[0] = prev, s[1] = step_size.
#pragma once

#include <descent/kernels/elementwise.h>

#include <algorithm>

namespace descent::kernels {

struct RpropRule {
  static constexpr int kStates = 2;  // prev, step_size
  double gsign = 1, etaminus = 0.5, etaplus = 1.2, step_size_min = 1e-6, step_size_max = 50;

  template <class A> void operator()(A& p, A g, A* s) const {
    // Vectorisation note: under GCC's default -ftrapping-math a select whose
    // arms are literal constants lets GCC fold through them (step·1, sign(0))
    // and duplicate the floating-point work into branches, which it then cannot
    // vectorise. 0 and 1 are therefore derived from gsign (= ±1) at run time,
    // exactly 0 and 1 but opaque, and sign is written as two unconditional
    // compares (kernels::sign's bool → int → double does not vectorise for
    // double on SSE2). The values are those of the literal formulation.
    const A gs = A(gsign);
    const A zero = gs - gs, one = gs * gs;
    auto sign_of = [&](A x) {  // torch.sign: 0 for ±0 and NaN
      const A pos = x > zero ? one : zero;
      return x < zero ? -one : pos;
    };
    const A ep = A(etaplus), em = A(etaminus);
    A& prev = s[0];
    A& step = s[1];
    g = g * gs;
    A f = sign_of(g * prev);
    f = f > zero ? ep : f;   // sign[sign.gt(0)] = etaplus
    f = f < zero ? em : f;   // sign[sign.lt(0)] = etaminus
    f = f == zero ? one : f; // sign[sign.eq(0)] = 1
    step = std::min(std::max(step * f, A(step_size_min)), A(step_size_max));
    g = f == em ? zero : g;  // grad[sign.eq(etaminus)] = 0
    p = p + -one * sign_of(g) * step;
    prev = g;
  }
};

}  // namespace descent::kernels
