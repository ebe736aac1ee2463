#include <descent/kernels/qhadam.h>
#include <descent/optim/adam_variants_common.h>
#include <descent/optim/launch.h>
#include <descent/optim/qhadam.h>

namespace descent {

const StateLayout& QHAdam::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq"}, {"beta1_weight", "beta2_weight"}};
  return l;
}

void QHAdam::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
  st.scalars[0] = 0.0;  // beta1_weight, beta2_weight: float32 shape-[1] tensors in the reference
  st.scalars[1] = 0.0;
}

void QHAdam::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                          const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double nu1 = o.nus()[0], nu2 = o.nus()[1];
  // The reference's float32 arithmetic: w = w·β + 1, a = 1 − 1/w, and 1 − a.
  const float w1 = static_cast<float>(st.scalars[0]) * static_cast<float>(o.betas()[0]) + 1.0f;
  const float w2 = static_cast<float>(st.scalars[1]) * static_cast<float>(o.betas()[1]) + 1.0f;
  st.scalars[0] = w1;
  st.scalars[1] = w2;
  const float adj1 = 1.0f - 1.0f / w1;
  const float adj2 = 1.0f - 1.0f / w2;
  kernels::QHAdamRule r;
  r.gsign = o.maximize() ? -1.0 : 1.0;
  apply_zoo_weight_decay(r, zoo_weight_decay(o.lr(), o.weight_decay(), o.weight_decouple(), o.fixed_decay()));
  r.beta1_adj = adj1;
  r.one_minus_beta1_adj = 1.0f - adj1;
  r.beta2_adj = adj2;
  r.nu1_on = nu1 != 1.0;
  r.nu2_on = nu2 != 1.0;
  r.nu1 = nu1;
  r.one_minus_nu1 = 1.0 - nu1;
  r.nu2 = nu2;
  r.one_minus_nu2 = 1.0 - nu2;
  r.eps = o.eps();
  r.neg_lr = -o.lr();
  launch(r, p, g, st.buffer(0), st.buffer(1));
}

}  // namespace descent
