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

}  // namespace descent::kernels
