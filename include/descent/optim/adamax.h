// descent/optim/adamax.h: Adamax, as torch.optim.Adamax (PyTorch 1.13).
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

namespace descent {

struct AdamaxOptions : Options<AdamaxOptions> {
  static constexpr const char* kOptimizer = "adamax";
  explicit AdamaxOptions(double lr = 2e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 2e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, maximize, false)
  DESCENT_STATE_DTYPE_OPTIONS()

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("maximize", maximize_, any_bool());
    DESCENT_STATE_DTYPE_FIELDS(v);
  }
};

class Adamax : public OptimizerImpl<AdamaxOptions> {
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
