// Lion-κ: kappa = "l1" is Lion bit for bit (also on Lion's golden cases), and
// for each K the decoupled weight decay λ drives the iterates into the set the
// paper predicts, {x : ‖∇K*‖-ball of radius 1/λ}:
//   l1     ‖x‖∞ ≤ 1/λ
//   l2     ‖x‖₂ ≤ 1/λ for each tensor
//   huber  ‖x‖∞ ≤ 1/λ (the box; K* adds (δ/2)‖λx‖² inside it)
// and keeps them there. On f(x) = ½‖x − a‖² with a outside the set they also
// settle at the constrained minimizer the paper's analysis gives.
#include <descent/golden.h>
#include <descent/optim/lion.h>
#include <descent/optim/lion_kappa.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include "support/optim_testing.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using dtest::bit_equal;
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

std::vector<torch::Tensor> randn(const std::vector<std::vector<std::int64_t>>& shapes, at::ScalarType t,
                                 std::uint64_t seed, double scale = 1.0) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<torch::Tensor> out;
  for (const auto& s : shapes)
    out.push_back((at::randn(s, gen, at::TensorOptions().dtype(at::kDouble)) * scale).to(t));
  return out;
}

// ---- kappa = l1 is Lion ----------------------------------------------------------------

TEST(LionKappa, L1IsLionBitForBit) {
  for (auto dtype : {at::kFloat, at::kDouble, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const std::vector<std::vector<std::int64_t>> shapes = {{7, 5}, {}, {300}};
    const auto init = randn(shapes, dtype, 1);
    std::vector<torch::Tensor> a, b;
    for (const auto& t : init) {
      a.push_back(t.clone());
      b.push_back(t.clone());
    }
    const OptionMap opts = {{"lr", num(0.01)}, {"weight_decay", num(0.3)}};
    OptionMap kopts = opts;
    kopts["kappa"] = text("l1");
    auto lion = make("lion", a, opts);
    auto kappa = make("lion_kappa", b, kopts);
    for (int step = 0; step < 25; ++step) {
      const auto grads = randn(shapes, dtype, 100 + step, 0.05);
      for (std::size_t i = 0; i < init.size(); ++i) {
        // Exact zeros now and then: sign(0) = 0 in both.
        auto g = step == 7 ? at::zeros_like(grads[i]) : grads[i];
        a[i].mutable_grad() = g.clone();
        b[i].mutable_grad() = g.clone();
      }
      lion->step();
      kappa->step();
    }
    for (std::size_t i = 0; i < init.size(); ++i) {
      EXPECT_TRUE(bit_equal(a[i], b[i])) << "parameter " << i;
      EXPECT_TRUE(bit_equal(lion->state_of(a[i])->buffer("exp_avg"), kappa->state_of(b[i])->buffer("exp_avg")));
    }
  }
}

TEST(LionKappa, L1PassesLionsGoldenCases) {
  int cases = 0;
  for (const auto& e : std::filesystem::directory_iterator(DESCENT_GOLDEN_DIR)) {
    const std::string file = e.path().filename().string();
    if (file.rfind("lion__", 0) != 0 || e.path().extension() != ".json") continue;
    SCOPED_TRACE(file);
    auto c = descent::golden::load_case(e.path().string());
    const auto lion = descent::golden::replay(c);
    c.optimizer = "lion_kappa";
    c.options["kappa"] = text("l1");
    const auto kappa = descent::golden::replay(c);
    const auto r = descent::golden::compare(c, kappa);
    EXPECT_TRUE(r.passed) << r.detail;
    EXPECT_EQ(lion.steps, kappa.steps) << "lion_kappa (l1) differs from lion";
    ++cases;
  }
  EXPECT_GE(cases, 2);
}

// ---- the constraint ----------------------------------------------------------------------

// The norm the set is defined by, for each tensor.
double set_norm(const std::string& kappa, const torch::Tensor& x) {
  auto d = x.to(at::kDouble);
  if (kappa == "l2") return d.norm().item<double>();
  return d.abs().max().item<double>();
}

struct Trace {
  std::vector<torch::Tensor> params;
  double worst_after_entry = 0;  // largest norm / (1/λ) seen after `entry` steps
  int first_inside = -1;         // first step at which every tensor was inside (with slack)
};

// Lion-κ on f(x) = ½‖x − a‖² (+ noise), from x0 outside the set.
Trace run_lion_kappa(const std::string& kappa, at::ScalarType dtype, double lambda, double lr, int steps, int entry,
        double noise, double slack, const std::vector<torch::Tensor>& x0, const std::vector<torch::Tensor>& a) {
  Trace out;
  for (const auto& t : x0) out.params.push_back(t.to(dtype).clone());
  OptionMap opts = {{"lr", num(lr)}, {"weight_decay", num(lambda)}, {"kappa", text(kappa)},
                    {"huber_delta", num(0.5)}};
  auto opt = make("lion_kappa", out.params, opts);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(77);
  const double radius = 1 / lambda;
  for (int t = 1; t <= steps; ++t) {
    for (std::size_t i = 0; i < out.params.size(); ++i) {
      auto g = out.params[i].to(at::kDouble) - a[i];
      if (noise > 0) g = g + noise * at::randn(g.sizes(), gen, at::TensorOptions().dtype(at::kDouble));
      out.params[i].mutable_grad() = g.to(dtype);
    }
    opt->step();
    bool inside = true;
    for (const auto& p : out.params) {
      const double r = set_norm(kappa, p) / radius;
      inside = inside && r <= 1 + slack;
      if (t > entry) out.worst_after_entry = std::max(out.worst_after_entry, r);
    }
    if (inside && out.first_inside < 0) out.first_inside = t;
  }
  return out;
}

class Constraint : public ::testing::TestWithParam<std::string> {};

TEST_P(Constraint, IteratesEnterTheSetAndStayThere) {
  const std::string kappa = GetParam();
  const double lambda = 0.5, lr = 0.01;  // radius 2; the excess shrinks by (1 − lr·λ) per step
  const std::vector<std::vector<std::int64_t>> shapes = {{6, 4}, {5}, {}};
  // Start far outside (every coordinate about ±6) and pull towards a = ±4·(...),
  // also outside, so the set, not the loss, keeps the iterates in.
  auto x0 = randn(shapes, at::kDouble, 3);
  auto a = randn(shapes, at::kDouble, 4);
  for (auto& t : x0) t = 6.0 * t.sign() + 0.1 * t;
  for (auto& t : a) t = 4.0 * t.sign() + 0.5 * t;
  for (auto dtype : {at::kDouble, at::kFloat}) {
    for (double noise : {0.0, 0.3}) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " noise " + std::to_string(noise));
      double start = 0;  // the largest norm·λ at the start
      for (std::size_t i = 0; i < x0.size(); ++i) start = std::max(start, set_norm(kappa, x0[i]) * lambda);
      ASSERT_GT(start, 2.5);
      const double slack = 1e-3;
      const Trace r = run_lion_kappa(kappa, dtype, lambda, lr, 4000, 2000, noise, slack, x0, a);
      // The excess over the radius shrinks at least by (1 − lr·λ) per step, whatever the gradients:
      // inside within the slack after log(slack/(start − 1))/log(1 − lr·λ) steps (≈ 1520 here) ...
      const double predicted = std::log(slack / (start - 1)) / std::log(1 - lr * lambda);
      ASSERT_GT(r.first_inside, 0) << "never entered the set";
      EXPECT_LE(r.first_inside, std::ceil(predicted) + 1);
      // ... inside at every step after ...
      EXPECT_LE(r.worst_after_entry, 1 + slack);
      // ... and after 4000 steps the excess is below 1e-7 (2·(1 − 0.005)^4000 ≈ 4e-9), up to rounding: a
      // rounding error e per step moves the fixed point of p ← p·(1 − lr·λ) − lr by e/(lr·λ), about
      // 2e-5 of the radius in float32.
      const double rounding = dtype == at::kFloat ? 1e-4 : 1e-7;
      for (const auto& p : r.params) EXPECT_LE(set_norm(kappa, p) * lambda, 1 + rounding);
      // The pull towards a keeps them on the boundary, not trivially inside.
      double largest = 0;
      for (const auto& p : r.params) largest = std::max(largest, set_norm(kappa, p) * lambda);
      EXPECT_GT(largest, 0.95);
    }
  }
}

