#include <descent/kernels/novograd.h>
#include <descent/kernels/zoo.h>
#include <descent/optim/launch.h>
#include <descent/optim/novograd.h>

#include "optim/adaptive_lr_util.h"

#include <cmath>

namespace descent {

namespace {

// The 0-d tensor arithmetic of one step in the parameter's dtype A.
struct Scalars {
  double grads_ema, denom, init_denom;
};

template <class A>
Scalars scalars(double sum_sq, double grads_ema, bool first, double beta2, double eps) {
  const A sq = static_cast<A>(sum_sq);  // grad.pow(2).sum()
  Scalars out{};
  A ema = first ? sq : static_cast<A>(grads_ema);
  out.init_denom = static_cast<double>(std::sqrt(sq) + static_cast<A>(eps));
  ema = ema * static_cast<A>(beta2) + static_cast<A>(1.0 - beta2) * sq;  // mul_(β2).add_(Σg², alpha=1 − β2)
  out.grads_ema = static_cast<double>(ema);
  out.denom = static_cast<double>(std::sqrt(ema) + static_cast<A>(eps));
  return out;
}

}  // namespace

const StateLayout& NovoGrad::layout() const {
  static const StateLayout l{{"moments"}, {"grads_ema"}};
  return l;
}

void NovoGrad::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);  // set from the first gradient in the first update
}

void NovoGrad::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                            const torch::optim::OptimizerOptions& options, GroupState& group) {
  const auto& o = cast(options);
  const auto& d = cast(defaults());
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double t = static_cast<double>(group.step);
  const double bc1 = 1.0 - std::pow(b1, t);
  const double bc2_sq = std::sqrt(1.0 - std::pow(b2, t));
  const double step_size = o.adam_debias() ? o.lr() * bc2_sq : o.lr() * bc2_sq / bc1;
  // The state is created from the first gradient this parameter gets.
  const bool first = st.step == 1;

  const double sum_sq = launch_reduce(kernels::SumOfSquaresRule{}, p, g)[0];
  const Scalars sc = adaptive_lr::single_precision(p) ? scalars<float>(sum_sq, st.scalars[0], first, b2, o.eps())
                                                      : scalars<double>(sum_sq, st.scalars[0], first, b2, o.eps());
  st.scalars[0] = sc.grads_ema;

  const kernels::Decay decay = o.weight_decouple() ? (o.weight_decay() != 0 ? kernels::Decay::decoupled : kernels::Decay::none)
                               : o.weight_decay() > 0 ? kernels::Decay::l2
                                                      : kernels::Decay::none;
  auto run = [&](auto rule) {
    rule.zg.gsign = d.maximize() ? -1.0 : 1.0;
    rule.zg.weight_decay = o.weight_decay();
    rule.zg.decay = 1.0 - o.weight_decay() * (o.fixed_decay() ? 1.0 : o.lr());
    rule.init_denom = sc.init_denom;
    rule.init_wd = o.weight_decay();
    rule.denom = sc.denom;
    rule.one_minus_beta1 = 1.0 - b1;
    rule.beta1 = b1;
    rule.neg_step = -step_size;
    launch(rule, p, g, st.buffer(0));
  };
  using kernels::Decay;
  using kernels::NovogradRule;
  auto dispatch = [&](auto decay_tag) {
    constexpr Decay D = decltype(decay_tag)::value;
    if (first) {
      if (o.grad_averaging()) run(NovogradRule<D, true, true>{});
      else run(NovogradRule<D, true, false>{});
    } else {
      if (o.grad_averaging()) run(NovogradRule<D, false, true>{});
      else run(NovogradRule<D, false, false>{});
    }
  };
  switch (decay) {
    case Decay::none: dispatch(std::integral_constant<Decay, Decay::none>{}); break;
    case Decay::l2: dispatch(std::integral_constant<Decay, Decay::l2>{}); break;
    case Decay::decoupled: dispatch(std::integral_constant<Decay, Decay::decoupled>{}); break;
  }
}

}  // namespace descent
