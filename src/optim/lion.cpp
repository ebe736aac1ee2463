#include <descent/kernels/sign_momentum.h>
#include <descent/optim/launch.h>
#include <descent/optim/lion.h>

namespace descent {

const StateLayout& Lion::layout() const {
  static const StateLayout l{{"exp_avg"}, {}};
  return l;
}

void Lion::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
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
  launch(r, p, g, st.buffer(0));
}

}  // namespace descent
