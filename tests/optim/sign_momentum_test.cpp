// Behaviour of the sign_momentum family beyond the registry-wide sweeps: the
// options the sweeps leave at their defaults (Adan's clipping, Lion-κ's l2,
// LARS's trust ratio on matrices, SGD-SaI's warm-up statistic, AggMo's
// repeated betas) give the same bits for any thread count and any layout, and
// the reference's structural quirks hold (Adan's per-group step, AggMo's
// shared buffer for a repeated beta, LARS's raw-gradient buffer).
#include <descent/optim/adan.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include "support/optim_testing.h"

#include <cstring>
#include <string>
#include <vector>

namespace {

using dtest::bit_equal;
using dtest::ThreadsGuard;
using dtest::list;
using dtest::num;
using dtest::text;

using descent::OptionMap;
using descent::OptionValue;

std::unique_ptr<descent::Optimizer> make(const std::string& name, std::vector<torch::Tensor> params,
                                         const OptionMap& opts) {
  std::vector<descent::GroupSpec> groups(1);
  groups[0].params = std::move(params);
  return descent::Registry::instance().make(name, std::move(groups), opts);
}

torch::Tensor randn(at::IntArrayRef shape, std::uint64_t seed, at::ScalarType t, double scale = 1.0) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return (at::randn(shape, gen, at::TensorOptions().dtype(at::kDouble)) * scale).to(t);
}

// Runs 3 steps on a large matrix and a vector; returns the parameters.
std::vector<torch::Tensor> run(const std::string& name, const OptionMap& opts, at::ScalarType t,
                               bool transposed = false) {
  std::vector<torch::Tensor> p = {randn({600, 700}, 1, t), randn({1000}, 2, t)};
  if (transposed) p[0] = p[0].t().contiguous().t();  // same values, column-major
  auto opt = make(name, p, opts);
  for (int s = 0; s < 3; ++s) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      auto g = randn(p[i].sizes(), 10 + 7 * s + i, t, 0.05);
      if (transposed && i == 0) g = g.t().contiguous().t();
      p[i].mutable_grad() = g;
    }
    opt->step();
  }
  return p;
}

const std::vector<std::pair<std::string, OptionMap>>& variants() {
  static const std::vector<std::pair<std::string, OptionMap>> v = {
      {"adan", {{"lr", num(0.01)}, {"max_grad_norm", num(0.5)}, {"weight_decay", num(0.01)}}},
      {"lion_kappa", {{"lr", num(0.01)}, {"kappa", text("l2")}, {"weight_decay", num(0.1)}}},
      {"lion_kappa", {{"lr", num(0.01)}, {"kappa", text("huber")}, {"huber_delta", num(0.02)}}},
      {"lars", {{"lr", num(0.1)}, {"weight_decay", num(0.01)}, {"nesterov", OptionValue{OptionValue::Kind::boolean, 0, true, "", {}}}}},
      {"sgd_sai", {{"lr", num(0.01)}}},
      {"aggmo", {{"lr", num(0.01)}, {"betas", list({0.9, 0.0, 0.9, 0.5, 0.3, 0.7, 0.99})}, {"weight_decay", num(0.01)}}},
  };
  return v;
}

TEST(SignMomentum, OptionsThatReduceGiveTheSameBitsForAnyThreadCount) {
  ThreadsGuard guard;
  for (const auto& [name, opts] : variants()) {
    for (auto t : {at::kFloat, at::kDouble}) {
      SCOPED_TRACE(name + " " + c10::toString(t));
      at::set_num_threads(1);
      const auto one = run(name, opts, t);
      at::set_num_threads(2);
      const auto two = run(name, opts, t);
      for (std::size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(bit_equal(one[i], two[i])) << "parameter " << i;
    }
  }
}

TEST(SignMomentum, ColumnMajorParametersGiveTheSameBits) {
  ThreadsGuard guard;
  at::set_num_threads(1);
  for (const auto& [name, opts] : variants()) {
    SCOPED_TRACE(name);
    const auto a = run(name, opts, at::kFloat);
    const auto b = run(name, opts, at::kFloat, /*transposed=*/true);
    ASSERT_FALSE(b[0].is_contiguous());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bit_equal(a[i], b[i])) << "parameter " << i;
  }
}

