#include <descent/kernels/sign_momentum.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/tiger.h>

namespace descent {

namespace {
const QuantizableLayout& tiger_layout() {
  static const QuantizableLayout l({"exp_avg"});  // signed
  return l;
}
}  // namespace

const StateLayout& Tiger::layout() const { return tiger_layout().layout; }

void Tiger::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const {
  init_slot(st, p, quant_config(cast(o)), tiger_layout().slot(0, kSigned));
}

void Tiger::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                         const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  kernels::SignMomentumRule<true> r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  if (o.weight_decouple()) {
    // apply_weight_decay: p.mul_(1 - wd * (1 if fixed_decay else lr)), even for wd = 0.
    r.decay = 1 - o.weight_decay() * (o.fixed_decay() ? 1.0 : o.lr());
  } else {
    r.l2_on = o.weight_decay() > 0;  // grad.add_(p, alpha=wd) only when wd > 0
    r.l2 = o.weight_decay();
  }
  // m = β·m + (1 − β)·g; p −= lr·sign(m): the interpolation with β1 = β2 = β is m_new.
  r.beta1 = r.beta2 = o.beta();
  r.one_minus_beta1 = r.one_minus_beta2 = 1 - o.beta();
  r.neg_lr = -o.lr();
  launch_state(r, p, g, st, quant_config(o), tiger_layout().slot(0, kSigned));
}

}  // namespace descent
