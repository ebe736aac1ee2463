#include <descent/kernels/yogi.h>
#include <descent/optim/adam_variants_common.h>
#include <descent/optim/launch.h>
#include <descent/optim/scalars.h>
#include <descent/optim/yogi.h>

namespace descent {

const StateLayout& Yogi::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq"}, {}};
  return l;
}

void Yogi::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  // Both moments start at initial_accumulator (torch.full_like).
  const double init = cast(options).initial_accumulator();
  st.buffer(0) = full_state(p, init);
  st.buffer(1) = full_state(p, init);
}

void Yogi::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                        const torch::optim::OptimizerOptions& options, GroupState& group) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1], lr = o.lr();
  // The reference counts steps per group, every step() (params without a gradient too).
  const BiasCorrection bc = bias_correction(b1, b2, group.step);
  kernels::YogiRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  apply_zoo_weight_decay(r, zoo_weight_decay(lr, o.weight_decay(), o.weight_decouple(), o.fixed_decay()));
  r.beta1 = b1;
  r.one_minus_beta1 = 1 - b1;
  r.neg_one_minus_beta2 = -(1 - b2);
  r.bc2_sqrt = bc.bc2_sqrt;
  r.eps = o.eps();
  r.neg_step_size = -(o.adam_debias() ? lr : lr / bc.bc1);
  launch(r, p, g, st.buffer(0), st.buffer(1));
}

}  // namespace descent
