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
#include "support/kernel_sweep.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

using descent::testing::sweep;

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
