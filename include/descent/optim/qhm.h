// descent/optim/qhm.h: quasi-hyperbolic momentum, as kozistr/pytorch_optimizer's QHM.
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct QHMOptions : Options<QHMOptions> {
  static constexpr const char* kOptimizer = "qhm";
  explicit QHMOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(double, momentum, 0.0)
  DESCENT_OPTION(double, nu, 1.0)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, false)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("momentum", momentum_, in_co(0, 1));
    v("nu", nu_, in_cc(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("maximize", maximize_, any_bool());
  }
};

class QHM : public OptimizerImpl<QHMOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};

}  // namespace descent
