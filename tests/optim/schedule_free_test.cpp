// Schedule-Free AdamW / SGD: the train()/eval() switch. eval() gives the
// averaged iterate x of the explicit x, y, z formulation (the reference's
// AdamWScheduleFreeReference, recomputed here), train() gives y back, step()
// in eval mode throws and changes nothing, and the mode travels with
// checkpoints.
#include <support/optim_testing.h>

#include <descent/optim/schedule_free.h>

#include <cmath>
#include <sstream>

namespace {

using namespace dtest;
using descent::ScheduleFreeAdamW;
using descent::ScheduleFreeAdamWOptions;
using descent::ScheduleFreeSGD;
using descent::ScheduleFreeSGDOptions;

std::vector<torch::Tensor> start(at::ScalarType dtype = at::kDouble) {
  auto p = random_params({{4, 3}, {5}, {}}, dtype, 7);
  for (auto& t : p) t.set_requires_grad(true);
  return p;
}

void step_with(Optimizer& opt, const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads) {
  set_grads(params, grads);
  opt.step();
}

::testing::AssertionResult close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                                 double rtol, double atol) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = a[i].detach().to(at::kDouble), y = b[i].detach().to(at::kDouble);
    const double err = ((x - y).abs() - (atol + rtol * y.abs())).max().item<double>();
    if (err > 0) return ::testing::AssertionFailure() << "tensor " << i << " differs by up to " << max_abs_diff(x, y);
  }
  return ::testing::AssertionSuccess();
}

// The explicit formulation (schedulefree/adamw_schedulefree_reference.py and
// the paper): z, x, y kept separately; the gradient is taken at y.
struct Explicit {
  bool adam = true;
  double lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0, r = 0, power = 2, inner = 0;
  std::int64_t warmup = 0;
  std::vector<torch::Tensor> x, y, z, v, m;
  double lr_max = -1, weight_sum = 0;
  std::int64_t k = 0;

  explicit Explicit(const std::vector<torch::Tensor>& init) {
    for (const auto& p : init) {
      x.push_back(p.detach().clone());
      y.push_back(p.detach().clone());
      z.push_back(p.detach().clone());
      v.push_back(at::zeros_like(p));
      m.push_back(at::zeros_like(p));
    }
  }
  void step(const std::vector<torch::Tensor>& grads) {
    const double sched = k < warmup ? static_cast<double>(k + 1) / warmup : 1.0;
    const double lr_t = lr * sched;
    lr_max = std::max(lr_max, lr_t);
    const double weight = std::pow(k + 1.0, r) * std::pow(lr_max, power);
    weight_sum += weight;
    const double c = weight_sum == 0 ? 0 : weight / weight_sum;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto& g = grads[i];
      torch::Tensor u;
      if (adam) {
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        const auto denom = (v[i] / (1 - std::pow(beta2, k + 1.0))).sqrt() + eps;
        if (inner != 0) {
          m[i] = inner * m[i] + (1 - inner) * g;
          u = m[i] / (1 - std::pow(inner, k + 1.0)) / denom;
        } else {
          u = g / denom;
        }
      } else {
        u = g.clone();
      }
      z[i] = z[i] - lr_t * wd * y[i] - lr_t * u;  // weight decay at y
      x[i] = (1 - c) * x[i] + c * z[i];
      y[i] = (1 - beta1) * z[i] + beta1 * x[i];
    }
    ++k;
  }
};

std::vector<torch::Tensor> current(const std::vector<torch::Tensor>& params) { return clones(params); }

