#include <descent/kernels/schedule_free.h>
#include <descent/optim/launch.h>
#include <descent/optim/schedule_free.h>

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace descent {
namespace detail {

namespace {
// p = lerp(p, z, w) as the reference's p.lerp_(end=z, weight=w). z is kept in
// float32 for bfloat16 parameters: the lerp then runs in float32 and rounds.
void lerp_towards(const torch::Tensor& p, const torch::Tensor& z, double w) {
  if (p.scalar_type() == z.scalar_type()) {
    p.lerp_(z, w);
  } else {
    p.copy_(p.to(z.scalar_type()).lerp_(z, w));
  }
}
}  // namespace

template <class Opts>
void ScheduleFreeBase<Opts>::switch_to(bool training) {
  at::NoGradGuard no_grad;
  auto& groups = this->param_groups_;
  if (train_mode_.size() < groups.size()) train_mode_.resize(groups.size(), false);
  if (!training) {
    // Check before switching anything: β1 = 0 has no x to move to.
    for (std::size_t gi = 0; gi < groups.size(); ++gi)
      if (train_mode_[gi] && this->options(gi).averaging_beta() == 0)
        throw std::domain_error(std::string(Opts::kOptimizer) + ": eval() needs a nonzero beta1 (momentum): group " +
                                std::to_string(gi) + " has 0, and x = lerp(y, z, 1 - 1/beta1) divides by it");
  }
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    if (train_mode_[gi] == training) continue;
    const double beta = this->options(gi).averaging_beta();
    const double w = training ? 1 - beta : 1 - 1 / beta;
    for (const auto& p : groups[gi].params()) {
      const ParamState* st = this->state_of(p);
      if (st != nullptr && st->buffers[0].defined()) lerp_towards(p, st->buffers[0], w);
    }
    train_mode_[gi] = training;
  }
}

template <class Opts>
void ScheduleFreeBase<Opts>::train() {
  switch_to(true);
}

template <class Opts>
void ScheduleFreeBase<Opts>::eval() {
  switch_to(false);
}

template <class Opts>
void ScheduleFreeBase<Opts>::update() {
  if (!mode(0)) {
    throw std::runtime_error(std::string(Opts::kOptimizer) +
                             ": step() called in eval mode; call train() before training steps and eval() before "
                             "evaluating or saving (the parameters hold y in train mode, x in eval mode)");
  }
  // lr_max^weight_lr_power with lr_max = 0 and a negative power: Python raises
  // ZeroDivisionError there; refuse before anything changes.
  for (std::size_t gi = 0; gi < this->param_groups_.size(); ++gi) {
    const Opts& o = this->options(gi);
    const double lr_max = std::max(o.lr(), this->group_state(gi).scalars[0]);
    if (o.weight_lr_power() < 0 && lr_max == 0)
      throw std::domain_error(std::string(Opts::kOptimizer) + ": group " + std::to_string(gi) +
                              " has lr_max = 0 and a negative weight_lr_power: 0 cannot be raised to it");
  }
  Optimizer::update();
}

template <class Opts>
void ScheduleFreeBase<Opts>::update_group(std::size_t gi) {
  const Opts& o = this->options(gi);
  GroupState& gs = this->mutable_group_state(gi);
  double& lr_max = gs.scalars[0];
  double& weight_sum = gs.scalars[1];
  double& scheduled_lr = gs.scalars[2];
  k_ = gs.step;
  const double k1 = static_cast<double>(k_ + 1);
  const double sched = k_ < o.warmup_steps() ? k1 / static_cast<double>(o.warmup_steps()) : 1.0;
  lr_t_ = o.lr() * sched;
  scheduled_lr = lr_t_;
  lr_max = lr_max > lr_t_ ? lr_max : lr_t_;  // Python max(lr, lr_max)
  const double weight = std::pow(k1, o.r()) * std::pow(lr_max, o.weight_lr_power());
  weight_sum = weight_sum + weight;
  ckp1_ = weight_sum == 0 ? 0.0 : weight / weight_sum;  // the reference catches ZeroDivisionError
  y_coef_ = lr_t_ * (o.averaging_beta() * (1 - ckp1_) - 1);
  Optimizer::update_group(gi);  // counts the step, then update_param for each parameter with a gradient
}

template <class Opts>
void ScheduleFreeBase<Opts>::save_extra(torch::serialize::OutputArchive& archive) const {
  std::vector<std::int64_t> modes;
  for (std::size_t gi = 0; gi < this->param_groups_.size(); ++gi) modes.push_back(mode(gi) ? 1 : 0);
  archive.write("train_mode", c10::IValue(modes));
}

template <class Opts>
std::function<void()> ScheduleFreeBase<Opts>::load_extra(torch::serialize::InputArchive& archive) {
  c10::IValue v;
  const std::string refused = std::string(Opts::kOptimizer) + ": checkpoint refused: ";
  if (!archive.try_read("train_mode", v) || !v.isIntList())
    throw std::runtime_error(refused + "the train/eval mode of the groups is missing");
  std::vector<std::int64_t> modes = v.toIntVector();
  if (modes.size() != this->param_groups_.size())
    throw std::runtime_error(refused + "it has the mode of " + std::to_string(modes.size()) + " groups, this optimizer " +
                             std::to_string(this->param_groups_.size()));
  std::vector<bool> staged;
  for (auto m : modes) {
    if (m != 0 && m != 1) throw std::runtime_error(refused + "a group's train/eval mode is malformed");
    staged.push_back(m == 1);
  }
  return [this, staged = std::move(staged)] { train_mode_ = staged; };
}

template class ScheduleFreeBase<ScheduleFreeAdamWOptions>;
template class ScheduleFreeBase<ScheduleFreeSGDOptions>;

}  // namespace detail

