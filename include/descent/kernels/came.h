// descent/kernels/came.h: CAME (Confidence-guided Adaptive Memory Efficient
// optimization), as grid rules (kernels/factored.h).
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/came.py
// (CAME.step). Per parameter, with β1, β2, β3 = betas:
//   u   = g² + eps1
//   factored (ndim ≥ 2, over the last two dims):
//     row = β2·row + (1 − β2)·mean_c u;  col = β2·col + (1 − β2)·mean_r u
//     pre = rsqrt(row / mean_r row) · rsqrt(col)
//   else: v = β2·v + (1 − β2)·u;  pre = rsqrt(v)
//   ams_bound: v̂ = max(v̂, 1/pre);  pre = rsqrt(v̂ / β2)      (divided by β2, as the reference)
//   U   = pre·g
//   U   = U / max(RMS(U)/clip_threshold, 1)
//   m   = β1·m + (1 − β1)·U
//   factored:
//     res = (U − m)² + eps2
//     rrow = β3·rrow + (1 − β3)·mean_c res;  rcol likewise
//     U   = rsqrt(rrow / mean_r rrow) · rsqrt(rcol) · m
//   else: U = m   (the same tensor: see below)
//   weight_decouple: p = p·(1 − wd·(1 if fixed_decay else lr))
//   U   = U·lr;  p = p − U
// Quirks kept:
//  * for unfactored tensors the reference's `update = exp_avg` aliases the
//    state, so `update.mul_(lr)` multiplies the stored m by lr every step;
//  * with weight_decouple = false no weight decay at all (the L2 term is added
//    to the gradient after the update has been computed).
//
// Passes: Precondition (v, v̂, ΣU²) [after Squares and the statistics, for
// factored tensors], then for unfactored tensors Apply; for factored ones
// Residual (m, row and column sums of res), the residual statistics, and Step.
#pragma once

#include <descent/kernels/factored.h>

namespace descent::kernels {

struct CameScalars {
  double gsign = 1;
  double eps1 = 1e-30, eps2 = 1e-16;
  double beta1 = 0.9, one_minus_beta1 = 0.1;
  double beta2 = 0.999, one_minus_beta2 = 0.001;
  double factor = 1;  // max(RMS(U)/clip, 1)
  double lr = 0;
  double decay = 1;   // 1 − wd·lr (or 1 − wd): decoupled weight decay factor
};

// u = g² + eps1 summed per row and column (factored tensors).
struct CameSquares {
  static constexpr int kStates = 0;
  static constexpr int kSums = 0;
  static constexpr bool kPre = false;
  static constexpr bool kRowCol = true;
  static constexpr bool kStoreP = false;
  static constexpr unsigned kStoreStates = 0;
  double eps1 = 1e-30;
  template <class A> void operator()(A&, A g, A, A*, A*, A& rc) const { rc = g * g + A(eps1); }
};

// v (unfactored), v̂, and ΣU². States: [v] (unfactored), [v̂] (ams_bound).
template <bool Factored, bool Ams>
struct CamePrecondition {
  static constexpr int kStates = (Factored ? 0 : 1) + (Ams ? 1 : 0);
  static constexpr int kSums = 1;
  static constexpr bool kPre = Factored;
  static constexpr bool kRowCol = false;
  static constexpr bool kStoreP = false;
  static constexpr unsigned kStoreStates = (1u << kStates) - 1;
  CameScalars c;

  template <class A> void operator()(A&, A g, A pre, A* s, A* terms, A&) const {
    g = g * A(c.gsign);
    if constexpr (!Factored) {
      const A u = g * g + A(c.eps1);
      s[0] = ema(s[0], u, c.beta2, c.one_minus_beta2);
      pre = rsqrt(s[0]);
    }
    if constexpr (Ams) {
      A& h = s[Factored ? 0 : 1];
      h = maximum(h, A(1) / pre);
      pre = rsqrt(static_cast<A>(h / A(c.beta2)));
    }
    const A u = pre * g;
    terms[0] = u * u;
  }
};

// Unfactored tensors: m, weight decay, the step; m keeps m·lr (the aliasing
// quirk). States: [v], [v̂] (ams_bound), [m].
template <bool Ams>
struct CameApply {
  static constexpr int kStates = 1 + (Ams ? 1 : 0) + 1;
  static constexpr int kSums = 0;
  static constexpr bool kPre = false;
  static constexpr bool kRowCol = false;
  static constexpr bool kStoreP = true;
  static constexpr unsigned kStoreStates = 1u << (kStates - 1);  // v, v̂ are only read
  CameScalars c;

  template <class A> void operator()(A& p, A g, A, A* s, A*, A&) const {
    g = g * A(c.gsign);
    A u = factored_pre<false, Ams>(A(0), s, c.beta2) * g;
    u = u / A(c.factor);
    A& m = s[kStates - 1];
    m = ema(m, u, c.beta1, c.one_minus_beta1);
    p = p * A(c.decay);
    m = m * A(c.lr);
    p = p + -m;
  }
};

// Factored tensors: m, and res = (U − m)² + eps2 summed per row and column.
// States: [v̂] (ams_bound), [m].
template <bool Ams>
struct CameResidual {
  static constexpr int kStates = (Ams ? 1 : 0) + 1;
  static constexpr int kSums = 0;
  static constexpr bool kPre = !Ams;
  static constexpr bool kRowCol = true;
  static constexpr bool kStoreP = false;
  static constexpr unsigned kStoreStates = 1u << (kStates - 1);
  CameScalars c;

  template <class A> void operator()(A&, A g, A pre, A* s, A*, A& rc) const {
    g = g * A(c.gsign);
    A u = factored_pre<true, Ams>(pre, s, c.beta2) * g;
    u = u / A(c.factor);
    A& m = s[kStates - 1];
    m = ema(m, u, c.beta1, c.one_minus_beta1);
    const A d = u - m;
    rc = d * d + A(c.eps2);
  }
};

// Factored tensors: U = pre_res·m, weight decay, the step. pre comes from the
// residual statistics. State: [m].
struct CameStep {
  static constexpr int kStates = 1;
  static constexpr int kSums = 0;
  static constexpr bool kPre = true;
  static constexpr bool kRowCol = false;
  static constexpr bool kStoreP = true;
  static constexpr unsigned kStoreStates = 0;
  CameScalars c;

  template <class A> void operator()(A& p, A, A pre, A* s, A*, A&) const {
    A u = pre * s[0];
    p = p * A(c.decay);
    u = u * A(c.lr);
    p = p + -u;
  }
};

// row = β·row + (1 − β)·mean_c(x), col likewise, from this step's row and column sums.
template <class A, class S>
void came_statistics(const Grid& grid, S* row, S* col, const double* row_sum, const double* col_sum, double beta,
                     double one_minus_beta) {
  const std::int64_t nrow = grid.batches * grid.rows, ncol = grid.batches * grid.cols;
  for (std::int64_t j = 0; j < nrow; ++j)
    row[j] = static_cast<S>(ema(static_cast<A>(row[j]), mean_of_sum<A>(row_sum[j], grid.cols), beta, one_minus_beta));
  for (std::int64_t j = 0; j < ncol; ++j)
    col[j] = static_cast<S>(ema(static_cast<A>(col[j]), mean_of_sum<A>(col_sum[j], grid.rows), beta, one_minus_beta));
}

}  // namespace descent::kernels
