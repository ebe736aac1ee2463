// The vectorised path of every elementwise rule against its scalar path: all
// lengths 0..70 (every tail), a large length, misaligned starts, each dtype.
// Both paths run the same operations in the same order with contraction off,
// so the results must be identical bit for bit.
#include <descent/kernels/adadelta.h>
#include <descent/kernels/adagrad.h>
#include <descent/kernels/adam.h>
#include <descent/kernels/adamax.h>
#include <descent/kernels/asgd.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/nadam.h>
#include <descent/kernels/radam.h>
#include <descent/kernels/rmsprop.h>
#include <descent/kernels/rprop.h>
#include <descent/kernels/sgd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

using descent::kernels::bf16;
using descent::kernels::Path;
using descent::kernels::Span;
using descent::kernels::state_t;

template <class T> T from_double(double x) { return static_cast<T>(x); }
template <> bf16 from_double<bf16>(double x) { return descent::kernels::to_bf16(static_cast<float>(x)); }

template <class T> bool same_bits(const T& a, const T& b) { return std::memcmp(&a, &b, sizeof(T)) == 0; }

// Runs `rule` over [offset, offset + n) of freshly filled buffers on both paths
// and compares every parameter and state element, several steps in a row.
template <class Rule, class T>
void compare_paths(const Rule& rule, std::int64_t n, std::int64_t offset, double state_lo = -1.0) {
  using S = state_t<T>;
  std::mt19937 rng(static_cast<unsigned>(n * 131 + offset));
  std::uniform_real_distribution<double> u(-2.0, 2.0), pos(0.0, 2.0);
  const std::int64_t len = n + offset;
  std::vector<T> p(len), g(len);
  std::vector<std::vector<S>> s(Rule::kStates, std::vector<S>(len));
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
    descent::kernels::run(rule, span(p, s), 0, n, Path::vector);
    descent::kernels::run(rule, span(p2, s2), 0, n, Path::scalar);
  }
  for (std::int64_t i = 0; i < len; ++i) {
    ASSERT_TRUE(same_bits(p[i], p2[i])) << "param " << i << " n=" << n << " offset=" << offset;
    for (int k = 0; k < Rule::kStates; ++k)
      ASSERT_TRUE(same_bits(s[k][i], s2[k][i])) << "state " << k << " at " << i << " n=" << n;
  }
}

template <class Rule>
void sweep(const Rule& rule, double state_lo = -1.0) {
  for (std::int64_t offset : {0, 1, 3}) {
    for (std::int64_t n = 0; n <= 70; ++n) {
      compare_paths<Rule, float>(rule, n, offset, state_lo);
      compare_paths<Rule, double>(rule, n, offset, state_lo);
      compare_paths<Rule, bf16>(rule, n, offset, state_lo);
    }
    compare_paths<Rule, float>(rule, 100003, offset, state_lo);
    compare_paths<Rule, double>(rule, 100003, offset, state_lo);
    compare_paths<Rule, bf16>(rule, 100003, offset, state_lo);
  }
}

TEST(VectorScalar, Sgd) {
  sweep(descent::kernels::SgdRule{-1.0, 0.01, 0.1});
}

TEST(VectorScalar, SgdMomentum) {
  descent::kernels::SgdMomentumRule r;
  r.gsign = 1; r.weight_decay = 0.01; r.lr = 0.05; r.momentum = 0.9; r.one_minus_dampening = 0.8;
  sweep(r);
  r.nesterov = true; r.first = true;
  sweep(r);
}

TEST(VectorScalar, Adam) {
  descent::kernels::AdamRule<false> r;
  r.l2 = 0.01; r.neg_step_size = -0.01; r.bc2_sqrt = 0.3;
  sweep(r, 0.0);
  descent::kernels::AdamRule<true> a;
  a.decay = 0.999; a.neg_step_size = -0.02; a.bc2_sqrt = 0.1; a.gsign = -1;
  sweep(a, 0.0);
}

TEST(VectorScalar, Adagrad) {
  descent::kernels::AdagradRule r;
  r.neg_clr = -0.05;
  sweep(r, 0.0);
  r.gsign = -1; r.weight_decay = 0.01; r.eps = 1e-6;
  sweep(r, 0.0);
}

