#include <descent/kernels/adamod.h>
#include <descent/optim/adam_variants_common.h>
#include <descent/optim/adamod.h>
#include <descent/optim/launch.h>
#include <descent/optim/scalars.h>

namespace descent {

void AdaModOptions::check_consistency() const {
  // kozistr's validate_betas: β1, β2 in [0, 1), β3 in [0, 1].
  for (int i = 0; i < 2; ++i)
    if (!(betas_[i] < 1))
      throw OptionError("adamod: option 'betas' = " + detail::format_value(betas_) + " is invalid: beta" +
                        std::to_string(i + 1) + " must be in [0, 1)");
}

const StateLayout& AdaMod::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq", "exp_avg_lr"}, {}};
  return l;
}

void AdaMod::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  for (int k = 0; k < 3; ++k) st.buffer(k) = zeros_state(p);
}

void AdaMod::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                          const torch::optim::OptimizerOptions& options, GroupState& group) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1], b3 = o.betas()[2], lr = o.lr();
  const BiasCorrection bc = bias_correction(b1, b2, group.step);  // per-group step count
  kernels::AdaModRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  apply_zoo_weight_decay(r, zoo_weight_decay(lr, o.weight_decay(), o.weight_decouple(), o.fixed_decay()));
  r.beta1 = b1;
  r.beta2 = b2;
  r.beta3 = b3;
  r.one_minus_beta1 = 1 - b1;
  r.one_minus_beta2 = 1 - b2;
  r.one_minus_beta3 = 1 - b3;
  r.eps = o.eps();
  const double step_size = lr * bc.bc2_sqrt;
  r.step_size = o.adam_debias() ? step_size : step_size / bc.bc1;
  launch(r, p, g, st.buffer(0), st.buffer(1), st.buffer(2));
}

}  // namespace descent
