// descent/optim/signsgd.h: signSGD / Signum, as kozistr/pytorch_optimizer's SignSGD
// (whose momentum buffer is re-zeroed every step, so that every option reduces
// to p ← p − lr·sign(g); see docs/optimizers/signsgd.md).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct SignSGDOptions : Options<SignSGDOptions> {
  static constexpr const char* kOptimizer = "signsgd";
  explicit SignSGDOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(double, momentum, 0.9)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("momentum", momentum_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("maximize", maximize_, any_bool());
  }
};

class SignSGD : public OptimizerImpl<SignSGDOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  const StateLayout& layout() const override;
  void init_state(ParamState&, const torch::Tensor&, const torch::optim::OptimizerOptions&) const override {}
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};

}  // namespace descent
