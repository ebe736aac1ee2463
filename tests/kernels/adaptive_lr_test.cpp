// The adaptive_lr family's rules (schedule-free, LAMB, NovoGrad, MADGRAD,
// Prodigy, ADOPT, AdEMAMix): the vectorised path against the scalar path, bit
// for bit, for every length, misaligned starts and each dtype; for the
// update-and-sum rules also the sums. Plus Prodigy's float32 emulation of the
// reference's torch.dot / Tensor.sum, against values recorded from PyTorch 1.13.
#include <descent/kernels/ademamix.h>
#include <descent/kernels/adopt.h>
#include <descent/kernels/lamb.h>
#include <descent/kernels/madgrad.h>
#include <descent/kernels/novograd.h>
#include <descent/kernels/prodigy.h>
#include <descent/kernels/schedule_free.h>
#include <descent/kernels/zoo.h>

#include <gtest/gtest.h>
#include "support/kernel_sweep.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using descent::kernels::Decay;
using descent::kernels::Path;
using descent::kernels::Span;
using descent::kernels::state_t;
using descent::testing::from_double;
using descent::testing::same_bits;
using descent::testing::sweep;
using descent::testing::sweep_reduce;

descent::kernels::ZooGrad zoo_grad(double gsign) {
  descent::kernels::ZooGrad z;
  z.gsign = gsign;
  z.weight_decay = 0.01;
  z.decay = 0.999;
  return z;
}

// ---- schedule-free -------------------------------------------------------------------

template <class Rule>
void fill_sf(Rule& r) {
  r.sf.ckp1 = 0.3;
  r.sf.y_coef = -0.004;
  r.sf.neg_lr = -0.01;
  r.sf.weight_decay = 0.05;
}

TEST(AdaptiveLrVectorScalar, ScheduleFreeAdamW) {
  auto fill = [](auto& r) {
    fill_sf(r);
    r.bc2 = 0.02;
    r.eps = 1e-8;
    r.mu = 0.9;
    r.one_minus_mu = 0.1;
    r.bc1 = 0.19;
  };
  descent::kernels::ScheduleFreeAdamWRule<false, false> a;
  fill(a);
  sweep(a, 0.0);
  descent::kernels::ScheduleFreeAdamWRule<true, false> b;
  fill(b);
  b.sf.ckp1 = 0.7;  // the other lerp formula
  sweep(b, 0.0);
  descent::kernels::ScheduleFreeAdamWRule<true, true> c;
  fill(c);
  sweep(c, 0.0);
  descent::kernels::ScheduleFreeAdamWRule<false, true> d;
  fill(d);
  sweep(d, 0.0);
}

TEST(AdaptiveLrVectorScalar, ScheduleFreeSgd) {
  descent::kernels::ScheduleFreeSgdRule<false> a;
  fill_sf(a);
  sweep(a);
  descent::kernels::ScheduleFreeSgdRule<true> b;
  fill_sf(b);
  b.sf.ckp1 = 1.0;
  sweep(b);
}

// ---- LAMB -------------------------------------------------------------------------------

template <descent::kernels::LambUpdate U>
void lamb_rules() {
  descent::kernels::LambMomentsRule<U> m;
  m.grad_norm = 0.7;
  m.gsign = -1;
  m.decay = 0.999;
  m.neg_step = -0.01;
  sweep_reduce(m, 0.0);
  descent::kernels::LambApplyRule<U> a;
  a.alpha = -0.02;
  sweep(a, 0.0);
}

TEST(AdaptiveLrVectorScalar, Lamb) {
  lamb_rules<descent::kernels::LambUpdate::adaptive>();
  lamb_rules<descent::kernels::LambUpdate::rectified_adaptive>();
  lamb_rules<descent::kernels::LambUpdate::rectified_sgd>();
  sweep_reduce(descent::kernels::SumOfSquaresRule{});
}

// ---- NovoGrad -----------------------------------------------------------------------------

template <Decay D, bool First, bool Averaging>
void novograd_rule() {
  descent::kernels::NovogradRule<D, First, Averaging> r;
  r.zg = zoo_grad(-1);
  r.init_denom = 1.7;
  r.init_wd = 0.01;
  r.denom = 2.3;
  r.neg_step = -0.01;
  sweep(r);
}

TEST(AdaptiveLrVectorScalar, NovoGrad) {
  novograd_rule<Decay::none, true, false>();
  novograd_rule<Decay::none, false, false>();
  novograd_rule<Decay::l2, false, true>();
  novograd_rule<Decay::decoupled, true, true>();
}

// ---- MADGRAD --------------------------------------------------------------------------------

// Fma: the cube root's fused form, which runs through std::fma in the scalar
// path and the baseline clone (the C library's fmaf) and on the FMA unit in the
// AVX2 clone; the paths agree bit for bit either way.
template <bool Momentum, Decay D, bool Fma>
void madgrad_rule(bool eps_zero) {
  descent::kernels::MadgradRule<Momentum, D, Fma> r;
  r.gsign = -1;
  r.weight_decay = 0.01;
  r.lambda = 0.02;
  r.eps = eps_zero ? 0.0 : 1e-6;
  r.rms_if_zero = eps_zero ? std::numeric_limits<double>::infinity() : 0.0;
  r.neg_lr_wd = -1e-4;
  sweep(r, 0.0);  // grad_sum_sq ≥ 0 (cube root)
}

TEST(AdaptiveLrVectorScalar, Madgrad) {
  madgrad_rule<true, Decay::none, false>(false);
  madgrad_rule<false, Decay::none, true>(false);
  madgrad_rule<true, Decay::l2, true>(true);
  madgrad_rule<false, Decay::decoupled, false>(true);
}

