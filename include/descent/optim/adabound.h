// descent/optim/adabound.h: AdaBound / AMSBound (Luo et al., ICLR 2019), as
// kozistr/pytorch_optimizer @ 7a076d2 (optimizer/adabound.py).
#pragma once

#include <descent/optim/optimizer.h>

#include <vector>

namespace descent {

struct AdaBoundOptions : Options<AdaBoundOptions> {
  static constexpr const char* kOptimizer = "adabound";
  explicit AdaBoundOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(double, final_lr, 1e-1)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, gamma, 1e-3)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, ams_bound, false)
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("final_lr", final_lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("gamma", gamma_, greater_than(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("ams_bound", ams_bound_, any_bool());
    v("eps", eps_, at_least(0));
    v("maximize", maximize_, any_bool());
  }
};

class AdaBound : public OptimizerImpl<AdaBoundOptions> {
 public:
  explicit AdaBound(std::vector<torch::optim::OptimizerParamGroup> groups, AdaBoundOptions defaults = AdaBoundOptions());
  explicit AdaBound(std::vector<torch::Tensor> params, AdaBoundOptions defaults = AdaBoundOptions());

 protected:
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  const StateLayout& layout() const override;
  std::vector<std::string> group_scalar_names() const override { return {"base_lr"}; }
  std::vector<double> initial_group_scalars(const torch::optim::OptimizerOptions&) const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_group(std::size_t group_index) override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& group) override;

 private:
  // Each group's lr at construction: the reference's base_lrs, which scale
  // final_lr by lr / base_lr when the lr is scheduled.
  std::vector<double> base_lrs_;
};

}  // namespace descent
