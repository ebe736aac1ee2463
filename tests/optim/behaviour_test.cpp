// Behaviour shared by every registered optimizer: param groups with their own
// options, LibTorch's LR schedulers, step(closure), non-contiguous tensors,
// float32 / float64 / bfloat16 agreement, zero_grad, and results that do not
// depend on the number of threads.
#include <support/optim_testing.h>

#include <torch/optim/schedulers/step_lr.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <iostream>
#include <tuple>

namespace {

using namespace dtest;

class Behaviour : public ::testing::TestWithParam<std::string> {};

// Runs `steps` steps of opt over params with the given gradients.
void run(Optimizer& opt, const std::vector<torch::Tensor>& params,
         const std::vector<std::vector<torch::Tensor>>& grads) {
  for (const auto& g : grads) {
    set_grads(params, g);
    opt.step();
  }
}

std::vector<std::vector<torch::Tensor>> to_dtype(const std::vector<std::vector<torch::Tensor>>& gs,
                                                 at::ScalarType t) {
  std::vector<std::vector<torch::Tensor>> out;
  for (const auto& g : gs) {
    out.emplace_back();
    for (const auto& x : g) out.back().push_back(x.defined() ? x.to(t) : torch::Tensor());  // undefined: no gradient
  }
  return out;
}

std::vector<torch::Tensor> to_dtype(const std::vector<torch::Tensor>& ps, at::ScalarType t) {
  std::vector<torch::Tensor> out;
  for (const auto& x : ps) out.push_back(x.to(t, /*non_blocking=*/false, /*copy=*/true));  // never an alias
  return out;
}

// ---- param groups -------------------------------------------------------------------------

// Each group follows its own options: a two-group optimizer gives, bit for bit,
// what two single-group optimizers with those options give, and the override
// does make a difference.
TEST_P(Behaviour, EachGroupFollowsItsOwnOptions) {
  const std::string name = GetParam();
  if (coupled_groups().count(name)) GTEST_SKIP() << name << " couples its groups: " << coupled_groups().at(name);
  if (regrouped_params().count(name)) GTEST_SKIP() << name << " regroups its parameters: " << regrouped_params().at(name);
  const std::vector<std::pair<std::string, OptionValue>> overrides = {
      {"lr", num(0.03)}, {"weight_decay", num(0.1)}, {"lr", num(0.0)}};
  int tested = 0;
  for (const auto& [key, value] : overrides) {
    OptionMap with = lr_only();
    with[key] = value;
    try {
      make(name, {at::zeros({2})}, with);
    } catch (const descent::OptionError&) {
      continue;  // this optimizer has no such option (e.g. no weight decay)
    }
    ++tested;
    SCOPED_TRACE(key + " = " + std::to_string(value.number));
    auto init = random_params({{5, 3}, {7}}, at::kDouble, 1);
    auto grads = random_grads(init, 4, 2);
    auto p = clones(init);
    std::vector<GroupSpec> groups(2);
    groups[0].params = {p[0]};
    groups[1].params = {p[1]};
    groups[1].options = {{key, value}};
    auto opt = make_groups(name, std::move(groups));
    run(*opt, p, grads);

    auto q0 = clones({init[0]});
    auto q1 = clones({init[1]});
    auto r1 = clones({init[1]});
    auto a = make(name, q0);
    auto b = make(name, q1, with);
    auto c = make(name, r1);  // group 1 without its override
    std::vector<std::vector<torch::Tensor>> g0, g1;
    for (const auto& g : grads) {
      g0.push_back({g[0]});
      g1.push_back({g[1]});
    }
    run(*a, q0, g0);
    run(*b, q1, g1);
    run(*c, r1, g1);
    EXPECT_TRUE(bit_equal(p[0], q0[0])) << "group 0 differs from a single-group optimizer with its options";
    EXPECT_TRUE(bit_equal(p[1], q1[0])) << "group 1 differs from a single-group optimizer with its options";
    // (Unless the option does nothing here even for a single group, e.g. an
    // lr that a relative step size replaces.)
    if (!bit_equal(q1[0], r1[0])) {
      EXPECT_FALSE(bit_equal(p[1], r1[0])) << "group 1's override made no difference";
    }
    EXPECT_EQ(opt->param_groups()[1].options().get_lr(), key == "lr" ? value.number : 0.01);
    EXPECT_EQ(opt->param_groups()[0].options().get_lr(), 0.01);
  }
  EXPECT_GT(tested, 0);
}

TEST_P(Behaviour, GroupWithLearningRateZeroDoesNotMove) {
  const std::string name = GetParam();
  if (coupled_groups().count(name)) GTEST_SKIP() << name << " couples its groups: " << coupled_groups().at(name);
  if (regrouped_params().count(name)) GTEST_SKIP() << name << " regroups its parameters: " << regrouped_params().at(name);
  for (const auto& [label, opts] : variants_for(name)) {
    SCOPED_TRACE(label);
    auto p = random_params({{4, 3}, {6}}, at::kFloat, 3);
    auto init = clones(p);
    std::vector<GroupSpec> groups(2);
    groups[0].params = {p[0]};
    groups[1].params = {p[1]};
    groups[1].options = {{"lr", num(0.0)}};
    std::unique_ptr<Optimizer> opt;
    try {
      opt = make_groups(name, std::move(groups), opts);
    } catch (const descent::OptionError& e) {
      GTEST_SKIP() << name << " refuses lr = 0: " << e.what();
    }
    auto grads = random_grads(p, 4, 4);
    run(*opt, p, grads);
    EXPECT_FALSE(bit_equal(p[0], init[0])) << "the group with lr 0.01 should move";
    // An optimizer whose rule moves parameters even at lr 0 (e.g. a minimum
    // step size) is held to its own single-group behaviour instead.
    auto q = clones({init[1]});
    auto alone = make(name, q, [&] {
      OptionMap m = opts;
      m["lr"] = num(0.0);
      return m;
    }());
    std::vector<std::vector<torch::Tensor>> g1;
    for (const auto& g : grads) g1.push_back({g[1]});
    run(*alone, q, g1);
    EXPECT_TRUE(bit_equal(p[1], q[0]));
    if (bit_equal(q[0], init[1]))
      EXPECT_TRUE(bit_equal(p[1], init[1])) << "the group with lr 0 moved";
    else
      std::cout << "[   NOTE   ] " << name << " (" << label << ") moves parameters at lr = 0, as a single group too\n";
  }
}

// ---- LR schedulers ------------------------------------------------------------------------

TEST_P(Behaviour, StepLRChangesTheLearningRate) {
  const std::string name = GetParam();
  auto init = random_params({{5, 4}}, at::kFloat, 5);
  auto grads = random_grads(init, 6, 6);
  auto p = clones(init);
  auto opt = make(name, p);
  torch::optim::StepLR scheduler(*opt, /*step_size=*/2, /*gamma=*/0.5);
  std::vector<double> used;
  for (const auto& g : grads) {
    used.push_back(opt->param_groups()[0].options().get_lr());
    set_grads(p, g);
    opt->step();
    scheduler.step();
  }
  // LibTorch 1.13's StepLR decays on its 3rd, 5th, ... step() call.
  const std::vector<double> expected = {0.01, 0.01, 0.01, 0.005, 0.005, 0.0025};
  EXPECT_EQ(used, expected);

  // The scheduled run equals one whose lr is set by hand to the same values.
  auto q = clones(init);
  auto manual = make(name, q);
  for (std::size_t t = 0; t < grads.size(); ++t) {
    manual->param_groups()[0].options().set_lr(expected[t]);
    set_grads(q, grads[t]);
    manual->step();
  }
  EXPECT_TRUE(bit_equal(p[0], q[0]));

  // ...and differs from a constant lr, unless the optimizer reads lr only once.
  auto r = clones(init);
  auto constant = make(name, r);
  run(*constant, r, grads);
  auto s = clones(init);
  auto late = make(name, s);  // lr changed after the first step only
  for (std::size_t t = 0; t < grads.size(); ++t) {
    if (t == 1) late->param_groups()[0].options().set_lr(0.005);
    set_grads(s, grads[t]);
    late->step();
  }
  if (bit_equal(s[0], r[0]))
    std::cout << "[   NOTE   ] " << name << " ignores lr changes after its first step\n";
  else
    EXPECT_FALSE(bit_equal(p[0], r[0])) << "the scheduled lr had no effect";
}

TEST(BehaviourNamed, StepLROnAdamChangesTheTrajectory) {
  auto init = random_params({{5, 4}}, at::kFloat, 5);
  // One gradient throughout, so that Adam moves about lr per step.
  std::vector<std::vector<torch::Tensor>> grads(6, random_grads(init, 1, 6)[0]);
  auto p = clones(init), q = clones(init);
  auto a = make("adam", p), b = make("adam", q);
  torch::optim::StepLR scheduler(*a, 1, 0.1);
  for (const auto& g : grads) {
    set_grads(p, g);
    set_grads(q, g);
    a->step();
    b->step();
    scheduler.step();
  }
  EXPECT_LT(a->param_groups()[0].options().get_lr(), 1e-6);
  // With lr shrinking tenfold per step, the scheduled run moves far less.
  EXPECT_LT(max_abs_diff(p[0], init[0]), 0.5 * max_abs_diff(q[0], init[0]));
}

// ---- step(closure) --------------------------------------------------------------------------

TEST_P(Behaviour, StepWithClosureReturnsItsLossAndRunsWithGradMode) {
  const std::string name = GetParam();
  auto init = random_params({{6}}, at::kFloat, 7)[0];
  auto p = init.clone().set_requires_grad(true);
  auto opt = make(name, {p});
  at::NoGradGuard no_grad;  // as in an evaluation loop: step() must still enable grad for the closure
  auto q = init.clone();
  auto twin = make(name, {q});
  for (int t = 0; t < 3; ++t) {
    SCOPED_TRACE("step " + std::to_string(t + 1));
    const auto before = p.detach().clone();
    int calls = 0;
    bool grad_mode = false;
    torch::Tensor inner;
    torch::Tensor loss = opt->step([&] {
      ++calls;
      grad_mode = at::GradMode::is_enabled();
      opt->zero_grad();
      auto l = (p * p).sum();
      l.backward();
      inner = l;
      return l;
    });
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(grad_mode) << "the closure ran with grad mode off";
    EXPECT_FALSE(at::GradMode::is_enabled()) << "step() did not restore the caller's grad mode";
    ASSERT_TRUE(loss.defined());
    EXPECT_TRUE(loss.is_same(inner)) << "step() did not return the closure's loss";
    EXPECT_TRUE(at::allclose(loss, (before * before).sum(), 1e-5, 1e-5, /*equal_nan=*/true))
        << loss.item<double>() << " vs " << (before * before).sum().item<double>();
    // The update used the closure's gradient 2p.
    q.mutable_grad() = q + q;
    twin->step();
    EXPECT_TRUE(bit_equal(p.detach(), q));
  }
  EXPECT_FALSE(bit_equal(p.detach(), init)) << "three steps did not move the parameter";

  // Without a closure, step() returns an undefined tensor.
  EXPECT_FALSE(opt->step().defined());
}

// ---- non-contiguous tensors -------------------------------------------------------------------

// Runs a parameter view and a contiguous copy side by side; returns whether
// they stayed bit-identical.
void expect_like_contiguous(const std::string& name, const OptionMap& opts, const torch::Tensor& view,
                            bool strided_grad) {
  auto contiguous = view.detach().clone(at::MemoryFormat::Contiguous);
  ASSERT_TRUE(contiguous.is_contiguous());
  auto a = make(name, {view}, opts);
  auto b = make(name, {contiguous}, opts);
  auto grads = random_grads({contiguous}, 4, 8);
  for (const auto& g : grads) {
    torch::Tensor gv = g[0];
    if (strided_grad) {
      // The same values in a transposed layout (a non-contiguous gradient).
      auto sizes = gv.sizes().vec();
      std::reverse(sizes.begin(), sizes.end());
      std::vector<std::int64_t> perm(sizes.size());
      for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<std::int64_t>(perm.size() - 1 - i);
      gv = gv.permute(perm).contiguous().permute(perm);
      ASSERT_TRUE(gv.dim() < 2 || !gv.is_contiguous());
      ASSERT_TRUE(torch::equal(gv, g[0]));
    }
    view.mutable_grad() = gv;
    contiguous.mutable_grad() = g[0];
    a->step();
    b->step();
  }
  EXPECT_TRUE(bit_equal(view, contiguous));
  const auto* sa = a->state_of(view);
  const auto* sb = b->state_of(contiguous);
  ASSERT_TRUE(sa != nullptr && sb != nullptr);
  for (std::size_t k = 0; k < sa->buffers.size(); ++k) EXPECT_TRUE(bit_equal(sa->buffers[k], sb->buffers[k]));
}

TEST_P(Behaviour, NonContiguousParametersAndGradientsMatchContiguousOnes) {
  const std::string name = GetParam();
  for (const auto& [label, opts] : variants_for(name)) {
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      SCOPED_TRACE(label + " " + c10::toString(dtype));
      {
        SCOPED_TRACE("transposed parameter, contiguous gradient");
        auto base = random_params({{7, 5}}, dtype, 9)[0];
        expect_like_contiguous(name, opts, base.t(), false);
      }
      {
        SCOPED_TRACE("transposed parameter, gradient in the same layout");
        auto base = random_params({{7, 5}}, dtype, 9)[0];
        expect_like_contiguous(name, opts, base.t(), true);
      }
      {
        SCOPED_TRACE("contiguous parameter, transposed gradient");
        auto p = random_params({{5, 7}}, dtype, 9)[0];
        expect_like_contiguous(name, opts, p, true);
      }
      {
        SCOPED_TRACE("slice of a bigger tensor");
        auto big = random_params({{8, 10}}, dtype, 10)[0];
        auto before = big.clone();
        auto slice = big.narrow(1, 2, 5);
        ASSERT_FALSE(slice.is_contiguous());
        expect_like_contiguous(name, opts, slice, false);
        // Only the slice changed.
        EXPECT_TRUE(bit_equal(big.narrow(1, 0, 2), before.narrow(1, 0, 2)));
        EXPECT_TRUE(bit_equal(big.narrow(1, 7, 3), before.narrow(1, 7, 3)));
      }
      {
        SCOPED_TRACE("every other element of a vector");
        auto big = random_params({{40}}, dtype, 11)[0];
        auto before = big.clone();
        expect_like_contiguous(name, opts, big.slice(0, 0, 40, 2), true);
        EXPECT_TRUE(bit_equal(big.slice(0, 1, 40, 2), before.slice(0, 1, 40, 2)));
      }
    }
  }
}

