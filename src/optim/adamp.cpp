#include <descent/kernels/adamp.h>
#include <descent/optim/adamp.h>
#include <descent/optim/adamp_projection.h>
#include <descent/optim/scalars.h>

namespace descent {

const StateLayout& AdamP::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq"}, {}};
  return l;
}

void AdamP::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

void AdamP::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                         const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1], lr = o.lr(), wd = o.weight_decay();
  const BiasCorrection bc = bias_correction(b1, b2, st.step);
  detail::ProjectionSettings ps;
  ps.delta = o.delta();
  ps.eps = o.eps();
  // p.mul_(1 - lr * weight_decay * wd_ratio), wd_ratio = 1 unless projected; only when wd > 0.
  ps.decay = wd > 0 ? 1 - lr * wd * 1.0 : 1.0;
  ps.decay_projected = wd > 0 ? 1 - lr * wd * o.wd_ratio() : 1.0;
  ps.neg_step = -(lr / bc.bc1);
  auto fill = [&](auto& d) {
    d.beta1 = b1;
    d.beta2 = b2;
    d.one_minus_beta1 = 1 - b1;
    d.one_minus_beta2 = 1 - b2;
    d.bc2_sqrt = bc.bc2_sqrt;
    d.eps = o.eps();
  };
  if (o.nesterov()) {
    kernels::AdamPDirection<true> d;
    fill(d);
    detail::projected_update(d, ps, p, g, scratch_, st.buffer(0), st.buffer(1));
  } else {
    kernels::AdamPDirection<false> d;
    fill(d);
    detail::projected_update(d, ps, p, g, scratch_, st.buffer(0), st.buffer(1));
  }
}

}  // namespace descent
