// Lookahead around descent optimizers: golden cases; k = 1, alpha = 1 is the
// inner optimizer bit for bit; checkpoints (resume bit-identically with the
// slow weights, refuse foreign or broken ones unchanged); LibTorch schedulers
// reach the inner optimizer; pullback_momentum on SGD; options and errors.
#include <descent/golden.h>
#include <descent/optim/adam.h>
#include <descent/optim/lookahead.h>
#include <descent/optim/sgd.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include "support/optim_testing.h"
#include <torch/optim/schedulers/step_lr.h>
#include <torch/serialize.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

using dtest::bit_equal;
using dtest::flag;
using dtest::num;
using dtest::text;

using descent::Lookahead;
using descent::LookaheadOptions;
using descent::OptionError;
using descent::OptionMap;
using descent::OptionValue;
using descent::Optimizer;

std::unique_ptr<Optimizer> make(const std::string& name, const std::vector<torch::Tensor>& params,
                                const OptionMap& options) {
  std::vector<descent::GroupSpec> groups(1);
  groups[0].params = params;
  return descent::Registry::instance().make(name, std::move(groups), options);
}

std::vector<torch::Tensor> params_of(at::ScalarType dtype, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<torch::Tensor> out;
  for (std::vector<std::int64_t> shape : {std::vector<std::int64_t>{4, 3}, {5}, {}, {2, 3, 2}})
    out.push_back(at::randn(shape, gen, at::TensorOptions().dtype(at::kDouble)).to(dtype));
  return out;
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

// Gradients for step t (param 1 has none at step 3).
void set_grads(const std::vector<torch::Tensor>& params, int t) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + t);
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto g = at::randn(params[i].sizes(), gen, at::TensorOptions().dtype(at::kDouble)).to(params[i].scalar_type());
    params[i].mutable_grad() = (i == 1 && t == 3) ? torch::Tensor() : g * 0.1;
  }
}

bool all_bit_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!bit_equal(a[i], b[i])) return false;
  return true;
}

void run(Optimizer& opt, const std::vector<torch::Tensor>& params, int from, int to) {
  for (int t = from; t < to; ++t) {
    set_grads(params, t);
    opt.step();
  }
}

std::string checkpoint(const Optimizer& opt) {
  std::ostringstream s;
  torch::save(opt, s);
  return s.str();
}

void load(Optimizer& opt, const std::string& bytes) {
  std::istringstream s(bytes);
  torch::load(opt, s);
}

// Everything a load could change: options, the wrapper's states, the inner's states.
std::string fingerprint(const Lookahead& opt, const std::vector<torch::Tensor>& params) {
  std::ostringstream out;
  out << opt.lookahead_options().describe() << ";";
  for (const auto& g : opt.param_groups()) out << dynamic_cast<const descent::OptionsBase&>(g.options()).describe();
  for (const Optimizer* o : {static_cast<const Optimizer*>(&opt), &opt.inner()}) {
    for (std::size_t gi = 0; gi < o->param_groups().size(); ++gi)
      out << "|g" << o->group_state(gi).step << ":" << (o->group_state(gi).scalars.empty() ? -1 : o->group_state(gi).scalars[0]);
    for (const auto& p : params) {
      const auto* st = o->state_of(p);
      if (st == nullptr) {
        out << "|none";
        continue;
      }
      out << "|" << st->step;
      for (double s : st->scalars) out << "," << s;
      for (const auto& b : st->buffers)
        if (b.defined()) out << "," << b.sum().item<double>() << "/" << b.abs().sum().item<double>();
    }
  }
  return out.str();
}

// ---- golden ---------------------------------------------------------------------------------

TEST(LookaheadGolden, EveryCasePassesAtEveryStep) {
  namespace fs = std::filesystem;
  int cases = 0;
  for (const char* sub : {"", "extra"}) {
    const fs::path dir = fs::path(DESCENT_GOLDEN_DIR) / sub;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string file = e.path().filename().string();
      if (file.rfind("lookahead__", 0) != 0) continue;
      SCOPED_TRACE(e.path().string());
      const auto c = descent::golden::load_case(e.path().string());
      const auto r = descent::golden::compare(c, descent::golden::replay(c));
      EXPECT_TRUE(r.passed) << r.detail;
      ++cases;
    }
  }
  EXPECT_GE(cases, 2);
}