// Without noise the iterates settle (within a few steps of lr) at the
// constrained minimizer of ½‖x − a‖²: the projection of a onto the box (l1),
// a/‖a‖·(1/λ) per tensor (l2), clamp(a/(1 + λδ), ±1/λ) (huber).
TEST_P(Constraint, SettlesAtTheConstrainedMinimizer) {
  const std::string kappa = GetParam();
  const double lambda = 0.5, lr = 0.002, delta = 0.5;
  const std::vector<std::vector<std::int64_t>> shapes = {{4, 3}, {6}};
  auto x0 = randn(shapes, at::kDouble, 5, 3.0);
  auto a = randn(shapes, at::kDouble, 6, 3.0);
  const Trace r = run_lion_kappa(kappa, at::kDouble, lambda, lr, 12000, 11000, 0.0, 1e-3, x0, a);
  for (std::size_t i = 0; i < a.size(); ++i) {
    torch::Tensor want;
    if (kappa == "l1") {
      want = a[i].clamp(-1 / lambda, 1 / lambda);
    } else if (kappa == "l2") {
      const double n = a[i].norm().item<double>();
      want = n > 1 / lambda ? a[i] / (n * lambda) : a[i];
    } else {
      want = (a[i] / (1 + lambda * delta)).clamp(-1 / lambda, 1 / lambda);
    }
    const double err = (r.params[i] - want).abs().max().item<double>();
    EXPECT_LT(err, 0.05) << "tensor " << i << ": got " << r.params[i] << " want " << want;
  }
}

