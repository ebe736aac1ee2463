#include <descent/kernels/rmsprop.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/rmsprop.h>

namespace descent {

namespace {
// square_avg (unsigned), momentum_buffer and grad_avg (signed).
const QuantizableLayout& rmsprop_layout() {
  static const QuantizableLayout l({"square_avg", "momentum_buffer", "grad_avg"});
  return l;
}
StateSlot rmsprop_slot(int k) { return rmsprop_layout().slot(k, k == 0 ? kUnsigned : kSigned); }
}  // namespace

const StateLayout& RMSprop::layout() const { return rmsprop_layout().layout; }

void RMSprop::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const auto& o = cast(options);
  const QuantConfig q = quant_config(o);
  init_slot(st, p, q, rmsprop_slot(0));
  if (o.momentum() > 0) init_slot(st, p, q, rmsprop_slot(1));
  if (o.centered()) init_slot(st, p, q, rmsprop_slot(2));
}

void RMSprop::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                           const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const bool momentum = o.momentum() > 0;
  const bool centered = o.centered();
  // Switched on after the state was created: start from zeros.
  const QuantConfig q = quant_config(o);
  if (momentum && !st.buffer(1).defined()) init_slot(st, p, q, rmsprop_slot(1));
  if (centered && !st.buffer(2).defined()) init_slot(st, p, q, rmsprop_slot(2));
  auto fill = [&](auto& r) {
    r.gsign = o.maximize() ? -1.0 : 1.0;
    r.weight_decay = o.weight_decay();
    r.alpha = o.alpha();
    r.one_minus_alpha = 1 - o.alpha();
    r.eps = o.eps();
    r.momentum = o.momentum();
    r.neg_lr = -o.lr();
    return r;
  };
  const StateSlot sq = rmsprop_slot(0), buf = rmsprop_slot(1), gavg = rmsprop_slot(2);
  if (centered && momentum) {
    kernels::RmspropRule<true, true> r;
    launch_state(fill(r), p, g, st, q, sq, gavg, buf);
  } else if (centered) {
    kernels::RmspropRule<true, false> r;
    launch_state(fill(r), p, g, st, q, sq, gavg);
  } else if (momentum) {
    kernels::RmspropRule<false, true> r;
    launch_state(fill(r), p, g, st, q, sq, buf);
  } else {
    kernels::RmspropRule<false, false> r;
    launch_state(fill(r), p, g, st, q, sq);
  }
}

}  // namespace descent
