// descent/kernels/bit_cast.h: a value's bits as another type of the same size
// (std::bit_cast before C++20), through memcpy, which GCC turns into a
// register move and which keeps loops vectorisable.
#pragma once

#include <cstring>

namespace descent::kernels {

template <class To, class From> inline To bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast between types of one size");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// Whether two values have the same bits (NaN equals itself; +0 and −0 differ).
template <class T> inline bool same_bits(const T& a, const T& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace descent::kernels
