#include <descent/kernels/adopt.h>
#include <descent/optim/adopt.h>
#include <descent/optim/launch.h>

#include "optim/adaptive_lr_util.h"

#include <cmath>
#include <type_traits>

namespace descent {

namespace {

// The reference's 0-d tensor arithmetic in the parameter's dtype A:
// cautious factor = reciprocal(Σmask + 1)·numel (Tensor.__rtruediv__ in 1.13),
// stable_adamw rms = max(sqrt(sum / numel), 1).
template <class A> double cautious_factor(double count, double numel) {
  const A r = A(1) / (static_cast<A>(count) + A(1));
  return static_cast<double>(r * static_cast<A>(numel));
}
template <class A> double stable_rms(double sum, double numel) {
  const A x = std::sqrt(static_cast<A>(sum) / static_cast<A>(numel));
  return std::isnan(x) ? static_cast<double>(x) : static_cast<double>(std::max(x, A(1)));
}

}  // namespace

const StateLayout& ADOPT::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq"}, {}};
  return l;
}

void ADOPT::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

void ADOPT::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                         const torch::optim::OptimizerOptions& options, GroupState& group) {
  using kernels::Decay;
  const auto& o = cast(options);
  const auto& d = cast(defaults());
  const std::int64_t t = group.step;
  const double lr = o.lr();

  kernels::AdoptStep a;
  a.zg.gsign = d.maximize() ? -1.0 : 1.0;
  a.zg.weight_decay = o.weight_decay();
  a.zg.decay = 1.0 - o.weight_decay() * (o.fixed_decay() ? 1.0 : lr);
  a.eps = o.eps();
  a.clip = std::pow(static_cast<double>(t), 0.25);
  a.one_minus_beta1 = 1.0 - o.betas()[0];
  a.beta2 = o.betas()[1];
  a.one_minus_beta2 = 1.0 - o.betas()[1];
  a.neg_lr = -lr;
  const Decay decay = o.weight_decouple() ? (o.weight_decay() != 0 ? Decay::decoupled : Decay::none)
                      : o.weight_decay() > 0 ? Decay::l2
                                             : Decay::none;
  const bool clip = d.clips();
  const bool two_pass = o.cautious() || o.stable_adamw();
  const torch::Tensor &m = st.buffer(0), &v = st.buffer(1);

  auto step = [&](auto dtag, auto ctag) {
    constexpr Decay D = decltype(dtag)::value;
    constexpr bool C = decltype(ctag)::value;
    if (t == 1) {
      kernels::AdoptFirstRule<D> r;
      r.a = a;
      launch(r, p, g, m, v);
      return;
    }
    if (!two_pass) {
      kernels::AdoptRule<D, C> r;
      r.a = a;
      launch(r, p, g, m, v);
      return;
    }
    kernels::AdoptMomentsRule<D, C> first;
    first.a = a;
    const auto sums = launch_reduce(first, p, g, m, v);
    const double numel = static_cast<double>(p.numel());
    const bool single = adaptive_lr::single_precision(p);
    kernels::AdoptStep b = a;
    if (o.stable_adamw())
      b.neg_lr = -(lr / (single ? stable_rms<float>(sums[1], numel) : stable_rms<double>(sums[1], numel)));
    if (o.cautious()) {
      b.cautious_factor = single ? cautious_factor<float>(sums[0], numel) : cautious_factor<double>(sums[0], numel);
      kernels::AdoptApplyRule<D, C, true> r;
      r.a = b;
      launch(r, p, g, m, v);
    } else {
      kernels::AdoptApplyRule<D, C, false> r;
      r.a = b;
      launch(r, p, g, m, v);
    }
  };
  auto by_clip = [&](auto dtag) {
    if (clip) step(dtag, std::true_type{});
    else step(dtag, std::false_type{});
  };
  switch (decay) {
    case Decay::none: by_clip(std::integral_constant<Decay, Decay::none>{}); break;
    case Decay::l2: by_clip(std::integral_constant<Decay, Decay::l2>{}); break;
    case Decay::decoupled: by_clip(std::integral_constant<Decay, Decay::decoupled>{}); break;
  }
}

}  // namespace descent
