#include <descent/optim/adam.h>
#include <descent/optim/sgd.h>
#include <descent/registry.h>

#include <gtest/gtest.h>

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const descent::OptionError& e) {
    return e.what();
  }
  return "";
}

TEST(Options, InvalidValueNamesOptimizerOptionValueAndRange) {
  const auto msg = error_of([] { descent::AdamOptions().lr(-0.5); });
  EXPECT_NE(msg.find("adam"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'lr'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-0.5"), std::string::npos) << msg;
  EXPECT_NE(msg.find(">= 0"), std::string::npos) << msg;
}

TEST(Options, ListOptionsAreCheckedElementwise) {
  const auto msg = error_of([] { descent::AdamWOptions().betas({0.9, 1.0}); });
  EXPECT_NE(msg.find("adamw"), std::string::npos) << msg;
  EXPECT_NE(msg.find("betas"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0, 1)"), std::string::npos) << msg;
}

TEST(Options, RejectedSetterLeavesValueUnchanged) {
  descent::AdamOptions o(0.01);
  EXPECT_THROW(o.eps(std::nan("")), descent::OptionError);
  EXPECT_THROW(o.weight_decay(-1), descent::OptionError);
  EXPECT_EQ(o.eps(), 1e-8);
  EXPECT_EQ(o.weight_decay(), 0.0);
  EXPECT_EQ(o.lr(), 0.01);
}

TEST(Options, CrossFieldRuleIsEnforced) {
  EXPECT_THROW(descent::SGDOptions(0.1).nesterov(true), descent::OptionError);
  descent::SGDOptions o(0.1);
  o.momentum(0.9).nesterov(true);
  EXPECT_TRUE(o.nesterov());
  EXPECT_THROW(o.dampening(0.1), descent::OptionError);
  EXPECT_EQ(o.dampening(), 0.0);
}

TEST(Options, SgdLearningRateIsRequired) {
  auto p = torch::zeros({3}).set_requires_grad(true);
  const auto msg = error_of([&] { descent::make_optimizer("sgd", {p}, "{}"); });
  EXPECT_NE(msg.find("'lr' is required"), std::string::npos) << msg;
}

TEST(Options, RegistryRejectsUnknownOptionListingValidOnes) {
  auto p = torch::zeros({3}).set_requires_grad(true);
  const auto msg = error_of([&] { descent::make_optimizer("adam", {p}, R"({"lr": 0.1, "betaz": [0.9, 0.9]})"); });
  EXPECT_NE(msg.find("unknown option 'betaz'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("betas"), std::string::npos) << msg;
}

TEST(Options, RegistryRejectsWrongType) {
  auto p = torch::zeros({3}).set_requires_grad(true);
  EXPECT_THROW(descent::make_optimizer("adam", {p}, R"({"amsgrad": "yes"})"), descent::OptionError);
  EXPECT_THROW(descent::make_optimizer("adam", {p}, R"({"betas": [0.9]})"), descent::OptionError);
}

TEST(Options, RegistryAcceptsPyTorchImplementationFlags) {
  auto p = torch::zeros({3}).set_requires_grad(true);
  EXPECT_NO_THROW(descent::make_optimizer("adam", {p}, R"({"foreach": null, "capturable": false})"));
}

TEST(Options, UnknownOptimizerListsRegisteredOnes) {
  auto p = torch::zeros({3}).set_requires_grad(true);
  try {
    descent::make_optimizer("adamm", {p});
    FAIL();
  } catch (const descent::UnknownOptimizer& e) {
    EXPECT_NE(std::string(e.what()).find("adamw"), std::string::npos);
  }
}

TEST(Options, LibTorchLrAccessorsWork) {
  auto p = torch::zeros({3}).set_requires_grad(true);
  descent::Adam opt({p}, descent::AdamOptions(0.02));
  EXPECT_EQ(opt.param_groups()[0].options().get_lr(), 0.02);
  opt.param_groups()[0].options().set_lr(0.5);
  EXPECT_EQ(opt.options().lr(), 0.5);
  EXPECT_THROW(opt.param_groups()[0].options().set_lr(-1), descent::OptionError);
}

}  // namespace
