#include <descent/kernels/adamax.h>
#include <descent/optim/adamax.h>
#include <descent/optim/launch.h>

#include <cmath>

namespace descent {

const StateLayout& Adamax::layout() const {
  static const StateLayout l{{"exp_avg", "exp_inf"}, {}};
  return l;
}

void Adamax::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

void Adamax::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                          const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double t = static_cast<double>(st.step);
  kernels::AdamaxRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  r.weight_decay = o.weight_decay();
  r.beta1 = b1;
  r.one_minus_beta1 = 1 - b1;
  r.beta2 = b2;
  r.eps = o.eps();
  r.neg_clr = -(o.lr() / (1 - std::pow(b1, t)));
  launch(r, p, g, st.buffer(0), st.buffer(1));
}

}  // namespace descent
