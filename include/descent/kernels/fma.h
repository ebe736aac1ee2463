// descent/kernels/fma.h: fused multiply-add, where a rule has a form that
// uses it (MADGRAD's cube root, diffGrad's exp).
//
// Such a rule takes a bool Fma template parameter and is launched through
// with_fma(), which picks the fused form once, from the CPU. Every path then
// computes the same bits: the AVX2 clone (kernels/elementwise.h) runs std::fma
// on the FMA unit, the scalar path and the baseline clone call the C
// library's fmaf (which glibc runs on the same unit; correctly rounded
// either way). Everything else stays unfused (-ffp-contract=off).
#pragma once

#include <cmath>
#include <type_traits>

namespace descent::kernels {

// Whether this CPU has fused multiply-add in hardware (checked once).
inline bool cpu_has_fma() {
#if defined(__FMA__) || defined(__aarch64__)
  return true;
#elif defined(__GNUC__) && defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("fma");
  return yes;
#else
  return false;  // fmaf in software: slower than the rule's plain form
#endif
}

// Calls f(std::true_type{}) where the CPU has FMA, f(std::false_type{}) elsewhere.
template <class F> inline void with_fma(F&& f) {
  if (cpu_has_fma()) f(std::true_type{});
  else f(std::false_type{});
}

// a·b + c: one rounding (Fma) or two.
template <bool Fma, class A> inline A mul_add(A a, A b, A c) {
  if constexpr (Fma) return std::fma(a, b, c);
  else return a * b + c;
}

}  // namespace descent::kernels
