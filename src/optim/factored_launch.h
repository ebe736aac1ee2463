// src/optim/factored_launch.h (private): from tensors to kernels::run_grid, for
// Adafactor and CAME.
//
// launch_grid() dispatches on the dtype and splits the tensor into chunks whose
// boundaries depend on its shape only (never on the thread count), runs them on
// LibTorch's thread pool and combines per-chunk sums in chunk order, so the
// result is the same with any number of threads. Tensors must be contiguous
// (the callers pass contiguous copies of other layouts). Scratch memory grows to
// the largest tensor seen and is reused: after the first steps nothing is allocated.
#pragma once

#include <descent/kernels/factored.h>
#include <descent/optim/launch.h>
#include <descent/optim/state_memory.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace descent::detail {

// Memory reused from step to step: grows to n doubles, never shrinks.
inline double* grow(std::vector<double>& scratch, std::size_t n) {
  if (scratch.size() < n) scratch.resize(n);
  return scratch.data();
}

// The grid of a tensor: [prod(leading dims), size(-2), size(-1)] when factored,
// one row otherwise.
inline kernels::Grid grid_of(const torch::Tensor& p, bool factored) {
  kernels::Grid g;
  if (!factored) {
    g.batches = 1;
    g.rows = 1;
    g.cols = p.numel();
    return g;
  }
  const auto sizes = p.sizes();
  const std::size_t d = sizes.size();
  g.rows = sizes[d - 2];
  g.cols = sizes[d - 1];
  g.batches = 1;
  for (std::size_t i = 0; i + 2 < d; ++i) g.batches *= sizes[i];
  return g;
}

// A zero state buffer of the given shape in the parameter's state dtype (contiguous).
inline torch::Tensor zeros_of(const torch::Tensor& p, at::IntArrayRef sizes) {
  return zeros_state(sizes, state_dtype(p.scalar_type()));
}

// A contiguous zero state buffer shaped like the parameter: the grid kernels
// index it in row-major order whatever the parameter's own layout.
inline torch::Tensor zeros_elementwise(const torch::Tensor& p) { return zeros_of(p, p.sizes()); }

// The factored statistics of a parameter: [..., R] (rows) and [..., C] (columns).
inline torch::Tensor zeros_rows(const torch::Tensor& p) {
  const auto s = p.sizes();
  return zeros_of(p, s.slice(0, s.size() - 1));
}
inline torch::Tensor zeros_cols(const torch::Tensor& p) {
  const auto s = p.sizes();
  std::vector<std::int64_t> col(s.begin(), s.end() - 2);
  col.push_back(s.back());
  return zeros_of(p, col);
}

// Buffers loaded from a checkpoint keep the saved layout: make them row-major.
inline void make_contiguous(torch::Tensor& t) {
  if (t.defined() && !t.is_contiguous()) t = t.contiguous();
}

