// descent/kernels/diffgrad.h: diffGrad, one fused pass.
//
// Reference: shivram1987/diffGrad @ 73233ba, diffGrad_v2.py (class diffgrad),
// the version that fixes the original's previous-gradient aliasing. Per step t:
//   g    = g + wd·p                        (only when wd ≠ 0; written into the gradient
//                                           itself, so previous_grad keeps this g)
//   m    = β1·m + (1 − β1)·g
//   v    = β2·v + (1 − β2)·g·g
//   den  = sqrt(v) + eps                   (eps on the UNcorrected sqrt(v))
//   ξ    = 1 / (1 + exp(−|g_prev − g|))    (previous_grad starts at 0)
//   g_prev = g
//   p    = p + (−lr·sqrt(bc2)/bc1)·(m·ξ) / den      (addcdiv: (value·t1)/t2)
// The step size −lr·sqrt(1 − β2^t)/(1 − β1^t) is computed once per tensor, in double.
// States: s[0] = exp_avg, s[1] = exp_avg_sq, s[2] = previous_grad.
//
// exp: the C library's exp is a call GCC cannot vectorise, which made the pass
// compute-bound; diffgrad_exp below is a vectorisable exp for the argument range
// ξ needs, within 1 ulp of the C library's (as PyTorch's own vectorised exp,
// Sleef's u10, is within 1 ulp). |Δg| is capped where ξ is exactly 1 anyway.
// Fma (float only; chosen where kernels::cpu_has_fma(), as MADGRAD's cube
// root, see kernels/elementwise.h): the reduction and the Horner steps as
// fused multiply-adds, a shorter dependency chain (~20% faster from cache),
// also within 1 ulp; 10% of results differ from the plain form in the last bit.
#pragma once

#include <descent/kernels/bit_cast.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/fma.h>
#include <descent/kernels/moments.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace descent::kernels {

namespace detail {
template <class A> struct DiffGradExp;
template <> struct DiffGradExp<double> {
  using U = std::uint64_t;
  static constexpr int kMantissa = 52;
  static constexpr U kOne = U{1023} << 52;               // bits of 1.0
  static constexpr double kRound = 6755399441055744.0;   // 1.5·2^52: x + kRound − kRound rounds x
  static constexpr double kLog2e = 1.4426950408889634074;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 in two parts (Cody–Waite)
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr int kDegree = 13;                     // Taylor remainder < 1e-17 on |r| ≤ ln2/2
  static constexpr double kCap = 60;                     // 1 + exp(−60) == 1 in double
};
template <> struct DiffGradExp<float> {
  using U = std::uint32_t;
  static constexpr int kMantissa = 23;
  static constexpr U kOne = U{127} << 23;
  static constexpr float kRound = 12582912.0f;           // 1.5·2^23
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr float kLn2Hi = 0.693145751953125f;
  static constexpr float kLn2Lo = 1.428606765330187045e-06f;
  static constexpr int kDegree = 7;                      // remainder < 6e-9 on |r| ≤ ln2/2
  static constexpr float kCap = 30;                      // 1 + exp(−30) == 1 in float
};
}  // namespace detail

// exp(x) for x in [−kCap, 0] (NaN propagates): x = n·ln2 + r, |r| ≤ ln2/2, e^r by
// its Taylor polynomial (Horner), 2^n written into the exponent bits.
template <bool Fma = false, class A> inline A diffgrad_exp(A x) {
  using E = detail::DiffGradExp<A>;
  using U = typename E::U;
  constexpr bool kFused = Fma && std::is_same_v<A, float>;
  const A t = x * A(E::kLog2e) + A(E::kRound);  // n in the low mantissa bits of t
  const A n = t - A(E::kRound);
  // (x − n·ln2_hi) − n·ln2_lo; unfused, mul_add(−n, c, x) is exactly x − n·c.
  const A r = mul_add<kFused>(-n, A(E::kLn2Lo), mul_add<kFused>(-n, A(E::kLn2Hi), x));
  constexpr double inv_factorial[14] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
                                        1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800,
                                        1.0 / 479001600, 1.0 / 6227020800.0};
  A poly = A(inv_factorial[E::kDegree]);
  // Fully unrolled: GCC does not unroll it by itself once the steps are fma
  // calls, and a loop left inside the element loop stops vectorisation.
#pragma GCC unroll 16
  for (int k = E::kDegree - 1; k >= 0; --k) poly = mul_add<kFused>(poly, r, A(inv_factorial[k]));
  const U scale_bits = (bit_cast<U>(t) << E::kMantissa) + E::kOne;  // 2^n
  return poly * bit_cast<A>(scale_bits);
}

// L2: weight_decay ≠ 0 (a template parameter: a run-time select on it keeps
// GCC from vectorising this loop).
template <bool L2, bool Fma = false>
struct DiffGradRule {
  static constexpr int kStates = 3;  // exp_avg, exp_avg_sq, previous_grad
  double l2 = 0;
  double beta1 = 0.9, beta2 = 0.999, one_minus_beta1 = 0.1, one_minus_beta2 = 0.001;
  double eps = 1e-8, neg_step_size = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    if constexpr (L2) g = g + A(l2) * p;
    A& m = s[0];
    A& v = s[1];
    A& prev = s[2];
    m = ema(m, g, beta1, one_minus_beta1);
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    const A denom = std::sqrt(v) + A(eps);
    A diff = std::abs(prev - g);
    diff = diff > A(detail::DiffGradExp<A>::kCap) ? A(detail::DiffGradExp<A>::kCap) : diff;  // NaN stays NaN
    const A dfc = A(1) / (A(1) + diffgrad_exp<Fma>(-diff));
    prev = g;
    p = p + A(neg_step_size) * (m * dfc) / denom;
  }
};

}  // namespace descent::kernels
