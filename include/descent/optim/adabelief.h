// descent/optim/adabelief.h: AdaBelief (Zhuang et al., NeurIPS 2020), as the
// adabelief_pytorch 0.2.1 package.
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

namespace descent {

struct AdaBeliefOptions : Options<AdaBeliefOptions> {
  static constexpr const char* kOptimizer = "adabelief";
  explicit AdaBeliefOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-16)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, amsgrad, false)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, rectify, true)
  DESCENT_OPTION(bool, degenerated_to_sgd, true)
  DESCENT_STATE_DTYPE_OPTIONS()

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("amsgrad", amsgrad_, any_bool());
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("rectify", rectify_, any_bool());
    v("degenerated_to_sgd", degenerated_to_sgd_, any_bool());
    DESCENT_STATE_DTYPE_FIELDS(v);
  }
};

class AdaBelief : public OptimizerImpl<AdaBeliefOptions> {
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
