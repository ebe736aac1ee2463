// descent/optim/launch.h: from tensors to kernel calls.
//
// launch() runs an elementwise rule (see kernels/elementwise.h) over one
// parameter, its gradient and its state buffers: it checks that they share one
// dense memory layout (then the kernel walks raw memory directly; otherwise it
// works on contiguous copies and writes them back), dispatches on the dtype and
// splits large tensors over LibTorch's thread pool, so torch::set_num_threads
// governs descent too. On the direct path it allocates nothing.
#pragma once

#include <descent/kernels/elementwise.h>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>

#include <cstdint>
#include <stdexcept>
#include <algorithm>
#include <array>
#include <utility>

namespace descent {

// The dtype optimizer state is kept in for a parameter dtype: float64 for
// float64, float32 for float32 and bfloat16.
inline at::ScalarType state_dtype(at::ScalarType param) {
  return param == at::kDouble ? at::kDouble : at::kFloat;
}

// A zero state buffer shaped (and strided) like `param`, in its state dtype.
torch::Tensor zeros_state(const torch::Tensor& param);
// The same, filled with `value`.
torch::Tensor full_state(const torch::Tensor& param, double value);

// Elements per task when a tensor is split over threads: below this a tensor is
// updated by the calling thread alone (thread start-up would cost more).
inline constexpr std::int64_t kParallelGrain = 1 << 15;

namespace detail {

template <class T> struct storage_of { using type = T; };
template <> struct storage_of<c10::BFloat16> { using type = kernels::bf16; };

template <class Rule, class T, class... S>
void launch_typed(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g, const S&... s) {
  using Store = typename storage_of<T>::type;
  static_assert(sizeof(Store) == sizeof(T), "bf16 layout");
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  int k = 0;
  ((x.s[k++] = reinterpret_cast<kernels::state_t<Store>*>(s.data_ptr())), ...);
  const std::int64_t n = p.numel();
  if (n < 2 * kParallelGrain || at::get_num_threads() == 1 || at::in_parallel_region()) {
    kernels::run(rule, x, 0, n);
  } else {
    at::parallel_for(0, n, kParallelGrain, [&](std::int64_t b, std::int64_t e) { kernels::run(rule, x, b, e); });
  }
}

inline bool same_layout(const torch::Tensor& a, const torch::Tensor& b) { return a.strides().equals(b.strides()); }

[[noreturn]] void bad_state_dtype(at::ScalarType param, at::ScalarType state);

}  // namespace detail

template <class Rule, class... S>
void launch(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g, const S&... s);

namespace detail {
template <class Rule, std::size_t... I, class... S>
void launch_on_copies(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                      std::index_sequence<I...>, const S&... s) {
  torch::Tensor pc = p.contiguous();
  std::array<torch::Tensor, sizeof...(S)> sc{s.contiguous()...};
  launch(rule, pc, g.contiguous(), sc[I]...);
  if (!pc.is_same(p)) p.copy_(pc);
  const torch::Tensor* orig[] = {&s..., nullptr};
  for (std::size_t k = 0; k < sizeof...(S); ++k)
    if (!sc[k].is_same(*orig[k])) orig[k]->copy_(sc[k]);
}
}  // namespace detail

template <class Rule, class... S>
void launch(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g, const S&... s) {
  static_assert(sizeof...(S) == Rule::kStates, "one state tensor per rule state");
  const at::ScalarType sdt = state_dtype(p.scalar_type());
  (void)sdt;
  ((s.scalar_type() == sdt ? void() : detail::bad_state_dtype(p.scalar_type(), s.scalar_type())), ...);
  const bool direct = p.is_non_overlapping_and_dense() && detail::same_layout(p, g) &&
                      (detail::same_layout(p, s) && ...);
  if (!direct) {
    // Views, transposes, overlapping strides: work on contiguous copies.
    detail::launch_on_copies(rule, p, g, std::index_sequence_for<S...>{}, s...);
    return;
  }
  switch (p.scalar_type()) {
    case at::kFloat: detail::launch_typed<Rule, float>(rule, p, g, s...); break;
    case at::kDouble: detail::launch_typed<Rule, double>(rule, p, g, s...); break;
    case at::kBFloat16: detail::launch_typed<Rule, c10::BFloat16>(rule, p, g, s...); break;
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

// ---- update-and-reduce rules (kernels::run_reduce) -------------------------------
//
// launch_reduce() runs a rule with kSums over one tensor and returns the sums
// over the whole tensor. The tensor is cut into chunks whose boundaries depend
// on its size only, the chunks run in parallel and their sums are added in
// chunk order: the result is the same, bit for bit, for any thread count.
// Dense tensors run in place; others on contiguous copies written back (which
// allocates, as launch() does for such tensors).
inline constexpr int kMaxReduceChunks = 64;

namespace detail {
template <class Rule, class T, class... S>
std::array<double, Rule::kSums> launch_reduce_typed(const Rule& rule, const torch::Tensor& p,
                                                     const torch::Tensor& g, const S&... s) {
  using Store = typename storage_of<T>::type;
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  int k = 0;
  ((x.s[k++] = reinterpret_cast<kernels::state_t<Store>*>(s.data_ptr())), ...);
  (void)k;
  const std::int64_t n = p.numel();
  std::array<double, Rule::kSums> out{};
  const std::int64_t chunks =
      std::max<std::int64_t>(1, std::min<std::int64_t>(kMaxReduceChunks, (n + kParallelGrain - 1) / kParallelGrain));
  if (chunks == 1) {
    kernels::run_reduce(rule, x, 0, n, out.data());
    return out;
  }
  double partial[kMaxReduceChunks][Rule::kSums] = {};
  const std::int64_t per = (n + chunks - 1) / chunks;
  const auto body = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t c = b; c < e; ++c)
      kernels::run_reduce(rule, x, std::min(n, c * per), std::min(n, (c + 1) * per), partial[c]);
  };
  if (at::in_parallel_region()) body(0, chunks);
  else at::parallel_for(0, chunks, 1, body);
  for (std::int64_t c = 0; c < chunks; ++c)
    for (int j = 0; j < Rule::kSums; ++j) out[j] += partial[c][j];
  return out;
}

template <class Rule, class... S>
std::array<double, Rule::kSums> launch_reduce_dense(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                                     const S&... s) {
  switch (p.scalar_type()) {
    case at::kFloat: return launch_reduce_typed<Rule, float>(rule, p, g, s...);
    case at::kDouble: return launch_reduce_typed<Rule, double>(rule, p, g, s...);
    case at::kBFloat16: return launch_reduce_typed<Rule, c10::BFloat16>(rule, p, g, s...);
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

template <class Rule, std::size_t... I, class... S>
std::array<double, Rule::kSums> launch_reduce_on_copies(const Rule& rule, const torch::Tensor& p,
                                                         const torch::Tensor& g, std::index_sequence<I...>,
                                                         const S&... s) {
  torch::Tensor pc = p.contiguous();
  std::array<torch::Tensor, sizeof...(S)> sc{s.contiguous()...};
  auto out = launch_reduce_dense(rule, pc, g.contiguous(), sc[I]...);
  if (!pc.is_same(p)) p.copy_(pc);
  const torch::Tensor* orig[] = {&s..., nullptr};
  for (std::size_t k = 0; k < sizeof...(S); ++k)
    if (!sc[k].is_same(*orig[k])) orig[k]->copy_(sc[k]);
  return out;
}
}  // namespace detail

template <class Rule, class... S>
std::array<double, Rule::kSums> launch_reduce(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                              const S&... s) {
  static_assert(sizeof...(S) == Rule::kStates, "one state tensor per rule state");
  const at::ScalarType sdt = state_dtype(p.scalar_type());
  (void)sdt;
  ((s.scalar_type() == sdt ? void() : detail::bad_state_dtype(p.scalar_type(), s.scalar_type())), ...);
  if (p.is_contiguous() && g.is_contiguous() && (s.is_contiguous() && ...))
    return detail::launch_reduce_dense(rule, p, g, s...);
  return detail::launch_reduce_on_copies(rule, p, g, std::index_sequence_for<S...>{}, s...);
}

}  // namespace descent
