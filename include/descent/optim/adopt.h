// descent/optim/adopt.h: ADOPT, as kozistr/pytorch_optimizer @ 7a076d2 (ADOPT,
// per-parameter path).
#pragma once

#include <descent/optim/optimizer.h>

#include <string>

namespace descent {

struct ADOPTOptions : Options<ADOPTOptions> {
  static constexpr const char* kOptimizer = "adopt";
  explicit ADOPTOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.9999})
  // The reference takes a callable of the step; its default is
  // lambda step: step ** 0.25, and None switches clipping off (JSON null).
  DESCENT_OPTION(std::string, clip_lambda, "step**0.25")
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, false)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(double, eps, 1e-6)
  DESCENT_OPTION(bool, maximize, false)
  // Read by the reference from its **kwargs (group.get(...)):
  DESCENT_OPTION(bool, cautious, false)
  DESCENT_OPTION(bool, stable_adamw, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    const Check kClipLambda = one_of({"step**0.25", "None"});
    v("clip_lambda", clip_lambda_, kClipLambda);
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
    v("cautious", cautious_, any_bool());
    v("stable_adamw", stable_adamw_, any_bool());
  }
  bool clips() const { return clip_lambda() != "None"; }
};

// clip_lambda and maximize are the optimizer's options (the constructor's,
// defaults()), as in the reference; a group's own values are ignored.
// State per parameter: "exp_avg", "exp_avg_sq". The step count is the group's.
class ADOPT : public OptimizerImpl<ADOPTOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;
};

}  // namespace descent
