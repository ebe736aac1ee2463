// descent/optim/schedule_free.h: Schedule-Free AdamW and SGD, as
// facebookresearch/schedule_free @ 70785b5 (AdamWScheduleFree, SGDScheduleFree:
// the memory-efficient forms).
//
// The parameters hold y (where gradients are taken) in train mode and x (the
// averaged iterate, the one to evaluate and to save) in eval mode; train() and
// eval() move them between the two, as the reference's optimizer.train() /
// optimizer.eval() do. Like the reference, an optimizer built directly starts
// in eval mode and step() throws until train() is called. (Built through the
// registry, e.g. by the golden replay, it is switched to train mode once after
// construction: the golden cases were driven that way.)
//
//     descent::ScheduleFreeAdamW opt(model->parameters(), descent::ScheduleFreeAdamWOptions(1e-3));
//     opt.train();
//     for (...) { ...; opt.step(); }
//     opt.eval();   // parameters = x: evaluate, save
#pragma once

#include <descent/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace descent {

struct ScheduleFreeAdamWOptions : Options<ScheduleFreeAdamWOptions> {
  static constexpr const char* kOptimizer = "schedule_free_adamw";
  explicit ScheduleFreeAdamWOptions(double lr = 0.0025) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 0.0025)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(std::int64_t, warmup_steps, 0)
  DESCENT_OPTION(double, r, 0.0)
  DESCENT_OPTION(double, weight_lr_power, 2.0)
  DESCENT_OPTION(double, inner_momentum, 0.0)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("warmup_steps", warmup_steps_, at_least(0));
    v("r", r_, any_number());
    v("weight_lr_power", weight_lr_power_, any_number());
    v("inner_momentum", inner_momentum_, in_co(0, 1));
  }
  // The interpolation weight between x and z that gives y (β1).
  double averaging_beta() const { return betas()[0]; }
};

struct ScheduleFreeSGDOptions : Options<ScheduleFreeSGDOptions> {
  static constexpr const char* kOptimizer = "schedule_free_sgd";
  explicit ScheduleFreeSGDOptions(double lr = 1.0) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1.0)
  DESCENT_OPTION(double, momentum, 0.9)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(std::int64_t, warmup_steps, 0)
  DESCENT_OPTION(double, r, 0.0)
  DESCENT_OPTION(double, weight_lr_power, 2.0)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("momentum", momentum_, in_oo(0, 1));  // the reference: "between 0 and 1 exclusive"
    v("weight_decay", weight_decay_, at_least(0));
    v("warmup_steps", warmup_steps_, at_least(0));
    v("r", r_, any_number());
    v("weight_lr_power", weight_lr_power_, any_number());
  }
  double averaging_beta() const { return momentum(); }
};

namespace detail {

// What both share: the train/eval switch, the group-level schedule
// (k = the group's step count, lr_max, weight_sum, scheduled_lr as
// GroupState scalars) and the mode in checkpoints.
template <class Opts>
class ScheduleFreeBase : public OptimizerImpl<Opts> {
 public:
  using OptimizerImpl<Opts>::OptimizerImpl;

  // Moves every group in eval mode to y (p = lerp(p, z, 1 − β1)) and marks it
  // as training. Parameters without state (never stepped) stay as they are.
  void train();
  // Moves every group in train mode to x (p = lerp(p, z, 1 − 1/β1)) and marks
  // it as evaluating. Throws std::domain_error, changing nothing, if a group to
  // switch has β1 = 0 (the reference divides by zero).
  void eval();
  // The mode of the first group, the one step() checks (as the reference).
  bool is_training() const { return mode(0); }
  // The mode of each group (groups added after a switch start in eval mode).
  bool is_training(std::size_t group) const { return mode(group); }

 protected:
  std::vector<std::string> group_scalar_names() const override { return {"lr_max", "weight_sum", "scheduled_lr"}; }
  std::vector<double> initial_group_scalars(const torch::optim::OptimizerOptions&) const override {
    return {-1.0, 0.0, 0.0};
  }
  bool supports_bf16_modes() const override { return false; }  // train()/eval() and the y/x interpolation write p with ATen
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  void update() override;
  void update_group(std::size_t group_index) override;
  void save_extra(torch::serialize::OutputArchive& archive) const override;
  std::function<void()> load_extra(torch::serialize::InputArchive& archive) override;

  // The current group's step scalars (set by update_group for update_param).
  std::int64_t k_ = 0;          // the group's step count before this step (0-based)
  double lr_t_ = 0;             // the scheduled lr
  double ckp1_ = 0;             // weight / weight_sum
  double y_coef_ = 0;           // lr_t·(β1·(1 − ckp1) − 1)

 private:
  bool mode(std::size_t group) const { return group < train_mode_.size() && train_mode_[group]; }
  void switch_to(bool training);
  std::vector<bool> train_mode_;  // per group; missing entries: eval (the reference's default)
};

}  // namespace detail

// State: "z" and "exp_avg_sq" (and "exp_avg" with inner_momentum > 0).
class ScheduleFreeAdamW : public detail::ScheduleFreeBase<ScheduleFreeAdamWOptions> {
 public:
  using ScheduleFreeBase::ScheduleFreeBase;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};

// State: "z".
class ScheduleFreeSGD : public detail::ScheduleFreeBase<ScheduleFreeSGDOptions> {
 public:
  using ScheduleFreeBase::ScheduleFreeBase;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};

}  // namespace descent