// ---- precision ----------------------------------------------------------------------------------

TEST_P(Behaviour, Float32AgreesWithFloat64) {
  const std::string name = GetParam();
  constexpr int steps = 10;
  for (const auto& [label, opts] : variants_for(name)) {
    SCOPED_TRACE(label);
    // Values exactly representable in float32, so both runs start equal.
    auto init = to_dtype(random_params({{30, 20}}, at::kFloat, 12), at::kDouble);
    auto grads = to_dtype(random_grads(to_dtype(init, at::kFloat), steps, 13), at::kDouble);
    auto p64 = clones(init);
    auto p32 = to_dtype(init, at::kFloat);
    auto a = make(name, p64, opts);
    auto b = make(name, p32, opts);
    run(*a, p64, grads);
    run(*b, p32, to_dtype(grads, at::kFloat));
    // Rules that reach NaN (e.g. a reproduced reference bug) must do so alike.
    const auto nan64 = p64[0].isnan();
    ASSERT_TRUE(torch::equal(nan64, p32[0].isnan())) << "NaN in one precision, not the other";
    if (nan64.any().item<bool>()) {
      std::cout << "[   NOTE   ] " << name << " (" << label << ") gives NaN in " << nan64.sum().item<std::int64_t>()
                << " of " << nan64.numel() << " elements, in float32 and float64 alike\n";
      if (nan64.all().item<bool>()) continue;
    }
    const auto ok = nan64.logical_not();
    const double moved = max_abs_diff(p64[0].masked_select(ok), init[0].masked_select(ok));
    const double err = max_abs_diff(p64[0].masked_select(ok), p32[0].masked_select(ok));
    // float32 rounding: a few ulps of the parameter per step.
    const double tol = steps * 4 * 6e-8 * (p64[0].masked_select(ok).abs().max().item<double>() + 0.01);
    EXPECT_LE(err, tol) << "moved " << moved;
    EXPECT_GT(moved, 0.0);
    EXPECT_EQ(a->state_of(p64[0])->buffers.size(), b->state_of(p32[0])->buffers.size());
    for (std::size_t k = 0; k < a->state_of(p64[0])->buffers.size(); ++k) {
      const auto& x = a->state_of(p64[0])->buffers[k];
      const auto& y = b->state_of(p32[0])->buffers[k];
      ASSERT_EQ(x.defined(), y.defined());
      if (!x.defined()) continue;
      if (x.scalar_type() == at::kByte) {
        // 8-bit codes (state_dtype = int8, adam8bit): the same codes, but for
        // the few a last-bit difference moved across a decision boundary.
        ASSERT_EQ(y.scalar_type(), at::kByte);
        EXPECT_LE((x != y).sum().item<std::int64_t>(), x.numel() / 20 + 1) << "state buffer " << k;
        continue;
      }
      const std::string& buffer = a->state_of(p64[0])->layout->buffers[k];
      if (float32_state().count(name) || (buffer.size() > 7 && buffer.substr(buffer.size() - 7) == "_absmax")) {
        // float32 whatever the parameter dtype (the block absmax of 8-bit
        // state; optimizers whose reference keeps float32 state).
        EXPECT_EQ(x.scalar_type(), at::kFloat);
        EXPECT_TRUE(at::allclose(x, y, 1e-3, 1e-6, /*equal_nan=*/true)) << "state buffer " << k;
        continue;
      }
      if (x.scalar_type() == y.scalar_type() && x.scalar_type() != at::kDouble) {
        // A reduced-precision storage the optimizer chose for both (Adafactor's momentum_dtype).
        EXPECT_TRUE(x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf || x.scalar_type() == at::kFloat);
      } else {
        EXPECT_EQ(x.scalar_type(), at::kDouble);
        EXPECT_EQ(y.scalar_type(), at::kFloat);
      }
      // (16-bit storage: the two runs may round to neighbouring values.)
      const double rtol = x.element_size() == 2 ? 1e-2 : 1e-4;
      EXPECT_TRUE(at::allclose(x.to(at::kDouble), y.to(at::kDouble), rtol, 1e-6, /*equal_nan=*/true))
          << "state buffer " << k;
    }
  }
}

