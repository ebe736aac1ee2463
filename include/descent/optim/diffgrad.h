// descent/optim/diffgrad.h: diffGrad (Dubey et al., IEEE TNNLS 2019), as
// shivram1987/diffGrad's diffGrad_v2.py (the fixed version).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct DiffGradOptions : Options<DiffGradOptions> {
  static constexpr const char* kOptimizer = "diffgrad";
  explicit DiffGradOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.0)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
  }
};

class DiffGrad : public OptimizerImpl<DiffGradOptions> {
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
