// descent/kernels/aten_minmax.h: torch.maximum / torch.minimum / clamp with
// ATen's NaN semantics (a NaN in either operand gives NaN), for the rules of
// the adam_variants family (AdaBelief's and AdaBound's AMS maxima, AdaMod's
// minimum, AdaBound's clamp). std::max / std::min would instead return their
// first argument when the second is NaN.
//
// Written as selects so that they vectorise (-fno-trapping-math).
#pragma once

#include <algorithm>

namespace descent::kernels {

// torch.maximum(a, b) (also torch.max(a, b, out=…)).
template <class A> inline A maximum(A a, A b) {
  const A m = a < b ? b : a;
  return (a != a || b != b) ? a + b : m;  // a + b is NaN when either is
}

// torch.minimum(a, b) (also torch.min(a, b, out=…)).
template <class A> inline A minimum(A a, A b) {
  const A m = b < a ? b : a;
  return (a != a || b != b) ? a + b : m;
}

// x.clamp(min=lo, max=hi) as ATen's CPU kernel: min(max(x, lo), hi), NaN x stays NaN.
template <class A> inline A clamp(A x, A lo, A hi) {
  const A up = x < lo ? lo : x;
  const A c = hi < up ? hi : up;
  return x != x ? x : c;
}

}  // namespace descent::kernels