TEST_P(Behaviour, BFloat16TracksFloat32) {
  const std::string name = GetParam();
  constexpr int steps = 10;
  for (const auto& [label, opts] : variants_for(name)) {
    SCOPED_TRACE(label);
    // Values exactly representable in bfloat16, so both runs start equal.
    auto init = to_dtype(random_params({{30, 20}}, at::kBFloat16, 14), at::kFloat);
    auto grads = to_dtype(random_grads(to_dtype(init, at::kBFloat16), steps, 15), at::kFloat);
    auto p32 = clones(init);
    auto p16 = to_dtype(init, at::kBFloat16);
    auto a = make(name, p32, opts);
    auto b = make(name, p16, opts);
    run(*a, p32, grads);
    run(*b, p16, to_dtype(grads, at::kBFloat16));
    ASSERT_EQ(p16[0].scalar_type(), at::kBFloat16);
    const auto nan32 = p32[0].isnan();
    ASSERT_TRUE(torch::equal(nan32, p16[0].isnan())) << "NaN in one precision, not the other";
    if (nan32.all().item<bool>()) continue;
    // bfloat16 keeps 8 significant bits: each step may round the parameter by
    // half an ulp, at most 2^-8 of its magnitude along the way.
    auto tol = (at::max(init[0].abs(), p32[0].abs().masked_fill(nan32, 0)) + 0.05) * (steps * std::ldexp(1.0, -8));
    auto err = (p16[0].to(at::kFloat) - p32[0]).abs().masked_fill(nan32, 0);
    EXPECT_TRUE((err <= tol).all().item<bool>())
        << "max error " << err.max().item<double>() << ", max error / tolerance " << (err / tol).max().item<double>();
    // Where the float32 run moved by several bfloat16 ulps, the bfloat16 run moved too.
    const double moved32 = max_abs_diff(p32[0].masked_fill(nan32, 0), init[0].masked_fill(nan32, 0));
    if (moved32 > 0.05) {
      EXPECT_GT(max_abs_diff(p16[0].to(at::kFloat).masked_fill(nan32, 0), init[0].masked_fill(nan32, 0)),
                0.5 * moved32);
    }
    for (const auto& t : b->state_of(p16[0])->buffers)
      if (t.defined() && t.scalar_type() != at::kBFloat16 && t.scalar_type() != at::kHalf &&
          t.scalar_type() != at::kByte) {
        // float32 state, apart from reduced-precision storage an optimizer
        // chose (Adafactor's momentum_dtype) and 8-bit state's uint8 codes
        EXPECT_EQ(t.scalar_type(), at::kFloat) << "bfloat16 parameters keep float32 state";
      }
  }
}

