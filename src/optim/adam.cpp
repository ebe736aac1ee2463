#include <descent/kernels/adam.h>
#include <descent/optim/adam.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/scalars.h>

#include <cmath>

namespace descent::detail {

namespace {
// exp_avg (signed), exp_avg_sq and max_exp_avg_sq (unsigned): quantizable.
const QuantizableLayout& adam_layout() {
  static const QuantizableLayout l({"exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
  return l;
}
}  // namespace

template <class Opts, bool Decoupled>
const StateLayout& AdamImpl<Opts, Decoupled>::layout() const {
  return adam_layout().layout;
}

template <class Opts, bool Decoupled>
void AdamImpl<Opts, Decoupled>::init_state(ParamState& st, const torch::Tensor& p,
                                           const torch::optim::OptimizerOptions& options) const {
  const auto& o = this->cast(options);
  const auto& l = adam_layout();
  const QuantConfig q = quant_config(o);
  init_slot(st, p, q, l.slot(0, kSigned));
  init_slot(st, p, q, l.slot(1, kUnsigned));
  if (o.amsgrad()) init_slot(st, p, q, l.slot(2, kUnsigned));
}

template <class Opts, bool Decoupled>
void AdamImpl<Opts, Decoupled>::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                                             const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = this->cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const BiasCorrection bc = bias_correction(b1, b2, st.step);
  auto fill = [&](auto& r) {
    r.gsign = o.maximize() ? -1.0 : 1.0;
    r.l2 = Decoupled ? 0.0 : o.weight_decay();
    r.decay = Decoupled ? 1 - o.lr() * o.weight_decay() : 1.0;
    r.beta1 = b1;
    r.beta2 = b2;
    r.one_minus_beta1 = 1 - b1;
    r.one_minus_beta2 = 1 - b2;
    r.bc2_sqrt = bc.bc2_sqrt;
    r.eps = o.eps();
    r.neg_step_size = -(o.lr() / bc.bc1);
  };
  const auto& l = adam_layout();
  const QuantConfig q = quant_config(o);
  if (o.amsgrad()) {
    if (!st.buffer(2).defined()) init_slot(st, p, q, l.slot(2, kUnsigned));  // amsgrad switched on mid-run
    kernels::AdamRule<true> r;
    fill(r);
    launch_state(r, p, g, st, q, l.slot(0, kSigned), l.slot(1, kUnsigned), l.slot(2, kUnsigned));
  } else {
    kernels::AdamRule<false> r;
    fill(r);
    launch_state(r, p, g, st, q, l.slot(0, kSigned), l.slot(1, kUnsigned));
  }
}

template class AdamImpl<AdamOptions, false>;
template class AdamImpl<AdamWOptions, true>;

}  // namespace descent::detail
