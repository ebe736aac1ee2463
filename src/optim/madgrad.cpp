#include <descent/kernels/madgrad.h>
#include <descent/optim/launch.h>
#include <descent/optim/madgrad.h>

#include <cmath>
#include <limits>

namespace descent {

const StateLayout& MADGRAD::layout() const {
  static const StateLayout l{{"grad_sum_sq", "s", "x0"}, {}, {"x0"}};
  return l;
}

void MADGRAD::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
  if (cast(options).momentum() > 0) st.buffer(2) = zeros_state(p).copy_(p.detach());
}

void MADGRAD::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                           const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const auto& d = cast(defaults());
  // self.state['k']: one counter for the optimizer, the step() calls so far.
  const double k = static_cast<double>(group_state(0).step - 1);
  const double lr = o.lr() + o.eps();
  const bool momentum = o.momentum() != 0;
  if (momentum && !st.buffer(2).defined()) st.buffer(2) = zeros_state(p).copy_(p.detach());  // switched on mid-run
  const kernels::Decay decay = o.weight_decay() > 0
                                   ? (o.weight_decouple() ? kernels::Decay::decoupled : kernels::Decay::l2)
                                   : kernels::Decay::none;
  auto fill = [&](auto& r) -> auto& {
    r.gsign = d.maximize() ? -1.0 : 1.0;
    r.weight_decay = o.weight_decay();
    r.lambda = lr * std::pow(k + 1, 0.5);
    r.eps = o.eps();
    r.momentum = o.momentum();
    r.one_minus_momentum = 1.0 - o.momentum();
    r.neg_lr_wd = -lr * o.weight_decay();
    r.rms_if_zero = o.eps() == 0 ? std::numeric_limits<double>::infinity() : 0.0;
    return r;
  };
  auto run = [&](auto rule) {
    if constexpr (decltype(rule)::kStates == 3)
      launch(fill(rule), p, g, st.buffer(0), st.buffer(1), st.buffer(2));
    else
      launch(fill(rule), p, g, st.buffer(0), st.buffer(1));
  };
  using kernels::Decay;
  using kernels::MadgradRule;
  auto by_isa = [&](auto m, auto dtag) {
    constexpr bool M = decltype(m)::value;
    constexpr Decay D = decltype(dtag)::value;
    kernels::with_fma([&](auto fma) { run(MadgradRule<M, D, decltype(fma)::value>{}); });
  };
  auto by_decay = [&](auto m) {
    switch (decay) {
      case Decay::none: by_isa(m, std::integral_constant<Decay, Decay::none>{}); break;
      case Decay::l2: by_isa(m, std::integral_constant<Decay, Decay::l2>{}); break;
      case Decay::decoupled: by_isa(m, std::integral_constant<Decay, Decay::decoupled>{}); break;
    }
  };
  if (momentum) by_decay(std::true_type{});
  else by_decay(std::false_type{});
}

}  // namespace descent
