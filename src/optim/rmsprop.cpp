#include <descent/kernels/rmsprop.h>
#include <descent/optim/launch.h>
#include <descent/optim/rmsprop.h>

namespace descent {

const StateLayout& RMSprop::layout() const {
  static const StateLayout l{{"square_avg", "momentum_buffer", "grad_avg"}, {}};
  return l;
}

void RMSprop::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const auto& o = cast(options);
  st.buffer(0) = zeros_state(p);
  if (o.momentum() > 0) st.buffer(1) = zeros_state(p);
  if (o.centered()) st.buffer(2) = zeros_state(p);
}

void RMSprop::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                           const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const bool momentum = o.momentum() > 0;
  const bool centered = o.centered();
  // Switched on after the state was created: start from zeros.
  if (momentum && !st.buffer(1).defined()) st.buffer(1) = zeros_state(p);
  if (centered && !st.buffer(2).defined()) st.buffer(2) = zeros_state(p);
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
  const torch::Tensor &sq = st.buffer(0), &buf = st.buffer(1), &gavg = st.buffer(2);
  if (centered && momentum) {
    kernels::RmspropRule<true, true> r;
    launch(fill(r), p, g, sq, gavg, buf);
  } else if (centered) {
    kernels::RmspropRule<true, false> r;
    launch(fill(r), p, g, sq, gavg);
  } else if (momentum) {
    kernels::RmspropRule<false, true> r;
    launch(fill(r), p, g, sq, buf);
  } else {
    kernels::RmspropRule<false, false> r;
    launch(fill(r), p, g, sq);
  }
}

}  // namespace descent
