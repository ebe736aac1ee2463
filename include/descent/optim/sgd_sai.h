// descent/optim/sgd_sai.h: SGD-SaI (SGD with momentum and learning-rate scaling
// at initialization), as AnonymousAlethiometer/SGD_SaI's SGD_sai (v1.0.3).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct SGDSaIOptions : Options<SGDSaIOptions> {
  static constexpr const char* kOptimizer = "sgd_sai";
  explicit SGDSaIOptions(double lr = 1e-2) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-2)
  DESCENT_OPTION(double, momentum, 0.9)
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 1e-2)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("momentum", momentum_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
  }
};

// Each tensor's gsnr = ‖g‖₂/(std(g) + eps) (unbiased std, NaN → 0) is computed
// from its first gradient and kept (state scalar "gsnr").
class SGDSaI : public OptimizerImpl<SGDSaIOptions> {
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
