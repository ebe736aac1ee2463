// descent/kernels/moments.h: the building blocks Adam-like and sign-based rules
// share, each with the operation order of the PyTorch op it stands for, so
// rules written from them match their references to the last bit or two.
#pragma once

#include <descent/kernels/bit_cast.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace descent::kernels {

// `on ? a : b` for a flag that is the same for every element (an option
// switched on or off), as bit operations: a mask from the flag, and, or. GCC
// does not vectorise a select on a scalar bool in loops that mix 16- and
// 32-bit lanes (bfloat16 parameters with stochastic rounding), and rules
// written with one ran scalar there (adabelief, yogi, lion: 9-12% of the
// bandwidth). The result is a's or b's bits, exactly.
template <class A> inline A select_flag(bool on, A a, A b) {
  static_assert(sizeof(A) == 4 || sizeof(A) == 8);
  using U = std::conditional_t<sizeof(A) == 4, std::uint32_t, std::uint64_t>;
  const U mask = U(0) - static_cast<U>(on);
  return bit_cast<A>((bit_cast<U>(a) & mask) | (bit_cast<U>(b) & ~mask));
}

// m.mul_(beta).add_(g, alpha=1-beta): exponential moving average.
template <class A> inline A ema(A m, A g, double beta, double one_minus_beta) {
  return m * A(beta) + A(one_minus_beta) * g;
}

// v.mul_(beta).addcmul_(x, y, value=1-beta): EMA of a product (x = y: of a square).
template <class A> inline A ema_product(A v, A x, A y, double beta, double one_minus_beta) {
  return v * A(beta) + A(one_minus_beta) * x * y;
}

// torch.lerp(start, end, w) as ATen computes it: start + w·(end − start) for
// |w| < 0.5, else end − (end − start)·(1 − w).
template <class A> inline A lerp(A start, A end, A w) {
  const A diff = end - start;
  return std::abs(w) < A(0.5) ? start + w * diff : end - diff * (A(1) - w);
}

// torch.sign: −1, 0 or 1; 0 for ±0 and NaN. Written as two selects (not
// bool → int → float) so that it vectorises for every type.
template <class A> inline A signum(A x) {
  const A pos = x > A(0) ? A(1) : A(0);
  return x < A(0) ? A(-1) : pos;
}

// sqrt(v)/sqrt(bc2) + eps: PyTorch's Adam denominator.
template <class A> inline A adam_denominator(A v, double bc2_sqrt, double eps) {
  return std::sqrt(v) / A(bc2_sqrt) + A(eps);
}

}  // namespace descent::kernels
