#include <descent/kernels/nadam.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/nadam.h>

#include <cmath>

namespace descent {

namespace {
// exp_avg (signed), exp_avg_sq (unsigned).
const QuantizableLayout& nadam_layout() {
  static const QuantizableLayout l({"exp_avg", "exp_avg_sq"}, {"mu_product"});
  return l;
}
}  // namespace

const StateLayout& NAdam::layout() const {
  return nadam_layout().layout;
}

void NAdam::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const QuantConfig q = quant_config(cast(options));
  init_slot(st, p, q, nadam_layout().slot(0, kSigned));
  init_slot(st, p, q, nadam_layout().slot(1, kUnsigned));
  st.scalars[0] = 1.0;  // mu_product = torch.tensor(1.)
}

void NAdam::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                         const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double t = static_cast<double>(st.step);
  const double mu = b1 * (1. - 0.5 * std::pow(0.96, t * o.momentum_decay()));
  const double mu_next = b1 * (1. - 0.5 * std::pow(0.96, (t + 1) * o.momentum_decay()));
  // mu_product is a float32 0-d tensor in PyTorch: each product is taken in
  // float32 with the Python float rounded to float32 (see kernels/nadam.h).
  const float mu32 = static_cast<float>(mu);
  const float mu_product = static_cast<float>(st.scalars[0]) * mu32;
  const float mu_product_next = (mu_product * mu32) * static_cast<float>(mu_next);
  st.scalars[0] = mu_product;

  kernels::NadamRule r;
  r.weight_decay = o.weight_decay();
  r.beta1 = b1;
  r.one_minus_beta1 = 1 - b1;
  r.beta2 = b2;
  r.one_minus_beta2 = 1 - b2;
  r.bias_correction2 = 1 - std::pow(b2, t);
  r.eps = o.eps();
  r.grad_coef = -o.lr() * (1. - mu) / (1. - static_cast<double>(mu_product));
  r.avg_coef = -o.lr() * mu_next / (1. - static_cast<double>(mu_product_next));
  launch_state(r, p, g, st, quant_config(o), nadam_layout().slot(0, kSigned), nadam_layout().slot(1, kUnsigned));
}

}  // namespace descent
