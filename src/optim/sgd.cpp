#include <descent/kernels/sgd.h>
#include <descent/optim/launch.h>
#include <descent/optim/sgd.h>

namespace descent {

void SGDOptions::check_consistency() const {
  // torch.optim.SGD: "Nesterov momentum requires a momentum and zero dampening".
  if (nesterov_ && (momentum_ <= 0 || dampening_ != 0))
    throw OptionError("sgd: nesterov = true needs momentum > 0 and dampening = 0 (got momentum = " +
                      detail::format_value(momentum_) + ", dampening = " + detail::format_value(dampening_) + ")");
}

const StateLayout& SGD::layout() const {
  static const StateLayout l{{"momentum_buffer"}, {}};
  return l;
}

void SGD::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                       const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double gsign = o.maximize() ? -1.0 : 1.0;
  if (o.momentum() == 0) {
    launch(kernels::SgdRule{gsign, o.weight_decay(), o.lr()}, p, g);
    return;
  }
  // The buffer is created when momentum is first used, and starts as a copy of
  // the first (decayed) gradient, as PyTorch's clone.
  torch::Tensor& buf = st.buffer(0);
  const bool first = !buf.defined();
  if (first) buf = zeros_state(p);
  kernels::SgdMomentumRule rule;
  rule.gsign = gsign;
  rule.weight_decay = o.weight_decay();
  rule.lr = o.lr();
  rule.momentum = o.momentum();
  rule.one_minus_dampening = 1 - o.dampening();
  rule.first = first;
  rule.nesterov = o.nesterov();
  launch(rule, p, g, buf);
}

}  // namespace descent
