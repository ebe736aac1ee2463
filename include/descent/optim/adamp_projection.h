// descent/optim/adamp_projection.h: the update of AdamP and SGDP with their
// scale-invariance projection (see kernels/adamp.h for the math), written once
// for both.
//
// For a parameter with more than one dimension:
//  1. one pass over p and the raw g gives per-row Σ g·p, Σ g², Σ p² (RowDots);
//     the channel test uses them per row, the layer test their totals;
//  2. no view fires: one fused pass (DirectionStep), as for 1-d parameters;
//  3. a view fires: pass 1 advances the state and sums p̂·d per row of that view
//     (ProjectionTerms), pass 2 recomputes d from the new state, removes the
//     radial component and steps (ProjectedStep).
// Sums run through kernels::run_reduce in blocks of kProjectionBlock elements
// (float lanes of at most 128 terms, combined in double); long rows are split in
// chunks fixed by the row length alone, so results do not depend on the thread
// count. Per-row scratch lives in a vector the optimizer keeps, so a step
// allocates nothing once it has grown. Non-contiguous tensors are updated
// through contiguous copies.
#pragma once

#include <descent/kernels/adamp.h>
#include <descent/optim/launch.h>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace descent::detail {

struct ProjectionSettings {
  double delta = 0.1;           // threshold: cos < delta / sqrt(row length)
  double eps = 1e-8;            // cosine_similarity's eps and the norm's + eps
  double decay = 1;             // p factor when no view fires
  double decay_projected = 1;   // p factor when one does (weight decay × wd_ratio)
  double neg_step = 0;          // p = p + neg_step·d
};

inline constexpr std::int64_t kProjectionBlock = 1024;

inline bool projection_parallel() { return at::get_num_threads() > 1 && !at::in_parallel_region(); }

// out[r·K + k] = sum over row r (elements [r·cols, (r+1)·cols)) of make(r)'s term k.
template <class Make, class Store>
void rows_reduce(const Make& make, const kernels::Span<Store>& x, std::int64_t rows, std::int64_t cols, double* out) {
  using Rule = decltype(make(std::int64_t{0}));
  constexpr int K = Rule::kSums;
  std::fill(out, out + rows * K, 0.0);
  auto block_sums = [&](const Rule& rule, std::int64_t b, std::int64_t e, double* sums) {
    for (std::int64_t i = b; i < e; i += kProjectionBlock)
      kernels::run_reduce(rule, x, i, std::min(e, i + kProjectionBlock), sums);
  };
  const bool par = projection_parallel();
  const std::int64_t chunks = std::clamp<std::int64_t>(cols / kParallelGrain, 1, kMaxReduceChunks);
  if (chunks > 1) {
    const std::int64_t per = (cols + chunks - 1) / chunks;
    for (std::int64_t r = 0; r < rows; ++r) {
      const Rule rule = make(r);
      double partial[kMaxReduceChunks][K] = {};
      auto body = [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t c = b; c < e; ++c)
          block_sums(rule, r * cols + std::min(cols, c * per), r * cols + std::min(cols, (c + 1) * per), partial[c]);
      };
      if (par) {
        at::parallel_for(0, chunks, 1, body);
      } else {
        body(0, chunks);
      }
      for (std::int64_t c = 0; c < chunks; ++c)
        for (int k = 0; k < K; ++k) out[r * K + k] += partial[c][k];
    }
    return;
  }
  auto body = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) block_sums(make(r), r * cols, (r + 1) * cols, out + r * K);
  };
  if (par && rows > 1 && rows * cols >= 2 * kParallelGrain) {
    at::parallel_for(0, rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(cols, 1)), body);
  } else {
    body(0, rows);
  }
}

// Runs make(r) over every row r.
template <class Make, class Store>
void rows_apply(const Make& make, const kernels::Span<Store>& x, std::int64_t rows, std::int64_t cols) {
  const bool par = projection_parallel();
  if (par && cols >= 2 * kParallelGrain) {
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto rule = make(r);
      at::parallel_for(r * cols, (r + 1) * cols, kParallelGrain,
                       [&](std::int64_t b, std::int64_t e) { kernels::run(rule, x, b, e); });
    }
    return;
  }
  auto body = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) kernels::run(make(r), x, r * cols, (r + 1) * cols);
  };
  if (par && rows > 1 && rows * cols >= 2 * kParallelGrain) {
    at::parallel_for(0, rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(cols, 1)), body);
  } else {
    body(0, rows);
  }
}

// |F.cosine_similarity| of one row from its sums (torch ≥ 1.12: each norm clamped to eps).
inline double projection_cosine(double gp, double gg, double pp, double eps) {
  return std::abs(gp / (std::max(std::sqrt(gg), eps) * std::max(std::sqrt(pp), eps)));
}

