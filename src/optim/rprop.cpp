#include <descent/kernels/rprop.h>
#include <descent/optim/launch.h>
#include <descent/optim/rprop.h>

namespace descent {

void RpropOptions::check_consistency() const {
  if (!(etas_[0] < 1.0 && 1.0 < etas_[1]))
    throw OptionError("rprop: invalid value " + detail::format_value(etas_) +
                      " for option 'etas': must satisfy 0 < etaminus < 1 < etaplus");
}

const StateLayout& Rprop::layout() const {
  static const StateLayout l{{"prev", "step_size"}, {}};
  return l;
}

void Rprop::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  st.buffer(0) = zeros_state(p);
  // grad.new().resize_as_(grad).fill_(lr): lr rounded to the state dtype.
  st.buffer(1) = full_state(p, cast(options).lr());
}

void Rprop::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                         const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  kernels::RpropRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  r.etaminus = o.etas()[0];
  r.etaplus = o.etas()[1];
  r.step_size_min = o.step_sizes()[0];
  r.step_size_max = o.step_sizes()[1];
  launch(r, p, g, st.buffer(0), st.buffer(1));
}

}  // namespace descent