// ---- zero_grad ----------------------------------------------------------------------------------

TEST_P(Behaviour, ZeroGradClearsEveryGradient) {
  const std::string name = GetParam();
  auto p = random_params({{4, 3}, {5}, {}}, at::kFloat, 16);
  std::vector<GroupSpec> groups(2);
  groups[0].params = {p[0], p[1]};
  groups[1].params = {p[2]};
  auto opt = make_groups(name, std::move(groups));
  set_grads(p, random_grads(p, 1, 17)[0]);
  opt->step();
  opt->zero_grad();
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto& g = p[i].grad();
    EXPECT_TRUE(!g.defined() || (g == 0).all().item<bool>()) << "parameter " << i;
  }
}

// ---- threads ---------------------------------------------------------------------------------------

TEST_P(Behaviour, TwoThreadsGiveBitIdenticalResultsToOne) {
  const std::string name = GetParam();
  ThreadsGuard guard;
  // Drawn once for all optimizers.
  static const auto init64 = random_params({{300001}, {1000}}, at::kDouble, 18);
  static const auto grads64 = random_grads(init64, 3, 19);
  // Every dtype with the default options; the stateful variant in float32.
  const auto def = variants_for(name).front();
  const auto stateful = stateful_variant(name);
  std::vector<std::tuple<std::string, OptionMap, at::ScalarType>> cases = {
      {def.first, def.second, at::kFloat}, {def.first, def.second, at::kDouble}, {def.first, def.second, at::kBFloat16}};
  if (stateful.first != def.first) cases.emplace_back(stateful.first, stateful.second, at::kFloat);
  // All cases on one thread, then all on two (few switches of the pool size).
  std::vector<std::vector<torch::Tensor>> results[2];
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    ASSERT_EQ(at::get_num_threads(), threads);
    for (const auto& [label, opts, dtype] : cases) {
      auto p = to_dtype(init64, dtype);
      auto opt = make(name, p, opts);
      run(*opt, p, to_dtype(grads64, dtype));
      results[threads - 1].push_back(p);
    }
  }
  for (std::size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE(std::get<0>(cases[c]) + " " + c10::toString(std::get<2>(cases[c])));
    for (std::size_t i = 0; i < init64.size(); ++i)
      EXPECT_TRUE(bit_equal(results[0][c][i], results[1][c][i])) << "parameter " << i;
    EXPECT_FALSE(bit_equal(results[0][c][0], init64[0].to(std::get<2>(cases[c]))));
  }
}


