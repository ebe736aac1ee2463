// descent/optim/adamod.h: AdaMod (Ding et al., arXiv:1910.12249), as
// kozistr/pytorch_optimizer @ 7a076d2 (optimizer/adamod.py).
#pragma once

#include <descent/optim/optimizer.h>

namespace descent {

struct AdaModOptions : Options<AdaModOptions> {
  static constexpr const char* kOptimizer = "adamod";
  explicit AdaModOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas3, betas, {0.9, 0.99, 0.9999})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(bool, maximize, false)
  DESCENT_OPTION(bool, adam_debias, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_cc(0, 1));  // β1, β2 in [0, 1), β3 in [0, 1]: check_consistency
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
    v("adam_debias", adam_debias_, any_bool());
  }
  void check_consistency() const;
};

class AdaMod : public OptimizerImpl<AdaModOptions> {
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
