// The adam_variants family's elementwise rules: vector path against scalar
// path, bit for bit (see support/kernel_sweep.h), for every template branch;
// and the projection sums of AdamP/SGDP through run_reduce.
#include <descent/kernels/adabelief.h>
#include <descent/kernels/adabound.h>
#include <descent/kernels/adamod.h>
#include <descent/kernels/adamp.h>
#include <descent/kernels/aten_minmax.h>
#include <descent/kernels/diffgrad.h>
#include <descent/kernels/exadam.h>
#include <descent/kernels/qhadam.h>
#include <descent/kernels/yogi.h>

#include <gtest/gtest.h>
#include "support/kernel_sweep.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using descent::testing::sweep;
namespace k = descent::kernels;

// Fma: the exp's fused form (std::fma on every path, so still bit-identical).
template <bool Fma>
void diffgrad_rules() {
  k::DiffGradRule<false, Fma> r;
  r.neg_step_size = -0.01;
  sweep(r, 0.0);
  k::DiffGradRule<true, Fma> w;
  w.neg_step_size = -0.01; w.l2 = 0.1; w.eps = 1e-3; w.beta1 = 0.8; w.one_minus_beta1 = 0.2;
  sweep(w, 0.0);
}

TEST(AdamVariantsKernels, DiffGrad) {
  diffgrad_rules<false>();
  diffgrad_rules<true>();
}

// diffGrad's vectorisable exp: within 1 ulp of the C library's over its range,
// exact at 0, NaN propagates.
template <class A, bool Fma = false>
void check_exp(double lo) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(lo, 0.0);
  for (int i = 0; i < 200000; ++i) {
    const A x = static_cast<A>(u(rng));
    const A want = std::exp(x), got = k::diffgrad_exp<Fma>(x);
    const A ulp = std::nextafter(want, A(1)) - want;
    ASSERT_LE(std::abs(got - want), ulp) << "x = " << x;
  }
  EXPECT_EQ(k::diffgrad_exp<Fma>(A(0)), A(1));
  EXPECT_EQ(k::diffgrad_exp<Fma>(-A(0)), A(1));
  EXPECT_TRUE(std::isnan(k::diffgrad_exp<Fma>(std::numeric_limits<A>::quiet_NaN())));
}

TEST(AdamVariantsKernels, DiffGradExpWithinOneUlp) {
  check_exp<double>(-60);
  check_exp<double>(-1);
  check_exp<float>(-30);
  check_exp<float>(-1);
  check_exp<float, true>(-30);
  check_exp<float, true>(-1);
}

template <bool Ams, k::AdaBeliefStep Kind>
void adabelief_sweep() {
  k::AdaBeliefRule<Ams, Kind> r;
  r.neg_step_size = -0.01; r.bc2_sqrt = 0.3; r.eps = 1e-8;
  sweep(r, 0.0);
  r.decay = 0.999; r.l2_on = false;
  sweep(r, 0.0);
  r.decay = 1; r.l2_on = true; r.l2 = 0.05;
  sweep(r, 0.0);
}

TEST(AdamVariantsKernels, AdaBelief) {
  using K = k::AdaBeliefStep;
  adabelief_sweep<false, K::adam>();
  adabelief_sweep<false, K::rectified>();
  adabelief_sweep<false, K::sgd>();
  adabelief_sweep<false, K::none>();
  adabelief_sweep<true, K::adam>();
  adabelief_sweep<true, K::rectified>();
  adabelief_sweep<true, K::sgd>();
  adabelief_sweep<true, K::none>();
}

template <class D>
void projection_sweeps(const D& dir) {
  k::DirectionStep<D> a;
  a.dir = dir; a.decay = 0.999; a.neg_step = -0.01;
  sweep(a, 0.0);
  k::ProjectedStep<D> b;
  b.dir = dir; b.norm_eps = 1.7; b.radial = 0.3; b.decay = 0.9999; b.neg_step = -0.02;
  sweep(b, 0.0);
}

TEST(AdamVariantsKernels, AdamPAndSgdp) {
  k::AdamPDirection<false> a;
  a.bc2_sqrt = 0.2;
  projection_sweeps(a);
  k::AdamPDirection<true> an;
  an.bc2_sqrt = 0.2; an.eps = 1e-3;
  projection_sweeps(an);
  k::SgdpDirection<false> s;
  s.momentum = 0.9; s.one_minus_dampening = 0.7;
  projection_sweeps(s);
  k::SgdpDirection<true> sn;
  sn.momentum = 0.9;
  projection_sweeps(sn);
}

// run_reduce with the projection's sum rules: vector and scalar paths agree,
// and the sums match a plain double sum.
template <class Rule, class T>
void check_sums(const Rule& rule, std::int64_t n) {
  using S = k::state_t<T>;
  std::mt19937 rng(static_cast<unsigned>(n));
  std::uniform_real_distribution<double> u(-2.0, 2.0), pos(0.0, 2.0);
  std::vector<T> p(n), g(n);
  std::vector<std::vector<S>> s(Rule::kStates > 0 ? Rule::kStates : 1, std::vector<S>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    p[i] = static_cast<T>(u(rng));
    g[i] = static_cast<T>(u(rng));
    for (auto& st : s) st[i] = static_cast<S>(pos(rng));
  }
  auto p2 = p;
  auto s2 = s;
  auto span = [&](std::vector<T>& pp, std::vector<std::vector<S>>& ss) {
    k::Span<T> x;
    x.p = pp.data();
    x.g = g.data();
    for (int j = 0; j < Rule::kStates; ++j) x.s[j] = ss[j].data();
    return x;
  };
  double a[Rule::kSums] = {}, b[Rule::kSums] = {};
  k::run_reduce(rule, span(p, s), 0, n, a, k::Path::vector);
  k::run_reduce(rule, span(p2, s2), 0, n, b, k::Path::scalar);
  for (int j = 0; j < Rule::kSums; ++j) EXPECT_EQ(a[j], b[j]) << "sum " << j << " n=" << n;
  EXPECT_EQ(p, p2);
  EXPECT_EQ(s, s2);
}

