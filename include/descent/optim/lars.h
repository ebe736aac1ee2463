// descent/optim/lars.h: LARS (layer-wise adaptive rate scaling), as
// kozistr/pytorch_optimizer's LARS (per-parameter path).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct LARSOptions : Options<LARSOptions> {
  static constexpr const char* kOptimizer = "lars";
  explicit LARSOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(double, momentum, 0.9)
  DESCENT_OPTION(double, dampening, 0.0)
  DESCENT_OPTION(double, trust_coefficient, 1e-3)
  DESCENT_OPTION(bool, nesterov, false)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("momentum", momentum_, in_co(0, 1));
    v("dampening", dampening_, in_co(0, 1));
    v("trust_coefficient", trust_coefficient_, at_least(0));
    v("nesterov", nesterov_, any_bool());
    v("maximize", maximize_, any_bool());
  }
};

// The trust ratio needs ‖p‖ and ‖g‖ before the update: a read-only pass
// (tensors with ndim > 1 only), then the fused update.
class LARS : public OptimizerImpl<LARSOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState&, const torch::Tensor&, const torch::optim::OptimizerOptions&) const override {}
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};

}  // namespace descent
