// src/optim/fixed_reduce.h: per-tensor sums that do not depend on the thread
// count (used by adan, lars, lion_kappa, sgd_sai).
//
// launch_reduce() splits a tensor into one chunk per thread, so its sums (and
// any step computed from them) change in the last bit with
// torch::set_num_threads. reduce_fixed() runs the same kernels::run_reduce over
// chunks whose boundaries depend on the tensor's size only, in parallel, and
// adds the chunk sums in chunk order: the same bits for any thread count.
// Only for read-only rules (the rule may not change p or its states; they are
// written back unchanged).
#pragma once

#include <descent/optim/launch.h>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

namespace descent::detail {

template <class Rule, class T, class... S>
std::array<double, Rule::kSums> reduce_fixed_typed(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                                    const S&... s) {
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
  at::parallel_for(0, chunks, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t c = b; c < e; ++c)
      kernels::run_reduce(rule, x, std::min(n, c * per), std::min(n, (c + 1) * per), partial[c]);
  });
  for (std::int64_t c = 0; c < chunks; ++c)
    for (int j = 0; j < Rule::kSums; ++j) out[j] += partial[c][j];
  return out;
}

template <class Rule, class... S>
std::array<double, Rule::kSums> reduce_fixed(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                             const S&... s) {
  static_assert(sizeof...(S) == Rule::kStates, "one state tensor per rule state");
  if (!(p.is_contiguous() && g.is_contiguous() && (s.is_contiguous() && ...)))
    return reduce_fixed(rule, p.contiguous(), g.contiguous(), s.contiguous()...);  // copies: read only
  switch (p.scalar_type()) {
    case at::kFloat: return reduce_fixed_typed<Rule, float>(rule, p, g, s...);
    case at::kDouble: return reduce_fixed_typed<Rule, double>(rule, p, g, s...);
    case at::kBFloat16: return reduce_fixed_typed<Rule, c10::BFloat16>(rule, p, g, s...);
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

}  // namespace descent::detail
