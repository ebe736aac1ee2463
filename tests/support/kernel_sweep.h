// Shared by the kernel tests: runs an elementwise rule on the vector and the
// scalar path over every length 0..70 (every tail), a large length and
// misaligned starts, for float32, float64 and bfloat16, several steps in a row,
// and requires bit-identical parameters and states.
#pragma once

#include <descent/kernels/elementwise.h>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace descent::testing {

using descent::kernels::bf16;
using descent::kernels::Path;
using descent::kernels::Span;
using descent::kernels::state_t;

template <class T> T from_double(double x) { return static_cast<T>(x); }
template <> inline bf16 from_double<bf16>(double x) { return descent::kernels::to_bf16(static_cast<float>(x)); }

using descent::kernels::same_bits;

// Runs `rule` over [offset, offset + n) of freshly filled buffers on both paths
// and compares every parameter and state element (and, for update-and-sum
// rules run through kernels::run_reduce, every sum), several steps in a row.
template <class Rule, class T, bool Reduce>
void compare_paths_impl(const Rule& rule, std::int64_t n, std::int64_t offset, double state_lo) {
  using S = state_t<T>;
  std::mt19937 rng(static_cast<unsigned>(n * 131 + offset));
  std::uniform_real_distribution<double> u(-2.0, 2.0), pos(0.0, 2.0);
  const std::int64_t len = n + offset;
  std::vector<T> p(len), g(len);
  std::vector<std::vector<S>> s(Rule::kStates > 0 ? Rule::kStates : 1, std::vector<S>(len));
  for (std::int64_t i = 0; i < len; ++i) {
    p[i] = from_double<T>(u(rng));
    g[i] = from_double<T>(u(rng));
    // Second-moment-like states must stay non-negative: rules take sqrt of them.
    for (int k = 0; k < Rule::kStates; ++k) s[k][i] = static_cast<S>(state_lo < 0 ? u(rng) : pos(rng));
  }
  auto p2 = p;
  auto s2 = s;
  auto span = [&](std::vector<T>& pp, std::vector<std::vector<S>>& ss) {
    Span<T> x;
    x.p = pp.data() + offset;
    x.g = g.data() + offset;
    for (int k = 0; k < Rule::kStates; ++k) x.s[k] = ss[k].data() + offset;
    return x;
  };
  for (int step = 0; step < 3; ++step) {
    if constexpr (Reduce) {
      double a[Rule::kSums] = {}, b[Rule::kSums] = {};
      descent::kernels::run_reduce(rule, span(p, s), 0, n, a, Path::vector);
      descent::kernels::run_reduce(rule, span(p2, s2), 0, n, b, Path::scalar);
      for (int k = 0; k < Rule::kSums; ++k)
        ASSERT_TRUE(same_bits(a[k], b[k])) << "sum " << k << " n=" << n << " offset=" << offset;
    } else {
      descent::kernels::run(rule, span(p, s), 0, n, Path::vector);
      descent::kernels::run(rule, span(p2, s2), 0, n, Path::scalar);
    }
  }
  for (std::int64_t i = 0; i < len; ++i) {
    ASSERT_TRUE(same_bits(p[i], p2[i])) << "param " << i << " n=" << n << " offset=" << offset;
    for (int k = 0; k < Rule::kStates; ++k)
      ASSERT_TRUE(same_bits(s[k][i], s2[k][i])) << "state " << k << " at " << i << " n=" << n;
  }
}

template <class Rule, class T>
void compare_paths(const Rule& rule, std::int64_t n, std::int64_t offset, double state_lo = -1.0) {
  compare_paths_impl<Rule, T, false>(rule, n, offset, state_lo);
}

template <class Rule, bool Reduce>
void sweep_impl(const Rule& rule, double state_lo) {
  for (std::int64_t offset : {0, 1, 3}) {
    for (std::int64_t n = 0; n <= 70; ++n) {
      compare_paths_impl<Rule, float, Reduce>(rule, n, offset, state_lo);
      compare_paths_impl<Rule, double, Reduce>(rule, n, offset, state_lo);
      compare_paths_impl<Rule, bf16, Reduce>(rule, n, offset, state_lo);
    }
    compare_paths_impl<Rule, float, Reduce>(rule, 100003, offset, state_lo);
    compare_paths_impl<Rule, double, Reduce>(rule, 100003, offset, state_lo);
    compare_paths_impl<Rule, bf16, Reduce>(rule, 100003, offset, state_lo);
  }
}

// Every length 0..70, a large one, three alignments, three dtypes.
template <class Rule>
void sweep(const Rule& rule, double state_lo = -1.0) {
  sweep_impl<Rule, false>(rule, state_lo);
}

// The same for update-and-sum rules (kernels::run_reduce): sums compared too.
template <class Rule>
void sweep_reduce(const Rule& rule, double state_lo = -1.0) {
  sweep_impl<Rule, true>(rule, state_lo);
}

}  // namespace descent::testing
