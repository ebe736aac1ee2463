#include <descent/kernels/sgd.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/sgd.h>

namespace descent {

void SGDOptions::check_consistency() const {
  // torch.optim.SGD: "Nesterov momentum requires a momentum and zero dampening".
  if (nesterov_ && (momentum_ <= 0 || dampening_ != 0))
    throw OptionError("sgd: nesterov = true needs momentum > 0 and dampening = 0 (got momentum = " +
                      detail::format_value(momentum_) + ", dampening = " + detail::format_value(dampening_) + ")");
}

namespace {
const QuantizableLayout& sgd_layout() {
  static const QuantizableLayout l({"momentum_buffer"});  // signed
  return l;
}
}  // namespace

const StateLayout& SGD::layout() const { return sgd_layout().layout; }

torch::Tensor SGD::lazy_state(std::size_t b, const torch::Tensor& p, const ParamState& st) const {
  return descent::lazy_state(sgd_layout(), b, p, st);
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
  const StateSlot slot = sgd_layout().slot(0, kSigned);
  const QuantConfig q = quant_config(o);
  const bool first = !st.buffer(0).defined();
  if (first) init_slot(st, p, q, slot);
  kernels::SgdMomentumRule rule;
  rule.gsign = gsign;
  rule.weight_decay = o.weight_decay();
  rule.lr = o.lr();
  rule.momentum = o.momentum();
  rule.one_minus_dampening = 1 - o.dampening();
  rule.first = first;
  rule.nesterov = o.nesterov();
  launch_state(rule, p, g, st, q, slot);
}

}  // namespace descent
