// Mixed precision for bfloat16 parameters (the bf16_mode option every
// optimizer has): a float32 master copy, or stochastic rounding without one.
#include <support/optim_testing.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <iostream>

namespace {

using namespace dtest;

OptionValue str(const std::string& s) {
  OptionValue v;
  v.kind = OptionValue::Kind::string;
  v.string = s;
  return v;
}

std::vector<torch::Tensor> to_dtype(const std::vector<torch::Tensor>& ps, at::ScalarType t) {
  std::vector<torch::Tensor> out;
  for (const auto& x : ps) out.push_back(x.to(t, false, /*copy=*/true));
  return out;
}

// Whether `name` takes bf16_mode = master_weights on bfloat16 parameters
// (optimizers that write parameters outside the fused kernels refuse it at
// the first step, with an error naming the option).
bool accepts_master(const std::string& name) {
  // A matrix and a vector (optimizers such as Muon treat them differently).
  auto m = at::zeros({4, 4}, at::kBFloat16);
  auto p = at::zeros({4}, at::kBFloat16);
  m.mutable_grad() = at::ones({4, 4}, at::kBFloat16);
  p.mutable_grad() = at::ones({4}, at::kBFloat16);
  OptionMap o = lr_only();
  o["bf16_mode"] = str("master_weights");
  auto opt = make(name, {m, p}, o);
  try {
    opt->step();
  } catch (const descent::OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("bf16_mode"), std::string::npos) << e.what();
    EXPECT_TRUE(at::equal(p, at::zeros({4}, at::kBFloat16)) && at::equal(m, at::zeros({4, 4}, at::kBFloat16)))
        << "refused, but a parameter moved";
    return false;
  }
  return true;
}

class MixedPrecision : public ::testing::TestWithParam<std::string> {};

// With a master copy, a bfloat16 run is the float32 run: the master copy
// follows the float32 trajectory (the same operations on the same numbers,
// as long as the optimizer reads the parameter only through its kernels), and
// the parameter is the master copy rounded to nearest. Tolerance: the issue's
// "within bfloat16 precision", 2^-8 of the magnitude per step; the test also
// reports how many optimizers match bit for bit.
TEST_P(MixedPrecision, MasterWeightsTrackTheFloat32Trajectory) {
  const std::string name = GetParam();
  if (!accepts_master(name)) GTEST_SKIP() << name << " refuses bf16_mode = master_weights (says so at step())";
  constexpr int steps = 10;
  auto init = to_dtype(to_dtype(random_params({{30, 20}, {7}}, at::kFloat, 51), at::kBFloat16), at::kFloat);
  auto grads32 = random_grads(to_dtype(init, at::kBFloat16), steps, 52);
  for (auto& gs : grads32) gs = to_dtype(gs, at::kFloat);
  auto p32 = to_dtype(init, at::kFloat);
  auto p16 = to_dtype(init, at::kBFloat16);
  OptionMap o = lr_only();
  auto a = make(name, p32, o);
  o["bf16_mode"] = str("master_weights");
  auto b = make(name, p16, o);
  for (int t = 0; t < steps; ++t) {
    set_grads(p32, grads32[t]);
    set_grads(p16, to_dtype(grads32[t], at::kBFloat16));
    a->step();
    b->step();
  }
  bool exact = true;
  for (std::size_t i = 0; i < p16.size(); ++i) {
    const auto* st = b->state_of(p16[i]);
    ASSERT_NE(st, nullptr);
    ASSERT_TRUE(st->master.defined()) << "no master copy";
    ASSERT_EQ(st->master.scalar_type(), at::kFloat);
    const auto nan = p32[i].isnan();
    // (NaN is compared as NaN: its bit pattern is not the point.)
    EXPECT_TRUE(bit_equal(p16[i].masked_fill(nan, 0), st->master.to(at::kBFloat16).masked_fill(nan, 0)) &&
                at::equal(p16[i].isnan(), nan))
        << "the parameter is not its master copy rounded";
    ASSERT_TRUE(at::equal(nan, st->master.isnan()));
    auto err = (st->master - p32[i]).abs().masked_fill(nan, 0);
    auto tol = (at::max(init[i].abs(), p32[i].abs().masked_fill(nan, 0)) + 0.05) * (steps * std::ldexp(1.0, -8));
    EXPECT_TRUE((err <= tol).all().item<bool>()) << "parameter " << i << ": max error " << err.max().item<double>();
    exact = exact && bit_equal(st->master, p32[i]);
  }
  // 4 more bytes per parameter: the master copy.
  EXPECT_EQ(b->state_bytes(), a->state_bytes() + 4 * (600 + 7));
  if (exact) std::cout << "[   NOTE   ] " << name << ": master copy equals the float32 run bit for bit\n";
}

