// The curvature family's kernels: vector path == scalar path, bit for bit, for
// the elementwise rules of Sophia, AdaHessian and Muon; M-FAC's dense m × m
// algebra against a direct solve, and its partial refactorisation against a
// full one.
#include <descent/kernels/adahessian.h>
#include <descent/kernels/mfac.h>
#include <descent/kernels/muon.h>
#include <descent/kernels/sophia.h>

#include <gtest/gtest.h>
#include "support/kernel_sweep.h"

#include <cmath>
#include <random>
#include <vector>

namespace {

using descent::testing::sweep;
namespace k = descent::kernels;
namespace mk = descent::kernels::mfac;

TEST(CurvatureKernels, SophiaG) {
  k::SophiaGRule r;
  r.decay = 0.999;
  r.rho_bs = 0.04 * 3;
  r.neg_lr = -0.01;
  sweep(r, 0.0);  // h ≥ 0 (an EMA of squares)
  r.gsign = -1;
  r.rho_bs = 0;  // h unused: every element clipped
  sweep(r, 0.0);
}

TEST(CurvatureKernels, SophiaH) {
  k::SophiaHRule r;
  r.decay = 0.99;
  r.neg_step = -0.02;
  sweep(r);  // h of both signs: relu
}

TEST(CurvatureKernels, AdaHessianEveryPowerKind) {
  for (double power : {0.0, 0.5, 1.0, 0.3}) {
    SCOPED_TRACE(power);
    k::AdaHessianRule r;
    r.power = power;
    r.kind = k::power_kind(power);
    r.bc1 = 0.19;
    r.bc2_pow = std::pow(std::sqrt(0.002), power);
    r.weight_decay = 0.01;
    r.lr = 0.1;
    sweep(r, 0.0);
  }
}

TEST(CurvatureKernels, PowerKindFollowsAtenSpecialCases) {
  EXPECT_EQ(k::power_kind(0), k::PowerKind::zero);
  EXPECT_EQ(k::power_kind(0.5), k::PowerKind::half);
  EXPECT_EQ(k::power_kind(1), k::PowerKind::one);
  EXPECT_EQ(k::power_kind(0.25), k::PowerKind::other);
  k::AdaHessianRule r;
  r.power = 0.25;
  r.kind = k::PowerKind::other;
  EXPECT_DOUBLE_EQ(r.pow_k(16.0), 2.0);
  r.kind = k::PowerKind::zero;
  EXPECT_EQ(r.pow_k(7.0), 1.0);
}

TEST(CurvatureKernels, MuonMomentumAndAuxAdam) {
  k::MuonMomentumRule m;
  sweep(m);
  m.nesterov = false;
  m.w_momentum = 0.7;  // ≥ 0.5: the other branch of lerp
  sweep(m);
  k::MuonAdamRule a;
  a.bc1 = 0.1;
  a.bc2 = 0.05;
  a.decay = 0.99;
  a.neg_lr = -3e-4;
  a.eps = 1e-3;
  sweep(a, 0.0);
}

TEST(CurvatureKernels, MuonMomentumIsTheReferenceBlend) {
  // m = lerp(m, g, 1 − β); u = lerp(g, m, β) with β = 0.95.
  k::MuonMomentumRule r;
  double u = 0, s[1] = {1.0};
  r(u, 3.0, s);
  EXPECT_DOUBLE_EQ(s[0], 1.0 + 0.05 * (3.0 - 1.0));
  EXPECT_NEAR(u, 3.0 + 0.95 * (s[0] - 3.0), 1e-15);
  r.nesterov = false;
  double s2[1] = {1.0};
  r(u, 3.0, s2);
  EXPECT_EQ(u, s2[0]);
}

// ---- M-FAC ---------------------------------------------------------------------------------

// Solves K·y = b by Gaussian elimination with partial pivoting (a reference
// independent of the LDLᵀ factors).
std::vector<double> gauss_solve(std::vector<double> K, std::vector<double> b, int m) {
  for (int c = 0; c < m; ++c) {
    int piv = c;
    for (int r = c + 1; r < m; ++r)
      if (std::abs(K[r * m + c]) > std::abs(K[piv * m + c])) piv = r;
    for (int j = 0; j < m; ++j) std::swap(K[c * m + j], K[piv * m + j]);
    std::swap(b[c], b[piv]);
    for (int r = c + 1; r < m; ++r) {
      const double f = K[r * m + c] / K[c * m + c];
      for (int j = c; j < m; ++j) K[r * m + j] -= f * K[c * m + j];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(m);
  for (int r = m - 1; r >= 0; --r) {
    double s = b[r];
    for (int j = r + 1; j < m; ++j) s -= K[r * m + j] * x[j];
    x[r] = s / K[r * m + r];
  }
  return x;
}

struct Window {
  int m, d;
  std::vector<double> G;  // m × d
  std::vector<double> gram() const {
    std::vector<double> out(m * m);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        double s = 0;
        for (int k = 0; k < d; ++k) s += G[i * d + k] * G[j * d + k];
        out[i * m + j] = s;
      }
    return out;
  }
};

Window random_window(int m, int d, unsigned seed, int zero_rows = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0, 0.1);
  Window w{m, d, std::vector<double>(m * d)};
  for (int i = zero_rows; i < m; ++i)
    for (int k = 0; k < d; ++k) w.G[i * d + k] = n(rng);
  return w;
}

TEST(MFACKernels, SolveIsLambdaSquaredTimesTheInverseOfK) {
  for (int m : {1, 2, 5, 16}) {
    for (int zero_rows : {0, m / 2}) {
      SCOPED_TRACE("m=" + std::to_string(m) + " zero rows " + std::to_string(zero_rows));
      const Window w = random_window(m, 40, 7 + m, zero_rows);
      const auto dots = w.gram();
      const double lambda = 1e3;
      std::vector<double> L(m * m), D(m), scratch(m), q(m), y(m);
      std::mt19937 rng(3);
      std::normal_distribution<double> n;
      for (auto& x : q) x = n(rng);
      mk::ldl_rows(dots.data(), m, lambda, L.data(), D.data(), scratch.data(), 0);
      mk::solve(L.data(), D.data(), m, lambda, q.data(), y.data());
      std::vector<double> K(m * m), b(m);
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < m; ++j) K[i * m + j] = lambda * dots[i * m + j] + (i == j ? m : 0);
        b[i] = lambda * lambda * q[i];
      }
      const auto ref = gauss_solve(K, b, m);
      for (int i = 0; i < m; ++i) EXPECT_NEAR(y[i], ref[i], 1e-9 * (1 + std::abs(ref[i]))) << i;
    }
  }
}

