// descent/optim/novograd.h: NovoGrad, as kozistr/pytorch_optimizer @ 7a076d2 (NovoGrad).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct NovoGradOptions : Options<NovoGradOptions> {
  static constexpr const char* kOptimizer = "novograd";
  explicit NovoGradOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.95, 0.98})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, false)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, grad_averaging, false)
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(bool, maximize, false)
  DESCENT_OPTION(bool, adam_debias, false)  // read from the reference's **kwargs

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("grad_averaging", grad_averaging_, any_bool());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
    v("adam_debias", adam_debias_, any_bool());
  }
};

// maximize is the optimizer's option (the constructor's, defaults()), as in
// the reference; a group's own value is ignored.
// State per parameter: buffer "moments", scalar "grads_ema" (the EMA of the
// tensor's squared gradient norm, rounded to the parameter's precision).
class NovoGrad : public OptimizerImpl<NovoGradOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;
};

}  // namespace descent
