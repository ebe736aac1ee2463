// descent/kernels/cbrt.h: x^(1/3) as torch.pow(x, 1/3) computes it, in a
// branch-free form that GCC vectorises.
//
// MADGRAD's denominator is grad_sum_sq.pow(1/3). Through the C library's pow
// that is a call per element (10-20 ns), and MADGRAD ran at 10% of the memory
// bandwidth. pow_one_third(x) instead:
//   1. r ≈ x^(−1/3) from the bits: bits(r) = K − bits(x)/3 divides exponent and
//      mantissa by −3 at once (within 4%; K centres the error). r is cut to 8
//      (float) or 17 (double) significant bits so that r² and r³ are exact.
//   2. e = 1 − x·r³, |e| < 0.12; the product's one rounding is the only one
//      that reaches the result at full weight (through 2e/3).
//   3. x^(1/3) = x·r²·(1 − e)^(−2/3) = y0·(1 + q), q = Σ_{k≥1} c_k e^k with the
//      binomial series c_k = c_{k−1}·(3k − 1)/(3k), c_1 = 2/3; degree 7 leaves
//      c_8·e^8 < 2e-8 relative. The sum is formed as y0 + y0·q: q is small, so
//      its own rounding errors are scaled down.
//      Double: one series step for r first (r·(1 − e)^(−1/3), error < 1e-8),
//      cut to 17 bits again (|e| < 5e-5 then), and the series to degree 3.
//   4. torch hands pow the exponent in the element type: float(1/3) =
//      1/3 + 9.934e-9 and double(1/3) = 1/3 − 1.850e-17, and x^δ = 1 + δ·ln x
//      (δ·ln x < 1e-6), with ln x from the exponent bits read as a
//      fixed-point log2 (≤ 0.09 off: below 1e-9 of the factor). The
//      correction is folded into q.
//   Subnormal x is scaled by 2^24 (2^54) first and the result by 2^−8 (2^−18).
//   x = +inf gives +inf, x < 0 or NaN gives NaN, x = ±0 gives +0, as pow does.
// Accuracy against glibc's powf (correctly rounded but for rare cases), every
// 97th positive finite float: 70% equal, 30% one ulp apart, under 0.1% two or
// three, one in 22M four (tests/kernels/cbrt_test.cpp samples 2M). Double:
// within a few ulp of pow.
// ATen's own vectorised pow (Sleef, u10) is itself only within 1 ulp.
// pow_one_third<true> (float): the same steps with fused multiply-adds where a
// product meets a sum (e = 1 − x·r³, the series, the correction), for CPUs
// with FMA (kernels::cpu_has_fma()): fewer instructions and roundings, 75%
// equal to powf, at most 3 ulp apart. Through the C library's fmaf elsewhere,
// so use it only where cpu_has_fma().
// Cost, MADGRAD's loop from L1 on one Zen 3 core with AVX2: 1.5 ns per float
// element, 1.35 with FMA (libm's powf: ~10 ns).
#pragma once

#include <descent/kernels/bit_cast.h>
#include <descent/kernels/fma.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace descent::kernels {

namespace detail {
// (1 − e)^(−2/3) − 1 to degree 7 (Estrin's scheme: a shorter dependency chain than Horner).
template <bool Fma, class A> inline A cbrt_series7(A e) {
  const A e2 = e * e, e4 = e2 * e2;
  const A c1 = A(2.0 / 3), c2 = A(5.0 / 9), c3 = A(40.0 / 81), c4 = A(110.0 / 243), c5 = A(308.0 / 729),
          c6 = A(2618.0 / 6561), c7 = A(7480.0 / 19683);
  if constexpr (Fma) {
    return mul_add<true>(e4, mul_add<true>(e2, mul_add<true>(e, c7, c6), mul_add<true>(e, c5, c4)),
                         mul_add<true>(e2, mul_add<true>(e, c3, c2), c1 * e));
  } else {
    return c1 * e + (e2 * (c2 + e * c3) + e4 * ((c4 + e * c5) + e2 * (c6 + e * c7)));
  }
}
}  // namespace detail

