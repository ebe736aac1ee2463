// descent/kernels/elementwise.h: the one driver every elementwise update runs on.
//
// An update rule is a small struct: its hyperparameters and the per-step scalars
// computed once outside the loop (bias corrections, step sizes), a constant
// kStates (how many state buffers it reads and writes), and an element update
//
//     template <class A> void operator()(A& p, A g, A* s) const;   // s[0..kStates)
//
// applied to every element in one pass: parameter, gradient and state are each
// loaded once, updated in registers and stored once. A rule that only reads
// some of them says so, and those are not stored (a store of an unchanged value
// still moves the cache line back to memory: MADGRAD's x0 is 4 of its 36 bytes):
//
//     static constexpr unsigned kStoreStates = 0b01;  // bit k: s[k] is written back (default: all)
//     static constexpr bool kStoreP = false;          // p is not written back (default: written)
//
// The scalar path (which the kernel tests hold the vector path to) checks that
// a rule leaves what it does not store unchanged. A is the compute type
// (float, or double for double tensors). The driver loads storage types
// (bfloat16, float, double), converts to A, calls the rule and stores back.
//
// Two paths run the same rule:
//  * Path::vector: the loop GCC vectorises (-O3 -fno-math-errno; `ivdep` tells it
//    the buffers do not alias, which the optimizer layer guarantees);
//  * Path::scalar: one element at a time, kept scalar by a compiler barrier. The
//    kernel tests hold the vector path to the scalar one, bit for bit.
//
// Instruction sets: the library is built for the distribution's baseline
// (x86-64: SSE2), and the vector path is compiled a second time for AVX2 and
// picked at run time when the CPU has it (detail::use_avx2, as ATen's CPU
// capability dispatch); bfloat16 parameters get only that clone (without AVX2
// they take the scalar path: kBaselineVectorFor). Even a memory-bound loop
// gains from wider vectors (fewer instructions per line, more loads in flight). The clone
// is compiled for AVX2 and FMA, but -ffp-contract=off keeps every a·b + c two
// roundings, so both clones and the scalar path give the same bits. A rule
// that wants fused multiply-adds has a form for CPUs with FMA, picked at
// launch (kernels/fma.h: MADGRAD's cube root, diffGrad's exp), in which the
// AVX2 clone runs them on the FMA unit and the other paths call fmaf: all
// paths still agree.
#pragma once

#include <descent/kernels/bit_cast.h>
#include <descent/kernels/fma.h>
#include <descent/kernels/scalar_types.h>
#include <descent/kernels/stochastic_rounding.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <type_traits>