template <class D, class T, class... S>
void projected_update_typed(const D& dir, const ProjectionSettings& ps, const at::Tensor& p, const at::Tensor& g,
                            std::vector<double>& scratch, const S&... s) {
  using Store = typename storage_of<T>::type;
  using A = kernels::compute_t<Store>;
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  int k = 0;
  ((x.s[k++] = reinterpret_cast<kernels::state_t<Store>*>(s.data_ptr())), ...);
  (void)k;

  const std::int64_t n = p.numel();
  const std::int64_t rows = p.size(0);
  const std::int64_t cols = n / rows;
  const std::size_t need = static_cast<std::size_t>(5 * rows + 2);
  if (scratch.size() < need) scratch.resize(need);
  double* dots = scratch.data();                // 3 per row: Σ g·p, Σ g², Σ p²
  double* norm_eps = dots + 3 * rows;           // per row of the view that fires
  double* radial = norm_eps + rows + 1;         // likewise

  rows_reduce([](std::int64_t) { return kernels::RowDots{}; }, x, rows, cols, dots);

  // Channel view first, then the layer view; the first that fires wins.
  std::int64_t vrows = 0, vcols = 0;
  double cmax = 0;
  bool nan = false;
  for (std::int64_t r = 0; r < rows; ++r) {
    const double c = projection_cosine(dots[3 * r], dots[3 * r + 1], dots[3 * r + 2], ps.eps);
    nan = nan || c != c;
    cmax = std::max(cmax, c);
  }
  if (!nan && cmax < ps.delta / std::sqrt(static_cast<double>(cols))) {
    vrows = rows;
    vcols = cols;
    for (std::int64_t r = 0; r < rows; ++r) norm_eps[r] = dots[3 * r + 2];
  } else {
    double gp = 0, gg = 0, pp = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      gp += dots[3 * r];
      gg += dots[3 * r + 1];
      pp += dots[3 * r + 2];
    }
    if (projection_cosine(gp, gg, pp, ps.eps) < ps.delta / std::sqrt(static_cast<double>(n))) {
      vrows = 1;
      vcols = n;
      norm_eps[0] = pp;
    }
  }

  if (vrows == 0) {
    kernels::DirectionStep<D> step;
    step.dir = dir;
    step.decay = ps.decay;
    step.neg_step = ps.neg_step;
    rows_apply([&](std::int64_t) { return step; }, x, 1, n);
    return;
  }
  // ‖p_row‖ + eps, rounded as the reference's norm tensor (compute type).
  for (std::int64_t r = 0; r < vrows; ++r)
    norm_eps[r] = static_cast<double>(static_cast<A>(static_cast<A>(std::sqrt(norm_eps[r])) + static_cast<A>(ps.eps)));
  rows_reduce(
      [&](std::int64_t r) {
        kernels::ProjectionTerms<D> t;
        t.dir = dir;
        t.norm_eps = norm_eps[r];
        return t;
      },
      x, vrows, vcols, radial);
  rows_apply(
      [&](std::int64_t r) {
        kernels::ProjectedStep<D> t;
        t.dir = dir;
        t.norm_eps = norm_eps[r];
        t.radial = static_cast<double>(static_cast<A>(radial[r]));
        t.decay = ps.decay_projected;
        t.neg_step = ps.neg_step;
        return t;
      },
      x, vrows, vcols);
}

// The AdamP / SGDP update of one parameter: direction `dir`, states `s...`.
template <class D, class... S>
void projected_update(const D& dir, const ProjectionSettings& ps, const at::Tensor& p, const at::Tensor& g,
                      std::vector<double>& scratch, const S&... s) {
  static_assert(sizeof...(S) == D::kStates, "one state tensor per direction state");
  if (p.dim() <= 1 || p.numel() == 0) {  // never projected
    kernels::DirectionStep<D> step;
    step.dir = dir;
    step.decay = ps.decay;
    step.neg_step = ps.neg_step;
    launch(step, p, g, s...);
    return;
  }
  const at::ScalarType sdt = state_dtype(p.scalar_type());
  ((s.scalar_type() == sdt ? void() : bad_state_dtype(p.scalar_type(), s.scalar_type())), ...);
  if (!(p.is_contiguous() && g.is_contiguous() && (s.is_contiguous() && ...))) {
    at::Tensor pc = p.contiguous();
    std::array<at::Tensor, sizeof...(S)> sc{s.contiguous()...};
    std::apply([&](const auto&... c) { projected_update(dir, ps, pc, g.contiguous(), scratch, c...); }, sc);
    if (!pc.is_same(p)) p.copy_(pc);
    const at::Tensor* orig[] = {&s...};
    for (std::size_t i = 0; i < sizeof...(S); ++i)
      if (!sc[i].is_same(*orig[i])) orig[i]->copy_(sc[i]);
    return;
  }
  switch (p.scalar_type()) {
    case at::kFloat: projected_update_typed<D, float>(dir, ps, p, g, scratch, s...); break;
    case at::kDouble: projected_update_typed<D, double>(dir, ps, p, g, scratch, s...); break;
    case at::kBFloat16: projected_update_typed<D, c10::BFloat16>(dir, ps, p, g, scratch, s...); break;
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

}  // namespace descent::detail
