// descent/optim/lamb.h: LAMB, as kozistr/pytorch_optimizer @ 7a076d2 (Lamb,
// per-parameter path).
#pragma once

#include <descent/optim/optimizer.h>

#include <cstdint>

namespace descent {

struct LambOptions : Options<LambOptions> {
  static constexpr const char* kOptimizer = "lamb";
  explicit LambOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, rectify, false)
  DESCENT_OPTION(bool, degenerated_to_sgd, false)
  DESCENT_OPTION(std::int64_t, n_sma_threshold, 5)
  DESCENT_OPTION(bool, grad_averaging, true)
  DESCENT_OPTION(double, max_grad_norm, 1.0)
  DESCENT_OPTION(bool, adam, false)
  DESCENT_OPTION(bool, pre_norm, false)
  DESCENT_OPTION(double, eps, 1e-6)
  DESCENT_OPTION(bool, maximize, false)
  // Read by the reference from its **kwargs (group.get(...)):
  DESCENT_OPTION(bool, adam_debias, false)
  DESCENT_OPTION(bool, adanorm, false)
  DESCENT_OPTION(double, adanorm_r, 0.95)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("rectify", rectify_, any_bool());
    v("degenerated_to_sgd", degenerated_to_sgd_, any_bool());
    v("n_sma_threshold", n_sma_threshold_, any_number());
    v("grad_averaging", grad_averaging_, any_bool());
    v("max_grad_norm", max_grad_norm_, at_least(0));
    v("adam", adam_, any_bool());
    v("pre_norm", pre_norm_, any_bool());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
    v("adam_debias", adam_debias_, any_bool());
    v("adanorm", adanorm_, any_bool());
    v("adanorm_r", adanorm_r_, any_number());
  }
};

// As the reference, some options are the optimizer's, not a group's: pre_norm,
// maximize, degenerated_to_sgd, n_sma_threshold, and max_grad_norm and eps of
// the global gradient norm are taken from the constructor's options
// (defaults()); a group's own values of these are ignored.
//
// State per parameter: buffers "exp_avg", "exp_avg_sq"; scalars "weight_norm",
// "adam_norm", "trust_ratio" (of the last step, as the reference keeps them)
// and "exp_grad_adanorm" (always 0, see docs/optimizers/lamb.md).
class Lamb : public OptimizerImpl<LambOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;

 private:
  double grad_norm_ = 1;  // pre_norm: the divisor of every gradient this step
};

}  // namespace descent