namespace descent::kernels {

enum class Path { vector, scalar };

inline constexpr int kMaxStates = 6;

// Raw pointers of one tensor's data: parameter, gradient, state buffers.
template <class T>
struct Span {
  T* p = nullptr;
  const T* g = nullptr;
  state_t<T>* s[kMaxStates] = {};
  // Mixed precision, bfloat16 parameters only (the bf16_mode option):
  //  master: a float32 master copy; the rule reads and updates it, and p
  //          receives its rounding to nearest;
  //  stochastic: p receives the update rounded stochastically, with random
  //          bits from (seed, element index) (kernels/stochastic_rounding.h).
  state_t<T>* master = nullptr;
  bool stochastic = false;
  std::uint32_t seed = 0;
};

// How the parameter is read and written: the compile-time form of a Span's
// mixed-precision fields.
enum class ParamIO { direct, master, stochastic };

namespace detail {
template <ParamIO M, class T>
inline compute_t<T> read_param(const T* p, const state_t<T>* master, std::int64_t i) {
  if constexpr (M == ParamIO::master) return static_cast<compute_t<T>>(master[i]);
  else return load(p, i);
}

template <ParamIO M, class T>
inline void write_param(T* p, state_t<T>* master, std::uint32_t seed, std::int64_t i, compute_t<T> x) {
  if constexpr (M == ParamIO::master) {
    master[i] = static_cast<state_t<T>>(x);
    store(p, i, x);
  } else if constexpr (M == ParamIO::stochastic && std::is_same_v<T, bf16>) {
    p[i] = to_bf16_stochastic(x, random16(seed, i));
  } else {
    store(p, i, x);
  }
}

// Calls f(std::integral_constant<ParamIO, M>{}) for the Span's mode (always
// direct for float32 and float64 parameters).
template <class T, class F>
inline void with_param_io(const Span<T>& x, F&& f) {
  if constexpr (std::is_same_v<T, bf16>) {
    if (x.master != nullptr) return f(std::integral_constant<ParamIO, ParamIO::master>{});
    if (x.stochastic) return f(std::integral_constant<ParamIO, ParamIO::stochastic>{});
  }
  f(std::integral_constant<ParamIO, ParamIO::direct>{});
}
}  // namespace detail

namespace detail {
// The optional kStoreStates / kStoreP of a rule (see the top of this file).
template <class Rule, class = void> struct StoreStates { static constexpr unsigned value = ~0u; };
template <class Rule> struct StoreStates<Rule, std::void_t<decltype(Rule::kStoreStates)>> {
  static constexpr unsigned value = Rule::kStoreStates;
};
template <class Rule, class = void> struct StoreP { static constexpr bool value = true; };
template <class Rule> struct StoreP<Rule, std::void_t<decltype(Rule::kStoreP)>> {
  static constexpr bool value = Rule::kStoreP;
};
template <class Rule> inline constexpr bool stores_state(int k) { return ((StoreStates<Rule>::value >> k) & 1u) != 0; }

// The scalar path's check that a rule changed nothing it does not store: a
// rule bug (its kStoreStates or kStoreP is wrong), so it stops the program.
[[noreturn]] inline void unstored_value_changed(const char* what) {
  std::fprintf(stderr, "descent: an update rule changed %s, which its kStoreStates/kStoreP say it only reads\n", what);
  std::abort();
}
template <class Rule, class A>
inline void check_unstored(A p_before, A p_after, const A* st_before, const A* st_after) {
  if constexpr (!StoreP<Rule>::value)
    if (!same_bits(p_before, p_after)) unstored_value_changed("the parameter");
  for (int k = 0; k < Rule::kStates; ++k)
    if (!stores_state<Rule>(k) && !same_bits(st_before[k], st_after[k])) unstored_value_changed("a state");
}

// Loads one element's parameter and state, runs `call` (the rule) on them and
// stores back what the rule stores. Checked: the scalar path's check above.
template <ParamIO M, bool Checked, class Rule, class T, class Call>
inline void apply_element(T* __restrict p, state_t<T>* const* s, state_t<T>* __restrict master, std::uint32_t seed,
                          std::int64_t i, Call&& call) {
  using A = compute_t<T>;
  using S = state_t<T>;
  constexpr int n = Rule::kStates;
  A x = read_param<M>(p, master, i);
  A st[n > 0 ? n : 1];
  for (int k = 0; k < n; ++k) st[k] = static_cast<A>(s[k][i]);
  if constexpr (Checked) {
    const A x0 = x;
    A st0[n > 0 ? n : 1];
    for (int k = 0; k < n; ++k) st0[k] = st[k];
    call(x, st);
    check_unstored<Rule>(x0, x, st0, st);
  } else {
    call(x, st);
  }
  if constexpr (StoreP<Rule>::value) write_param<M>(p, master, seed, i, x);
  for (int k = 0; k < n; ++k)
    if (stores_state<Rule>(k)) s[k][i] = static_cast<S>(st[k]);
}

template <ParamIO M, bool Checked, class Rule, class T>
inline void apply_one(const Rule& rule, T* __restrict p, const T* __restrict g,
                      state_t<T>* const* s, state_t<T>* __restrict master, std::uint32_t seed, std::int64_t i) {
  apply_element<M, Checked, Rule>(p, s, master, seed, i, [&](auto& x, auto* st) { rule(x, load(g, i), st); });
}

// Vector = false: the scalar loop only, whatever the path (the vector loop is
// not even instantiated; see kBaselineVectorFor).
template <ParamIO M, bool Vector, class Rule, class T>
void run_io(const Rule& rule, const Span<T>& x, std::int64_t begin, std::int64_t end, Path path) {
  static_assert(Rule::kStates <= kMaxStates, "raise kMaxStates");
  const Rule r = rule;  // a local copy: its scalars stay in registers
  T* const p = x.p;
  const T* const g = x.g;
  state_t<T>* const master = x.master;
  const std::uint32_t seed = x.seed;
  state_t<T>* s[kMaxStates > 0 ? kMaxStates : 1];
  for (int k = 0; k < kMaxStates; ++k) s[k] = x.s[k];
  if (!Vector || path == Path::scalar) {
    for (std::int64_t i = begin; i < end; ++i) {
      apply_one<M, true>(r, p, g, s, master, seed, i);
      asm volatile("" ::: "memory");  // keeps this loop scalar
    }
    return;
  }
  if constexpr (Vector) {
#pragma GCC ivdep
    for (std::int64_t i = begin; i < end; ++i) apply_one<M, false>(r, p, g, s, master, seed, i);
  }
}
}  // namespace detail

// ---- run-time choice of the vector clone ------------------------------------
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__AVX2__) && !defined(DESCENT_NO_ISA_DISPATCH)
#define DESCENT_AVX2_CLONE 1
// Which parameter storage types get the clone: float32 and bfloat16. float64
// (rare in training, and a clone costs build time: `flatten` compiles every
// rule again) keeps the baseline loop.
template <class T> inline constexpr bool kAvx2CloneFor = !std::is_same_v<T, double>;
// Which storage types get a baseline (SSE2) vector loop besides: not bfloat16,
// whose three parameter modes (and 8-bit state) made ~30% of each optimizer's
// code; a CPU without AVX2 (none trains in bfloat16) takes the scalar path.
template <class T> inline constexpr bool kBaselineVectorFor = !std::is_same_v<T, bf16>;
namespace detail {
// Whether the AVX2 clones may run here (checked once; every AVX2 CPU has FMA,
// but some virtual machines hide it). DESCENT_ISA=baseline in the environment
// keeps the baseline clone (the tests run both).
inline bool use_avx2() {
  static const bool yes = [] {
    const char* isa = std::getenv("DESCENT_ISA");
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           !(isa != nullptr && std::string_view(isa) == "baseline");
  }();
  return yes;
}
// `flatten` inlines the whole loop (rule, loads, stores) into this function,
// so all of it is compiled for AVX2.
template <ParamIO M, class Rule, class T>
__attribute__((target("avx2,fma"), flatten)) void run_io_avx2(const Rule& rule, const Span<T>& x, std::int64_t begin,
                                                          std::int64_t end) {
  run_io<M, true>(rule, x, begin, end, Path::vector);
}
}  // namespace detail
#else
template <class T> inline constexpr bool kBaselineVectorFor = true;  // the only vector loop
#endif

