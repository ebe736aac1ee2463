// descent/optim/adamp.h: AdamP (Heo et al., ICLR 2021), as clovaai/AdamP's adamp/adamp.py.
#pragma once

#include <descent/optim/optimizer.h>

#include <vector>

namespace descent {

struct AdamPOptions : Options<AdamPOptions> {
  static constexpr const char* kOptimizer = "adamp";
  explicit AdamPOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(double, delta, 0.1)
  DESCENT_OPTION(double, wd_ratio, 0.1)
  DESCENT_OPTION(bool, nesterov, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("delta", delta_, at_least(0));
    v("wd_ratio", wd_ratio_, at_least(0));
    v("nesterov", nesterov_, any_bool());
  }
};

class AdamP : public OptimizerImpl<AdamPOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool supports_bf16_modes() const override { return false; }  // the projection driver (optim/adamp_projection.h) writes the parameter
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;

 private:
  std::vector<double> scratch_;  // per-row sums of the projection, reused across steps
};

}  // namespace descent