// ---- the multi-tensor scheduler (optim/launch_batch.h) ----------------------------------------------

// Many tensors of mixed sizes (0-d, tiny, one above the parallel threshold, a
// transposed view, one that loses its gradient on the second step): queued and
// run together in one parallel region, or launched one by one, on one thread
// or two, the parameters and every state buffer come out bit-identical.
TEST_P(Behaviour, BatchedLaunchesGiveTheSameBitsAsOneByOne) {
  const std::string name = GetParam();
  ThreadsGuard threads_guard;
  BatchingGuard batching_guard;
  static const auto init64 = [] {
    std::vector<std::vector<std::int64_t>> shapes = {{}, {1}, {7}, {70001}, {33, 5}, {129}, {2, 3, 4}, {5000}};
    for (int i = 0; i < 24; ++i) shapes.push_back({1 + (i * 37) % 300});
    return random_params(shapes, at::kDouble, 31);
  }();
  static const auto grads64 = [] {
    auto g = random_grads(init64, 3, 32);
    g[1][2] = torch::Tensor();  // no gradient on step 2: skipped
    return g;
  }();
  for (const auto& [label, opts] : {variants_for(name).front(), stateful_variant(name)}) {
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      SCOPED_TRACE(label + " " + c10::toString(dtype));
      std::vector<Snapshot> runs;
      for (auto [threads, batching] : {std::pair{2, false}, std::pair{2, true}, std::pair{1, true}}) {
        at::set_num_threads(threads);
        descent::set_launch_batching(batching);
        auto p = to_dtype(init64, dtype);
        p[4] = p[4].t().contiguous().t();  // transposed layout: updated through copies, never queued
        auto opt = make(name, p, opts);
        run(*opt, p, to_dtype(grads64, dtype));
        runs.push_back(snapshot(*opt));
      }
      EXPECT_TRUE(same(runs[0], runs[1])) << "batched vs one by one, 2 threads";
      EXPECT_TRUE(same(runs[1], runs[2])) << "batched, 2 threads vs 1";
      EXPECT_FALSE(bit_equal(runs[1].params[3], init64[3].to(dtype)));
    }
  }
}

