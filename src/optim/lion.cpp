#include <descent/kernels/sign_momentum.h>
#include <descent/optim/launch.h>
#include <descent/optim/lion.h>
#include <descent/optim/quantized_state.h>

namespace descent {

namespace {
const QuantizableLayout& lion_layout() {
  static const QuantizableLayout l({"exp_avg"});  // signed
  return l;
}
}  // namespace

const StateLayout& Lion::layout() const { return lion_layout().layout; }

void Lion::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const {
  init_slot(st, p, quant_config(cast(o)), lion_layout().slot(0, kSigned));
}

void Lion::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                        const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  kernels::SignMomentumRule<true> r;
  r.decay = 1 - o.lr() * o.weight_decay();  // p.data.mul_(1 - lr*wd), first
  r.beta1 = o.betas()[0];
  r.one_minus_beta1 = 1 - o.betas()[0];
  r.beta2 = o.betas()[1];
  r.one_minus_beta2 = 1 - o.betas()[1];
  r.neg_lr = -o.lr();
  launch_state(r, p, g, st, quant_config(o), lion_layout().slot(0, kSigned));
}

}  // namespace descent
