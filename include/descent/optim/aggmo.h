// descent/optim/aggmo.h: aggregated momentum (AggMo), as kozistr/pytorch_optimizer's AggMo.
#pragma once

#include <descent/optim/optimizer.h>

#include <vector>

namespace descent {

struct AggMoOptions : Options<AggMoOptions> {
  static constexpr const char* kOptimizer = "aggmo";
  explicit AggMoOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(std::vector<double>, betas, {0.0, 0.9, 0.99})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, false)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_cc(0, 1).at_least_length(2));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("maximize", maximize_, any_bool());
  }
  // validate_betas: β1 and β2 in [0, 1), β3 in [0, 1]; later ones unchecked (here: [0, 1]).
  void check_consistency() const;
};

// One momentum buffer per distinct β, stacked in one state tensor
// "momentum_buffer" of shape [number of distinct betas, *param.shape], in the
// order the betas first appear (the reference keeps a dict keyed by β).
class AggMo : public OptimizerImpl<AggMoOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool supports_bf16_modes() const override { return false; }  // its own multi-buffer driver writes the parameter
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};

}  // namespace descent
