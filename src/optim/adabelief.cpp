#include <descent/kernels/adabelief.h>
#include <descent/optim/adabelief.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/scalars.h>

#include <cmath>

namespace descent {

namespace {
// exp_avg (signed), exp_avg_var and max_exp_avg_var (non-negative: unsigned).
const QuantizableLayout& adabelief_layout() {
  static const QuantizableLayout l({"exp_avg", "exp_avg_var", "max_exp_avg_var"});
  return l;
}
}  // namespace

const StateLayout& AdaBelief::layout() const { return adabelief_layout().layout; }

void AdaBelief::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const auto& l = adabelief_layout();
  const QuantConfig q = quant_config(cast(options));
  init_slot(st, p, q, l.slot(0, kSigned));
  init_slot(st, p, q, l.slot(1, kUnsigned));
  if (cast(options).amsgrad()) init_slot(st, p, q, l.slot(2, kUnsigned));
}

namespace {

template <bool Amsgrad, kernels::AdaBeliefStep Kind, class Fill>
void run_adabelief(const Fill& fill, const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                   const QuantConfig& q) {
  kernels::AdaBeliefRule<Amsgrad, Kind> r;
  fill(r);
  const auto& l = adabelief_layout();
  if constexpr (Amsgrad) {
    launch_state(r, p, g, st, q, l.slot(0, kSigned), l.slot(1, kUnsigned), l.slot(2, kUnsigned));
  } else {
    launch_state(r, p, g, st, q, l.slot(0, kSigned), l.slot(1, kUnsigned));
  }
}

template <bool Amsgrad, class Fill>
void dispatch_kind(kernels::AdaBeliefStep kind, const Fill& fill, const torch::Tensor& p, const torch::Tensor& g,
                   ParamState& st, const QuantConfig& q) {
  using K = kernels::AdaBeliefStep;
  switch (kind) {
    case K::adam: run_adabelief<Amsgrad, K::adam>(fill, p, g, st, q); break;
    case K::rectified: run_adabelief<Amsgrad, K::rectified>(fill, p, g, st, q); break;
    case K::sgd: run_adabelief<Amsgrad, K::sgd>(fill, p, g, st, q); break;
    case K::none: run_adabelief<Amsgrad, K::none>(fill, p, g, st, q); break;
  }
}

}  // namespace

void AdaBelief::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                             const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1], lr = o.lr(), wd = o.weight_decay();
  const BiasCorrection bc = bias_correction(b1, b2, st.step);
  using K = kernels::AdaBeliefStep;

  // The step, chosen per tensor and step, with the reference's arithmetic (in double).
  K kind = K::adam;
  double neg_step_size = -(lr / bc.bc1);
  if (o.rectify()) {
    const double t = static_cast<double>(st.step);
    const double beta2_t = std::pow(b2, t);
    const double n_sma_max = 2 / (1 - b2) - 1;
    const double n_sma = n_sma_max - 2 * t * beta2_t / (1 - beta2_t);
    if (n_sma >= 5) {
      const double step_size = std::sqrt((1 - beta2_t) * (n_sma - 4) / (n_sma_max - 4) * (n_sma - 2) / n_sma *
                                         n_sma_max / (n_sma_max - 2)) /
                               (1 - std::pow(b1, t));
      kind = K::rectified;
      neg_step_size = -step_size * lr;
    } else if (o.degenerated_to_sgd()) {
      const double step_size = 1.0 / (1 - std::pow(b1, t));
      kind = K::sgd;
      neg_step_size = -step_size * lr;
    } else {
      kind = K::none;
    }
  }

  auto fill = [&](auto& r) {
    if (o.weight_decouple()) {
      r.decay = o.fixed_decay() ? 1.0 - wd : 1.0 - lr * wd;
    } else {
      r.l2_on = wd != 0;
      r.l2 = wd;
    }
    r.beta1 = b1;
    r.beta2 = b2;
    r.one_minus_beta1 = 1 - b1;
    r.one_minus_beta2 = 1 - b2;
    r.eps = o.eps();
    r.bc2_sqrt = bc.bc2_sqrt;
    r.neg_step_size = neg_step_size;
  };
  const QuantConfig q = quant_config(o);
  if (o.amsgrad()) {
    // amsgrad switched on mid-run
    if (!st.buffer(2).defined()) init_slot(st, p, q, adabelief_layout().slot(2, kUnsigned));
    dispatch_kind<true>(kind, fill, p, g, st, q);
  } else {
    dispatch_kind<false>(kind, fill, p, g, st, q);
  }
}

}  // namespace descent
