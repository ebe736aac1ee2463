#include <descent/kernels/adamp.h>
#include <descent/optim/adamp_projection.h>
#include <descent/optim/sgdp.h>

namespace descent {

void SGDPOptions::check_consistency() const {
  // The reference divides the weight decay by (1 − momentum) when weight_decay > 0.
  if (weight_decay_ > 0 && momentum_ == 1)
    throw OptionError("sgdp: weight_decay > 0 needs momentum != 1 (the decay is divided by 1 - momentum)");
}

const StateLayout& SGDP::layout() const {
  static const StateLayout l{{"momentum"}, {}};
  return l;
}

void SGDP::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);  // starts at zero, not at the first gradient
}

void SGDP::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                        const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double lr = o.lr(), wd = o.weight_decay(), mom = o.momentum();
  detail::ProjectionSettings ps;
  ps.delta = o.delta();
  ps.eps = o.eps();
  // p.mul_(1 - lr * weight_decay * wd_ratio / (1 - momentum)); only when wd > 0.
  ps.decay = wd > 0 ? 1 - lr * wd * 1.0 / (1 - mom) : 1.0;
  ps.decay_projected = wd > 0 ? 1 - lr * wd * o.wd_ratio() / (1 - mom) : 1.0;
  ps.neg_step = -lr;
  if (o.nesterov()) {
    kernels::SgdpDirection<true> d;
    d.momentum = mom;
    d.one_minus_dampening = 1 - o.dampening();
    detail::projected_update(d, ps, p, g, scratch_, st.buffer(0));
  } else {
    kernels::SgdpDirection<false> d;
    d.momentum = mom;
    d.one_minus_dampening = 1 - o.dampening();
    detail::projected_update(d, ps, p, g, scratch_, st.buffer(0));
  }
}

}  // namespace descent
