// descent/optim/sgd.h: stochastic gradient descent, as torch.optim.SGD.
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

#include <limits>

namespace descent {

struct SGDOptions : Options<SGDOptions> {
  static constexpr const char* kOptimizer = "sgd";
  // lr has no default, as in PyTorch.
  explicit SGDOptions(double lr = std::numeric_limits<double>::quiet_NaN()) : lr_(lr) {}

  DESCENT_OPTION(double, lr, std::numeric_limits<double>::quiet_NaN())
  DESCENT_OPTION(double, momentum, 0.0)
  DESCENT_OPTION(double, dampening, 0.0)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, nesterov, false)
  DESCENT_OPTION(bool, maximize, false)
  DESCENT_STATE_DTYPE_OPTIONS()

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0).require());
    v("momentum", momentum_, at_least(0));
    v("dampening", dampening_, any_number());
    v("weight_decay", weight_decay_, at_least(0));
    v("nesterov", nesterov_, any_bool());
    v("maximize", maximize_, any_bool());
    DESCENT_STATE_DTYPE_FIELDS(v);
  }
  void check_consistency() const;
};

class SGD : public OptimizerImpl<SGDOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  const StateLayout& layout() const override;
  void init_state(ParamState&, const torch::Tensor&, const torch::optim::OptimizerOptions&) const override {}
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
  torch::Tensor lazy_state(std::size_t b, const torch::Tensor& p, const ParamState& st) const override;
};

}  // namespace descent