// ---- k = 1, alpha = 1 -----------------------------------------------------------------------

TEST(Lookahead, KOneAlphaOneIsTheInnerOptimizerBitForBit) {
  const std::vector<std::pair<std::string, OptionMap>> inners = {
      {"adamw", {{"lr", num(0.01)}, {"amsgrad", flag(true)}}},
      {"sgd", {{"lr", num(0.1)}, {"momentum", num(0.9)}, {"nesterov", flag(true)}}},
      {"rmsprop", {{"lr", num(0.01)}, {"momentum", num(0.5)}, {"centered", flag(true)}}},
      {"adafactor", {{"lr", num(0.01)}}},
      {"came", {{"lr", num(0.01)}, {"ams_bound", flag(true)}}},
  };
  for (const auto& [name, options] : inners) {
    for (const char* pullback : {"none", "reset", "pullback"}) {
      for (auto dtype : {at::kDouble, at::kFloat}) {
        SCOPED_TRACE(name + " " + pullback + " " + c10::toString(dtype));
        auto p = params_of(dtype, 1), q = clones(p);
        OptionMap la = options;
        la["optimizer"] = text(name);
        la["k"] = num(1);
        la["alpha"] = num(1.0);
        la["pullback_momentum"] = text(pullback);
        auto a = make("lookahead", p, la);
        auto b = make(name, q, options);
        run(*a, p, 1, 9);
        run(*b, q, 1, 9);
        // "reset" zeroes SGD's and RMSprop's momentum buffer at every sync; "pullback"
        // with alpha = 1 leaves it as it is (b·1 + 0·slow).
        if (std::string(pullback) != "reset" || name == "adamw" || name == "adafactor" || name == "came") {
          EXPECT_TRUE(all_bit_equal(p, q));
          const auto& inner = static_cast<Lookahead&>(*a).inner();
          for (std::size_t i = 0; i < p.size(); ++i)
            for (std::size_t k = 0; k < b->state_of(q[i])->buffers.size(); ++k)
              EXPECT_TRUE(bit_equal(inner.state_of(p[i])->buffers[k], b->state_of(q[i])->buffers[k]));
        }
        EXPECT_EQ(a->state_of(p[0])->step, 8);
        EXPECT_EQ(a->state_of(p[1])->step, 7);  // no gradient at step 3
      }
    }
  }
}

// ---- the wrapper in use -----------------------------------------------------------------------

TEST(Lookahead, SlowWeightsAreThePreStepWeightsAndSyncEveryKSteps) {
  auto p = params_of(at::kDouble, 3);
  const auto init = clones(p);
  auto opt = std::make_unique<Lookahead>(std::make_unique<descent::AdamW>(p, descent::AdamWOptions(0.01)),
                                         LookaheadOptions().k(3).alpha(0.25));
  auto twin_p = clones(p);
  descent::AdamW twin(twin_p, descent::AdamWOptions(0.01));
  run(*opt, p, 1, 3);  // two steps: no sync yet
  run(twin, twin_p, 1, 3);
  EXPECT_TRUE(all_bit_equal(p, twin_p));
  EXPECT_TRUE(bit_equal(opt->state_of(p[0])->buffer(std::string("slow_param")), init[0]));
  EXPECT_EQ(opt->group_state(0).scalars[0], 2);  // counter
  // Step 3 syncs: p = 0.25·fast + 0.75·slow, slow = p.
  set_grads(p, 3);
  set_grads(twin_p, 3);
  opt->step();
  twin.step();
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto& slow = opt->state_of(p[i])->buffer(std::string("slow_param"));
    if (i == 1) {  // no gradient at step 3: not synced, still the fast weights
      EXPECT_TRUE(bit_equal(p[i], twin_p[i]));
      EXPECT_TRUE(bit_equal(slow, init[i]));
      continue;
    }
    EXPECT_TRUE(bit_equal(slow, p[i]));
    EXPECT_TRUE(bit_equal(p[i], twin_p[i] * 0.25 + 0.75 * init[i]));
  }
  EXPECT_EQ(opt->group_state(0).scalars[0], 0);
}