// Adan's step count is the group's: a parameter that joins late is corrected
// with the group's t, and starts with Δ = 0.
TEST(SignMomentum, AdanCountsStepsPerGroup) {
  auto a = at::zeros({3}, at::kDouble), b = at::zeros({3}, at::kDouble);
  auto opt = make("adan", {a, b}, {{"lr", num(0.1)}});
  a.mutable_grad() = at::ones({3}, at::kDouble);
  opt->step();
  opt->step();
  b.mutable_grad() = at::ones({3}, at::kDouble);
  opt->step();
  EXPECT_EQ(opt->group_state(0).step, 3);
  EXPECT_EQ(opt->state_of(b)->step, 1);
  // Step of b at group step 3 with g = 1, Δ = 0: m = (1−β1), n = (1−β3),
  // p = −lr/bc1·m/(sqrt(n)/sqrt(bc3) + eps) with bc_i = 1 − β_i³.
  const double b1 = 0.98, b3 = 0.99, lr = 0.1;
  const double m = 1 - b1, n = 1 - b3;
  const double bc1 = 1 - b1 * b1 * b1, bc3 = 1 - b3 * b3 * b3;
  const double want = -(lr / bc1) * m / (std::sqrt(n) / std::sqrt(bc3) + 1e-8);
  EXPECT_NEAR(b[0].item<double>(), want, 1e-15);
  EXPECT_TRUE(bit_equal(opt->state_of(b)->buffer("neg_pre_grad"), -at::ones({3}, at::kDouble)));
}

// A repeated beta shares one buffer (the reference's dict), stepped along twice.
TEST(SignMomentum, AggmoRepeatedBetaSharesItsBuffer) {
  auto p = at::zeros({2}, at::kDouble);
  auto opt = make("aggmo", {p}, {{"lr", num(0.3)}, {"betas", list({0.5, 0.0, 0.5})}});
  EXPECT_EQ(opt->state_of(p), nullptr);
  p.mutable_grad() = at::ones({2}, at::kDouble);
  opt->step();
  const auto& buf = opt->state_of(p)->buffer("momentum_buffer");
  ASSERT_EQ(buf.size(0), 2);  // two distinct betas
  // β = 0.5: 0.5·0 + 1 = 1, p = −0.1; β = 0: 1, p = −0.2; β = 0.5 again: 0.5·1 + 1 = 1.5, p = −0.35.
  EXPECT_EQ(buf[0][0].item<double>(), 1.5);
  EXPECT_EQ(buf[1][0].item<double>(), 1.0);
  EXPECT_NEAR(p[0].item<double>(), -0.35, 1e-15);
}

// LARS: the buffer starts as the raw gradient and is updated at the same step;
// vectors get neither trust ratio nor weight decay.
TEST(SignMomentum, LarsFirstStepAndVectors) {
  auto v = at::ones({4}, at::kDouble);
  auto opt = make("lars", {v}, {{"lr", num(0.1)}, {"weight_decay", num(0.5)}, {"momentum", num(0.9)}});
  v.mutable_grad() = at::full({4}, 2.0, at::kDouble);
  opt->step();
  // mb = 0.9·2 + 1·2 = 3.8; p = 1 − 0.1·3.8
  EXPECT_NEAR(v[0].item<double>(), 1 - 0.38, 1e-15);
  EXPECT_EQ(opt->state_of(v)->buffer("momentum_buffer")[0].item<double>(), 3.8);
}

// SGD-SaI's gsnr: unbiased std; a one-element tensor has std NaN → 0, gsnr = |g|/eps.
TEST(SignMomentum, SgdSaiGsnr) {
  auto w = at::zeros({4}, at::kDouble), s = at::zeros({}, at::kDouble);
  auto opt = make("sgd_sai", {w, s}, {{"lr", num(0.01)}, {"eps", num(1e-3)}});
  w.mutable_grad() = at::tensor({1.0, 2.0, 3.0, 4.0}, at::kDouble);
  s.mutable_grad() = at::full({}, -0.5, at::kDouble);
  opt->step();
  const double sd = std::sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3);
  EXPECT_NEAR(opt->state_of(w)->scalar("gsnr"), std::sqrt(30.0) / (sd + 1e-3), 1e-13);
  EXPECT_NEAR(opt->state_of(s)->scalar("gsnr"), 0.5 / 1e-3, 1e-10);
  // The statistic is frozen: later gradients do not change it.
  const double frozen = opt->state_of(w)->scalar("gsnr");
  w.mutable_grad() = at::tensor({5.0, -1.0, 0.0, 2.0}, at::kDouble);
  opt->step();
  EXPECT_EQ(opt->state_of(w)->scalar("gsnr"), frozen);
}

}  // namespace
