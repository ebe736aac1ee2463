// descent/optim/lion_kappa.h: Lion-κ (Chen, Liu, Liang & Liu, "Lion Secretly
// Solves Constrained Optimization, As Lyapunov Predicts", ICLR 2024): Lion with
// sign(·) replaced by the gradient of a convex K. See docs/optimizers/lion_kappa.md.
//
//   kappa = "l1"     K(x) = ‖x‖₁,  ∇K = sign             (Lion itself, bit for bit)
//   kappa = "l2"     K(x) = ‖x‖₂ of each tensor, ∇K(x) = x/‖x‖₂ (0 at x = 0)
//   kappa = "huber"  K(x) = Σ H_δ(x_i), ∇K = clamp(x/δ, −1, 1) elementwise
#pragma once

#include <descent/optim/optimizer.h>

#include <string>

namespace descent {

struct LionKappaOptions : Options<LionKappaOptions> {
  static constexpr const char* kOptimizer = "lion_kappa";
  explicit LionKappaOptions(double lr = 1e-4) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-4)
  DESCENT_OPTION(Betas, betas, {0.9, 0.99})
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(std::string, kappa, "l1")
  DESCENT_OPTION(double, huber_delta, 1.0)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    const Check kKappas = one_of({"l1", "l2", "huber"});
    v("kappa", kappa_, kKappas);
    v("huber_delta", huber_delta_, greater_than(0));
  }
};

class LionKappa : public OptimizerImpl<LionKappaOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};

}  // namespace descent
