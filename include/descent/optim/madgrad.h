// descent/optim/madgrad.h: MADGRAD, as kozistr/pytorch_optimizer @ 7a076d2 (MADGRAD).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct MADGRADOptions : Options<MADGRADOptions> {
  static constexpr const char* kOptimizer = "madgrad";
  explicit MADGRADOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(double, momentum, 0.9)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, false)
  DESCENT_OPTION(double, eps, 1e-6)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("momentum", momentum_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
  }
};

// The step count k is the optimizer's (the reference's self.state['k']): the
// number of step() calls before this one, group 0's step count minus one.
// maximize is the constructor's option (defaults()), as in the reference.
// State per parameter: "grad_sum_sq", "s", and "x0" (the parameter when its
// state was created) with momentum > 0.
class MADGRAD : public OptimizerImpl<MADGRADOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;
};

}  // namespace descent
