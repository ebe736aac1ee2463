// descent/optim/qhadam.h: QHAdam (Ma & Yarats, ICLR 2019), as
// kozistr/pytorch_optimizer @ 7a076d2 (optimizer/qhadam.py).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct QHAdamOptions : Options<QHAdamOptions> {
  static constexpr const char* kOptimizer = "qhadam";
  explicit QHAdamOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(Betas, nus, {1.0, 1.0})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, false)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("nus", nus_, in_cc(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
  }
};

class QHAdam : public OptimizerImpl<QHAdamOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;
};

}  // namespace descent
