#include <descent/kernels/prodigy.h>
#include <descent/optim/launch.h>
#include <descent/optim/prodigy.h>

#include "optim/adaptive_lr_util.h"

#include <cmath>

namespace descent {

namespace {
enum GroupScalar { kD = 0, kDMax, kDNumerator, kDDeNom, kDHat };
}  // namespace

const StateLayout& Prodigy::layout() const {
  static const StateLayout l{{"s", "p0", "exp_avg", "exp_avg_sq"}, {}, {"p0"}};
  return l;
}

void Prodigy::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p).copy_(p.detach());
  st.buffer(2) = zeros_state(p);
  st.buffer(3) = zeros_state(p);
}

void Prodigy::update() {
  const auto& defaults_opts = cast(defaults());
  const ProdigyOptions& first = options(0);
  const ProdigyOptions& last = options(param_groups_.size() - 1);
  GroupState& gs0 = mutable_group_state(0);

  const double beta1 = first.betas()[0], beta2 = first.betas()[1];
  const double beta3 = first.has_beta3() ? first.beta3() : std::sqrt(beta2);
  const double t = static_cast<double>(gs0.step + 1);  // the reference's group['step'], from 1
  const double bc1 = 1.0 - std::pow(beta1, t);
  const double bc2_sq = std::sqrt(1.0 - std::pow(beta2, t));
  const double bias_correction = first.bias_correction() ? bc1 / bc2_sq : 1.0;
  double d = gs0.scalars[kD];
  const double d0 = first.d0();
  const double d_lr = d * first.lr() / bias_correction;

  // d_numerator and d_de_nom: float32 tensors in the reference.
  float d_numerator = static_cast<float>(gs0.scalars[kDNumerator]);
  d_numerator = d_numerator * static_cast<float>(beta3);
  float d_de_nom = 0.0f;
  const float num_alpha = static_cast<float>((d / d0) * d_lr);

  kernels::ProdigyMomentsRule moments;
  moments.gsign = defaults_opts.maximize() ? -1.0 : 1.0;
  moments.beta1 = beta1;
  moments.m_coef = d * (1.0 - beta1);
  moments.beta2 = beta2;
  moments.v_coef = d * d * (1.0 - beta2);
  moments.beta3 = beta3;
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& group = param_groups_[gi];
    const ProdigyOptions& o = options(gi);
    ++mutable_group_state(gi).step;
    moments.s_coef = (d / d0) * (o.safeguard_warmup() ? d : d_lr);
    for (const auto& p : group.params()) {
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      ParamState& st = state_for(p, group.options());
      ++st.step;
      std::array<double, 2> sums{};
      if (p.scalar_type() == at::kFloat) {
        // float32: the sums as the reference computed them (kernels/prodigy.h).
        launch(moments, p, g, st.buffer(1), st.buffer(2), st.buffer(3), st.buffer(0));
        const torch::Tensor pc = p.contiguous(), gc = g.contiguous(), p0c = st.buffer(1).contiguous(),
                            sc = st.buffer(0).contiguous();
        const float* pp = pc.data_ptr<float>();
        const float* gp = gc.data_ptr<float>();
        const float* p0 = p0c.data_ptr<float>();
        const float* sp = sc.data_ptr<float>();
        const float gsign = static_cast<float>(moments.gsign);
        sums[0] = kernels::reference_sdot([&](std::int64_t i) { return gp[i] * gsign; },
                                          [&](std::int64_t i) { return p0[i] - pp[i]; }, p.numel());
        sums[1] = kernels::reference_sum([&](std::int64_t i) { return std::abs(sp[i]); }, p.numel());
      } else {
        sums = launch_reduce(moments, p, g, st.buffer(1), st.buffer(2), st.buffer(3), st.buffer(0));
      }
      // d_numerator.add_(dot, alpha=...): one float32 element, which ATen's
      // AVX2 add kernel (the one the golden cases ran on) computes as a fused
      // multiply-add; the rounding matters, as d follows d_numerator.
      d_numerator = std::fma(num_alpha, static_cast<float>(sums[0]), d_numerator);
      d_de_nom = d_de_nom + static_cast<float>(sums[1]);
    }
  }
  gs0.scalars[kDNumerator] = d_numerator;
  if (d_de_nom == 0.0f) return;  // the reference returns here: no update, one step count only

  const double d_hat = static_cast<double>(static_cast<float>(last.d_coef()) * d_numerator / d_de_nom);
  if (d == last.d0()) d = adaptive_lr::py_max(d, d_hat);
  const double d_max = adaptive_lr::py_max(mutable_group_state(param_groups_.size() - 1).scalars[kDMax], d_hat);
  d = adaptive_lr::py_min(d_max, d * last.growth_rate());

  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& group = param_groups_[gi];
    const ProdigyOptions& o = options(gi);
    GroupState& gs = mutable_group_state(gi);
    ++gs.step;
    gs.scalars[kDNumerator] = d_numerator;
    gs.scalars[kDDeNom] = d_de_nom;
    gs.scalars[kD] = d;
    gs.scalars[kDMax] = d_max;
    gs.scalars[kDHat] = d_hat;
    const bool decoupled = o.weight_decouple();
    const double decay = 1.0 - o.weight_decay() * (o.fixed_decay() ? 1.0 : d_lr);
    auto apply = [&](auto rule, const torch::Tensor& p, const torch::Tensor& g, ParamState& st) {
      rule.decay = decay;
      rule.neg_d_lr = -d_lr;
      rule.d_eps = o.has_eps() ? d * o.eps() : 0.0;
      launch(rule, p, g, st.buffer(2), st.buffer(3));
    };
    for (const auto& p : group.params()) {
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      ParamState& st = *state_of(p);
      if (o.has_eps()) {
        if (decoupled) apply(kernels::ProdigyApplyRule<true, false>{}, p, g, st);
        else apply(kernels::ProdigyApplyRule<false, false>{}, p, g, st);
      } else {
        if (decoupled) apply(kernels::ProdigyApplyRule<true, true>{}, p, g, st);
        else apply(kernels::ProdigyApplyRule<false, true>{}, p, g, st);
      }
    }
  }
}

}  // namespace descent
