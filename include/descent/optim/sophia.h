// descent/optim/sophia.h: Sophia (Liu et al., ICLR 2024), as the authors'
// Liuhong99/Sophia : sophia.py — SophiaG at a7e1572 (the Gauss-Newton-Bartlett
// variant, the repository's only class today) and SophiaH at 01af183 (the
// Hutchinson variant of the initial commit).
//
// The running Hessian-diagonal estimate h is refreshed, as in the authors'
// training loop, right after every k-th step:
//   * explicitly: update_hessian(estimate) after step(), as the reference's
//     update_hessian() (the golden cases' `hessian` key, "after_step"); or
//   * by an installed estimator (set_estimator; descent/curvature.h builds one
//     from a closure returning logits, curvature::gnb_estimator, for SophiaG, or
//     from a loss closure, curvature::hutchinson_estimator, for SophiaH), which
//     step() calls after every `hess_interval`-th step.
// Without either, h stays 0 and every element is clipped: sign descent.
#pragma once

#include <descent/optim/hessian.h>
#include <descent/optim/optimizer.h>

#include <vector>

namespace descent {

struct SophiaGOptions : Options<SophiaGOptions> {
  static constexpr const char* kOptimizer = "sophia_g";
  explicit SophiaGOptions(double lr = 1e-4) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-4)
  DESCENT_OPTION(Betas, betas, {0.965, 0.99})
  DESCENT_OPTION(double, rho, 0.04)
  DESCENT_OPTION(double, weight_decay, 1e-1)
  DESCENT_OPTION(bool, maximize, false)
  // The reference's step(bs=...) argument: tokens per batch; multiplies h in the clip.
  DESCENT_OPTION(double, bs, 5120)
  // Steps between refreshes by an installed estimator (the training script's hess_interval).
  DESCENT_OPTION(std::int64_t, hess_interval, 10)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("rho", rho_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("maximize", maximize_, any_bool());
    v("bs", bs_, at_least(0));
    v("hess_interval", hess_interval_, at_least(1));
  }
};

struct SophiaHOptions : Options<SophiaHOptions> {
  static constexpr const char* kOptimizer = "sophia_h";
  explicit SophiaHOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.99})
  DESCENT_OPTION(double, gamma, 10.0)
  DESCENT_OPTION(double, weight_decay, 1e-2)
  DESCENT_OPTION(bool, maximize, false)
  DESCENT_OPTION(std::int64_t, hess_interval, 10)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("gamma", gamma_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("maximize", maximize_, any_bool());
    v("hess_interval", hess_interval_, at_least(1));
  }
};

namespace detail {
template <class Opts>
class SophiaImpl : public OptimizerImpl<Opts>, public UsesHessianDiagonal {
 public:
  using OptimizerImpl<Opts>::OptimizerImpl;

  // An estimate for h's EMA before the next step (FORMAT.md's "in_step").
  void set_hessian(const std::vector<torch::Tensor>& diagonal) override;
  // h = β2·h + (1 − β2)·estimate, now (the reference's update_hessian()).
  void update_hessian(const std::vector<torch::Tensor>& diagonal) override;
  void set_estimator(HessianEstimator estimator) override { estimator_ = std::move(estimator); }

 protected:
  // update_param ends in launch(); update() flushes the queued launches
  // before its estimator reads the stepped parameters.
  bool batches_launches() const override { return true; }
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;

 private:
  void check_estimate(const std::vector<torch::Tensor>& diagonal) const;
  void apply_estimate(const std::vector<torch::Tensor>& diagonal);
  void run_estimator();

  std::vector<torch::Tensor> pending_;  // from set_hessian
  HessianEstimator estimator_;
  std::int64_t steps_ = 0;              // step() calls, for the estimator's schedule
};
}  // namespace detail

class SophiaG : public detail::SophiaImpl<SophiaGOptions> {
 public:
  using SophiaImpl::SophiaImpl;
};

class SophiaH : public detail::SophiaImpl<SophiaHOptions> {
 public:
  using SophiaImpl::SophiaImpl;
};

}  // namespace descent