template <bool Fma = false> inline float pow_one_third(float x_in) {
  // Special values cost selects on every element (they were a quarter of
  // MADGRAD's loop), so the steps below are arranged to need few: +0 (and −0,
  // made +0 by the + 0.0f) comes out of the series as 0·r² = +0 (r² = 2^84
  // stays finite), NaN propagates through x·r², and only +inf and x < 0 are
  // replaced at the end.
  const bool tiny = x_in < 0x1p-126f;  // subnormal, ±0 (and negative: NaN below)
  // Every choice on `tiny` is made here, in one place: a select further down
  // let GCC's jump threading duplicate the steps between the two (six more
  // vector instructions per element).
  const float x = tiny ? x_in * 0x1p24f + 0.0f : x_in;
  constexpr float kDeltaLn2 = 9.934107462565104e-09f * 0.6931471805599453f;
  const float k0 = tiny ? -151.0f * kDeltaLn2 : -127.0f * kDeltaLn2;
  const float scale = tiny ? 0x1p-8f : 1.0f;
  const std::int32_t u = bit_cast<std::int32_t>(x);
  // u/3 through a float product: exact enough for a 4% guess, and vectorises (int division does not).
  const float uf = static_cast<float>(u);
  const std::int32_t guess = 0x54A2FA8C - static_cast<std::int32_t>(uf * (1.0f / 3.0f));
  const float r = bit_cast<float>(guess & ~0xFFFF);  // 8 significant bits
  const float r2 = r * r;
  const float e = mul_add<Fma>(-x, r2 * r, 1.0f);  // r³ is exact
  const float q = detail::cbrt_series7<Fma>(e);
  // x^(float(1/3) − 1/3) − 1 = δ·ln 2·(u·2^−23 − 127), less the 2^24 pre-scale for tiny x (k0).
  const float k = mul_add<Fma>(uf, kDeltaLn2 * 0x1p-23f, k0);
  const float y0 = x * r2;
  const float t = Fma ? std::fma(q, k, q + k) : q + (k + q * k);
  float y = mul_add<Fma>(y0, t, y0);
  y = y * scale;
  y = x_in == std::numeric_limits<float>::infinity() ? x_in : y;
  return x_in >= 0.0f ? y : std::numeric_limits<float>::quiet_NaN();
}

// Double: one form (Fma is for float).
template <bool Fma = false> inline double pow_one_third(double x_in) {
  const bool tiny = x_in < 0x1p-1022;
  const double x = tiny ? x_in * 0x1p54 : x_in;
  const std::uint64_t u = bit_cast<std::uint64_t>(x);
  const std::int32_t hi = static_cast<std::int32_t>(u >> 32);  // sign, exponent, 20 mantissa bits
  const std::int32_t guess = 0x553F09FC - static_cast<std::int32_t>(static_cast<double>(hi) * (1.0 / 3.0));
  constexpr std::uint64_t kTop17 = ~((std::uint64_t{1} << 36) - 1);  // 1 + 11 + 16 bits
  const double r0 = bit_cast<double>((static_cast<std::uint64_t>(static_cast<std::uint32_t>(guess)) << 32) & kTop17);
  const double e0 = 1.0 - x * (r0 * r0 * r0);
  // (1 − e)^(−1/3) − 1 = Σ d_k e^k, d_k = d_{k−1}·(3k − 2)/(3k), d_1 = 1/3; degree 7 leaves < 1e-8.
  const double e02 = e0 * e0, e04 = e02 * e02;
  const double s = e0 * (1.0 / 3) + (e02 * (2.0 / 9 + e0 * (14.0 / 81)) +
                                     e04 * ((35.0 / 243 + e0 * (91.0 / 729)) + e02 * (728.0 / 6561 + e0 * (1976.0 / 19683))));
  const double r1 = bit_cast<double>(bit_cast<std::uint64_t>(r0 + r0 * s) & kTop17);
  const double r2 = r1 * r1;
  const double e = 1.0 - x * (r2 * r1);
  const double q = e * (2.0 / 3 + e * (5.0 / 9 + e * (40.0 / 81)));
  constexpr double kDeltaLn2 = -1.850371707708594e-17 * 0.6931471805599453;
  const double k = static_cast<double>(hi) * (kDeltaLn2 * 0x1p-20) - (tiny ? 1077.0 : 1023.0) * kDeltaLn2;
  const double y0 = x * r2;
  double y = y0 + y0 * (q + (k + q * k));
  y = tiny ? y * 0x1p-18 : y;
  y = x_in == 0.0 ? 0.0 : y;  // (r0 = 2^340 for x = 0 overflows r³ below: 0·inf)
  y = x_in == std::numeric_limits<double>::infinity() ? x_in : y;
  return x_in >= 0.0 ? y : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace descent::kernels
