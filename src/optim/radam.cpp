#include <descent/kernels/radam.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/radam.h>

#include <cmath>

namespace descent {

namespace {
// exp_avg (signed), exp_avg_sq (unsigned).
const QuantizableLayout& radam_layout() {
  static const QuantizableLayout l({"exp_avg", "exp_avg_sq"});
  return l;
}
}  // namespace

const StateLayout& RAdam::layout() const {
  return radam_layout().layout;
}

void RAdam::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const QuantConfig q = quant_config(cast(options));
  init_slot(st, p, q, radam_layout().slot(0, kSigned));
  init_slot(st, p, q, radam_layout().slot(1, kUnsigned));
}

void RAdam::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                         const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double t = static_cast<double>(st.step);
  const double bc1 = 1 - std::pow(b1, t);
  const double bc2 = 1 - std::pow(b2, t);
  const double rho_inf = 2 / (1 - b2) - 1;
  const double rho_t = rho_inf - 2 * t * std::pow(b2, t) / bc2;
  auto fill = [&](auto& r) {
    r.weight_decay = o.weight_decay();
    r.beta1 = b1;
    r.one_minus_beta1 = 1 - b1;
    r.beta2 = b2;
    r.one_minus_beta2 = 1 - b2;
    r.bias_correction1 = bc1;
    r.lr = o.lr();
    r.eps = o.eps();
    return r;
  };
  if (rho_t > 5.) {
    kernels::RadamRule<true> r;
    fill(r);
    r.rect = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
    r.bc2_sqrt = std::sqrt(bc2);
    launch_state(r, p, g, st, quant_config(o), radam_layout().slot(0, kSigned), radam_layout().slot(1, kUnsigned));
  } else {
    kernels::RadamRule<false> r;
    launch_state(fill(r), p, g, st, quant_config(o), radam_layout().slot(0, kSigned), radam_layout().slot(1, kUnsigned));
  }
}

}  // namespace descent
