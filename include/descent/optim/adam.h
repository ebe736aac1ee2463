// descent/optim/adam.h: Adam and AdamW, as torch.optim.Adam / torch.optim.AdamW.
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

namespace descent {

// The options Adam and AdamW share; they differ in name and in the meaning
// and default of weight_decay (L2 for Adam, decoupled for AdamW).
template <class Derived>
struct AdamFamilyOptions : Options<Derived> {
  using Self = Derived;
  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, amsgrad, false)
  DESCENT_OPTION(bool, maximize, false)
  DESCENT_STATE_DTYPE_OPTIONS()

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("amsgrad", amsgrad_, any_bool());
    v("maximize", maximize_, any_bool());
    DESCENT_STATE_DTYPE_FIELDS(v);
  }
};

struct AdamOptions : AdamFamilyOptions<AdamOptions> {
  static constexpr const char* kOptimizer = "adam";
  explicit AdamOptions(double lr = 1e-3) { this->lr(lr); }
};

struct AdamWOptions : AdamFamilyOptions<AdamWOptions> {
  static constexpr const char* kOptimizer = "adamw";
  explicit AdamWOptions(double lr = 1e-3) {
    this->lr(lr);
    this->weight_decay(1e-2);  // PyTorch's AdamW default
  }
};

namespace detail {
// Adam and AdamW share one implementation; Decoupled selects the decay.
template <class Opts, bool Decoupled>
class AdamImpl : public OptimizerImpl<Opts> {
 public:
  using OptimizerImpl<Opts>::OptimizerImpl;

 protected:
  bool batches_launches() const override { return true; }  // update_param ends in launch()
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};
}  // namespace detail

class Adam : public detail::AdamImpl<AdamOptions, false> {
 public:
  using AdamImpl::AdamImpl;
};

class AdamW : public detail::AdamImpl<AdamWOptions, true> {
 public:
  using AdamImpl::AdamImpl;
};

}  // namespace descent