// Applies `rule` to elements [begin, end) of one tensor.
template <class Rule, class T>
void run(const Rule& rule, Span<T> x, std::int64_t begin, std::int64_t end,
         Path path = Path::vector) {
  detail::with_param_io(x, [&](auto io) {
#ifdef DESCENT_AVX2_CLONE
    if constexpr (kAvx2CloneFor<T>)
      if (path == Path::vector && detail::use_avx2())
        return detail::run_io_avx2<decltype(io)::value>(rule, x, begin, end);
#endif
    detail::run_io<decltype(io)::value, kBaselineVectorFor<T>>(rule, x, begin, end, path);
  });
}

// ---- update and reduce in one pass ------------------------------------------
//
// Some rules need per-tensor sums (LAMB's and LARS's norms, Adafactor's RMS)
// computed in the same pass that updates state. Such a rule has a constant
// kSums and an element function that also writes this element's terms:
//
//     template <class A> void operator()(A& p, A g, A* s, A* terms) const;
//
// run_reduce() accumulates the terms in kLanes independent lanes per sum (so
// the compiler can vectorise without reassociating), combines the lanes in a
// fixed order in double and adds the result to sums[0..kSums). The scalar path
// uses the same lanes, so both paths give identical sums.
inline constexpr int kLanes = 8;

