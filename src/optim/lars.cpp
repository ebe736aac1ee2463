#include <descent/kernels/lars.h>
#include <descent/optim/lars.h>
#include <descent/optim/launch.h>

#include <descent/optim/launch.h>

#include <cmath>

namespace descent {

const StateLayout& LARS::layout() const {
  static const StateLayout l{{"momentum_buffer"}, {}};
  return l;
}

namespace {

// torch.where(‖p‖ > 0, torch.where(‖g‖ > 0, tc·‖p‖/‖g‖, 1), 1), in the
// parameter's dtype: 0-d tensors of float32 for float32 (and bfloat16, computed
// in float32 here) parameters.
double trust_ratio(double sum_p, double sum_g, double tc, bool single) {
  if (single) {
    const float pn = static_cast<float>(std::sqrt(sum_p));
    const float gn = static_cast<float>(std::sqrt(sum_g));
    return pn > 0 ? (gn > 0 ? static_cast<float>(static_cast<float>(tc) * pn) / gn : 1.0f) : 1.0f;
  }
  const double pn = std::sqrt(sum_p), gn = std::sqrt(sum_g);
  return pn > 0 ? (gn > 0 ? tc * pn / gn : 1.0) : 1.0;
}

}  // namespace

void LARS::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                        const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const bool scaled = p.dim() > 1;
  const bool momentum = o.momentum() > 0;
  double ratio = 1.0;
  if (scaled) {
    const auto sums = launch_reduce(kernels::SquaredNorms{}, p, g);
    ratio = trust_ratio(sums[0], sums[1], o.trust_coefficient(), p.scalar_type() != at::kDouble);
  }
  torch::Tensor& mb = st.buffer(0);
  if (momentum && !mb.defined()) {
    // momentum_buffer = grad.clone(): the RAW gradient (before maximize, decay and
    // scaling), to which this very step then adds μ·mb + (1 − dampening)·g.
    mb = zeros_state(p);
    mb.copy_(g);
  }
  auto fill = [&](auto& r) {
    r.gsign = o.maximize() ? -1.0 : 1.0;
    r.weight_decay = o.weight_decay();
    r.ratio = ratio;
    r.momentum = o.momentum();
    r.one_minus_dampening = 1 - o.dampening();
    r.neg_lr = -o.lr();
    return r;
  };
  // Six shapes of one rule: momentum (with or without Nesterov) or none, scaled or not.
  if (momentum && o.nesterov()) {
    if (scaled) {
      kernels::LarsRule<true, true, true> r;
      launch(fill(r), p, g, mb);
    } else {
      kernels::LarsRule<true, true, false> r;
      launch(fill(r), p, g, mb);
    }
  } else if (momentum) {
    if (scaled) {
      kernels::LarsRule<true, false, true> r;
      launch(fill(r), p, g, mb);
    } else {
      kernels::LarsRule<true, false, false> r;
      launch(fill(r), p, g, mb);
    }
  } else if (scaled) {
    kernels::LarsRule<false, false, true> r;
    launch(fill(r), p, g);
  } else {
    kernels::LarsRule<false, false, false> r;
    launch(fill(r), p, g);
  }
}

}  // namespace descent
