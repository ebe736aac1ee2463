// descent/kernels/adafactor.h: Adafactor (kozistr/pytorch_optimizer's AdaFactor,
// BigVision's variant), as grid rules (kernels/factored.h).
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/adafactor.py
// (AdaFactor._step_per_param). Per parameter, at group step t:
//   ρ_t   = lr                                   (relative_step = false)
//         = min(1e-6·t if warmup_init else 1e-2, 1/sqrt(t))
//   lr_t  = max(eps2, RMS(p))·ρ_t  if scale_parameter, else ρ_t
//   β2_t  = min(β2, 1 − t^decay_rate);  w2 = 1 − β2_t
//   u     = g² + eps1
//   factored (ndim ≥ 2, over the last two dims):
//     row = lerp(row, mean_c u, w2);  col = lerp(col, mean_r u, w2)
//     pre = rsqrt(row / mean_r row) · rsqrt(col)
//   else: v = lerp(v, u, w2);  pre = rsqrt(v)
//   ams_bound: v̂ = max(v̂, 1/pre);  pre = rsqrt(v̂ / w2)
//   U     = pre·g
//   U     = U / min(RMS(U)/clip_threshold, 1)        (clamp_max: divides by ≤ 1, scales up)
//   U     = U·lr_t
//   β1 given: m = lerp(m, U, 1 − β1) in momentum_dtype;  U = m
//   cautious: U = U·[U·g > 0]·numel/(count + 1)
//   weight_decouple: p = p·(1 − wd·(1 if fixed_decay else lr_t))
//   p     = p − U
// Quirks kept:
//  * the clipping divides by min(RMS(U)/clip, 1): updates with RMS below the
//    threshold are scaled up to it, and an all-zero gradient gives 0/0 = NaN;
//  * the momentum is rounded to momentum_dtype (bfloat16 by default): the
//    update is converted (float64 → float32 → bfloat16, each round to nearest
//    even), the lerp runs in float32 with a fused multiply-add (torch 1.13's CPU
//    lerp) and its result is rounded to bfloat16, and kept in bfloat16 (2 bytes
//    per parameter, as the reference; float16 and float32 likewise);
//  * with weight_decouple = false no weight decay at all (the reference adds
//    the L2 term to a gradient it no longer uses).
//
// The update runs in two passes over the elements, because the clipping needs
// RMS(U) of the whole tensor first: Precondition (updates v, v̂; sums p² and U²),
// then Apply (recomputes U from the updated statistics, same operations, same
// bits, and moves p). With cautious masking, Apply is split again: Momentum
// (updates m, counts U·g > 0) and Cautious (moves p).
#pragma once

#include <descent/kernels/factored.h>

namespace descent::kernels {

// How the first moment is kept.
enum class Momentum : int {
  none = 0,  // β1 = None: no first moment
  lerp = 1,  // momentum_dtype float64: lerp in double (moments.h)
  bf16 = 2,  // bfloat16, float16, float32: float32 fma-lerp, rounded to the dtype
  f16 = 3,
  f32 = 4,
};

struct AdafactorScalars {
  double gsign = 1;        // −1 with maximize
  double eps1 = 1e-30;
  double w2 = 1;           // 1 − β2_t: weight of the second-moment lerps
  double bias_correction2 = 1;  // the same number, as the ams_bound divisor
  double factor = 1;       // min(RMS(U)/clip, 1)
  double lr = 0;           // lr_t
  double w1 = 0.1;         // 1 − β1: weight of the momentum lerp
  double decay = 1;        // 1 − wd·lr_t (or 1 − wd): decoupled weight decay factor
  double cautious_scale = 1;
};

// Where the momentum is kept (kernels/factored.h's narrow slots): bfloat16,
// float16 or float32 storage for those momentum dtypes, the state type for float64.
template <Momentum M> inline constexpr bool kNarrowMomentum = M == Momentum::bf16 || M == Momentum::f16 || M == Momentum::f32;
template <Momentum M>
inline constexpr Rounding kMomentumRounding = M == Momentum::bf16 ? Rounding::bf16
                                              : M == Momentum::f16 ? Rounding::f16
                                                                    : Rounding::f32;

namespace detail {
// The momentum step: m ← lerp(m, U, w1) in momentum_dtype; returns the new U.
template <Momentum M, class A>
inline A adafactor_momentum(A u, A& m, const AdafactorScalars& c) {
  if constexpr (M == Momentum::lerp) {
    m = static_cast<A>(lerp<double>(static_cast<double>(m), static_cast<double>(u), c.w1));
    return m;
  } else if constexpr (M != Momentum::none) {
    constexpr Rounding R = kMomentumRounding<M>;
    const float e = round_to<R>(static_cast<float>(u));
    m = static_cast<A>(round_to<R>(lerp_fma(static_cast<float>(m), e, static_cast<float>(c.w1))));
    return m;
  } else {
    return u;
  }
}
}  // namespace detail

// Pass 1: second-moment statistics of unfactored tensors, v̂, and the sums
// Σp² (for RMS(p)) and ΣU² (for the clipping). States: [v] (unfactored), [v̂] (ams_bound).
template <bool Factored, bool Ams>
struct AdafactorPrecondition {
  static constexpr int kStates = (Factored ? 0 : 1) + (Ams ? 1 : 0);
  static constexpr int kSums = 2;
  static constexpr bool kPre = Factored;
  static constexpr bool kRowCol = false;
  static constexpr bool kStoreP = false;
  static constexpr unsigned kStoreStates = (1u << kStates) - 1;
  AdafactorScalars c;