// ---- AdamW with weight_decay = 0 is Adam -----------------------------------------------------------

TEST(BehaviourNamed, AdamWWithoutWeightDecayIsAdamBitForBit) {
  for (auto dtype : {at::kFloat, at::kDouble, at::kBFloat16}) {
    for (bool amsgrad : {false, true}) {
      for (bool maximize : {false, true}) {
        SCOPED_TRACE(std::string(c10::toString(dtype)) + (amsgrad ? " amsgrad" : "") + (maximize ? " maximize" : ""));
        OptionMap common = lr_only();
        common["amsgrad"] = flag(amsgrad);
        common["maximize"] = flag(maximize);
        OptionMap w = common;
        w["weight_decay"] = num(0.0);
        auto init = random_params({{17, 9}, {4}}, dtype, 20);
        auto grads = random_grads(init, 6, 21);
        auto p = clones(init), q = clones(init);
        auto adam = make("adam", p, common);
        auto adamw = make("adamw", q, w);
        run(*adam, p, grads);
        run(*adamw, q, grads);
        for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(bit_equal(p[i], q[i])) << "parameter " << i;
        EXPECT_FALSE(bit_equal(p[0], init[0]));
      }
    }
  }
  // ...while AdamW's default weight decay does change the result.
  auto init = random_params({{17, 9}}, at::kFloat, 20);
  auto grads = random_grads(init, 6, 21);
  auto p = clones(init), q = clones(init);
  auto adam = make("adam", p);
  auto adamw = make("adamw", q);
  run(*adam, p, grads);
  run(*adamw, q, grads);
  EXPECT_FALSE(bit_equal(p[0], q[0]));
}

}  // namespace

