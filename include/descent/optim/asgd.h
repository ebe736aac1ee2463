// descent/optim/asgd.h: averaged SGD, as torch.optim.ASGD (PyTorch 1.13).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct ASGDOptions : Options<ASGDOptions> {
  static constexpr const char* kOptimizer = "asgd";
  explicit ASGDOptions(double lr = 1e-2) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-2)
  DESCENT_OPTION(double, lambd, 1e-4)
  DESCENT_OPTION(double, alpha, 0.75)
  DESCENT_OPTION(double, t0, 1e6)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("lambd", lambd_, any_number());        // PyTorch does not check lambd, alpha, t0
    v("alpha", alpha_, any_number());
    v("t0", t0_, any_number_or_inf());        // t0 = inf: never average
    v("weight_decay", weight_decay_, at_least(0));
    v("maximize", maximize_, any_bool());
  }

 private:
  static Check any_number_or_inf() {
    Check c = any_number();
    c.finite = false;
    return c;
  }
};

// The averaged iterate is the state buffer "ax" (state_of(p)->buffer("ax")).
class ASGD : public OptimizerImpl<ASGDOptions> {
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
