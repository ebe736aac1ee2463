#include <descent/kernels/ademamix.h>
#include <descent/optim/ademamix.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>

#include "optim/adaptive_lr_util.h"

#include <cmath>
#include <type_traits>

namespace descent {

namespace {

template <class A> double cautious_factor(double count, double numel) {
  const A r = A(1) / (static_cast<A>(count) + A(1));
  return static_cast<double>(r * static_cast<A>(numel));
}
template <class A> double stable_rms(double sum, double numel) {
  const A x = std::sqrt(static_cast<A>(sum) / static_cast<A>(numel));
  return std::isnan(x) ? static_cast<double>(x) : static_cast<double>(std::max(x, A(1)));
}

}  // namespace

namespace {
// exp_avg, exp_avg_slow (signed), exp_avg_sq (unsigned).
const QuantizableLayout& ademamix_layout() {
  static const QuantizableLayout l({"exp_avg", "exp_avg_sq", "exp_avg_slow"});
  return l;
}
}  // namespace

const StateLayout& AdEMAMix::layout() const { return ademamix_layout().layout; }

void AdEMAMix::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const {
  const auto& l = ademamix_layout();
  const QuantConfig q = quant_config(cast(o));
  init_slot(st, p, q, l.slot(0, kSigned));
  init_slot(st, p, q, l.slot(1, kUnsigned));
  init_slot(st, p, q, l.slot(2, kSigned));
}

void AdEMAMix::update_group(std::size_t gi) {
  const auto& o = options(gi);
  const double t = static_cast<double>(group_state(gi).step + 1);
  const double b1 = o.betas()[0], b2 = o.betas()[1], b3 = o.betas()[2];
  step_size_ = o.lr() / (1.0 - std::pow(b1, t));
  bc2_sqrt_ = std::sqrt(1.0 - std::pow(b2, t));
  if (o.has_schedule()) {
    const double T = o.t_alpha_beta3();
    alpha_t_ = adaptive_lr::py_min(t * o.alpha() / T, o.alpha());
    const double log_b1 = std::log(b1), log_b3 = std::log(b3);
    beta3_t_ = adaptive_lr::py_min(
        std::exp(log_b1 * log_b3 / ((1.0 - t / T) * log_b3 + (t / T) * log_b1)), b3);
  } else {
    alpha_t_ = o.alpha();
    beta3_t_ = b3;
  }
  Optimizer::update_group(gi);
}

void AdEMAMix::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                            const torch::optim::OptimizerOptions& options, GroupState&) {
  using kernels::Decay;
  const auto& o = cast(options);
  const auto& d = cast(defaults());
  kernels::AdemamixStep a;
  a.zg.gsign = d.maximize() ? -1.0 : 1.0;
  a.zg.weight_decay = o.weight_decay();
  a.zg.decay = 1.0 - o.weight_decay() * (o.fixed_decay() ? 1.0 : o.lr());
  a.beta1 = o.betas()[0];
  a.one_minus_beta1 = 1.0 - o.betas()[0];
  a.beta2 = o.betas()[1];
  a.one_minus_beta2 = 1.0 - o.betas()[1];
  a.beta3 = beta3_t_;
  a.one_minus_beta3 = 1.0 - beta3_t_;
  a.alpha = alpha_t_;
  a.bc2_sqrt = bc2_sqrt_;
  a.eps = o.eps();
  const Decay decay = o.weight_decouple() ? (o.weight_decay() != 0 ? Decay::decoupled : Decay::none)
                      : o.weight_decay() > 0 ? Decay::l2
                                             : Decay::none;
  const bool two_pass = o.cautious() || o.stable_adamw();
  const auto& l = ademamix_layout();
  const QuantConfig q = quant_config(o);
  const StateSlot m = l.slot(0, kSigned), v = l.slot(1, kUnsigned), slow = l.slot(2, kSigned);

  auto step = [&](auto dtag) {
    constexpr Decay D = decltype(dtag)::value;
    if (!two_pass) {
      kernels::AdemamixRule<D> r;
      r.a = a;
      r.a.neg_step = -step_size_;
      launch_state(r, p, g, st, q, m, v, slow);
      return;
    }
    kernels::AdemamixMomentsRule<D> first;
    first.a = a;
    // With int8 state, pass 2 reads the moments pass 1 requantized.
    const auto sums = launch_state_reduce(first, p, g, st, q, m, v, slow);
    const double numel = static_cast<double>(p.numel());
    const bool single = adaptive_lr::single_precision(p);
    // step_size /= rms: the group's running step size (the reference's quirk).
    if (o.stable_adamw())
      step_size_ = step_size_ / (single ? stable_rms<float>(sums[1], numel) : stable_rms<double>(sums[1], numel));
    a.neg_step = -step_size_;
    if (o.cautious()) {
      a.cautious_factor = single ? cautious_factor<float>(sums[0], numel) : cautious_factor<double>(sums[0], numel);
      kernels::AdemamixApplyRule<D, true> r;
      r.a = a;
      launch_state(r, p, g, st, q, m, v, slow);
    } else {
      kernels::AdemamixApplyRule<D, false> r;
      r.a = a;
      launch_state(r, p, g, st, q, m, v, slow);
    }
  };
  switch (decay) {
    case Decay::none: step(std::integral_constant<Decay, Decay::none>{}); break;
    case Decay::l2: step(std::integral_constant<Decay, Decay::l2>{}); break;
    case Decay::decoupled: step(std::integral_constant<Decay, Decay::decoupled>{}); break;
  }
}

}  // namespace descent