TEST(Lookahead, StepLROnTheWrapperChangesTheInnerLearningRate) {
  auto p = params_of(at::kFloat, 4), q = clones(p);
  auto a = make("lookahead", p, {{"lr", num(0.01)}, {"k", num(2)}});
  auto b = make("lookahead", q, {{"lr", num(0.01)}, {"k", num(2)}});
  auto& wrapper = static_cast<Lookahead&>(*a);
  torch::optim::StepLR scheduler(*a, /*step_size=*/1, /*gamma=*/0.5);
  double lr = 0.01;
  for (int t = 1; t <= 5; ++t) {
    EXPECT_EQ(a->param_groups()[0].options().get_lr(), lr);
    b->param_groups()[0].options().set_lr(lr);
    set_grads(p, t);
    set_grads(q, t);
    a->step();
    b->step();
    EXPECT_EQ(wrapper.inner().param_groups()[0].options().get_lr(), lr) << "step " << t;
    scheduler.step();
    if (t >= 2) lr *= 0.5;  // LibTorch 1.13's StepLR decays from its second step() call on
  }
  EXPECT_TRUE(all_bit_equal(p, q));
  EXPECT_LT(wrapper.inner().param_groups()[0].options().get_lr(), 0.01);
}

TEST(Lookahead, TypedOptionsAndNewGroupsReachTheInnerOptimizer) {
  auto p = params_of(at::kDouble, 5), q = clones(p);
  Lookahead a(std::make_unique<descent::AdamW>(std::vector<torch::Tensor>{p[0], p[1]}, descent::AdamWOptions(0.01)));
  Lookahead b(std::make_unique<descent::AdamW>(std::vector<torch::Tensor>{q[0], q[1]}, descent::AdamWOptions(0.01)));
  a.options<descent::AdamWOptions>(0).weight_decay(0.5);
  a.add_param_group(torch::optim::OptimizerParamGroup({p[2], p[3]}, std::make_unique<descent::AdamWOptions>(0.02)));
  run(a, p, 1, 4);
  run(b, {q[0], q[1]}, 1, 4);
  EXPECT_EQ(a.inner().param_groups().size(), 2u);
  EXPECT_EQ(static_cast<const descent::AdamWOptions&>(a.inner().param_groups()[0].options()).weight_decay(), 0.5);
  EXPECT_EQ(a.inner().param_groups()[1].options().get_lr(), 0.02);
  EXPECT_FALSE(bit_equal(p[0], q[0])) << "weight_decay = 0.5 had no effect";
  EXPECT_FALSE(bit_equal(p[2], params_of(at::kDouble, 5)[2])) << "the added group did not move";
}

// SGD with momentum: at a sync, "reset" zeroes the momentum buffer, "pullback"
// scales it by alpha the first time (the slow momentum starts at zero).
TEST(Lookahead, WrapsSgdWithMomentumAndPullsTheMomentumBack) {
  const OptionMap sgd = {{"lr", num(0.1)}, {"momentum", num(0.9)}};
  for (const char* mode : {"none", "reset", "pullback"}) {
    SCOPED_TRACE(mode);
    auto p = params_of(at::kDouble, 6), q = clones(p);
    const auto init = clones(p);
    OptionMap la = sgd;
    la["optimizer"] = text("sgd");
    la["k"] = num(2);
    la["alpha"] = num(0.5);
    la["pullback_momentum"] = text(mode);
    auto a = make("lookahead", p, la);
    auto b = make("sgd", q, sgd);
    run(*a, p, 1, 3);  // steps 1, 2: a sync after step 2
    run(*b, q, 1, 3);
    const auto& inner = static_cast<Lookahead&>(*a).inner();
    for (std::size_t i = 0; i < p.size(); ++i) {
      const auto& buf = inner.state_of(p[i])->buffer(std::string("momentum_buffer"));
      const auto& plain = b->state_of(q[i])->buffer(std::string("momentum_buffer"));
      if (std::string(mode) == "none") {
        EXPECT_TRUE(bit_equal(buf, plain));
      } else if (std::string(mode) == "reset") {
        EXPECT_EQ(buf.abs().max().item<double>(), 0.0);
      } else {
        EXPECT_TRUE(bit_equal(buf, plain * 0.5 + 0.5 * at::zeros_like(plain)));
      }
      EXPECT_TRUE(bit_equal(p[i], q[i] * 0.5 + 0.5 * init[i]));
      EXPECT_EQ(a->state_of(p[i])->scalar("pullbacks"), std::string(mode) == "pullback" ? 1.0 : 0.0);
    }
    // The run goes on (the momentum keeps being used).
    run(*a, p, 3, 9);
    for (const auto& x : p) EXPECT_TRUE(at::isfinite(x).all().item<bool>());
  }
}