template <class Opt, class Opts>
void check_eval_gives_x(Opts opts, Explicit ref) {
  auto p = start();
  Opt opt(p, opts);
  EXPECT_FALSE(opt.is_training()) << "a new optimizer starts in eval mode, as the reference";
  opt.train();
  EXPECT_TRUE(opt.is_training());
  ref = [&] {
    Explicit e(p);
    e.adam = ref.adam; e.lr = ref.lr; e.beta1 = ref.beta1; e.beta2 = ref.beta2; e.eps = ref.eps; e.wd = ref.wd;
    e.r = ref.r; e.power = ref.power; e.inner = ref.inner; e.warmup = ref.warmup;
    return e;
  }();
  const auto grads = random_grads(p, 6, 11);
  for (int s = 0; s < 6; ++s) {
    step_with(opt, p, grads[s]);
    ref.step(grads[s]);
    EXPECT_TRUE(close(current(p), ref.y, 1e-11, 1e-13)) << "train-mode parameters are y, step " << s + 1;
    if (s == 2 || s == 5) {
      opt.eval();
      EXPECT_FALSE(opt.is_training());
      EXPECT_TRUE(close(current(p), ref.x, 1e-11, 1e-13)) << "eval-mode parameters are x, step " << s + 1;
      opt.train();
      EXPECT_TRUE(close(current(p), ref.y, 1e-11, 1e-13)) << "train() restores y, step " << s + 1;
    }
  }
}

TEST(ScheduleFree, AdamWEvalGivesTheAveragedIterate) {
  Explicit e({});
  e.lr = 0.02; e.wd = 0.05; e.warmup = 3; e.beta1 = 0.8;
  check_eval_gives_x<ScheduleFreeAdamW>(
      ScheduleFreeAdamWOptions(0.02).weight_decay(0.05).warmup_steps(3).betas({0.8, 0.999}), e);
  Explicit f({});
  f.lr = 0.01; f.inner = 0.9; f.r = 1; f.power = 1;
  check_eval_gives_x<ScheduleFreeAdamW>(
      ScheduleFreeAdamWOptions(0.01).inner_momentum(0.9).r(1).weight_lr_power(1), f);
}

TEST(ScheduleFree, SgdEvalGivesTheAveragedIterate) {
  Explicit e({});
  e.adam = false; e.lr = 0.5; e.wd = 0.01; e.warmup = 2; e.beta1 = 0.9;
  check_eval_gives_x<ScheduleFreeSGD>(ScheduleFreeSGDOptions(0.5).weight_decay(0.01).warmup_steps(2), e);
}

