#include <descent/kernels/sign_momentum.h>
#include <descent/optim/launch.h>
#include <descent/optim/signsgd.h>

namespace descent {

const StateLayout& SignSGD::layout() const {
  static const StateLayout l{{}, {}};
  return l;
}

void SignSGD::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState&,
                           const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  // The reference re-creates momentum_buffer = zeros at every step (init_group has
  // no "if empty" guard) and never applies weight_decay: its step is
  // p −= lr·sign(0·μ + (1 − μ)·g), or p −= lr·sign(g) for μ = 0. The stateless rule
  // computes exactly that (m = 0); nothing needs to persist between steps.
  kernels::SignMomentumRule<false> r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  const double mu = o.momentum();
  r.beta1 = mu > 0 ? mu : 0.0;
  r.one_minus_beta1 = mu > 0 ? 1 - mu : 1.0;
  r.neg_lr = -o.lr();
  launch(r, p, g);
}

}  // namespace descent