// ---- checkpoints ------------------------------------------------------------------------------

TEST(LookaheadCheckpoint, ResumesBitIdenticallyWithItsSlowWeights) {
  const std::vector<OptionMap> configs = {
      {{"optimizer", text("adamw")}, {"lr", num(0.01)}, {"amsgrad", flag(true)}, {"k", num(3)}},
      {{"optimizer", text("sgd")}, {"lr", num(0.1)}, {"momentum", num(0.9)}, {"k", num(2)},
       {"pullback_momentum", text("pullback")}, {"alpha", num(0.7)}},
      {{"optimizer", text("adafactor")}, {"lr", num(0.01)}, {"k", num(4)}},
  };
  for (const auto& config : configs) {
    for (auto dtype : {at::kDouble, at::kFloat, at::kBFloat16}) {
      SCOPED_TRACE(config.at("optimizer").string + " " + c10::toString(dtype));
      auto p = params_of(dtype, 7);
      auto a = make("lookahead", p, config);
      run(*a, p, 1, 5);  // mid-run, with syncs behind and ahead
      a->param_groups()[0].options().set_lr(0.003);
      const std::string bytes = checkpoint(*a);

      auto q = clones(p), r = clones(p);
      auto b = make("lookahead", q, config);
      auto control = make("lookahead", r, config);
      load(*b, bytes);
      EXPECT_EQ(b->param_groups()[0].options().get_lr(), 0.003);
      for (std::size_t i = 0; i < p.size(); ++i)
        EXPECT_TRUE(bit_equal(a->state_of(p[i])->buffer(std::string("slow_param")),
                              b->state_of(q[i])->buffer(std::string("slow_param"))));
      EXPECT_EQ(fingerprint(static_cast<Lookahead&>(*a), p), fingerprint(static_cast<Lookahead&>(*b), q));
      control->param_groups()[0].options().set_lr(0.003);
      run(*a, p, 5, 12);
      run(*b, q, 5, 12);
      run(*control, r, 5, 12);
      EXPECT_TRUE(all_bit_equal(p, q));
      EXPECT_FALSE(all_bit_equal(p, r)) << "a fresh optimizer without the checkpoint should differ";
    }
  }
}

// A refused load leaves the optimizer as it was: the next step equals its twin's.
void expect_refused(const OptionMap& config, const std::string& bytes, const std::string& part) {
  auto p = params_of(at::kFloat, 8), q = clones(p);
  auto a = make("lookahead", p, config);
  auto twin = make("lookahead", q, config);
  run(*a, p, 1, 4);
  run(*twin, q, 1, 4);
  const std::string before = fingerprint(static_cast<Lookahead&>(*a), p);
  try {
    load(*a, bytes);
    ADD_FAILURE() << "the checkpoint was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
  EXPECT_EQ(fingerprint(static_cast<Lookahead&>(*a), p), before);
  run(*a, p, 4, 8);
  run(*twin, q, 4, 8);
  EXPECT_TRUE(all_bit_equal(p, q));
}

TEST(LookaheadCheckpoint, RefusesForeignAndBrokenCheckpointsUnchanged) {
  const OptionMap adamw = {{"optimizer", text("adamw")}, {"lr", num(0.01)}, {"k", num(3)}};
  auto p = params_of(at::kFloat, 9);
  // The inner optimizer's own checkpoint.
  auto plain = make("adamw", p, {{"lr", num(0.01)}});
  run(*plain, p, 1, 3);
  expect_refused(adamw, checkpoint(*plain), "'adamw'");
  // A Lookahead around another optimizer.
  auto sgd = make("lookahead", p, {{"optimizer", text("sgd")}, {"lr", num(0.01)}, {"momentum", num(0.9)}});
  run(*sgd, p, 1, 3);
  expect_refused(adamw, checkpoint(*sgd), "lookahead");
  // Truncated.
  auto good = make("lookahead", p, adamw);
  run(*good, p, 1, 5);
  const std::string bytes = checkpoint(*good);
  expect_refused(adamw, bytes.substr(0, bytes.size() / 2), "");
  expect_refused(adamw, bytes.substr(0, bytes.size() - 30), "");
  // Other parameter count.
  auto fewer_p = std::vector<torch::Tensor>{p[0], p[1]};
  auto fewer = make("lookahead", fewer_p, adamw);
  run(*fewer, fewer_p, 1, 3);
  expect_refused(adamw, checkpoint(*fewer), "lookahead");
}

// ---- options and errors -----------------------------------------------------------------------

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const OptionError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no OptionError";
  return "";
}

