// descent/optim/ademamix.h: AdEMAMix, as kozistr/pytorch_optimizer @ 7a076d2 (AdEMAMix).
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

#include <algorithm>
#include <limits>
#include <string>

namespace descent {

struct AdEMAMixOptions : Options<AdEMAMixOptions> {
  static constexpr const char* kOptimizer = "ademamix";
  // Python's None for t_alpha_beta3 (JSON null through the registry): no schedules.
  static constexpr double kNone = -std::numeric_limits<double>::infinity();
  explicit AdEMAMixOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas3, betas, {0.9, 0.999, 0.9999})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, false)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(double, alpha, 5.0)
  DESCENT_OPTION(double, t_alpha_beta3, kNone)
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(bool, maximize, false)
  // Read by the reference from its **kwargs (group.get(...)):
  DESCENT_OPTION(bool, cautious, false)
  DESCENT_OPTION(bool, stable_adamw, false)
  DESCENT_STATE_DTYPE_OPTIONS()

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_cc(0, 1));  // β1, β2 < 1: check_consistency
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("alpha", alpha_, at_least(0));
    v("t_alpha_beta3", t_alpha_beta3_, none_or_positive());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
    v("cautious", cautious_, any_bool());
    v("stable_adamw", stable_adamw_, any_bool());
    DESCENT_STATE_DTYPE_FIELDS(v);
  }

  void check_consistency() const {
    auto bad = [](const std::string& what) { throw OptionError(std::string(kOptimizer) + ": " + what); };
    if (betas_[0] >= 1 || betas_[1] >= 1)
      bad("invalid value " + detail::format_value(betas_) + " for option 'betas': beta1 and beta2 must be in [0, 1)");
    if (t_alpha_beta3_ != kNone && !(t_alpha_beta3_ > 0))
      bad("invalid value " + detail::format_value(t_alpha_beta3_) +
          " for option 't_alpha_beta3': must be None (JSON null; kNone in C++) or > 0 (the schedules divide by it)");
    if (has_schedule() && (betas_[0] == 0 || betas_[2] == 0))
      bad("the t_alpha_beta3 schedule takes log(beta1) and log(beta3): both must be > 0, got " +
          detail::format_value(betas_));
  }

  // JSON null ("None") for t_alpha_beta3 means None.
  void set(const std::string& name, const OptionValue& value, bool consistent = true) override {
    if (name == "t_alpha_beta3" && value.kind == OptionValue::Kind::string && value.string == "None") {
      OptionValue none;
      none.number = kNone;
      Options::set(name, none, consistent);
      return;
    }
    Options::set(name, value, consistent);
  }

  bool has_schedule() const { return t_alpha_beta3_ != kNone; }

 private:
  static Check none_or_positive() {
    Check c = at_least(kNone);
    c.finite = false;
    return c;
  }
};

// maximize is the optimizer's option (the constructor's, defaults()), as in
// the reference. With stable_adamw the step size is divided by each tensor's
// rms cumulatively over a group's tensors, as the reference does (it divides
// its group-level step_size in place).
// State per parameter: "exp_avg", "exp_avg_sq", "exp_avg_slow".
class AdEMAMix : public OptimizerImpl<AdEMAMixOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_group(std::size_t group_index) override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;

 private:
  // The current group's scalars (update_group → update_param).
  double step_size_ = 0, alpha_t_ = 0, beta3_t_ = 0, bc2_sqrt_ = 1;
};

}  // namespace descent
