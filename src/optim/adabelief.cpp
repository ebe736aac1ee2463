#include <descent/kernels/adabelief.h>
#include <descent/optim/adabelief.h>
#include <descent/optim/launch.h>
#include <descent/optim/scalars.h>

#include <cmath>

namespace descent {

const StateLayout& AdaBelief::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_var", "max_exp_avg_var"}, {}};
  return l;
}

void AdaBelief::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
  if (cast(options).amsgrad()) st.buffer(2) = zeros_state(p);
}

namespace {

template <bool Amsgrad, kernels::AdaBeliefStep Kind, class Fill>
void run_adabelief(const Fill& fill, const torch::Tensor& p, const torch::Tensor& g, ParamState& st) {
  kernels::AdaBeliefRule<Amsgrad, Kind> r;
  fill(r);
  if constexpr (Amsgrad) {
    launch(r, p, g, st.buffer(0), st.buffer(1), st.buffer(2));
  } else {
    launch(r, p, g, st.buffer(0), st.buffer(1));
  }
}

template <bool Amsgrad, class Fill>
void dispatch_kind(kernels::AdaBeliefStep kind, const Fill& fill, const torch::Tensor& p, const torch::Tensor& g,
                   ParamState& st) {
  using K = kernels::AdaBeliefStep;
  switch (kind) {
    case K::adam: run_adabelief<Amsgrad, K::adam>(fill, p, g, st); break;
    case K::rectified: run_adabelief<Amsgrad, K::rectified>(fill, p, g, st); break;
    case K::sgd: run_adabelief<Amsgrad, K::sgd>(fill, p, g, st); break;
    case K::none: run_adabelief<Amsgrad, K::none>(fill, p, g, st); break;
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
  if (o.amsgrad()) {
    if (!st.buffer(2).defined()) st.buffer(2) = zeros_state(p);  // amsgrad switched on mid-run
    dispatch_kind<true>(kind, fill, p, g, st);
  } else {
    dispatch_kind<false>(kind, fill, p, g, st);
  }
}

}  // namespace descent