INSTANTIATE_TEST_SUITE_P(Kappa, Constraint, ::testing::Values("l1", "l2", "huber"));

// ∇K(0) = 0 for l2: a zero interpolation (zero gradient, fresh state) leaves only the decay.
TEST(LionKappa, L2AtZeroOnlyDecays) {
  auto p = at::full({3, 2}, 2.0, at::kDouble);
  auto opt = make("lion_kappa", {p}, {{"lr", num(0.1)}, {"weight_decay", num(0.5)}, {"kappa", text("l2")}});
  p.mutable_grad() = at::zeros_like(p);
  opt->step();
  EXPECT_TRUE(at::allclose(p, at::full({3, 2}, 2.0 * (1 - 0.1 * 0.5), at::kDouble), 0, 0));
}

// l2 moves each tensor by exactly lr along −c/‖c‖ (plus the decay).
TEST(LionKappa, L2StepHasLengthLr) {
  auto p = at::zeros({10}, at::kDouble);
  auto opt = make("lion_kappa", {p}, {{"lr", num(0.1)}, {"kappa", text("l2")}});
  p.mutable_grad() = at::arange(10, at::kDouble) - 4.5;
  opt->step();
  EXPECT_NEAR(p.norm().item<double>(), 0.1, 1e-15);
  EXPECT_TRUE(at::allclose(p, -0.1 * p.grad() / p.grad().norm(), 0, 1e-16));
}

TEST(LionKappa, HuberIsLinearInsideAndSignOutside) {
  auto p = at::zeros({4}, at::kDouble);
  auto opt = make("lion_kappa", {p},
                  {{"lr", num(1.0)}, {"betas", OptionValue{OptionValue::Kind::list, 0, false, "", {0.0, 0.5}}},
                   {"kappa", text("huber")}, {"huber_delta", num(0.2)}});
  p.mutable_grad() = at::tensor({-1.0, -0.1, 0.05, 0.4}, at::kDouble);
  opt->step();  // β1 = 0: c = g
  EXPECT_TRUE(at::allclose(p, at::tensor({1.0, 0.5, -0.25, -1.0}, at::kDouble), 0, 1e-15)) << p;
}

TEST(LionKappa, OptionsAreChecked) {
  auto p = at::zeros({2});
  EXPECT_THROW(make("lion_kappa", {p}, {{"kappa", text("linf")}}), descent::OptionError);
  EXPECT_THROW(make("lion_kappa", {p}, {{"huber_delta", num(0.0)}}), descent::OptionError);
  EXPECT_NO_THROW(make("lion_kappa", {p}, {{"kappa", text("huber")}, {"huber_delta", num(1e-3)}}));
}

}  // namespace
