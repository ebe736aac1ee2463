#include <descent/kernels/diffgrad.h>
#include <descent/optim/diffgrad.h>
#include <descent/optim/launch.h>
#include <descent/optim/scalars.h>

#include <cmath>

namespace descent {

const StateLayout& DiffGrad::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq", "previous_grad"}, {}};
  return l;
}

void DiffGrad::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  for (int k = 0; k < 3; ++k) st.buffer(k) = zeros_state(p);
}

void DiffGrad::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                            const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const BiasCorrection bc = bias_correction(b1, b2, st.step);
  auto fill = [&](auto r) {
    r.l2 = o.weight_decay();
    r.beta1 = b1;
    r.beta2 = b2;
    r.one_minus_beta1 = 1 - b1;
    r.one_minus_beta2 = 1 - b2;
    r.eps = o.eps();
    // step_size = lr * math.sqrt(bias_correction2) / bias_correction1, passed as −step_size.
    r.neg_step_size = -(o.lr() * bc.bc2_sqrt / bc.bc1);
    launch(r, p, g, st.buffer(0), st.buffer(1), st.buffer(2));
  };
  // grad.add_(weight_decay, p) only when weight_decay != 0; the exp's fused form where the CPU has FMA.
  kernels::with_fma([&](auto fma) {
    constexpr bool F = decltype(fma)::value;
    if (o.weight_decay() != 0) fill(kernels::DiffGradRule<true, F>{});
    else fill(kernels::DiffGradRule<false, F>{});
  });
}

}  // namespace descent
