#include <descent/kernels/adagrad.h>
#include <descent/optim/adagrad.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>

namespace descent {

namespace {
const QuantizableLayout& adagrad_layout() {
  static const QuantizableLayout l({"sum"});  // non-negative: unsigned
  return l;
}
}  // namespace

const StateLayout& Adagrad::layout() const { return adagrad_layout().layout; }

void Adagrad::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const {
  // PyTorch 1.13 fills "sum" in the constructor, for every parameter, from the
  // constructor's initial_accumulator_value: a group's own
  // initial_accumulator_value is ignored. descent does the same with its
  // defaults, on the parameter's first step.
  init_slot(st, p, quant_config(cast(o)), adagrad_layout().slot(0, kUnsigned),
            cast(defaults()).initial_accumulator_value());
}

void Adagrad::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                           const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double t = static_cast<double>(st.step);
  kernels::AdagradRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  r.weight_decay = o.weight_decay();
  r.eps = o.eps();
  r.neg_clr = -(o.lr() / (1 + (t - 1) * o.lr_decay()));
  launch_state(r, p, g, st, quant_config(o), adagrad_layout().slot(0, kUnsigned));
}

}  // namespace descent
