#include <descent/kernels/adabound.h>
#include <descent/optim/adabound.h>
#include <descent/optim/adam_variants_common.h>
#include <descent/optim/launch.h>
#include <descent/optim/scalars.h>

#include <cmath>
#include <limits>

namespace descent {

AdaBound::AdaBound(std::vector<torch::optim::OptimizerParamGroup> groups, AdaBoundOptions defaults)
    : OptimizerImpl(std::move(groups), std::move(defaults)) {
  for (const auto& g : param_groups_) base_lrs_.push_back(cast(g.options()).lr());
}

AdaBound::AdaBound(std::vector<torch::Tensor> params, AdaBoundOptions defaults)
    : AdaBound(std::vector<torch::optim::OptimizerParamGroup>{torch::optim::OptimizerParamGroup(std::move(params))},
               std::move(defaults)) {}

const StateLayout& AdaBound::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, {}};
  return l;
}

std::vector<double> AdaBound::initial_group_scalars(const torch::optim::OptimizerOptions&) const {
  return {std::numeric_limits<double>::quiet_NaN()};  // set from base_lrs_ at the group's first step
}

void AdaBound::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
  if (cast(options).ams_bound()) st.buffer(2) = zeros_state(p);
}

void AdaBound::update_group(std::size_t gi) {
  GroupState& gs = mutable_group_state(gi);
  // A group added after construction has no base lr in the reference (it is
  // never updated there); descent takes its lr at its first step.
  if (std::isnan(gs.scalars[0]))
    gs.scalars[0] = gi < base_lrs_.size() ? base_lrs_[gi] : cast(param_groups_[gi].options()).lr();
  OptimizerImpl::update_group(gi);
}

void AdaBound::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                            const torch::optim::OptimizerOptions& options, GroupState& group) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1], lr = o.lr();
  const BiasCorrection bc = bias_correction(b1, b2, group.step);  // per-group step count
  const double t = static_cast<double>(group.step);
  // final_lr·lr/base_lr; the reference divides by zero for a group built with lr = 0: descent then
  // takes final_lr unscaled (0 while lr is 0).
  const double base_lr = group.scalars[0];
  const double final_lr = base_lr != 0 ? o.final_lr() * lr / base_lr : (lr != 0 ? o.final_lr() : 0.0);
  auto fill = [&](auto& r) {
    r.gsign = o.maximize() ? -1.0 : 1.0;
    apply_zoo_weight_decay(r, zoo_weight_decay(lr, o.weight_decay(), o.weight_decouple(), o.fixed_decay()));
    r.beta1 = b1;
    r.beta2 = b2;
    r.one_minus_beta1 = 1 - b1;
    r.one_minus_beta2 = 1 - b2;
    r.eps = o.eps();
    r.step_size = lr * bc.bc2_sqrt / bc.bc1;
    r.lower = final_lr * (1 - 1 / (o.gamma() * t + 1));
    r.upper = final_lr * (1 + 1 / (o.gamma() * t));
  };
  if (o.ams_bound()) {
    if (!st.buffer(2).defined()) st.buffer(2) = zeros_state(p);  // switched on mid-run
    kernels::AdaBoundRule<true> r;
    fill(r);
    launch(r, p, g, st.buffer(0), st.buffer(1), st.buffer(2));
  } else {
    kernels::AdaBoundRule<false> r;
    fill(r);
    launch(r, p, g, st.buffer(0), st.buffer(1));
  }
}

}  // namespace descent
