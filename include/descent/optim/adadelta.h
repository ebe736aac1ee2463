// descent/optim/adadelta.h: Adadelta, as torch.optim.Adadelta (PyTorch 1.13).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct AdadeltaOptions : Options<AdadeltaOptions> {
  static constexpr const char* kOptimizer = "adadelta";
  explicit AdadeltaOptions(double lr = 1.0) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1.0)
  DESCENT_OPTION(double, rho, 0.9)
  DESCENT_OPTION(double, eps, 1e-6)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("rho", rho_, in_cc(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("maximize", maximize_, any_bool());
  }
};

class Adadelta : public OptimizerImpl<AdadeltaOptions> {
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