TEST(MFACKernels, WoodburyGivesTheInverseOfTheDampedFisher) {
  // x = λ·g − Gᵀ·y must solve (λ⁻¹·I + Gᵀ·G/m)·x = g.
  const int m = 6, d = 30;
  const Window w = random_window(m, d, 11);
  const double lambda = 1.0 / 1e-3;
  std::vector<double> g(d);
  std::mt19937 rng(5);
  std::normal_distribution<double> n;
  for (auto& x : g) x = n(rng);
  std::vector<double> q(m, 0.0);
  mk::window_dots(w.G.data(), d, m, g.data(), 0, d, q.data());
  const auto dots = w.gram();
  std::vector<double> L(m * m), D(m), scratch(m), y(m), x(d);
  mk::ldl_rows(dots.data(), m, lambda, L.data(), D.data(), scratch.data(), 0);
  mk::solve(L.data(), D.data(), m, lambda, q.data(), y.data());
  mk::woodbury_apply(w.G.data(), d, m, g.data(), y.data(), lambda, 0, d, x.data());
  for (int k = 0; k < d; ++k) {
    double fx = x[k] / lambda;
    for (int i = 0; i < m; ++i) {
      double gi_x = 0;
      for (int j = 0; j < d; ++j) gi_x += w.G[i * d + j] * x[j];
      fx += w.G[i * d + k] * gi_x / m;
    }
    EXPECT_NEAR(fx, g[k], 1e-10 * (1 + std::abs(g[k]))) << k;
  }
}

TEST(MFACKernels, RefactoringFromTheReplacedRowEqualsAFullFactorisation) {
  const int m = 9, d = 25;
  Window w = random_window(m, d, 21);
  const double lambda = 50;
  std::vector<double> L(m * m), D(m), scratch(m);
  mk::ldl_rows(w.gram().data(), m, lambda, L.data(), D.data(), scratch.data(), 0);
  // Replace row 4, refactor from row 4; compare with a factorisation from scratch.
  std::mt19937 rng(8);
  std::normal_distribution<double> n(0, 0.1);
  for (int k = 0; k < d; ++k) w.G[4 * d + k] = n(rng);
  const auto dots = w.gram();
  auto L2 = L, D2 = D;
  mk::ldl_rows(dots.data(), m, lambda, L2.data(), D2.data(), scratch.data(), 4);
  std::vector<double> L3(m * m), D3(m);
  mk::ldl_rows(dots.data(), m, lambda, L3.data(), D3.data(), scratch.data(), 0);
  for (int i = 0; i < m; ++i) {
    EXPECT_EQ(D2[i], D3[i]) << i;
    for (int j = 0; j < i; ++j) EXPECT_EQ(L2[i * m + j], L3[i * m + j]) << i << "," << j;
  }
}

TEST(MFACKernels, ColumnRangesAddUpAndFloatWindowsAccumulateInDouble) {
  const int m = 3, d = 1000;
  std::vector<float> G(m * d), g(d);
  std::mt19937 rng(2);
  std::normal_distribution<float> n;
  for (auto& x : G) x = n(rng);
  for (auto& x : g) x = n(rng);
  std::vector<double> whole(m, 0.0), parts(m, 0.0);
  mk::window_dots(G.data(), d, m, g.data(), 0, d, whole.data());
  mk::window_dots(G.data(), d, m, g.data(), 0, 300, parts.data());
  mk::window_dots(G.data(), d, m, g.data(), 300, d, parts.data());
  for (int j = 0; j < m; ++j) {
    double exact = 0;
    for (int k = 0; k < d; ++k) exact += static_cast<double>(G[j * d + k]) * g[k];
    EXPECT_NEAR(whole[j], exact, 1e-10 * d);
    EXPECT_NEAR(parts[j], exact, 1e-10 * d);
  }
}

}  // namespace