namespace {

// ---- state memory -----------------------------------------------------------------------

// What the registry (and `descent list`) claims as state bytes per float32
// parameter with default options, measured through Optimizer::state_bytes():
// the growth of the state from a float32 [128, 256] matrix to a [256, 256] one,
// after two steps each, per added parameter (state that does not grow with the
// parameters, such as M-FAC's m × m Gram matrix, is left out). Row/column
// statistics and per-tensor scalars add a little, at most 0.1 byte per
// parameter here. Built with the optimizer's defaults (no sweep options).
TEST_P(Behaviour, StateBytesAreWhatTheRegistryClaims) {
  const std::string name = GetParam();
  const auto& info = descent::Registry::instance().find(name)->info;
  auto measure = [&](std::int64_t rows) {
    auto params = random_params({{rows, 256}}, at::kFloat, 31);
    params[0].requires_grad_(true);
    std::vector<GroupSpec> groups(1);
    groups[0].params = params;
    auto opt = with_sweep_setup(name, descent::Registry::instance().make(name, std::move(groups), lr_only(1e-3)));
    const auto weights = random_params({{rows, 256}}, at::kFloat, 32);
    for (int t = 0; t < 2; ++t) {
      if (info.needs_closure) {
        opt->step([&] {
          opt->zero_grad();
          auto loss = (params[0] * params[0] * weights[0]).sum();
          loss.backward({}, /*retain_graph=*/info.needs_graph, /*create_graph=*/info.needs_graph);
          return loss;
        });
      } else {
        set_grads(params, random_params({{rows, 256}}, at::kFloat, 40 + t));
        opt->step();
      }
    }
    return static_cast<double>(opt->state_bytes());
  };
  const double per_param = (measure(256) - measure(128)) / (128.0 * 256.0);
  EXPECT_NEAR(per_param, info.state_bytes, 0.1) << name << ": measured " << per_param
                                                << " bytes of state per parameter, the registry says "
                                                << info.state_bytes;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Registry, Behaviour, ::testing::ValuesIn(optimizer_names()), NameOfParam());
