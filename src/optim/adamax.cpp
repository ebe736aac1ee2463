#include <descent/kernels/adamax.h>
#include <descent/optim/adamax.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>

#include <cmath>

namespace descent {

namespace {
// exp_avg (signed), exp_inf (non-negative: unsigned).
const QuantizableLayout& adamax_layout() {
  static const QuantizableLayout l({"exp_avg", "exp_inf"});
  return l;
}
}  // namespace

const StateLayout& Adamax::layout() const {
  return adamax_layout().layout;
}

void Adamax::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const QuantConfig q = quant_config(cast(options));
  init_slot(st, p, q, adamax_layout().slot(0, kSigned));
  init_slot(st, p, q, adamax_layout().slot(1, kUnsigned));
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
  launch_state(r, p, g, st, quant_config(o), adamax_layout().slot(0, kSigned), adamax_layout().slot(1, kUnsigned));
}

}  // namespace descent
