#include <descent/kernels/lamb.h>
#include <descent/kernels/zoo.h>
#include <descent/optim/lamb.h>
#include <descent/optim/launch.h>

#include "optim/adaptive_lr_util.h"

#include <algorithm>
#include <cmath>

namespace descent {

namespace {

// BaseOptimizer.get_rectify_step_size: (step size, n_sma), in double as Python.
std::pair<double, double> rectify_step_size(bool rectify, std::int64_t step, double lr, double beta2,
                                            double threshold, bool degenerated_to_sgd) {
  double step_size = lr, n_sma = 0;
  if (rectify) {
    const double t = static_cast<double>(step);
    const double n_sma_max = 2.0 / (1.0 - beta2) - 1.0;
    const double beta2_t = std::pow(beta2, t);
    n_sma = n_sma_max - 2 * t * beta2_t / (1.0 - beta2_t);
    double rt;
    if (n_sma >= threshold)
      rt = std::sqrt((1.0 - beta2_t) * (n_sma - 4) / (n_sma_max - 4) * (n_sma - 2) / n_sma * n_sma_max /
                     (n_sma_max - 2));
    else
      rt = degenerated_to_sgd ? 1.0 : -1.0;
    step_size *= rt;
  }
  return {step_size, n_sma};
}

// min(max(x, lo), hi) with NaN kept, as clamp_.
template <class A> A clamp(A x, A lo, A hi) {
  if (std::isnan(x)) return x;
  return std::min(std::max(x, lo), hi);
}

struct Trust {
  double weight_norm, adam_norm, trust_ratio, alpha;
};

// The reference's 0-d tensor arithmetic in the parameter's dtype A:
// weight_norm = ‖p‖.clamp(0, 10), p_norm = ‖u‖, trust = w/(a + eps) (1 if either
// norm is 0), alpha = −step_size·trust (a tensor product in A; the Python
// float 1.0 gives the same value).
template <class A>
Trust trust_ratio(double sum_p2, double sum_u2, double eps, double step_size, bool adam) {
  const A w = clamp(static_cast<A>(std::sqrt(sum_p2)), A(0), A(10));
  const A a = static_cast<A>(std::sqrt(sum_u2));
  const A trust = (w == A(0) || a == A(0)) ? A(1) : w / (a + static_cast<A>(eps));
  const A used = adam ? A(1) : trust;
  const A alpha = static_cast<A>(-step_size) * used;
  return {w, a, trust, alpha};
}

}  // namespace

const StateLayout& Lamb::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq"}, {"weight_norm", "adam_norm", "trust_ratio", "exp_grad_adanorm"}};
  return l;
}

void Lamb::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

void Lamb::update() {
  // Lamb.get_global_gradient_norm, once per step before any group, with the
  // constructor's max_grad_norm and eps: a float32 accumulator of ‖g‖² (each
  // norm in the gradient's dtype, squared, rounded to float32 and added),
  // then sqrt, + eps, and max_grad_norm / it (Tensor.__rtruediv__ in 1.13:
  // reciprocal, then times max_grad_norm), clamped at 1. Every gradient is
  // then DIVIDED by that factor (the reference's quirk).
  const auto& d = cast(defaults());
  grad_norm_ = 1.0;
  if (d.pre_norm() && d.max_grad_norm() != 0) {
    float acc = 0;
    for (const auto& group : param_groups_)
      for (const auto& p : group.params()) {
        const torch::Tensor& g = p.grad();
        if (!g.defined()) continue;
        const double sq = launch_reduce(kernels::SumOfSquaresRule{}, p, g)[0];
        if (adaptive_lr::single_precision(p)) {
          const float n = static_cast<float>(std::sqrt(sq));
          acc = acc + n * n;
        } else {
          const double n = std::sqrt(sq);
          acc = acc + static_cast<float>(n * n);
        }
      }
    const float norm = std::sqrt(acc) + static_cast<float>(d.eps());
    const float factor = (1.0f / norm) * static_cast<float>(d.max_grad_norm());
    grad_norm_ = std::isnan(factor) ? factor : std::min(factor, 1.0f);
  }
  Optimizer::update();
}

void Lamb::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                        const torch::optim::OptimizerOptions& options, GroupState& group) {
  const auto& o = cast(options);
  const auto& d = cast(defaults());
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const std::int64_t step = group.step;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step));
  auto [step_size, n_sma] = rectify_step_size(o.rectify(), step, o.lr(), b2, static_cast<double>(d.n_sma_threshold()),
                                              d.degenerated_to_sgd());
  if (!o.adam_debias()) step_size = step_size / bc1;
  const kernels::LambUpdate mode = !o.rectify() ? kernels::LambUpdate::adaptive
                                   : n_sma >= static_cast<double>(d.n_sma_threshold())
                                       ? kernels::LambUpdate::rectified_adaptive
                                       : kernels::LambUpdate::rectified_sgd;

  auto moments = [&](auto rule) {
    rule.grad_norm = d.pre_norm() ? grad_norm_ : 1.0;
    rule.gsign = d.maximize() ? -1.0 : 1.0;
    rule.decay = o.weight_decouple() ? 1.0 - o.weight_decay() * (o.fixed_decay() ? 1.0 : o.lr()) : 1.0;
    rule.beta1 = b1;
    rule.beta3 = o.grad_averaging() ? 1.0 - b1 : 1.0;
    rule.beta2 = b2;
    rule.one_minus_beta2 = 1.0 - b2;
    rule.eps = o.eps();
    rule.neg_step = -step_size;
    return launch_reduce(rule, p, g, st.buffer(0), st.buffer(1));
  };
  std::array<double, 2> sums{};
  switch (mode) {
    case kernels::LambUpdate::adaptive: sums = moments(kernels::LambMomentsRule<kernels::LambUpdate::adaptive>{}); break;
    case kernels::LambUpdate::rectified_adaptive:
      sums = moments(kernels::LambMomentsRule<kernels::LambUpdate::rectified_adaptive>{});
      break;
    case kernels::LambUpdate::rectified_sgd:
      sums = moments(kernels::LambMomentsRule<kernels::LambUpdate::rectified_sgd>{});
      break;
  }

  const Trust t = adaptive_lr::single_precision(p)
                      ? trust_ratio<float>(sums[0], sums[1], o.eps(), step_size, o.adam())
                      : trust_ratio<double>(sums[0], sums[1], o.eps(), step_size, o.adam());
  st.scalars[0] = t.weight_norm;
  st.scalars[1] = t.adam_norm;
  st.scalars[2] = t.trust_ratio;

  auto apply = [&](auto rule) {
    rule.alpha = t.alpha;
    rule.eps = o.eps();
    launch(rule, p, g, st.buffer(0), st.buffer(1));
  };
  switch (mode) {
    case kernels::LambUpdate::adaptive: apply(kernels::LambApplyRule<kernels::LambUpdate::adaptive>{}); break;
    case kernels::LambUpdate::rectified_adaptive:
      apply(kernels::LambApplyRule<kernels::LambUpdate::rectified_adaptive>{});
      break;
    case kernels::LambUpdate::rectified_sgd: apply(kernels::LambApplyRule<kernels::LambUpdate::rectified_sgd>{}); break;
  }
}

}  // namespace descent