TEST(AdamVariantsKernels, ProjectionSums) {
  for (std::int64_t n : {0, 1, 7, 8, 9, 63, 1000, 4099}) {
    check_sums<k::RowDots, float>(k::RowDots{}, n);
    check_sums<k::RowDots, double>(k::RowDots{}, n);
    k::ProjectionTerms<k::AdamPDirection<true>> t;
    t.norm_eps = 3.0;
    t.dir.bc2_sqrt = 0.1;
    check_sums<decltype(t), float>(t, n);
    check_sums<decltype(t), double>(t, n);
    k::ProjectionTerms<k::SgdpDirection<false>> u;
    u.dir.momentum = 0.9;
    check_sums<decltype(u), double>(u, n);
  }
  // RowDots' sums are Σ g·p, Σ g², Σ p².
  std::vector<double> p = {1, 2, 3}, g = {0.5, -1, 2};
  k::Span<double> x;
  x.p = p.data();
  x.g = g.data();
  double sums[3] = {};
  k::run_reduce(k::RowDots{}, x, 0, 3, sums);
  EXPECT_EQ(sums[0], 0.5 - 2 + 6);
  EXPECT_EQ(sums[1], 0.25 + 1 + 4);
  EXPECT_EQ(sums[2], 1 + 4 + 9);
}

TEST(AdamVariantsKernels, ExAdam) {
  k::ExAdamRule r;
  r.beta1_t = 0.729; r.beta2_t = 0.997; r.bc1 = 0.271; r.bc2 = 0.003; r.neg_step_size = -0.01;
  sweep(r, 0.0);
  r.decay_on = true; r.neg_lr_wd = -0.001; r.eps = 1e-4;
  sweep(r, 0.0);
}

TEST(AdamVariantsKernels, Yogi) {
  k::YogiRule r;
  r.neg_step_size = -0.01; r.bc2_sqrt = 0.1;
  sweep(r, 0.0);
  r.gsign = -1; r.l2_on = true; r.l2 = 0.05;
  sweep(r, 0.0);
  r.gsign = 1; r.l2_on = false; r.decay = 0.999;
  sweep(r, 0.0);
}

TEST(AdamVariantsKernels, AdaBound) {
  k::AdaBoundRule<false> a;
  a.step_size = 0.01; a.lower = 0.001; a.upper = 0.2;
  sweep(a, 0.0);
  a.gsign = -1; a.l2_on = true; a.l2 = 0.05;
  sweep(a, 0.0);
  k::AdaBoundRule<true> b;
  b.step_size = 0.01; b.lower = 0.05; b.upper = 0.06; b.decay = 0.999;
  sweep(b, 0.0);
}

TEST(AdamVariantsKernels, AdaMod) {
  k::AdaModRule r;
  r.step_size = 0.01;
  sweep(r, 0.0);
  r.gsign = -1; r.l2_on = true; r.l2 = 0.05; r.beta3 = 0.5; r.one_minus_beta3 = 0.5;
  sweep(r, 0.0);
}

TEST(AdamVariantsKernels, QHAdam) {
  k::QHAdamRule r;
  // a2 small enough that v·a2 + 1 − a2·g² stays positive for |g| ≤ 2 (sqrt of it).
  r.beta1_adj = 0.5; r.one_minus_beta1_adj = 0.5; r.beta2_adj = 0.1; r.neg_lr = -0.01;
  sweep(r, 0.0);
  r.nu1_on = true; r.nu1 = 0.7; r.one_minus_nu1 = 0.3; r.nu2_on = true; r.nu2 = 0.5; r.one_minus_nu2 = 0.5;
  r.gsign = -1; r.decay = 0.999;
  sweep(r, 0.0);
}

TEST(AdamVariantsKernels, AtenMinMaxPropagateNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(k::maximum(1.0, 2.0), 2.0);
  EXPECT_EQ(k::minimum(1.0, 2.0), 1.0);
  EXPECT_TRUE(std::isnan(k::maximum(1.0, nan)));
  EXPECT_TRUE(std::isnan(k::maximum(nan, 1.0)));
  EXPECT_TRUE(std::isnan(k::minimum(1.0, nan)));
  EXPECT_TRUE(std::isnan(k::minimum(nan, 1.0)));
  EXPECT_EQ(k::clamp(5.0, 1.0, 2.0), 2.0);
  EXPECT_EQ(k::clamp(0.0, 1.0, 2.0), 1.0);
  EXPECT_EQ(k::clamp(1.5, 1.0, 2.0), 1.5);
  EXPECT_TRUE(std::isnan(k::clamp(nan, 1.0, 2.0)));
}

}  // namespace