INSTANTIATE_TEST_SUITE_P(Registry, MixedPrecision, ::testing::ValuesIn(optimizer_names()), NameOfParam());

// The optimizers known to write their parameters outside the fused kernels
// refuse the modes, naming the option; the others take them.
TEST(MixedPrecisionNamed, WhoRefusesTheModes) {
  for (const char* name : {"adafactor", "came", "schedule_free_adamw", "lookahead", "adamp", "sgdp", "aggmo", "muon", "mfac"})
    EXPECT_FALSE(accepts_master(name)) << name;
  for (const char* name : {"sgd", "adamw", "lion", "lamb", "adan", "adam8bit"}) EXPECT_TRUE(accepts_master(name)) << name;
}

TEST(MixedPrecisionNamed, InvalidModeNamesTheChoices) {
  auto p = at::zeros({4}, at::kBFloat16);
  OptionMap o = lr_only();
  o["bf16_mode"] = str("fp8");
  try {
    make("adamw", {p}, o);
    FAIL() << "accepted bf16_mode = fp8";
  } catch (const descent::OptionError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("bf16_mode"), std::string::npos) << m;
    EXPECT_NE(m.find("fp8"), std::string::npos) << m;
    EXPECT_NE(m.find("stochastic_rounding"), std::string::npos) << m;
  }
}

// Updates far below half a bfloat16 ulp: rounding to nearest loses them all,
// stochastic rounding keeps them on average. SGD, lr·g = 1e-4 per step on
// parameters at 1.0 (ulp 2^-7 above 1, 2^-8 below): after 20 steps the mean
// is 1 − 2e-3 within statistical bounds.
TEST(MixedPrecisionNamed, StochasticRoundingKeepsTinyUpdatesOnAverage) {
  const std::int64_t n = 200000;
  constexpr int steps = 20;
  auto nearest = at::ones({n}, at::kBFloat16);
  auto sr = at::ones({n}, at::kBFloat16);
  OptionMap o = lr_only(1e-4);
  auto a = make("sgd", {nearest}, o);
  o["bf16_mode"] = str("stochastic_rounding");
  auto b = make("sgd", {sr}, o);
  for (int t = 0; t < steps; ++t) {
    nearest.mutable_grad() = at::ones({n}, at::kBFloat16);
    sr.mutable_grad() = at::ones({n}, at::kBFloat16);
    a->step();
    b->step();
  }
  EXPECT_TRUE(at::equal(nearest, at::ones({n}, at::kBFloat16))) << "round to nearest should lose every update";
  const double mean = sr.to(at::kDouble).mean().item<double>();
  const double expect = 1.0 - steps * 1e-4;
  // Each element is a sum of 20 roundings of spread at most one ulp (2^-8):
  // the mean's standard deviation is below 2^-8·sqrt(20/(4n)).
  const double sigma = std::ldexp(1.0, -8) * std::sqrt(steps / (4.0 * n));
  EXPECT_NEAR(mean, expect, 6 * sigma) << "mean " << mean;
  EXPECT_EQ(b->state_bytes(), 0) << "stochastic rounding keeps no copy";
}

// Same seed, same bits; another seed, other bits; thread count irrelevant.
TEST(MixedPrecisionNamed, StochasticRoundingIsReproducible) {
  auto run = [](std::int64_t seed, int threads) {
    const int saved = at::get_num_threads();
    at::set_num_threads(threads);
    auto p = random_params({{300, 400}}, at::kBFloat16, 3);
    OptionMap o = lr_only(1e-3);
    o["bf16_mode"] = str("stochastic_rounding");
    o["bf16_seed"] = num(static_cast<double>(seed));
    auto opt = make("adamw", p, o);
    for (int t = 0; t < 3; ++t) {
      set_grads(p, random_params({{300, 400}}, at::kBFloat16, 10 + t));
      opt->step();
    }
    at::set_num_threads(saved);
    return p[0];
  };
  const auto a = run(1, 1);
  EXPECT_TRUE(bit_equal(a, run(1, 2)));
  EXPECT_FALSE(bit_equal(a, run(2, 1)));
}

