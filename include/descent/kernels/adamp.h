// descent/kernels/adamp.h: AdamP and SGDP (Heo et al., ICLR 2021): the update
// directions and the element passes of the scale-invariance projection.
//
// Reference: clovaai/AdamP @ 7f6f038, adamp/adamp.py (AdamP), adamp/sgdp.py (SGDP).
// Both compute a direction d from their state, then, for parameters with more
// than one dimension, test whether the RAW gradient is nearly orthogonal to p:
//   for view in [channel: (size(0), −1), layer: (1, −1)]:       channel view first
//     cos_r = |Σ_row g·p| / (max(‖g_row‖, eps)·max(‖p_row‖, eps))  (F.cosine_similarity,
//                                                                   torch ≥ 1.12 eps semantics)
//     if max_r cos_r < delta / sqrt(row length):
//       p̂ = p / (‖p_row‖ + eps)                                    (eps added, not max)
//       d = d − p̂·Σ_row(p̂·d)                                       (per row)
//       weight decay ×= wd_ratio; stop                              (first view that fires wins)
// then p = p·(1 − lr·wd·ratio[/(1 − momentum) for SGDP]) (only when wd > 0) and
// p = p + (−step)·d.
//
// A direction D provides
//   kStates;
//   A advance(A g, A* s) const;  // updates the state, returns d
//   A current(A g, A* s) const;  // d again from the updated state (no state change)
//   void store(A d, A* s) const; // keeps the projected d where the reference aliases it
// and the passes below combine it with the projection:
//   DirectionStep     no projection: advance, decay, step (one pass);
//   ProjectionTerms   projection pass 1: advance, and the row sum Σ p̂·d (run_reduce);
//   ProjectedStep     projection pass 2: d − p̂·Σ, decay, step (per row).
// RowDots (no state) gives the sums the test needs: Σ g·p, Σ g², Σ p².
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

// AdamP: Adam moments; d = m/den, or (β1·m + (1 − β1)·g)/den with nesterov,
// den = sqrt(v)/sqrt(bc2) + eps. d is a fresh tensor in the reference: the
// projection never touches exp_avg.
template <bool Nesterov>
struct AdamPDirection {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq
  double beta1 = 0.9, beta2 = 0.999, one_minus_beta1 = 0.1, one_minus_beta2 = 0.001;
  double bc2_sqrt = 1, eps = 1e-8;

  template <class A> A advance(A g, A* s) const {
    s[0] = ema(s[0], g, beta1, one_minus_beta1);
    s[1] = ema_product(s[1], g, g, beta2, one_minus_beta2);
    return current(g, s);
  }
  template <class A> A current(A g, const A* s) const {
    const A denom = adam_denominator(s[1], bc2_sqrt, eps);
    if constexpr (Nesterov) return (A(beta1) * s[0] + A(one_minus_beta1) * g) / denom;
    return s[0] / denom;
  }
  template <class A> void store(A, A*) const {}
  static constexpr bool kProjectionStores = false;  // pass 2 only reads the moments
};

// SGDP: buf = momentum·buf + (1 − dampening)·g, from a ZERO buffer (dampening
// applies at step 1 too); d = g + momentum·buf with nesterov, else d = buf.
// Without nesterov d IS the buffer in the reference, so the projection is
// written back into the stored buffer (store).
template <bool Nesterov>
struct SgdpDirection {
  static constexpr int kStates = 1;  // momentum
  double momentum = 0, one_minus_dampening = 1;

  template <class A> A advance(A g, A* s) const {
    s[0] = ema(s[0], g, momentum, one_minus_dampening);
    return current(g, s);
  }
  template <class A> A current(A g, const A* s) const {
    if constexpr (Nesterov) return g + A(momentum) * s[0];
    return s[0];
  }
  template <class A> void store(A d, A* s) const {
    if constexpr (!Nesterov) s[0] = d;
  }
  static constexpr bool kProjectionStores = !Nesterov;
};

// No projection: p = p·decay + (−step)·d.
template <class D>
struct DirectionStep {
  static constexpr int kStates = D::kStates;
  D dir;
  double decay = 1, neg_step = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    const A d = dir.advance(g, s);
    p = p * A(decay);
    p = p + A(neg_step) * d;
  }
};

// Projection pass 1 over one row: advances the state and sums p̂·d with
// p̂ = p / norm_eps (norm_eps = ‖p_row‖ + eps in the compute type). p is unchanged.
template <class D>
struct ProjectionTerms {
  static constexpr int kStates = D::kStates;
  static constexpr int kSums = 1;
  static constexpr bool kStoreP = false;
  D dir;
  double norm_eps = 1;

  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    const A d = dir.advance(g, s);
    terms[0] = (p / A(norm_eps)) * d;
  }
};

// Projection pass 2 over one row: d = d − p̂·radial (radial = Σ_row p̂·d), kept
// where the reference aliases it, then p = p·decay + (−step)·d.
template <class D>
struct ProjectedStep {
  static constexpr int kStates = D::kStates;
  static constexpr unsigned kStoreStates = D::kProjectionStores ? ~0u : 0u;
  D dir;
  double norm_eps = 1, radial = 0, decay = 1, neg_step = 0;

  template <class A> void operator()(A& p, A g, A* s) const {
    A d = dir.current(g, s);
    d = d - (p / A(norm_eps)) * A(radial);
    dir.store(d, s);
    p = p * A(decay);
    p = p + A(neg_step) * d;
  }
};

// The sums of the scale-invariance test over a row: Σ g·p, Σ g², Σ p². p is unchanged.
struct RowDots {
  static constexpr int kStates = 0;
  static constexpr int kSums = 3;
  static constexpr bool kStoreP = false;
  template <class A> void operator()(A& p, A g, A*, A* terms) const {
    terms[0] = g * p;
    terms[1] = g * g;
    terms[2] = p * p;
  }
};

}  // namespace descent::kernels