// eval() then train() gives the parameters back, to rounding, in every dtype;
// a second eval() (or train()) changes nothing.
TEST(ScheduleFree, EvalThenTrainRestoresTheParameters) {
  for (auto dtype : {at::kDouble, at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto p = start(dtype);
    ScheduleFreeAdamW opt(p, ScheduleFreeAdamWOptions(0.05).weight_decay(0.01));
    opt.train();
    for (const auto& g : random_grads(p, 5, 3)) step_with(opt, p, g);
    const auto y = current(p);
    opt.eval();
    const auto x = current(p);
    EXPECT_GT(max_abs_diff(x[0], y[0]), 1e-4) << "x and y should differ after a few steps";
    opt.eval();
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(bit_equal(p[i], x[i])) << "a second eval() moved parameter " << i;
    opt.train();
    const double tol = dtype == at::kDouble ? 1e-14 : dtype == at::kFloat ? 1e-6 : 2e-2;
    EXPECT_TRUE(close(current(p), y, tol, tol));
    const auto y2 = current(p);
    opt.train();
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(bit_equal(p[i], y2[i])) << "a second train() moved parameter " << i;
  }
}

// step() in eval mode throws, before and after training, and changes no
// parameter, no state, no group step count.
TEST(ScheduleFree, StepInEvalModeThrowsAndChangesNothing) {
  auto p = start();
  ScheduleFreeSGD opt(p, ScheduleFreeSGDOptions(0.5));
  const auto grads = random_grads(p, 4, 5);
  set_grads(p, grads[0]);
  const auto before = snapshot(opt);
  const std::string msg = message_of<std::runtime_error>([&] { opt.step(); });
  EXPECT_TRUE(contains(msg, "eval mode")) << msg;
  EXPECT_TRUE(contains(msg, "train()")) << msg;
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(bit_equal(p[i], before.params[i]));
  EXPECT_EQ(opt.state_of(p[0]), nullptr);

  opt.train();
  for (int s = 0; s < 3; ++s) step_with(opt, p, grads[s]);
  opt.eval();
  set_grads(p, grads[3]);
  const auto evaluating = snapshot(opt);
  message_of<std::runtime_error>([&] { opt.step(); });
  EXPECT_TRUE(same(snapshot(opt), evaluating));
  EXPECT_FALSE(opt.is_training());
}

// Built through the registry (as the golden replay builds it) the optimizer
// starts in train mode: the golden cases call train() once after construction.
TEST(ScheduleFree, RegistryBuildsInTrainMode) {
  for (const char* name : {"schedule_free_adamw", "schedule_free_sgd"}) {
    auto p = start();
    auto opt = make(name, p);
    const auto init = current(p);
    bool training = false;
    if (auto* a = dynamic_cast<ScheduleFreeAdamW*>(opt.get())) training = a->is_training();
    if (auto* s = dynamic_cast<ScheduleFreeSGD*>(opt.get())) training = s->is_training();
    EXPECT_TRUE(training) << name;
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(bit_equal(p[i], init[i])) << "train() without state moved";
    set_grads(p, random_grads(p, 1, 9)[0]);
    EXPECT_NO_THROW(opt->step());
  }
}

// The mode is part of the checkpoint: a run saved in eval mode (the
// reference's advice) resumes in eval mode, and train() then continues it bit
// for bit; one saved in train mode resumes in train mode.
TEST(ScheduleFree, CheckpointsCarryTheMode) {
  auto p = start();
  ScheduleFreeAdamW opt(p, ScheduleFreeAdamWOptions(0.02).weight_decay(0.01));
  opt.train();
  const auto grads = random_grads(p, 6, 13);
  for (int s = 0; s < 3; ++s) step_with(opt, p, grads[s]);
  opt.eval();
  std::stringstream saved;
  torch::save(opt, saved);
  const auto x = current(p);

  auto q = clones(x);  // the model saved with the optimizer: parameters at x
  for (auto& t : q) t.set_requires_grad(true);
  ScheduleFreeAdamW resumed(q, ScheduleFreeAdamWOptions(0.02).weight_decay(0.01));
  resumed.train();  // the wrong mode, to be replaced by the checkpoint's
  torch::load(resumed, saved);
  EXPECT_FALSE(resumed.is_training());
  opt.train();
  resumed.train();
  for (int s = 3; s < 6; ++s) {
    step_with(opt, p, grads[s]);
    step_with(resumed, q, grads[s]);
  }
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(bit_equal(p[i], q[i])) << "parameter " << i;

  std::stringstream in_train;
  torch::save(opt, in_train);
  ScheduleFreeAdamW other(clones(p), ScheduleFreeAdamWOptions(0.02).weight_decay(0.01));
  EXPECT_FALSE(other.is_training());
  torch::load(other, in_train);
  EXPECT_TRUE(other.is_training());
}

// The mode is kept per group, as the reference's group['train_mode']: a group
// added after train() starts in eval mode; step() looks at group 0 only.
TEST(ScheduleFree, GroupsAddedLaterStartInEvalMode) {
  auto p = start();
  ScheduleFreeSGD opt(std::vector<torch::Tensor>{p[0], p[1]}, ScheduleFreeSGDOptions(0.5));
  opt.train();
  opt.add_param_group(torch::optim::OptimizerParamGroup({p[2]}, std::make_unique<ScheduleFreeSGDOptions>(0.1)));
  EXPECT_TRUE(opt.is_training(0));
  EXPECT_FALSE(opt.is_training(1));
  set_grads(p, random_grads(p, 1, 17)[0]);
  EXPECT_NO_THROW(opt.step());
  opt.train();
  EXPECT_TRUE(opt.is_training(1));
}

// eval() divides by beta1 (x = lerp(y, z, 1 − 1/β1)): with β1 = 0 it throws, changing nothing.
TEST(ScheduleFree, EvalWithZeroBeta1Throws) {
  auto p = start();
  ScheduleFreeAdamW opt(p, ScheduleFreeAdamWOptions(0.01).betas({0.0, 0.999}));
  opt.train();
  step_with(opt, p, random_grads(p, 1, 19)[0]);
  const auto y = current(p);
  EXPECT_THROW(opt.eval(), std::domain_error);
  EXPECT_TRUE(opt.is_training());
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(bit_equal(p[i], y[i]));
}

}  // namespace
