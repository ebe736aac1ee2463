// descent/optim/rprop.h: Rprop, as torch.optim.Rprop (PyTorch 1.13).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct RpropOptions : Options<RpropOptions> {
  static constexpr const char* kOptimizer = "rprop";
  explicit RpropOptions(double lr = 1e-2) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-2)
  DESCENT_OPTION(Betas, etas, {0.5, 1.2})         // (etaminus, etaplus)
  DESCENT_OPTION(Betas, step_sizes, {1e-6, 50})   // (step_size_min, step_size_max)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("etas", etas_, greater_than(0));  // and etaminus < 1 < etaplus (check_consistency)
    v("step_sizes", step_sizes_, any_number_or_inf());
    v("maximize", maximize_, any_bool());
  }
  // torch.optim.Rprop: "0 < etaminus < 1 < etaplus".
  void check_consistency() const;

 private:
  // PyTorch does not check step_sizes; infinite bounds (no clamp) are allowed.
  static Check any_number_or_inf() {
    Check c = any_number();
    c.finite = false;
    return c;
  }
};

class Rprop : public OptimizerImpl<RpropOptions> {
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
