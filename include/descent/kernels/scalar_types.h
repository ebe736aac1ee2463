// descent/kernels/scalar_types.h: the element types the kernels work on.
//
// kernels/ never includes LibTorch. bfloat16 is therefore defined here as a
// 16-bit pattern with the same layout as c10::BFloat16 (sign, 8 exponent bits,
// 7 mantissa bits: the upper half of an IEEE float), and converted with the
// same round-to-nearest-even rule c10 uses, so results agree bit for bit.
#pragma once

#include <descent/kernels/bit_cast.h>

#include <cstdint>

namespace descent::kernels {

struct bf16 {
  std::uint16_t bits;
};

inline float to_float(bf16 x) {
  return bit_cast<float>(static_cast<std::uint32_t>(x.bits) << 16);
}

// Round to nearest, ties to even; NaN maps to the canonical quiet NaN 0x7FC0
// (c10::detail::round_to_nearest_even).
inline bf16 to_bf16(float f) {
  const std::uint32_t u = bit_cast<std::uint32_t>(f);
  const bool is_nan = f != f;
  const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return bf16{static_cast<std::uint16_t>(is_nan ? 0x7FC0u : rounded)};
}

// The type arithmetic is done in for a storage type: double for double,
// float for float and bfloat16 (as PyTorch's opmath_type).
template <class T> struct compute_type { using type = T; };
template <> struct compute_type<bf16> { using type = float; };
template <class T> using compute_t = typename compute_type<T>::type;

// The type optimizer state is kept in for a parameter type: double for double
// parameters, float otherwise. bfloat16 parameters get float32 state (PyTorch
// would keep bfloat16 state; float32 state is the mixed-precision practice and
// is documented as a deviation).
template <class T> struct state_type { using type = T; };
template <> struct state_type<bf16> { using type = float; };
template <class T> using state_t = typename state_type<T>::type;

template <class A> inline A load(const A* p, std::int64_t i) { return p[i]; }
inline float load(const bf16* p, std::int64_t i) { return to_float(p[i]); }
template <class A> inline void store(A* p, std::int64_t i, A v) { p[i] = v; }
inline void store(bf16* p, std::int64_t i, float v) { p[i] = to_bf16(v); }

// sign with sign(0) = 0 and sign(NaN) = 0, as torch.sign for finite inputs.
template <class A> inline A sign(A x) {
  return static_cast<A>((x > A(0)) - (x < A(0)));
}

}  // namespace descent::kernels
