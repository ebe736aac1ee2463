// descent/optim/adagrad.h: Adagrad, as torch.optim.Adagrad (PyTorch 1.13).
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

namespace descent {

struct AdagradOptions : Options<AdagradOptions> {
  static constexpr const char* kOptimizer = "adagrad";
  explicit AdagradOptions(double lr = 1e-2) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-2)
  DESCENT_OPTION(double, lr_decay, 0.0)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(double, initial_accumulator_value, 0.0)
  DESCENT_OPTION(double, eps, 1e-10)
  DESCENT_OPTION(bool, maximize, false)
  DESCENT_STATE_DTYPE_OPTIONS()

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("lr_decay", lr_decay_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("initial_accumulator_value", initial_accumulator_value_, at_least(0));
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
    DESCENT_STATE_DTYPE_FIELDS(v);
  }
};

class Adagrad : public OptimizerImpl<AdagradOptions> {
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