namespace detail {
template <ParamIO M, bool Checked, class Rule, class T>
inline void apply_one_terms(const Rule& rule, T* __restrict p, const T* __restrict g, state_t<T>* const* s,
                            state_t<T>* __restrict master, std::uint32_t seed, std::int64_t i,
                            compute_t<T>* terms) {
  apply_element<M, Checked, Rule>(p, s, master, seed, i, [&](auto& x, auto* st) { rule(x, load(g, i), st, terms); });
}

// Scalar: the scalar path (kept scalar by a compiler barrier, and checked).
template <ParamIO M, bool Scalar, class Rule, class T>
void run_reduce_loop(const Rule& rule, const Span<T>& x, std::int64_t begin, std::int64_t end, double* sums) {
  using A = compute_t<T>;
  constexpr int K = Rule::kSums;
  static_assert(K > 0 && Rule::kStates <= kMaxStates, "a reduce rule has sums");
  const Rule r = rule;
  T* const p = x.p;
  const T* const g = x.g;
  state_t<T>* const master = x.master;
  const std::uint32_t seed = x.seed;
  state_t<T>* s[kMaxStates];
  for (int k = 0; k < kMaxStates; ++k) s[k] = x.s[k];
  A acc[K][kLanes] = {};
  std::int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      A terms[K];
      apply_one_terms<M, Scalar>(r, p, g, s, master, seed, i + l, terms);
      for (int k = 0; k < K; ++k) acc[k][l] += terms[k];
      if constexpr (Scalar) asm volatile("" ::: "memory");
    }
  }
  for (int l = 0; i < end; ++i, ++l) {
    A terms[K];
    apply_one_terms<M, Scalar>(r, p, g, s, master, seed, i, terms);
    for (int k = 0; k < K; ++k) acc[k][l] += terms[k];
  }
  for (int k = 0; k < K; ++k) {
    double total = 0;
    for (int l = 0; l < kLanes; ++l) total += static_cast<double>(acc[k][l]);
    sums[k] += total;
  }
}

template <ParamIO M, class Rule, class T>
void run_reduce_io(const Rule& rule, const Span<T>& x, std::int64_t begin, std::int64_t end, double* sums,
                   Path path) {
  if constexpr (kBaselineVectorFor<T>)
    if (path == Path::vector) return run_reduce_loop<M, false>(rule, x, begin, end, sums);
  run_reduce_loop<M, true>(rule, x, begin, end, sums);
}
}  // namespace detail

#ifdef DESCENT_AVX2_CLONE
namespace detail {
template <ParamIO M, class Rule, class T>
__attribute__((target("avx2,fma"), flatten)) void run_reduce_io_avx2(const Rule& rule, const Span<T>& x,
                                                                 std::int64_t begin, std::int64_t end, double* sums) {
  run_reduce_loop<M, false>(rule, x, begin, end, sums);
}
}  // namespace detail
#endif

template <class Rule, class T>
void run_reduce(const Rule& rule, Span<T> x, std::int64_t begin, std::int64_t end, double* sums,
                Path path = Path::vector) {
  detail::with_param_io(x, [&](auto io) {
#ifdef DESCENT_AVX2_CLONE
    if constexpr (kAvx2CloneFor<T>)
      if (path == Path::vector && detail::use_avx2())
        return detail::run_reduce_io_avx2<decltype(io)::value>(rule, x, begin, end, sums);
#endif
    detail::run_reduce_io<decltype(io)::value>(rule, x, begin, end, sums, path);
  });
}

}  // namespace descent::kernels