// The reference replaces rms = 0 by +inf only when eps == 0 (a Python float):
// a coordinate with no gradient yet then stays at x0. With eps = 1e-50, which
// is 0 in float32, rms = 0 stays, and 0/0 makes the parameter NaN, as in torch.
TEST(MadgradRule, ZeroDenominatorOnlyReplacedWhenEpsIsZero) {
  auto step = [](double eps) {
    descent::kernels::MadgradRule<true, Decay::none, false> r;
    r.lambda = 0.01;
    r.eps = eps;
    r.rms_if_zero = eps == 0 ? std::numeric_limits<double>::infinity() : 0.0;
    float p = 2.0f, st[3] = {0.0f, 0.0f, 1.0f};  // grad_sum_sq, s, x0
    r(p, 0.0f, st);
    return p;
  };
  EXPECT_EQ(step(0.0), 0.9f * 2.0f + 0.1f * 1.0f);
  EXPECT_TRUE(std::isnan(step(1e-50)));
}

// ---- Prodigy ----------------------------------------------------------------------------------

TEST(AdaptiveLrVectorScalar, Prodigy) {
  descent::kernels::ProdigyMomentsRule m;
  m.gsign = -1;
  m.m_coef = 1e-4;
  m.v_coef = 1e-8;
  m.beta3 = 0.99;
  m.s_coef = 0.3;
  sweep_reduce(m, 0.0);
  sweep(m, 0.0);  // the float32 form, without sums
  auto fill = [](auto& r) {
    r.decay = 0.999;
    r.neg_d_lr = -0.01;
    r.d_eps = 1e-10;
    return r;
  };
  descent::kernels::ProdigyApplyRule<true, false> a;
  sweep(fill(a), 0.0);
  descent::kernels::ProdigyApplyRule<false, true> b;
  sweep(fill(b), 0.0);
}

// Values recorded from Debian's python3-torch 1.13 (AVX2, OpenBLAS 0.3):
// x_i = float32(|sin(0.7 i)|·1e-3), y_i = float32(cos(1.3 i)); x.sum() and torch.dot(x, y).
TEST(ProdigyReferenceSums, MatchPyTorchFloat32) {
  struct Recorded {
    std::int64_t n;
    double sum, dot;
  };
  const Recorded cases[] = {
      {5, 0.002827865071594715, -0.0011417773785069585},   {7, 0.0040502240881323814, -0.0007521805237047374},
      {12, 0.007325912360101938, -0.0015905301552265882},  {31, 0.019597670063376427, 0.00019791546219494194},
      {48, 0.030242152512073517, 0.0015564525965601206},   {100, 0.06305798143148422, 0.0008904289570637047},
      {1000, 0.6365202069282532, 0.00044743402395397425},
  };
  for (const auto& c : cases) {
    std::vector<float> x(c.n), y(c.n);
    for (std::int64_t i = 0; i < c.n; ++i) {
      x[i] = static_cast<float>(std::abs(std::sin(static_cast<double>(i) * 0.7)) * 1e-3);
      y[i] = static_cast<float>(std::cos(static_cast<double>(i) * 1.3));
    }
    const float sum = descent::kernels::reference_sum([&](std::int64_t i) { return x[i]; }, c.n);
    const float dot = descent::kernels::reference_sdot([&](std::int64_t i) { return x[i]; },
                                                       [&](std::int64_t i) { return y[i]; }, c.n);
    EXPECT_EQ(sum, static_cast<float>(c.sum)) << "n=" << c.n;
    EXPECT_EQ(dot, static_cast<float>(c.dot)) << "n=" << c.n;
  }
}

// ---- ADOPT ------------------------------------------------------------------------------------

template <Decay D, bool Clip>
void adopt_rules() {
  descent::kernels::AdoptStep a;
  a.zg = zoo_grad(-1);
  a.clip = 1.3;
  a.neg_lr = -0.01;
  a.cautious_factor = 1.6;
  descent::kernels::AdoptFirstRule<D> f;
  f.a = a;
  sweep(f, 0.0);
  descent::kernels::AdoptRule<D, Clip> r;
  r.a = a;
  sweep(r, 0.0);
  descent::kernels::AdoptMomentsRule<D, Clip> m;
  m.a = a;
  sweep_reduce(m, 0.0);
  descent::kernels::AdoptApplyRule<D, Clip, true> c;
  c.a = a;
  sweep(c, 0.0);
  descent::kernels::AdoptApplyRule<D, Clip, false> s;
  s.a = a;
  sweep(s, 0.0);
}

TEST(AdaptiveLrVectorScalar, Adopt) {
  adopt_rules<Decay::none, true>();
  adopt_rules<Decay::l2, false>();
  adopt_rules<Decay::decoupled, true>();
}

// ---- AdEMAMix -----------------------------------------------------------------------------------

template <Decay D>
void ademamix_rules() {
  descent::kernels::AdemamixStep a;
  a.zg = zoo_grad(-1);
  a.beta3 = 0.95;
  a.one_minus_beta3 = 0.05;
  a.bc2_sqrt = 0.3;
  a.neg_step = -0.01;
  a.cautious_factor = 1.4;
  descent::kernels::AdemamixRule<D> r;
  r.a = a;
  sweep(r, 0.0);
  descent::kernels::AdemamixMomentsRule<D> m;
  m.a = a;
  sweep_reduce(m, 0.0);
  descent::kernels::AdemamixApplyRule<D, true> c;
  c.a = a;
  sweep(c, 0.0);
  descent::kernels::AdemamixApplyRule<D, false> s;
  s.a = a;
  sweep(s, 0.0);
}

TEST(AdaptiveLrVectorScalar, Ademamix) {
  ademamix_rules<Decay::none>();
  ademamix_rules<Decay::l2>();
  ademamix_rules<Decay::decoupled>();
}

}  // namespace