  template <class A> void operator()(A& p, A g, A pre, A* s, A* terms, A&) const {
    g = g * A(c.gsign);
    if constexpr (!Factored) {
      const A u = g * g + A(c.eps1);
      s[0] = lerp(s[0], u, A(c.w2));
      pre = rsqrt(s[0]);
    }
    if constexpr (Ams) {
      A& h = s[Factored ? 0 : 1];
      h = maximum(h, A(1) / pre);
      pre = rsqrt(static_cast<A>(h / A(c.bias_correction2)));
    }
    const A u = pre * g;
    terms[0] = p * p;
    terms[1] = u * u;
  }
};

// Pass 1 of factored tensors, before the statistics: Σ_c u and Σ_r u of
// u = g² + eps1 per row and column (no state).
struct AdafactorSquares {
  static constexpr int kStates = 0;
  static constexpr int kSums = 0;
  static constexpr bool kPre = false;
  static constexpr bool kRowCol = true;
  static constexpr bool kStoreP = false;
  static constexpr unsigned kStoreStates = 0;
  double eps1 = 1e-30;
  template <class A> void operator()(A&, A g, A, A*, A*, A& rc) const { rc = g * g + A(eps1); }
};

// Pass 2: U from the updated statistics, clipping, lr_t, momentum, weight
// decay, and the parameter step. States: [v] (unfactored), [v̂] (ams_bound), [m] (momentum).
template <bool Factored, bool Ams, Momentum M>
struct AdafactorApply {
  static constexpr int kMoment = (Factored ? 0 : 1) + (Ams ? 1 : 0);
  static constexpr int kStates = kMoment + (M != Momentum::none ? 1 : 0);
  static constexpr int kSums = 0;
  static constexpr bool kPre = Factored && !Ams;
  static constexpr bool kRowCol = false;
  static constexpr bool kStoreP = true;
  static constexpr unsigned kStoreStates = M != Momentum::none ? 1u << kMoment : 0u;  // v, v̂ are only read
  static constexpr unsigned kNarrowStates = kNarrowMomentum<M> ? 1u << kMoment : 0u;
  static constexpr Rounding kNarrow = kMomentumRounding<M>;
  AdafactorScalars c;

  template <class A> void operator()(A& p, A g, A pre, A* s, A*, A&) const {
    g = g * A(c.gsign);
    A u = factored_pre<Factored, Ams>(pre, s, c.bias_correction2) * g;
    u = u / A(c.factor);
    u = u * A(c.lr);
    if constexpr (M != Momentum::none) u = detail::adafactor_momentum<M>(u, s[kMoment], c);
    p = p * A(c.decay);
    p = p + -u;
  }
};

// Pass 2 with cautious masking, first half: updates m and counts U·g > 0.
template <bool Factored, bool Ams, Momentum M>
struct AdafactorMomentum {
  static_assert(M != Momentum::none, "cautious masking needs a momentum");
  static constexpr int kMoment = (Factored ? 0 : 1) + (Ams ? 1 : 0);
  static constexpr int kStates = kMoment + 1;
  static constexpr int kSums = 1;
  static constexpr bool kPre = Factored && !Ams;
  static constexpr bool kRowCol = false;
  static constexpr bool kStoreP = false;
  static constexpr unsigned kStoreStates = 1u << kMoment;
  static constexpr unsigned kNarrowStates = kNarrowMomentum<M> ? 1u << kMoment : 0u;
  static constexpr Rounding kNarrow = kMomentumRounding<M>;
  AdafactorScalars c;

  template <class A> void operator()(A&, A g, A pre, A* s, A* terms, A&) const {
    g = g * A(c.gsign);
    A u = factored_pre<Factored, Ams>(pre, s, c.bias_correction2) * g;
    u = u / A(c.factor);
    u = u * A(c.lr);
    u = detail::adafactor_momentum<M>(u, s[kMoment], c);
    terms[0] = u * g > A(0) ? A(1) : A(0);
  }
};

// Second half: U = m masked where U·g ≤ 0 and scaled by numel/(count + 1);
// weight decay; the parameter step. State: [m].
template <Momentum M>
struct AdafactorCautious {
  static constexpr int kStates = 1;
  static constexpr int kSums = 0;
  static constexpr bool kPre = false;
  static constexpr bool kRowCol = false;
  static constexpr bool kStoreP = true;
  static constexpr unsigned kStoreStates = 0;
  static constexpr unsigned kNarrowStates = kNarrowMomentum<M> ? 1u : 0u;
  static constexpr Rounding kNarrow = kMomentumRounding<M>;
  AdafactorScalars c;

  template <class A> void operator()(A& p, A g, A, A* s, A*, A&) const {
    g = g * A(c.gsign);
    const A u = s[0];
    const A mask = u * g > A(0) ? A(c.cautious_scale) : A(0);
    p = p * A(c.decay);
    p = p + -(u * mask);
  }
};

// The statistics of a factored tensor from this step's row and column sums
// of u (kernels/factored.h): row = lerp(row, mean, w2), col likewise.
template <class A, class S>
void adafactor_statistics(const Grid& grid, S* row, S* col, const double* row_sum, const double* col_sum,
                          double w2) {
  const std::int64_t nrow = grid.batches * grid.rows, ncol = grid.batches * grid.cols;
  for (std::int64_t j = 0; j < nrow; ++j)
    row[j] = static_cast<S>(lerp(static_cast<A>(row[j]), mean_of_sum<A>(row_sum[j], grid.cols), A(w2)));
  for (std::int64_t j = 0; j < ncol; ++j)
    col[j] = static_cast<S>(lerp(static_cast<A>(col[j]), mean_of_sum<A>(col_sum[j], grid.rows), A(w2)));
}

}  // namespace descent::kernels
