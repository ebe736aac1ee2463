// Errors, for every registered optimizer: step() checks every parameter and
// gradient before it changes anything, and throws std::invalid_argument naming
// the optimizer and the problem. Parameters without a gradient are skipped.
// Invalid options are refused by the setters and leave the options unchanged.
#include <support/optim_testing.h>

#include <descent/optim/adam.h>
#include <descent/optim/sgd.h>

#include <cmath>
#include <limits>

namespace {

using namespace dtest;

class StepErrors : public ::testing::TestWithParam<std::string> {};

// An optimizer over [valid, other] with a twin; `valid` always has a gradient.
struct Rig {
  std::vector<torch::Tensor> params, twin_params;
  std::unique_ptr<Optimizer> opt, twin;

  Rig(const std::string& name, torch::Tensor other, const OptionMap& opts = lr_only()) {
    torch::Tensor valid = random_params({{6}}, at::kFloat, 5)[0];
    params = {valid.clone(), other};
    twin_params = {valid.clone(), other.clone()};
    opt = make(name, params, opts);
    twin = make(name, {twin_params[0]}, opts);  // the twin never sees the bad parameter
  }
  // One valid step of both (the bad parameter has no gradient).
  void good_step(int t) {
    params[0].mutable_grad() = random_grads({params[0]}, 1, 100 + t)[0][0];
    twin_params[0].mutable_grad() = params[0].grad().clone();
    params[1].mutable_grad() = torch::Tensor();
    opt->step();
    twin->step();
  }
};

// Runs step(), which must throw std::invalid_argument whose message names the
// optimizer and contains every part; nothing may change.
void expect_step_refused(Rig& s, const std::string& name, const std::vector<std::string>& parts) {
  // The valid parameter has a fresh gradient, so a step that went ahead would move it.
  s.params[0].mutable_grad() = random_grads({s.params[0]}, 1, 77)[0][0];
  const Snapshot before = snapshot(*s.opt);
  const std::string msg = message_of<std::invalid_argument>([&] { s.opt->step(); });
  EXPECT_TRUE(contains(msg, name + ":")) << "message does not name the optimizer: " << msg;
  for (const auto& p : parts) EXPECT_TRUE(contains(msg, p)) << "message: " << msg << "\nexpected: " << p;
  EXPECT_TRUE(same(before, snapshot(*s.opt))) << "the refused step changed parameters or state";
}

TEST_P(StepErrors, SparseGradient) {
  const std::string name = GetParam();
  for (const auto& [label, opts] : variants_for(name)) {
    SCOPED_TRACE(label);
    Rig s(name, at::zeros({5}), opts);
    s.good_step(0);  // state exists before the failing step
    s.params[1].mutable_grad() = at::ones({5}).to_sparse();
    expect_step_refused(s, name, {"parameter 1", "sparse"});
    // Without the offending gradient the optimizer carries on like its twin.
    s.good_step(1);
    EXPECT_TRUE(bit_equal(s.params[0], s.twin_params[0]));
  }
}

TEST_P(StepErrors, IntegerParameter) {
  const std::string name = GetParam();
  Rig s(name, at::arange(5, at::kLong));
  expect_step_refused(s, name, {"parameter 1", "dtype", "Long"});
  EXPECT_EQ(s.opt->state_of(s.params[0]), nullptr);
  // Integer parameters are refused even with a gradient of their own dtype.
  s.params[1].mutable_grad() = at::ones({5}, at::kLong);
  expect_step_refused(s, name, {"parameter 1", "Long"});
}

TEST_P(StepErrors, HalfPrecisionParameter) {
  const std::string name = GetParam();
  Rig s(name, at::zeros({5}, at::kHalf));
  s.params[1].mutable_grad() = at::ones({5}, at::kHalf);
  expect_step_refused(s, name, {"parameter 1", "dtype", "Half"});
}

TEST_P(StepErrors, GradientOfTheWrongShape) {
  const std::string name = GetParam();
  for (const auto& [label, opts] : variants_for(name)) {
    SCOPED_TRACE(label);
    Rig s(name, at::zeros({2, 3}), opts);
    s.good_step(0);
    // (An optimizer that regroups its parameters names the matrix by its place in its own group.)
    const std::string which = regrouped_params().count(name) ? "parameter" : "parameter 1";
    s.params[1].mutable_grad() = at::ones({3, 2});  // same numel, other shape
    expect_step_refused(s, name, {which, "shape", "[2, 3]", "[3, 2]"});
    s.params[1].mutable_grad() = at::ones({6});
    expect_step_refused(s, name, {which, "shape", "[6]"});
    s.good_step(1);
    EXPECT_TRUE(bit_equal(s.params[0], s.twin_params[0]));
  }
}

TEST_P(StepErrors, GradientOfTheWrongDtype) {
  const std::string name = GetParam();
  for (const auto& [label, opts] : variants_for(name)) {
    SCOPED_TRACE(label);
    Rig s(name, at::zeros({5}), opts);
    s.good_step(0);
    s.params[1].mutable_grad() = at::ones({5}, at::kDouble);
    expect_step_refused(s, name, {"parameter 1", "dtype", "Float", "Double"});
    s.params[1].mutable_grad() = at::ones({5}, at::kBFloat16);
    expect_step_refused(s, name, {"parameter 1", "BFloat16"});
    s.good_step(1);
    EXPECT_TRUE(bit_equal(s.params[0], s.twin_params[0]));
  }
}

// The meta device stands in for a second device (this build is CPU only).
TEST_P(StepErrors, ParametersOnDifferentDevices) {
  const std::string name = GetParam();
  Rig s(name, at::empty({5}, at::TensorOptions().device(at::kMeta)));
  expect_step_refused(s, name, {"parameter 1", "meta", "cpu", "device"});
  EXPECT_EQ(s.opt->state_of(s.params[0]), nullptr);
}

TEST_P(StepErrors, GradientOnAnotherDevice) {
  const std::string name = GetParam();
  Rig s(name, at::zeros({5}));
  s.good_step(0);
  s.params[1].mutable_grad() = at::empty({5}, at::TensorOptions().device(at::kMeta));
  expect_step_refused(s, name, {"parameter 1", "meta"});
}

TEST_P(StepErrors, ParameterWithoutGradientIsSkipped) {
  const std::string name = GetParam();
  if (steps_without_gradient().count(name))
    GTEST_SKIP() << name << " steps parameters without a gradient, as its reference: " << steps_without_gradient().at(name);
  for (const auto& [label, opts] : variants_for(name)) {
    SCOPED_TRACE(label);
    auto p = random_params({{6}, {4}}, at::kFloat, 8);
    auto init = clones(p);
    auto opt = make(name, p, opts);
    for (const auto& g : random_grads(p, 3, 9)) {
      set_grads(p, {g[0], torch::Tensor()});
      opt->step();
    }
    EXPECT_FALSE(bit_equal(p[0], init[0])) << "the parameter with a gradient should move";
    EXPECT_TRUE(bit_equal(p[1], init[1])) << "the parameter without a gradient moved";
    EXPECT_EQ(opt->state_of(p[1]), nullptr) << "state was created for a parameter without a gradient";
    ASSERT_NE(opt->state_of(p[0]), nullptr);
    EXPECT_EQ(opt->state_of(p[0])->step, 3);
    EXPECT_EQ(opt->state().size(), 1u);
  }
}

// ---- options ---------------------------------------------------------------------------

TEST_P(StepErrors, InvalidLearningRateIsRefusedAndLeavesOptionsUnchanged) {
  const std::string name = GetParam();
  auto p = random_params({{6}}, at::kFloat, 8);
  auto q = clones(p);
  auto opt = make(name, p);
  auto twin = make(name, q);
  auto& options = opt->param_groups()[0].options();
  const std::string before = options_bytes(options);
  const double lr = options.get_lr();  // 0.01 (an optimizer that regroups may give this group another lr)
  for (double bad : {-0.5, -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    SCOPED_TRACE(bad);
    const std::string msg = message_of<descent::OptionError>([&] { options.set_lr(bad); });
    // (A wrapper such as lookahead may name the optimizer whose options these are.)
    EXPECT_TRUE(contains(msg, "'lr'")) << msg;
    EXPECT_EQ(options.get_lr(), lr);
    EXPECT_EQ(options_bytes(options), before);
  }
  // The optimizer still steps with its old options.
  for (const auto& g : random_grads(p, 2, 3)) {
    set_grads(p, g);
    set_grads(q, g);
    opt->step();
    twin->step();
  }
  EXPECT_TRUE(bit_equal(p[0], q[0]));
}

TEST_P(StepErrors, InvalidOptionsAreRefusedByTheRegistry) {
  const std::string name = GetParam();
  auto p = random_params({{6}}, at::kFloat, 8);
  EXPECT_THROW(make(name, p, {{"lr", num(-1)}}), descent::OptionError);
  EXPECT_THROW(make(name, p, {{"lr", num(0.01)}, {"no_such_option", num(1)}}), descent::OptionError);
  for (const char* key : {"eps", "weight_decay", "momentum"}) {
    OptionMap m = lr_only();
    m[key] = num(-1);
    try {
      make(name, p, m);
      ADD_FAILURE() << key << " = -1 was accepted";
    } catch (const descent::OptionError& e) {
      EXPECT_TRUE(contains(e.what(), name)) << e.what();
    }
  }
}

// A param group given another optimizer's options is refused at step(), before
// anything changes.
TEST_P(StepErrors, GroupWithOptionsOfAnotherOptimizerIsRefused) {
  const std::string name = GetParam();
  auto p = random_params({{6}}, at::kFloat, 8);
  auto opt = make(name, p);
  set_grads(p, random_grads(p, 1, 2)[0]);
  opt->step();
  const Snapshot before = snapshot(*opt);
  if (name == "sgd")
    opt->param_groups()[0].set_options(std::make_unique<descent::AdamOptions>(0.01));
  else
    opt->param_groups()[0].set_options(std::make_unique<descent::SGDOptions>(0.01));
  const std::string msg = message_of<descent::OptionError>([&] { opt->step(); });
  EXPECT_TRUE(contains(msg, name)) << msg;
  Snapshot after = snapshot(*opt);
  after.options = before.options;  // the swapped-in options differ by construction
  after.lrs = before.lrs;
  EXPECT_TRUE(same(before, after));
}

INSTANTIATE_TEST_SUITE_P(Registry, StepErrors, ::testing::ValuesIn(optimizer_names()), NameOfParam());

// Typed setters on a live optimizer's options.
TEST(OptionErrors, TypedSettersOnAnOptimizerLeaveOptionsUnchanged) {
  auto p = random_params({{6}}, at::kFloat, 8);
  descent::Adam adam(p, descent::AdamOptions(0.02));
  const std::string before = options_bytes(adam.options());
  EXPECT_THROW(adam.options().betas({0.9, 1.0}), descent::OptionError);
  EXPECT_THROW(adam.options().eps(-1e-8), descent::OptionError);
  EXPECT_THROW(adam.options().weight_decay(std::nan("")), descent::OptionError);
  EXPECT_EQ(options_bytes(adam.options()), before);

  descent::SGD sgd(clones(p), descent::SGDOptions(0.1).momentum(0.9));
  const std::string sgd_before = options_bytes(sgd.options());
  EXPECT_THROW(sgd.options().momentum(-0.1), descent::OptionError);
  EXPECT_THROW(sgd.options().dampening(0.5).nesterov(true), descent::OptionError);  // dampening applied, then refused
  EXPECT_EQ(sgd.options().dampening(), 0.5);
  EXPECT_FALSE(sgd.options().nesterov());
  sgd.options().dampening(0);
  EXPECT_EQ(options_bytes(sgd.options()), sgd_before);
}

}  // namespace
