#include <descent/kernels/adadelta.h>
#include <descent/optim/adadelta.h>
#include <descent/optim/launch.h>

namespace descent {

const StateLayout& Adadelta::layout() const {
  static const StateLayout l{{"square_avg", "acc_delta"}, {}};
  return l;
}

void Adadelta::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

void Adadelta::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                            const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  kernels::AdadeltaRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  r.weight_decay = o.weight_decay();
  r.rho = o.rho();
  r.one_minus_rho = 1 - o.rho();
  r.eps = o.eps();
  r.neg_lr = -o.lr();
  launch(r, p, g, st.buffer(0), st.buffer(1));
}

}  // namespace descent