TEST(LookaheadOptions, InvalidValuesAreRefusedNamingTheOption) {
  LookaheadOptions o;
  EXPECT_NE(message_of([&] { o.k(0); }).find("'k'"), std::string::npos);
  EXPECT_NE(message_of([&] { o.alpha(1.5); }).find("'alpha'"), std::string::npos);
  EXPECT_NE(message_of([&] { o.alpha(std::numeric_limits<double>::quiet_NaN()); }).find("lookahead"), std::string::npos);
  EXPECT_NE(message_of([&] { o.pullback_momentum("always"); }).find("pullback_momentum"), std::string::npos);
  EXPECT_EQ(o.k(), 5);
  EXPECT_EQ(o.alpha(), 0.5);
  EXPECT_EQ(o.pullback_momentum(), "none");
  o.alpha(0.0).alpha(1.0).k(1);  // both ends of alpha's range are valid

  auto p = params_of(at::kFloat, 10);
  auto bad = [&](const OptionMap& m) { return message_of([&] { make("lookahead", p, m); }); };
  EXPECT_NE(bad({{"k", num(2.5)}}).find("integer"), std::string::npos);
  EXPECT_NE(bad({{"optimizer", text("no_such")}}).find("lookahead"), std::string::npos);
  EXPECT_NE(bad({{"optimizer", text("lookahead")}}).find("lookahead"), std::string::npos);
  const std::string inner = bad({{"eps", num(-1)}});
  EXPECT_NE(inner.find("lookahead"), std::string::npos) << inner;
  EXPECT_NE(inner.find("eps"), std::string::npos) << inner;
  std::vector<descent::GroupSpec> groups(1);
  groups[0].params = p;
  groups[0].options = {{"k", num(3)}};
  EXPECT_NE(message_of([&] { descent::Registry::instance().make("lookahead", groups, {}); }).find("every group"),
            std::string::npos);
}

TEST(LookaheadOptions, GroupWithOptionsOfAnotherOptimizerIsRefusedAtStep) {
  auto p = params_of(at::kFloat, 11);
  auto opt = make("lookahead", p, {{"lr", num(0.01)}});
  run(*opt, p, 1, 2);
  const std::string before = fingerprint(static_cast<Lookahead&>(*opt), p);
  opt->param_groups()[0].set_options(std::make_unique<descent::SGDOptions>(0.01));
  set_grads(p, 2);
  const std::string msg = message_of([&] { opt->step(); });
  EXPECT_NE(msg.find("lookahead"), std::string::npos) << msg;
  EXPECT_NE(msg.find("adamw"), std::string::npos) << msg;
  opt->param_groups()[0].set_options(std::make_unique<descent::AdamWOptions>(0.01));
  EXPECT_EQ(fingerprint(static_cast<Lookahead&>(*opt), p), before);
  // An invalid value in the wrapper's group is refused before anything changes.
  const std::string m2 = message_of([&] {
    dynamic_cast<descent::OptionsBase&>(opt->param_groups()[0].options()).set("lr", num(-1.0));
  });
  EXPECT_NE(m2.find("lr"), std::string::npos);
}

TEST(LookaheadOptions, NullInnerIsRefused) {
  EXPECT_THROW(Lookahead(nullptr), std::invalid_argument);
}

}  // namespace
