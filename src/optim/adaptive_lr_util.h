// Helpers private to the adaptive_lr family's optimizers (schedule-free, LAMB,
// NovoGrad, MADGRAD, Prodigy, ADOPT, AdEMAMix).
#pragma once

#include <descent/optim/launch.h>
#include <descent/optim/options.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <cmath>
#include <string>
#include <tuple>

namespace descent::adaptive_lr {

namespace detail {
template <class Rule, class T, class... S>
std::array<double, Rule::kSums> reduce_typed(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                             const S&... s) {
  using Store = typename descent::detail::storage_of<T>::type;
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  int k = 0;
  ((x.s[k++] = reinterpret_cast<kernels::state_t<Store>*>(s.data_ptr())), ...);
  (void)k;
  const std::int64_t n = p.numel();
  std::array<double, Rule::kSums> out{};
  // Chunk boundaries from the size alone: the same sums for any thread count.
  const std::int64_t chunks =
      std::max<std::int64_t>(1, std::min<std::int64_t>(kMaxReduceChunks, (n + kParallelGrain - 1) / kParallelGrain));
  if (chunks == 1) {
    kernels::run_reduce(rule, x, 0, n, out.data());
    return out;
  }
  double partial[kMaxReduceChunks][Rule::kSums] = {};
  const std::int64_t per = (n + chunks - 1) / chunks;
  at::parallel_for(0, chunks, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t c = b; c < e; ++c)
      kernels::run_reduce(rule, x, std::min(n, c * per), std::min(n, (c + 1) * per), partial[c]);
  });
  for (std::int64_t c = 0; c < chunks; ++c)
    for (int j = 0; j < Rule::kSums; ++j) out[j] += partial[c][j];
  return out;
}

template <class Rule, class... S>
std::array<double, Rule::kSums> reduce_dense(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                             const S&... s) {
  switch (p.scalar_type()) {
    case at::kFloat: return reduce_typed<Rule, float>(rule, p, g, s...);
    case at::kDouble: return reduce_typed<Rule, double>(rule, p, g, s...);
    case at::kBFloat16: return reduce_typed<Rule, c10::BFloat16>(rule, p, g, s...);
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}
}  // namespace detail

// An update-and-sum rule (kernels::run_reduce) over one tensor, its gradient
// and states, like launch_reduce() but with sums that do not depend on the
// thread count (fixed chunks, added in order), and for any layout: dense
// tensors run in place, others on contiguous copies that are written back
// (allocates, as launch() does for such tensors).
template <class Rule, class... S>
std::array<double, Rule::kSums> reduce(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                       const S&... s) {
  static_assert(sizeof...(S) == Rule::kStates, "one state tensor per rule state");
  const at::ScalarType sdt = state_dtype(p.scalar_type());
  if (((s.scalar_type() != sdt) || ...)) throw std::invalid_argument("descent: state dtype does not match the parameter");
  if (p.is_contiguous() && g.is_contiguous() && (s.is_contiguous() && ...)) return detail::reduce_dense(rule, p, g, s...);
  torch::Tensor pc = p.contiguous();
  const torch::Tensor gc = g.contiguous();
  std::array<torch::Tensor, sizeof...(S)> sc{s.contiguous()...};
  auto out = std::apply([&](auto&... c) { return detail::reduce_dense(rule, pc, gc, c...); }, sc);
  if (!pc.is_same(p)) p.copy_(pc);
  const torch::Tensor* orig[] = {&s..., nullptr};
  for (std::size_t k = 0; k < sizeof...(S); ++k)
    if (!sc[k].is_same(*orig[k])) orig[k]->copy_(sc[k]);
  return out;
}

// Python's max(a, b) and min(a, b): the first argument unless the second
// compares greater (less); NaN never does.
inline double py_max(double a, double b) { return b > a ? b : a; }
inline double py_min(double a, double b) { return b < a ? b : a; }

// A value rounded as a 0-d tensor of the parameter's dtype holds it: float32
// for float32 (and, in descent, bfloat16) parameters, double for double ones.
inline bool single_precision(const torch::Tensor& p) { return p.scalar_type() != at::kDouble; }
inline double round_to(double x, bool single) { return single ? static_cast<double>(static_cast<float>(x)) : x; }

}  // namespace descent::adaptive_lr
