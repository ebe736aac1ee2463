// Vector path == scalar path, bit for bit, for the sign_momentum family's rules
// (Adan, Lion / Tiger / signSGD / Lion-κ, SGD-SaI, QHM, AggMo, LARS), and the
// read-only reduce rules they use.
#include <descent/kernels/adan.h>
#include <descent/kernels/aggmo.h>
#include <descent/kernels/lars.h>
#include <descent/kernels/qhm.h>
#include <descent/kernels/sgd_sai.h>
#include <descent/kernels/sign_momentum.h>

#include <gtest/gtest.h>
#include "support/kernel_sweep.h"

#include <random>
#include <vector>

namespace {

using descent::testing::sweep;
namespace k = descent::kernels;

TEST(SignMomentumKernels, Adan) {
  auto fill = [](auto& r) {
    r.clip = 0.75; r.neg_clip = -0.75; r.bc3_sqrt = 0.2; r.eps = 1e-3;
    r.neg_step = -0.01; r.neg_step_diff = -0.02; r.decay = 0.999; r.divisor = 1.001;
  };
  k::AdanRule<true, false> a;
  fill(a);
  sweep(a, 0.0);
  k::AdanRule<false, false> b;
  fill(b);
  sweep(b, 0.0);
  k::AdanRule<true, true> c;
  fill(c);
  sweep(c, 0.0);
  k::AdanRule<false, true> d;
  fill(d);
  sweep(d, 0.0);
}

TEST(SignMomentumKernels, LionTigerSignSgd) {
  k::SignMomentumRule<true> lion;
  lion.decay = 0.99; lion.neg_lr = -0.01;
  sweep(lion);
  k::SignMomentumRule<true> tiger;
  tiger.gsign = -1; tiger.l2_on = true; tiger.l2 = 0.1; tiger.beta1 = tiger.beta2 = 0.965;
  tiger.one_minus_beta1 = tiger.one_minus_beta2 = 0.035; tiger.neg_lr = -0.01;
  sweep(tiger);
  k::SignMomentumRule<false> signsgd;
  signsgd.beta1 = 0.9; signsgd.one_minus_beta1 = 0.1; signsgd.neg_lr = -0.01; signsgd.gsign = -1;
  sweep(signsgd);
  signsgd.beta1 = 0; signsgd.one_minus_beta1 = 1;
  sweep(signsgd);
}

TEST(SignMomentumKernels, LionKappa) {
  k::SignMomentumRule<true, k::SignDirection::scaled> l2;
  l2.decay = 0.99; l2.neg_lr = -0.01; l2.scale = 0.37;
  sweep(l2);
  k::SignMomentumRule<true, k::SignDirection::clamp> huber;
  huber.decay = 0.99; huber.neg_lr = -0.01; huber.delta = 0.3;
  sweep(huber);
}

TEST(SignMomentumKernels, SgdSai) {
  auto fill = [](auto& r) { r.momentum = 0.9; r.one_minus_momentum = 0.1; r.decay = 0.999; r.neg_step = -0.3; };
  k::SgdSaiRule<true, true> a;
  fill(a);
  sweep(a);
  k::SgdSaiRule<true, false> b;
  fill(b);
  sweep(b);
  k::SgdSaiRule<false, false> c;
  fill(c);
  sweep(c);
}

TEST(SignMomentumKernels, Qhm) {
  k::QhmRule r;
  r.momentum = 0.9; r.one_minus_momentum = 0.1; r.neg_lr_nu = -0.07; r.neg_lr_one_minus_nu = -0.03;
  sweep(r);
  r.gsign = -1; r.l2_on = true; r.l2 = 0.01;
  sweep(r);
  r.l2_on = false; r.decay = 0.999;
  sweep(r);
}

TEST(SignMomentumKernels, Aggmo) {
  k::AggmoRule<3, false> a;
  a.beta[0] = 0.0; a.beta[1] = 0.9; a.beta[2] = 0.99; a.neg_step = -0.01 / 3;
  sweep(a);
  k::AggmoRule<4, true> b;
  for (int i = 0; i < 4; ++i) b.beta[i] = 0.1 * i;
  b.gsign = -1; b.l2_on = true; b.l2 = 0.01; b.neg_step = -0.002;
  sweep(b);
  k::AggmoRule<5, false> c;
  for (int i = 0; i < 5; ++i) c.beta[i] = 0.15 * i;
  c.decay = 0.999; c.neg_step = -0.001;
  sweep(c);
  k::AggmoRule<1, false> d;
  d.beta[0] = 0.5; d.neg_step = -0.01;
  sweep(d);
}

TEST(SignMomentumKernels, Lars) {
  auto fill = [](auto& r) {
    r.gsign = -1; r.weight_decay = 0.01; r.ratio = 0.37; r.momentum = 0.9; r.one_minus_dampening = 0.8;
    r.neg_lr = -0.1;
  };
  k::LarsRule<true, true, true> a;
  fill(a);
  sweep(a);
  k::LarsRule<true, false, true> b;
  fill(b);
  sweep(b);
  k::LarsRule<true, false, false> c;
  fill(c);
  sweep(c);
  k::LarsRule<false, false, true> d;
  fill(d);
  sweep(d);
  k::LarsRule<false, false, false> e;
  fill(e);
  sweep(e);
}

// The read-only reduce rules: vector == scalar, nothing changes, sums right.
template <class Rule, class T>
void check_reduce(const Rule& rule, std::int64_t n, std::int64_t offset) {
  std::mt19937 rng(static_cast<unsigned>(n * 17 + offset));
  std::normal_distribution<double> d;
  std::vector<T> p(n + offset), g(n + offset), m(n + offset);
  for (auto* v : {&p, &g, &m})
    for (auto& x : *v) x = static_cast<T>(d(rng));
  const auto p0 = p, m0 = m;
  double a[Rule::kSums] = {}, b[Rule::kSums] = {};
  k::Span<T> x{p.data() + offset, g.data() + offset, {m.data() + offset}};
  k::run_reduce(rule, x, 0, n, a, k::Path::vector);
  k::run_reduce(rule, x, 0, n, b, k::Path::scalar);
  for (int j = 0; j < Rule::kSums; ++j) EXPECT_EQ(a[j], b[j]) << "sum " << j << " n=" << n;
  EXPECT_EQ(p, p0);
  EXPECT_EQ(m, m0);
}

TEST(SignMomentumKernels, ReduceRules) {
  k::SignInterpolationSquares sq;
  for (std::int64_t offset : {0, 1, 3})
    for (std::int64_t n = 0; n <= 70; ++n) {
      check_reduce<k::SquaredNorms, float>(k::SquaredNorms{}, n, offset);
      check_reduce<k::SquaredNorms, double>(k::SquaredNorms{}, n, offset);
      check_reduce<k::SignInterpolationSquares, float>(sq, n, offset);
      check_reduce<k::SignInterpolationSquares, double>(sq, n, offset);
    }
  // Σ c² with c = β1·m + (1 − β1)·g, against a plain double sum.
  std::vector<double> p(100, 0.0), g(100), m(100);
  double want = 0;
  for (int i = 0; i < 100; ++i) {
    g[i] = 0.01 * i - 0.3;
    m[i] = 0.5 - 0.02 * i;
    const double c = m[i] * 0.9 + 0.1 * g[i];
    want += c * c;
  }
  double got[1] = {};
  k::Span<double> x{p.data(), g.data(), {m.data()}};
  k::run_reduce(sq, x, 0, 100, got);
  EXPECT_NEAR(got[0], want, 1e-12 * want);
}

}  // namespace
