#include <descent/kernels/adan.h>
#include <descent/optim/adan.h>
#include <descent/optim/launch.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/scalars.h>

#include <descent/optim/launch.h>

#include <cmath>

namespace descent {

namespace {

// Σ g² of one gradient (read only).
struct GradSquares {
  static constexpr int kStates = 0;
  static constexpr int kSums = 1;
  template <class A> void operator()(A&, A g, A*, A* terms) const { terms[0] = g * g; }
};

}  // namespace

namespace {
// exp_avg, exp_avg_diff, neg_pre_grad (signed), exp_avg_sq (unsigned).
const QuantizableLayout& adan_layout() {
  static const QuantizableLayout l({"exp_avg", "exp_avg_sq", "exp_avg_diff", "neg_pre_grad"});
  return l;
}
StateSlot adan_slot(int k) { return adan_layout().slot(k, k == 1 ? kUnsigned : kSigned); }
}  // namespace

const StateLayout& Adan::layout() const { return adan_layout().layout; }

void Adan::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const {
  const QuantConfig q = quant_config(cast(o));
  for (int k = 0; k < 4; ++k) init_slot(st, p, q, adan_slot(k));
}

// The reference's clip factor, in its precisions: a float32 accumulator
// (torch.zeros(1)) to which each gradient's Σg² is added after rounding to
// float32; sqrt, + eps, max_grad_norm/(...) and clamp(max=1) in float32; the eps
// is the LAST group's (the loop variable left over from the norm loop).
double Adan::clip_factor() {
  const auto& d = static_cast<const AdanOptions&>(defaults());
  if (!(d.max_grad_norm() > 0)) return 1.0;
  float acc = 0.0f;
  for (const auto& group : param_groups_)
    for (const auto& p : group.params()) {
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      const double sum = launch_reduce(GradSquares{}, p, g)[0];
      acc = acc + static_cast<float>(sum);
    }
  const float eps = static_cast<float>(cast(param_groups_.back().options()).eps());
  const float c = static_cast<float>(d.max_grad_norm()) / (std::sqrt(acc) + eps);
  return std::isnan(c) ? c : std::min(c, 1.0f);  // torch.clamp propagates NaN
}

void Adan::update() {
  const double clip = clip_factor();
  last_clip_ = clip;
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    auto& group = param_groups_[gi];
    const auto& o = cast(group.options());
    GroupState& gs = mutable_group_state(gi);
    ++gs.step;  // every group counts every step, with or without gradients
    const double b1 = o.betas()[0], b2 = o.betas()[1], b3 = o.betas()[2];
    const double t = static_cast<double>(gs.step);
    const double bc1 = 1.0 - std::pow(b1, t);
    const double bc2 = 1.0 - std::pow(b2, t);
    const double bc3 = 1.0 - std::pow(b3, t);
    const double lr = o.lr(), wd = o.weight_decay();
    auto fill = [&](auto& r) {
      r.clip = clip;
      r.neg_clip = -clip;
      r.beta1 = b1;
      r.beta2 = b2;
      r.beta3 = b3;
      r.one_minus_beta1 = 1 - b1;
      r.one_minus_beta2 = 1 - b2;
      r.one_minus_beta3 = 1 - b3;
      r.bc3_sqrt = std::sqrt(bc3);
      r.eps = o.eps();
      r.neg_step = -(lr / bc1);
      r.neg_step_diff = -(lr * b2 / bc2);
      r.decay = 1 - lr * wd;
      r.divisor = 1 + lr * wd;
      return r;
    };
    for (const auto& p : group.params()) {
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      ParamState& st = state_for(p, group.options());
      ++st.step;
      // neg_pre_grad = −clip·g at the group's first step and for a new state.
      const bool first = gs.step == 1 || st.step == 1;
      const QuantConfig q = quant_config(o);
      const StateSlot m = adan_slot(0), n = adan_slot(1), dd = adan_slot(2), npg = adan_slot(3);
      if (first && o.no_prox()) {
        kernels::AdanRule<true, true> r;
        launch_state(fill(r), p, g, st, q, m, n, dd, npg);
      } else if (first) {
        kernels::AdanRule<true, false> r;
        launch_state(fill(r), p, g, st, q, m, n, dd, npg);
      } else if (o.no_prox()) {
        kernels::AdanRule<false, true> r;
        launch_state(fill(r), p, g, st, q, m, n, dd, npg);
      } else {
        kernels::AdanRule<false, false> r;
        launch_state(fill(r), p, g, st, q, m, n, dd, npg);
      }
    }
  }
}

}  // namespace descent
