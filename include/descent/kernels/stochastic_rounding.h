// descent/kernels/stochastic_rounding.h: float32 -> bfloat16 with stochastic
// rounding, from a counter-based random stream (no LibTorch).
//
// A float32 x lies between two neighbouring bfloat16 values lo <= x <= hi;
// stochastic rounding returns hi with probability (x - lo)/(hi - lo) and lo
// otherwise, so E[round(x)] = x: updates far below a bfloat16 ulp still move
// the parameter on average (with round-to-nearest they are lost). On the bit
// patterns this is: add 16 uniform random bits to the low half of x's bits
// and truncate (the carry into the high half happens with exactly that
// probability; it crosses binades and reaches ±infinity correctly).
// NaN stays NaN (rounded to nearest, which keeps it quiet); ±infinity and
// values that are already bfloat16 are unchanged.
//
// The random bits come from a hash of (seed, element index), so a step's
// rounding does not depend on how the elements are split over threads, and a
// run is reproducible from its seed. The hash is murmur3's 32-bit finaliser
// (fmix32), which vectorises (32-bit multiplies).
#pragma once

#include <descent/kernels/scalar_types.h>

#include <cstdint>

namespace descent::kernels {

inline std::uint32_t fmix32(std::uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

// 16 random bits for element i of a stream (seed: the stream's key, itself a
// hash, see stream_seed): one finaliser over the index spread by the golden
// ratio, the key and the index's high word through an odd multiplier, keeping
// the best-mixed high half. (Until session 4 the key and high word went
// through a second fmix32 per element: a third of the stochastic-rounding
// step's arithmetic for no better mixing, since the key is already a hash.)
inline std::uint32_t random16(std::uint32_t seed, std::int64_t i) {
  const auto lo = static_cast<std::uint32_t>(i);
  const auto hi = static_cast<std::uint32_t>(static_cast<std::uint64_t>(i) >> 32);
  return fmix32((lo * 0x9E3779B1u) ^ seed ^ (hi * 0x85EBCA77u)) >> 16;
}

// x rounded to bfloat16 stochastically with the random bits r (0 <= r < 2^16).
inline bf16 to_bf16_stochastic(float x, std::uint32_t r) {
  const std::uint32_t u = bit_cast<std::uint32_t>(x);
  const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  const std::uint32_t rounded = (u + r) & 0xFFFF0000u;
  bf16 out;
  out.bits = nan ? to_bf16(x).bits : static_cast<std::uint16_t>(rounded >> 16);
  return out;
}

// The seed of one parameter's stream at one step: distinct for every
// (optimizer seed, parameter, step).
inline std::uint32_t stream_seed(std::uint64_t seed, std::uint32_t param, std::int64_t step) {
  std::uint32_t h = fmix32(static_cast<std::uint32_t>(seed) ^ 0x5BD1E995u);
  h = fmix32(h ^ static_cast<std::uint32_t>(seed >> 32));
  h = fmix32(h ^ (param * 0x27D4EB2Fu));
  return fmix32(h ^ static_cast<std::uint32_t>(step) ^ (static_cast<std::uint32_t>(static_cast<std::uint64_t>(step) >> 32) * 0x165667B1u));
}

}  // namespace descent::kernels
