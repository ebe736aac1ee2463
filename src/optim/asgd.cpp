#include <descent/kernels/asgd.h>
#include <descent/optim/asgd.h>
#include <descent/optim/launch.h>

#include <algorithm>
#include <cmath>

namespace descent {

const StateLayout& ASGD::layout() const {
  static const StateLayout l{{"ax"}, {"eta", "mu"}};
  return l;
}

void ASGD::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  st.buffer(0) = zeros_state(p);
  // torch.tensor(lr) and torch.tensor(1.): float32 0-d tensors.
  st.scalars[0] = static_cast<float>(cast(options).lr());  // eta
  st.scalars[1] = 1.0;                                      // mu
}

void ASGD::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                        const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const double eta = st.scalars[0], mu = st.scalars[1];
  auto fill = [&](auto& r) {
    r.gsign = o.maximize() ? -1.0 : 1.0;
    r.weight_decay = o.weight_decay();
    r.decay = 1 - o.lambd() * eta;
    r.neg_eta = -eta;
    r.mu = mu;
    return r;
  };
  if (mu != 1) {
    kernels::AsgdRule<true> r;
    launch(fill(r), p, g, st.buffer(0));
  } else {
    kernels::AsgdRule<false> r;
    launch(fill(r), p, g, st.buffer(0));
  }
  // The next step's eta and mu, rounded to float32 as torch.tensor(float) does.
  const double t = static_cast<double>(st.step);
  const double lr = o.lr(), lambd = o.lambd();
  st.scalars[0] = static_cast<float>(lr / std::pow(1 + lambd * lr * t, o.alpha()));
  st.scalars[1] = static_cast<float>(1 / std::max(1.0, t - o.t0()));
}

}  // namespace descent
