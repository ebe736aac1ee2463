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
#include <descent/optim/launch_batch.h>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>

#include <cstdint>
#include <stdexcept>
#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>

namespace descent {

// The dtype optimizer state is kept in for a parameter dtype: float64 for
// float64, float32 for float32 and bfloat16.
inline at::ScalarType state_dtype(at::ScalarType param) {
  return param == at::kDouble ? at::kDouble : at::kFloat;
}

// A zero state buffer shaped (and strided) like `param`, in its state dtype.
at::Tensor zeros_state(const at::Tensor& param);
// The same, filled with `value`.
at::Tensor full_state(const at::Tensor& param, double value);

// Elements per task when a tensor is split over threads: below this a tensor is
// updated by the calling thread alone (thread start-up would cost more).
inline constexpr std::int64_t kParallelGrain = 1 << 15;

// Runs f(b, e) over [0, n): split over LibTorch's threads in tasks of at least
// kParallelGrain elements, or all of it on the calling thread when n is below
// two tasks, one thread is configured, or this already runs in a parallel region.
template <class F> void parallel_elements(std::int64_t n, const F& f) {
  if (n < 2 * kParallelGrain || at::get_num_threads() == 1 || at::in_parallel_region()) f(std::int64_t{0}, n);
  else at::parallel_for(0, n, kParallelGrain, f);
}

namespace detail {

template <class T> struct storage_of { using type = T; };
template <> struct storage_of<c10::BFloat16> { using type = kernels::bf16; };

// How this step writes a bfloat16 parameter back (its group's bf16_mode): a
// float32 master copy to update, or stochastic rounding with a stream seed.
// Looked up by the optimizer that is stepping (optimizer.cpp) from the
// parameter's state; empty (round to nearest) outside a step and for
// float32/float64 parameters.
struct ParamWrite {
  const at::Tensor* master = nullptr;
  bool stochastic = false;
  std::uint32_t seed = 0;
};
ParamWrite param_write_for(const at::Tensor& param);

template <class Store>
void set_param_write(kernels::Span<Store>& x, const ParamWrite& w) {
  if constexpr (std::is_same_v<Store, kernels::bf16>) {
    x.master = w.master != nullptr ? static_cast<float*>(w.master->data_ptr()) : nullptr;
    x.stochastic = w.stochastic;
    x.seed = w.seed;
  }
}

template <class Rule, class Store>
void run_task(const void* rule, const void* span, std::int64_t b, std::int64_t e) {
  kernels::run(*static_cast<const Rule*>(rule), *static_cast<const kernels::Span<Store>*>(span), b, e);
}

// `deferrable`: p, g and the states are the caller's own tensors (not
// temporary copies), so the work may be queued on the stepping optimizer's
// LaunchBatch (launch_batch.h) and run with the step's other tensors.
template <class Rule, class T, class... S>
void launch_typed(const Rule& rule, const ParamWrite& w, bool deferrable, const at::Tensor& p,
                  const at::Tensor& g, const S&... s) {
  using Store = typename storage_of<T>::type;
  static_assert(sizeof(Store) == sizeof(T), "bf16 layout");
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  int k = 0;
  ((x.s[k++] = reinterpret_cast<kernels::state_t<Store>*>(s.data_ptr())), ...);
  set_param_write(x, w);
  const std::int64_t n = p.numel();
  if constexpr (std::is_trivially_copyable_v<Rule>) {
    if (LaunchBatch* batch = deferrable ? current_batch() : nullptr) {
      batch->add(&run_task<Rule, Store>, rule, x, n);
      return;
    }
  }
  parallel_elements(n, [&](std::int64_t b, std::int64_t e) { kernels::run(rule, x, b, e); });
}

inline bool same_layout(const at::Tensor& a, const at::Tensor& b) { return a.strides().equals(b.strides()); }

[[noreturn]] void bad_state_dtype(at::ScalarType param, at::ScalarType state);

}  // namespace detail

namespace detail {
template <class Rule, class... S>
void launch_dense(const Rule& rule, const ParamWrite& w, bool deferrable, const at::Tensor& p,
                  const at::Tensor& g, const S&... s) {
  switch (p.scalar_type()) {
    case at::kFloat: launch_typed<Rule, float>(rule, w, deferrable, p, g, s...); break;
    case at::kDouble: launch_typed<Rule, double>(rule, w, deferrable, p, g, s...); break;
    case at::kBFloat16: launch_typed<Rule, c10::BFloat16>(rule, w, deferrable, p, g, s...); break;
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

// Contiguous copies of a master copy (when there is one) for the copies path.
struct MasterCopy {
  at::Tensor copy;
  ParamWrite write;
  MasterCopy(const ParamWrite& w) : write(w) {
    if (w.master != nullptr) {
      copy = w.master->contiguous();
      write.master = &copy;
    }
  }
  void write_back(const ParamWrite& w) const {
    if (w.master != nullptr && !copy.is_same(*w.master)) w.master->copy_(copy);
  }
};

template <class Rule, std::size_t... I, class... S>
void launch_on_copies(const Rule& rule, const ParamWrite& w, const at::Tensor& p, const at::Tensor& g,
                      std::index_sequence<I...>, const S&... s) {
  at::Tensor pc = p.contiguous();
  std::array<at::Tensor, sizeof...(S)> sc{s.contiguous()...};
  const MasterCopy mc(w);
  launch_dense(rule, mc.write, false, pc, g.contiguous(), sc[I]...);
  if (!pc.is_same(p)) p.copy_(pc);
  const at::Tensor* orig[] = {&s..., nullptr};
  for (std::size_t k = 0; k < sizeof...(S); ++k)
    if (!sc[k].is_same(*orig[k])) orig[k]->copy_(sc[k]);
  mc.write_back(w);
}

inline ParamWrite param_write(const at::Tensor& p) {
  return p.scalar_type() == at::kBFloat16 ? param_write_for(p) : ParamWrite{};
}
}  // namespace detail

template <class Rule, class... S>
void launch(const Rule& rule, const at::Tensor& p, const at::Tensor& g, const S&... s) {
  static_assert(sizeof...(S) == Rule::kStates, "one state tensor per rule state");
  const at::ScalarType sdt = state_dtype(p.scalar_type());
  (void)sdt;
  ((s.scalar_type() == sdt ? void() : detail::bad_state_dtype(p.scalar_type(), s.scalar_type())), ...);
  const detail::ParamWrite w = detail::param_write(p);
  const bool direct = p.is_non_overlapping_and_dense() && detail::same_layout(p, g) &&
                      (detail::same_layout(p, s) && ...) &&
                      (w.master == nullptr || detail::same_layout(p, *w.master));
  if (!direct) {
    // Views, transposes, overlapping strides: work on contiguous copies.
    detail::launch_on_copies(rule, w, p, g, std::index_sequence_for<S...>{}, s...);
    return;
  }
  detail::launch_dense(rule, w, true, p, g, s...);
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
std::array<double, Rule::kSums> launch_reduce_typed(const Rule& rule, const ParamWrite& w, const at::Tensor& p,
                                                     const at::Tensor& g, const S&... s) {
  using Store = typename storage_of<T>::type;
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  int k = 0;
  ((x.s[k++] = reinterpret_cast<kernels::state_t<Store>*>(s.data_ptr())), ...);
  (void)k;
  set_param_write(x, w);
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
std::array<double, Rule::kSums> launch_reduce_dense(const Rule& rule, const ParamWrite& w, const at::Tensor& p,
                                                     const at::Tensor& g, const S&... s) {
  switch (p.scalar_type()) {
    case at::kFloat: return launch_reduce_typed<Rule, float>(rule, w, p, g, s...);
    case at::kDouble: return launch_reduce_typed<Rule, double>(rule, w, p, g, s...);
    case at::kBFloat16: return launch_reduce_typed<Rule, c10::BFloat16>(rule, w, p, g, s...);
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

template <class Rule, std::size_t... I, class... S>
std::array<double, Rule::kSums> launch_reduce_on_copies(const Rule& rule, const ParamWrite& w, const at::Tensor& p,
                                                         const at::Tensor& g, std::index_sequence<I...>,
                                                         const S&... s) {
  at::Tensor pc = p.contiguous();
  std::array<at::Tensor, sizeof...(S)> sc{s.contiguous()...};
  const MasterCopy mc(w);
  auto out = launch_reduce_dense(rule, mc.write, pc, g.contiguous(), sc[I]...);
  if (!pc.is_same(p)) p.copy_(pc);
  const at::Tensor* orig[] = {&s..., nullptr};
  for (std::size_t k = 0; k < sizeof...(S); ++k)
    if (!sc[k].is_same(*orig[k])) orig[k]->copy_(sc[k]);
  mc.write_back(w);
  return out;
}
}  // namespace detail

template <class Rule, class... S>
std::array<double, Rule::kSums> launch_reduce(const Rule& rule, const at::Tensor& p, const at::Tensor& g,
                                              const S&... s) {
  static_assert(sizeof...(S) == Rule::kStates, "one state tensor per rule state");
  const at::ScalarType sdt = state_dtype(p.scalar_type());
  (void)sdt;
  ((s.scalar_type() == sdt ? void() : detail::bad_state_dtype(p.scalar_type(), s.scalar_type())), ...);
  const detail::ParamWrite w = detail::param_write(p);
  if (p.is_contiguous() && g.is_contiguous() && (s.is_contiguous() && ...) &&
      (w.master == nullptr || w.master->is_contiguous()))
    return detail::launch_reduce_dense(rule, w, p, g, s...);
  return detail::launch_reduce_on_copies(rule, w, p, g, std::index_sequence_for<S...>{}, s...);
}

}  // namespace descent