// Centered RMSprop takes sqrt(v − ḡ²): start every element with ḡ² ≤ v (the
// update keeps it so, by convexity), so the test does not run on NaN.
template <class Inner>
struct CenteredStart {
  static constexpr int kStates = Inner::kStates;
  Inner inner;
  template <class A> void operator()(A& p, A g, A* s) const {
    s[1] = std::min(s[1], A(0.5) * std::sqrt(s[0]));
    inner(p, g, s);
  }
};

TEST(VectorScalar, Rmsprop) {
  auto fill = [](auto& r) {
    r.gsign = -1; r.weight_decay = 0.01; r.alpha = 0.9; r.one_minus_alpha = 0.1;
    r.eps = 1e-3; r.momentum = 0.9; r.neg_lr = -0.01;
  };
  descent::kernels::RmspropRule<false, false> a;
  fill(a);
  sweep(a, 0.0);
  descent::kernels::RmspropRule<false, true> b;
  fill(b);
  sweep(b, 0.0);
  CenteredStart<descent::kernels::RmspropRule<true, false>> c;
  fill(c.inner);
  sweep(c, 0.0);
  CenteredStart<descent::kernels::RmspropRule<true, true>> d;
  fill(d.inner);
  sweep(d, 0.0);
}

TEST(VectorScalar, Adadelta) {
  descent::kernels::AdadeltaRule r;
  sweep(r, 0.0);
  r.gsign = -1; r.weight_decay = 0.01; r.rho = 0.95; r.one_minus_rho = 0.05; r.neg_lr = -0.5;
  sweep(r, 0.0);
}

TEST(VectorScalar, Adamax) {
  descent::kernels::AdamaxRule r;
  r.neg_clr = -0.02;
  sweep(r);
  r.gsign = -1; r.weight_decay = 0.01; r.eps = 0.5;
  sweep(r, 0.0);
}

TEST(VectorScalar, Nadam) {
  descent::kernels::NadamRule r;
  r.bias_correction2 = 0.002; r.grad_coef = -0.001; r.avg_coef = -0.009;
  sweep(r, 0.0);
  r.weight_decay = 0.01;
  sweep(r, 0.0);
}

TEST(VectorScalar, Radam) {
  descent::kernels::RadamRule<false> a;
  a.bias_correction1 = 0.19; a.lr = 0.01;
  sweep(a, 0.0);
  descent::kernels::RadamRule<true> b;
  b.weight_decay = 0.01; b.bias_correction1 = 0.5; b.lr = 0.01; b.bc2_sqrt = 0.08; b.rect = 0.3;
  sweep(b, 0.0);
}

TEST(VectorScalar, Rprop) {
  descent::kernels::RpropRule r;
  sweep(r);
  r.gsign = -1; r.etaminus = 0.3; r.etaplus = 1.5; r.step_size_min = 0.01; r.step_size_max = 1.5;
  sweep(r);
}

TEST(VectorScalar, Asgd) {
  descent::kernels::AsgdRule<false> a;
  a.decay = 0.9999; a.neg_eta = -0.01;
  sweep(a);
  descent::kernels::AsgdRule<true> b;
  b.gsign = -1; b.weight_decay = 0.01; b.decay = 0.99; b.neg_eta = -0.02; b.mu = 0.25;
  sweep(b);
}

TEST(Bf16, RoundsToNearestEvenLikeC10) {
  // 1 + 2^-8 is halfway between two bf16 values: ties to even rounds down.
  EXPECT_EQ(descent::kernels::to_bf16(1.0f + 1.0f / 256).bits, 0x3F80);
  EXPECT_EQ(descent::kernels::to_bf16(1.0f + 3.0f / 256).bits, 0x3F82);
  EXPECT_EQ(descent::kernels::to_bf16(std::nanf("")).bits, 0x7FC0);
  EXPECT_EQ(descent::kernels::to_float(descent::kernels::to_bf16(-2.5f)), -2.5f);
}

}  // namespace
