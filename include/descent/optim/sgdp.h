// descent/optim/sgdp.h: SGDP (Heo et al., ICLR 2021), as clovaai/AdamP's adamp/sgdp.py.
#pragma once

#include <descent/optim/optimizer.h>

#include <limits>
#include <vector>

namespace descent {

struct SGDPOptions : Options<SGDPOptions> {
  static constexpr const char* kOptimizer = "sgdp";
  // lr has no default, as in the reference (torch.optim.optimizer.required).
  explicit SGDPOptions(double lr = std::numeric_limits<double>::quiet_NaN()) : lr_(lr) {}

  DESCENT_OPTION(double, lr, std::numeric_limits<double>::quiet_NaN())
  DESCENT_OPTION(double, momentum, 0.0)
  DESCENT_OPTION(double, dampening, 0.0)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, nesterov, false)
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, delta, 0.1)
  DESCENT_OPTION(double, wd_ratio, 0.1)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0).require());
    v("momentum", momentum_, at_least(0));
    v("dampening", dampening_, any_number());
    v("weight_decay", weight_decay_, at_least(0));
    v("nesterov", nesterov_, any_bool());
    v("eps", eps_, at_least(0));
    v("delta", delta_, at_least(0));
    v("wd_ratio", wd_ratio_, at_least(0));
  }
  void check_consistency() const;
};

class SGDP : public OptimizerImpl<SGDPOptions> {
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
