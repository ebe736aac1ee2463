#include <descent/kernels/qhm.h>
#include <descent/optim/launch.h>
#include <descent/optim/qhm.h>

namespace descent {

const StateLayout& QHM::layout() const {
  static const StateLayout l{{"momentum_buffer"}, {}};
  return l;
}

void QHM::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
}

void QHM::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                       const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  kernels::QhmRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  if (o.weight_decouple()) {
    r.decay = 1 - o.weight_decay() * (o.fixed_decay() ? 1.0 : o.lr());
  } else {
    r.l2_on = o.weight_decay() > 0;
    r.l2 = o.weight_decay();
  }
  r.momentum = o.momentum();
  r.one_minus_momentum = 1 - o.momentum();
  r.neg_lr_nu = -o.lr() * o.nu();
  r.neg_lr_one_minus_nu = -o.lr() * (1 - o.nu());
  launch(r, p, g, st.buffer(0));
}

}  // namespace descent