// Calls f(std::true_type{}) or f(std::false_type{}): a run-time flag as a
// compile-time one, to pick a rule's template instance.
template <class F> void with_bool(bool b, F&& f) {
  if (b)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// The storage dtype of a rule's narrow state slots (kernels/factored.h).
inline at::ScalarType narrow_dtype(kernels::Rounding r) {
  switch (r) {
    case kernels::Rounding::bf16: return at::kBFloat16;
    case kernels::Rounding::f16: return at::kHalf;
    default: return at::kFloat;
  }
}

inline constexpr std::int64_t kMaxGridChunks = 64;

template <class Rule>
using GridSums = std::array<double, (Rule::kSums > 0 ? Rule::kSums : 1)>;

template <class Rule, class T, class... S>
GridSums<Rule> launch_grid_typed(const Rule& rule, const kernels::Grid& grid, const torch::Tensor& p,
                                 const torch::Tensor& g, const double* rf, const double* cf, double* row_sum,
                                 double* col_sum, std::vector<double>& scratch, const S&... s) {
  using Store = typename storage_of<T>::type;
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  int k = 0;
  ((x.s[k++] = reinterpret_cast<kernels::state_t<Store>*>(s.data_ptr())), ...);
  constexpr int K = Rule::kSums > 0 ? Rule::kSums : 1;
  GridSums<Rule> out{};
  const std::int64_t n = grid.numel();
  const std::int64_t nrows = grid.batches * grid.rows;
  if (Rule::kRowCol) {
    std::fill(row_sum, row_sum + nrows, 0.0);
    std::fill(col_sum, col_sum + grid.batches * grid.cols, 0.0);
  }
  if (n == 0) return out;
  const bool threads = at::get_num_threads() > 1 && !at::in_parallel_region();
  const bool avx2 = kernels::grid_avx2_available();
  // kernels::run_grid, or its AVX2/FMA build where the CPU has it (same bits).
  auto run = [&](std::int64_t b, std::int64_t e, double* rs, double* cs, std::int64_t cb0, double* sums) {
#ifdef DESCENT_GRID_AVX2
    if (avx2) {
      kernels::run_grid_avx2(rule, x, grid, b, e, rf, cf, rs, cs, cb0, sums);
      return;
    }
#endif
    (void)avx2;
    kernels::run_grid(rule, x, grid, b, e, rf, cf, rs, cs, cb0, sums);
  };
  auto for_chunks = [&](std::int64_t chunks, const auto& body) {
    if (chunks > 1 && threads) {
      at::parallel_for(0, chunks, 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t c = b; c < e; ++c) body(c);
      });
    } else {
      for (std::int64_t c = 0; c < chunks; ++c) body(c);
    }
  };
  double partial[kMaxGridChunks][K] = {};

  if constexpr (!Rule::kRowCol) {
    // Flat chunks of at least kParallelGrain elements.
    const std::int64_t per = std::max<std::int64_t>(kParallelGrain, (n + kMaxGridChunks - 1) / kMaxGridChunks);
    const std::int64_t chunks = (n + per - 1) / per;
    for_chunks(chunks, [&](std::int64_t c) {
      run(c * per, std::min(n, (c + 1) * per), nullptr, nullptr, 0, partial[c]);
    });
    for (std::int64_t c = 0; c < chunks; ++c)
      for (int j = 0; j < K; ++j) out[j] += partial[c][j];
  } else {
    // Chunks of whole rows; each chunk sums its columns into its own slice of
    // the scratch (the batches it touches), combined in chunk order.
    const std::int64_t cols = grid.cols;
    const std::int64_t per = std::max<std::int64_t>((kParallelGrain + cols - 1) / cols,
                                                    (nrows + kMaxGridChunks - 1) / kMaxGridChunks);
    const std::int64_t chunks = (nrows + per - 1) / per;
    if (chunks == 1) {
      run(0, n, row_sum, col_sum, 0, partial[0]);
    } else {
      std::int64_t offset[kMaxGridChunks + 1];
      offset[0] = 0;
      for (std::int64_t c = 0; c < chunks; ++c) {
        const std::int64_t r0 = c * per, r1 = std::min(nrows, (c + 1) * per);
        offset[c + 1] = offset[c] + ((r1 - 1) / grid.rows - r0 / grid.rows + 1) * cols;
      }
      double* parts = grow(scratch, static_cast<std::size_t>(offset[chunks]));
      std::fill(parts, parts + offset[chunks], 0.0);
      for_chunks(chunks, [&](std::int64_t c) {
        const std::int64_t r0 = c * per, r1 = std::min(nrows, (c + 1) * per);
        run(r0 * cols, r1 * cols, row_sum, parts + offset[c], r0 / grid.rows, partial[c]);
      });
      for (std::int64_t c = 0; c < chunks; ++c) {
        const std::int64_t b0 = (c * per) / grid.rows;
        const std::int64_t len = offset[c + 1] - offset[c];
        const double* src = parts + offset[c];
        double* dst = col_sum + b0 * cols;
        for (std::int64_t j = 0; j < len; ++j) dst[j] += src[j];
      }
    }
    for (std::int64_t c = 0; c < chunks; ++c)
      for (int j = 0; j < K; ++j) out[j] += partial[c][j];
  }
  return out;
}

// Runs a grid rule over one contiguous tensor and its contiguous state buffers.
template <class Rule, class... S>
GridSums<Rule> launch_grid(const Rule& rule, const kernels::Grid& grid, const torch::Tensor& p,
                           const torch::Tensor& g, const double* rf, const double* cf, double* row_sum,
                           double* col_sum, std::vector<double>& scratch, const S&... s) {
  static_assert(sizeof...(S) == Rule::kStates, "one state tensor per rule state");
  const at::ScalarType sdt = state_dtype(p.scalar_type());
  constexpr unsigned narrow = kernels::narrow_states<Rule>::mask;
  const at::ScalarType ndt = narrow_dtype(kernels::narrow_states<Rule>::rounding);
  int k = 0;
  auto check = [&](const torch::Tensor& t) {
    const at::ScalarType want = ((narrow >> k++) & 1u) ? ndt : sdt;
    if (t.scalar_type() != want) bad_state_dtype(p.scalar_type(), t.scalar_type());
  };
  (check(s), ...);
  (void)check;
  if (!p.is_contiguous() || !g.is_contiguous() || !(s.is_contiguous() && ...))
    throw std::logic_error("descent: launch_grid needs contiguous tensors");
  switch (p.scalar_type()) {
    case at::kFloat: return launch_grid_typed<Rule, float>(rule, grid, p, g, rf, cf, row_sum, col_sum, scratch, s...);
    case at::kDouble: return launch_grid_typed<Rule, double>(rule, grid, p, g, rf, cf, row_sum, col_sum, scratch, s...);
    case at::kBFloat16:
      return launch_grid_typed<Rule, c10::BFloat16>(rule, grid, p, g, rf, cf, row_sum, col_sum, scratch, s...);
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

// Calls f.template operator()<A, S>() with the compute and state types of a
// parameter dtype (for the per-row and per-column statistics).
template <class F>
void dispatch_compute(at::ScalarType t, F&& f) {
  if (t == at::kDouble)
    f(double{}, double{});
  else
    f(float{}, float{});
}

}  // namespace descent::detail
