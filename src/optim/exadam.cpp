#include <descent/kernels/exadam.h>
#include <descent/optim/exadam.h>
#include <descent/optim/launch.h>

#include <cmath>

namespace descent {

const StateLayout& EXAdam::layout() const {
  static const StateLayout l{{"m", "v"}, {}};
  return l;
}

void EXAdam::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

void EXAdam::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                          const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1], lr = o.lr(), wd = o.weight_decay();
  const double t = static_cast<double>(st.step);
  kernels::ExAdamRule r;
  r.decay_on = wd != 0;
  r.neg_lr_wd = lr * -wd;
  r.beta1 = b1;
  r.beta2 = b2;
  r.one_minus_beta1 = 1 - b1;
  r.one_minus_beta2 = 1 - b2;
  r.beta1_t = std::pow(b1, t);
  r.beta2_t = std::pow(b2, t);
  r.bc1 = 1 - r.beta1_t;
  r.bc2 = 1 - r.beta2_t;
  r.eps = o.eps();
  // step_size = lr * np.log(np.sqrt(step + 1) * np.sqrt(2.0)), negated.
  r.neg_step_size = -(lr * std::log(std::sqrt(t + 1) * std::sqrt(2.0)));
  launch(r, p, g, st.buffer(0), st.buffer(1));
}

}  // namespace descent
