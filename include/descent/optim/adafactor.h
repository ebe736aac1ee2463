// descent/optim/adafactor.h: Adafactor, as kozistr/pytorch_optimizer's AdaFactor
// (BigVision's variant: factored second moments, optional first moment kept in
// a reduced precision, relative step sizes, update clipping).
#pragma once

#include <descent/optim/optimizer.h>

#include <string>
#include <vector>

namespace descent {

struct AdafactorOptions : Options<AdafactorOptions> {
  static constexpr const char* kOptimizer = "adafactor";
  explicit AdafactorOptions(double lr = 1e-3) { this->lr(lr); }

  // Per group (the reference reads them from the group).
  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, ams_bound, false)
  DESCENT_OPTION(bool, scale_parameter, true)
  DESCENT_OPTION(bool, relative_step, true)
  DESCENT_OPTION(bool, warmup_init, false)
  DESCENT_OPTION(bool, cautious, false)
  // β1 = None in the reference: no first moment (betas[0] is then ignored).
  DESCENT_OPTION(bool, no_momentum, false)
  // The reference reads these from the constructor only: a group's own values
  // are ignored, as there (descent takes them from the optimizer's defaults).
  DESCENT_OPTION(double, decay_rate, -0.8)
  DESCENT_OPTION(double, clip_threshold, 1.0)
  DESCENT_OPTION(double, eps1, 1e-30)
  DESCENT_OPTION(double, eps2, 1e-3)
  DESCENT_OPTION(std::string, momentum_dtype, "bfloat16")
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("ams_bound", ams_bound_, any_bool());
    v("scale_parameter", scale_parameter_, any_bool());
    v("relative_step", relative_step_, any_bool());
    v("warmup_init", warmup_init_, any_bool());
    v("cautious", cautious_, any_bool());
    v("no_momentum", no_momentum_, any_bool());
    v("decay_rate", decay_rate_, any_number());
    v("clip_threshold", clip_threshold_, any_number());
    v("eps1", eps1_, at_least(0));
    v("eps2", eps2_, at_least(0));
    // Built once: validate() runs at every step and must not allocate.
    static const Check dtypes =
        one_of({"bfloat16", "float32", "float64", "float16", "torch.bfloat16", "torch.float32", "torch.float64",
                "torch.float16", "float", "double", "half", "torch.float", "torch.double", "torch.half"});
    v("momentum_dtype", momentum_dtype_, dtypes);
    v("maximize", maximize_, any_bool());
  }
};

class Adafactor : public OptimizerImpl<AdafactorOptions> {
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