namespace {
template <class Rule>
Rule& fill_step(Rule& r, double ckp1, double y_coef, double lr_t, double weight_decay) {
  r.sf.ckp1 = ckp1;
  r.sf.y_coef = y_coef;
  r.sf.neg_lr = -lr_t;
  r.sf.weight_decay = weight_decay;
  return r;
}
}  // namespace

// ---- AdamW -------------------------------------------------------------------------

const StateLayout& ScheduleFreeAdamW::layout() const {
  static const StateLayout l{{"z", "exp_avg_sq", "exp_avg"}, {}};
  return l;
}

void ScheduleFreeAdamW::init_state(ParamState& st, const torch::Tensor& p,
                                   const torch::optim::OptimizerOptions& options) const {
  st.buffer(0) = zeros_state(p).copy_(p.detach());  // z starts at the parameter
  st.buffer(1) = zeros_state(p);
  if (cast(options).inner_momentum() != 0) st.buffer(2) = zeros_state(p);
}

void ScheduleFreeAdamW::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                                     const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double k1 = static_cast<double>(k_ + 1);
  const double beta2 = o.betas()[1];
  const bool decay = o.weight_decay() != 0;
  const bool inner = o.inner_momentum() != 0;
  if (inner && !st.buffer(2).defined()) st.buffer(2) = zeros_state(p);  // switched on mid-run
  auto fill = [&](auto& r) -> auto& {
    fill_step(r, ckp1_, y_coef_, lr_t_, o.weight_decay());
    r.beta2 = beta2;
    r.one_minus_beta2 = 1 - beta2;
    r.bc2 = 1 - std::pow(beta2, k1);
    r.eps = o.eps();
    r.mu = o.inner_momentum();
    r.one_minus_mu = 1 - o.inner_momentum();
    r.bc1 = inner ? 1 - std::pow(o.inner_momentum(), k1) : 1.0;
    return r;
  };
  const torch::Tensor &z = st.buffer(0), &v = st.buffer(1), &m = st.buffer(2);
  if (inner) {
    if (decay) {
      kernels::ScheduleFreeAdamWRule<true, true> r;
      launch(fill(r), p, g, z, v, m);
    } else {
      kernels::ScheduleFreeAdamWRule<false, true> r;
      launch(fill(r), p, g, z, v, m);
    }
  } else if (decay) {
    kernels::ScheduleFreeAdamWRule<true, false> r;
    launch(fill(r), p, g, z, v);
  } else {
    kernels::ScheduleFreeAdamWRule<false, false> r;
    launch(fill(r), p, g, z, v);
  }
}

// ---- SGD ---------------------------------------------------------------------------

const StateLayout& ScheduleFreeSGD::layout() const {
  static const StateLayout l{{"z"}, {}};
  return l;
}

void ScheduleFreeSGD::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p).copy_(p.detach());
}

void ScheduleFreeSGD::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                                   const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  if (o.weight_decay() != 0) {
    kernels::ScheduleFreeSgdRule<true> r;
    launch(fill_step(r, ckp1_, y_coef_, lr_t_, o.weight_decay()), p, g, st.buffer(0));
  } else {
    kernels::ScheduleFreeSgdRule<false> r;
    launch(fill_step(r, ckp1_, y_coef_, lr_t_, o.weight_decay()), p, g, st.buffer(0));
  }
}

}  // namespace descent
