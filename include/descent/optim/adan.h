// descent/optim/adan.h: Adan (adaptive Nesterov momentum), as sail-sg/Adan's adan.py.
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

namespace descent {

struct AdanOptions : Options<AdanOptions> {
  static constexpr const char* kOptimizer = "adan";
  explicit AdanOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas3, betas, {0.98, 0.92, 0.99})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(double, max_grad_norm, 0.0)
  DESCENT_OPTION(bool, no_prox, false)
  DESCENT_STATE_DTYPE_OPTIONS()

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("max_grad_norm", max_grad_norm_, at_least(0));
    v("no_prox", no_prox_, any_bool());
    DESCENT_STATE_DTYPE_FIELDS(v);
  }
};

// The step counter is per group (GroupState::step); bias corrections use it.
// Gradient clipping (max_grad_norm > 0, read from the optimizer's defaults as
// the reference reads self.defaults) scales every gradient of every group by one
// factor computed from the global norm, so update() is overridden.
class Adan : public OptimizerImpl<AdanOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

  // The clip factor of the last step (1 without clipping).
  double last_clip() const { return last_clip_; }

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;

 private:
  double clip_factor();
  double last_clip_ = 1.0;
};

}  // namespace descent
