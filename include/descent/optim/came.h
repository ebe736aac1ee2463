// descent/optim/came.h: CAME, as kozistr/pytorch_optimizer's CAME (factored
// second moments plus a factored confidence statistic of the momentum's residual).
#pragma once

#include <descent/optim/optimizer.h>

#include <vector>

namespace descent {

struct CAMEOptions : Options<CAMEOptions> {
  static constexpr const char* kOptimizer = "came";
  explicit CAMEOptions(double lr = 2e-4) { this->lr(lr); }

  // Per group (the reference reads them from the group).
  DESCENT_OPTION(double, lr, 2e-4)
  DESCENT_OPTION(Betas3, betas, {0.9, 0.999, 0.9999})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, ams_bound, false)
  // The reference reads these from the constructor only: a group's own values
  // are ignored, as there (descent takes them from the optimizer's defaults).
  DESCENT_OPTION(double, clip_threshold, 1.0)
  DESCENT_OPTION(double, eps1, 1e-30)
  DESCENT_OPTION(double, eps2, 1e-16)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_cc(0, 1));  // β1, β2 in [0, 1), β3 in [0, 1]: check_consistency
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("ams_bound", ams_bound_, any_bool());
    v("clip_threshold", clip_threshold_, any_number());
    v("eps1", eps1_, at_least(0));
    v("eps2", eps2_, at_least(0));
    v("maximize", maximize_, any_bool());
  }
  void check_consistency() const;
};

class CAME : public OptimizerImpl<CAMEOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool supports_bf16_modes() const override { return false; }  // the grid kernels (kernels/factored.h) write the parameter
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;

 private:
  // Per-row and per-column numbers of the tensor being updated, and the
  // chunks' column sums: reused from step to step (see src/optim/factored_launch.h).
  std::vector<double> stats_, partials_;
};

}  // namespace descent
