// descent/optim/adahessian.h: AdaHessian (Yao et al., AAAI 2021), as
// amirgholami/adahessian @ 85ebc00 : image_classification/optim_adahessian.py
// (Adahessian).
//
// Every step needs a Hessian-diagonal estimate D. In order of precedence:
//  * an explicit one, set_hessian(estimate) before step() (the golden cases'
//    `hessian` key, "in_step");
//  * an installed estimator (set_estimator), called inside the step;
//  * as the reference: Hutchinson's estimate through the graph of the
//    gradients, i.e. after loss.backward(create_graph=true) (or a closure that
//    does that): H·z by double backward, one Rademacher probe z per parameter
//    drawn from the default generator as the reference draws it (or handed in
//    with set_probes).
// D = |estimate| (= |z ⊙ Hz|), averaged over each kh × kw slice of a 4-D (conv)
// kernel. After the step the gradients are detached (as the reference's
// grad.detach_()), which frees their graph.
#pragma once

#include <descent/optim/hessian.h>
#include <descent/optim/optimizer.h>

#include <map>
#include <vector>

namespace descent {

struct AdaHessianOptions : Options<AdaHessianOptions> {
  static constexpr const char* kOptimizer = "adahessian";
  explicit AdaHessianOptions(double lr = 0.15) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 0.15)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-4)
  // Added as wd·p to the preconditioned step (not preconditioned itself).
  DESCENT_OPTION(double, weight_decay, 0.0)
  // k: the denominator is sqrt(v)^k / sqrt(1 − β2^t)^k + eps.
  DESCENT_OPTION(double, hessian_power, 1.0)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("hessian_power", hessian_power_, in_cc(0, 1));
  }
};

class AdaHessian : public OptimizerImpl<AdaHessianOptions>, public UsesHessianDiagonal, public TakesProbes {
 public:
  using OptimizerImpl::OptimizerImpl;

  void set_hessian(const std::vector<torch::Tensor>& diagonal) override;
  // AdaHessian keeps no running estimate apart from its second moment: an
  // after-step refresh is the next step's estimate (as set_hessian).
  void update_hessian(const std::vector<torch::Tensor>& diagonal) override { set_hessian(diagonal); }
  void set_estimator(HessianEstimator estimator) override { estimator_ = std::move(estimator); }
  void set_probes(const std::vector<torch::Tensor>& probes) override;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;

 private:
  void check_per_param(const std::vector<torch::Tensor>& t, const char* what) const;
  torch::Tensor& term_buffer(const torch::Tensor& p);
  void estimate_from_graph();

  std::vector<torch::Tensor> pending_, probes_;
  HessianEstimator estimator_;
  // Per step: the parameters with a gradient and their D buffers (reused).
  std::vector<torch::Tensor> params_, terms_;
  std::map<const void*, torch::Tensor> term_buffers_;  // D per parameter (not state)
};

}  // namespace descent
