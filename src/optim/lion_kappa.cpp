#include <descent/kernels/sign_momentum.h>
#include <descent/optim/launch.h>
#include <descent/optim/lion_kappa.h>

#include <descent/optim/launch.h>

#include <cmath>

namespace descent {

const StateLayout& LionKappa::layout() const {
  static const StateLayout l{{"exp_avg"}, {}};
  return l;
}

void LionKappa::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
}

void LionKappa::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                             const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  // Exactly Lion's scalars (kappa = l1 is Lion bit for bit).
  auto fill = [&](auto& r) {
    r.decay = 1 - o.lr() * o.weight_decay();
    r.beta1 = o.betas()[0];
    r.one_minus_beta1 = 1 - o.betas()[0];
    r.beta2 = o.betas()[1];
    r.one_minus_beta2 = 1 - o.betas()[1];
    r.neg_lr = -o.lr();
    return r;
  };
  const std::string& kappa = o.kappa();
  if (kappa == "l2") {
    // ∇‖c‖₂ = c/‖c‖₂ needs the norm of the whole tensor first: a read-only pass.
    kernels::SignInterpolationSquares sq;
    sq.beta1 = o.betas()[0];
    sq.one_minus_beta1 = 1 - o.betas()[0];
    const double norm = std::sqrt(launch_reduce(sq, p, g, st.buffer(0))[0]);
    kernels::SignMomentumRule<true, kernels::SignDirection::scaled> r;
    fill(r);
    r.scale = norm > 0 && std::isfinite(norm) ? 1 / norm : 0.0;  // ∇K(0) = 0 (a subgradient)
    launch(r, p, g, st.buffer(0));
  } else if (kappa == "huber") {
    kernels::SignMomentumRule<true, kernels::SignDirection::clamp> r;
    fill(r);
    r.delta = o.huber_delta();
    launch(r, p, g, st.buffer(0));
  } else {
    kernels::SignMomentumRule<true> r;
    launch(fill(r), p, g, st.buffer(0));
  }
}

}  // namespace descent