// The master copy is part of the checkpoint: resuming gives the uninterrupted run bit for bit.
TEST(MixedPrecisionNamed, MasterCopyRoundTripsThroughCheckpoints) {
  auto grads = random_grads(random_params({{20, 10}}, at::kBFloat16, 1), 6, 2);
  auto start = random_params({{20, 10}}, at::kBFloat16, 1);
  OptionMap o = lr_only(1e-2);
  o["bf16_mode"] = str("master_weights");
  auto p = clones(start);
  auto full = make("adamw", p, o);
  auto q = clones(start);
  auto first = make("adamw", q, o);
  for (int t = 0; t < 3; ++t) {
    set_grads(p, grads[t]);
    full->step();
    set_grads(q, grads[t]);
    first->step();
  }
  const std::string path = temp_path("master");
  torch::save(*first, path);
  auto r = clones(q);
  auto resumed = make("adamw", r, o);
  torch::load(*resumed, path);
  ASSERT_TRUE(resumed->state_of(r[0])->master.defined());
  EXPECT_TRUE(bit_equal(resumed->state_of(r[0])->master, first->state_of(q[0])->master));
  for (int t = 3; t < 6; ++t) {
    set_grads(p, grads[t]);
    full->step();
    set_grads(r, grads[t]);
    resumed->step();
  }
  EXPECT_TRUE(bit_equal(p[0], r[0]));
  EXPECT_TRUE(bit_equal(full->state_of(p[0])->master, resumed->state_of(r[0])->master));
  std::remove(path.c_str());
}

// Switching back to nearest drops the copy (the parameter already holds its rounding).
TEST(MixedPrecisionNamed, SwitchingModesCreatesAndDropsTheMasterCopy) {
  auto p = random_params({{50}}, at::kBFloat16, 4);
  OptionMap o = lr_only(1e-2);
  auto opt = make("adam", p, o);
  auto& opts = static_cast<descent::OptionsBase&>(opt->param_groups()[0].options());
  opts.set("bf16_mode", str("master_weights"));
  set_grads(p, random_params({{50}}, at::kBFloat16, 5));
  opt->step();
  EXPECT_TRUE(opt->state_of(p[0])->master.defined());
  opts.set("bf16_mode", str("nearest"));
  opt->step();
  EXPECT_FALSE(opt->state_of(p[0])->master.defined());
}

}  // namespace

namespace {

// The 8-bit state driver honours the modes too: lion with int8 state and a
// master copy runs exactly as lion with int8 state on float32 parameters.
TEST(MixedPrecisionNamed, MasterWeightsWithEightBitState) {
  auto init = to_dtype(to_dtype(random_params({{64, 70}}, at::kFloat, 61), at::kBFloat16), at::kFloat);
  auto grads = random_grads(to_dtype(init, at::kBFloat16), 5, 62);
  auto p32 = to_dtype(init, at::kFloat);
  auto p16 = to_dtype(init, at::kBFloat16);
  OptionMap o = lr_only(1e-3);
  o["state_dtype"] = str("int8");
  auto a = make("lion", p32, o);
  o["bf16_mode"] = str("master_weights");
  auto b = make("lion", p16, o);
  for (const auto& g : grads) {
    set_grads(p32, {g[0].to(at::kFloat)});
    set_grads(p16, {g[0]});
    a->step();
    b->step();
  }
  const auto& master = b->state_of(p16[0])->master;
  ASSERT_TRUE(master.defined());
  EXPECT_TRUE(bit_equal(master, p32[0]));
  EXPECT_TRUE(bit_equal(p16[0], master.to(at::kBFloat16)));
  EXPECT_FALSE(bit_equal(p32[0], init[0]));
}

}  // namespace
