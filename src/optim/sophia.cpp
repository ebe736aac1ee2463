#include <descent/kernels/sophia.h>
#include <descent/optim/launch.h>
#include <descent/optim/sophia.h>

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace descent::detail {

template <class Opts>
const StateLayout& SophiaImpl<Opts>::layout() const {
  static const StateLayout l{{"exp_avg", "hessian"}, {}};
  return l;
}

template <class Opts>
void SophiaImpl<Opts>::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

template <class Opts>
void SophiaImpl<Opts>::check_estimate(const std::vector<torch::Tensor>& diagonal) const {
  std::size_t i = 0;
  for (const auto& group : this->param_groups_)
    for (const auto& p : group.params()) {
      if (i >= diagonal.size())
        throw std::invalid_argument(std::string(Opts::kOptimizer) + ": the Hessian estimate lists " +
                                    std::to_string(diagonal.size()) + " tensors; give one per parameter, in the "
                                    "order of the param groups (undefined to skip one)");
      const auto& d = diagonal[i];
      if (d.defined() && !d.sizes().equals(p.sizes()))
        throw std::invalid_argument(std::string(Opts::kOptimizer) + ": the Hessian estimate of parameter " +
                                    std::to_string(i) + " is not shaped like it");
      ++i;
    }
  if (i != diagonal.size())
    throw std::invalid_argument(std::string(Opts::kOptimizer) + ": the Hessian estimate lists " +
                                std::to_string(diagonal.size()) + " tensors for " + std::to_string(i) + " parameters");
}

template <class Opts>
void SophiaImpl<Opts>::apply_estimate(const std::vector<torch::Tensor>& diagonal) {
  at::NoGradGuard no_grad;
  std::size_t i = 0;
  for (const auto& group : this->param_groups_) {
    const auto& o = this->cast(group.options());
    const double b2 = o.betas()[1];
    for (const auto& p : group.params()) {
      const auto& d = diagonal[i++];
      if (!d.defined()) continue;
      ParamState& st = this->state_for(p, o);
      torch::Tensor& h = st.buffer(1);
      // hessian.mul_(beta2).add...(estimate, 1 − beta2)
      h.mul_(b2).add_(d.to(h.scalar_type()), 1 - b2);
    }
  }
}

template <class Opts>
void SophiaImpl<Opts>::update_hessian(const std::vector<torch::Tensor>& diagonal) {
  check_estimate(diagonal);
  apply_estimate(diagonal);
}

template <class Opts>
void SophiaImpl<Opts>::set_hessian(const std::vector<torch::Tensor>& diagonal) {
  check_estimate(diagonal);
  pending_ = diagonal;
}

template <class Opts>
void SophiaImpl<Opts>::run_estimator() {
  std::vector<torch::Tensor> params, out;
  for (const auto& group : this->param_groups_)
    for (const auto& p : group.params())
      if (p.grad().defined()) {
        params.push_back(p);
        out.push_back(zeros_state(p));
      }
  if (params.empty()) return;
  {
    at::AutoGradMode grad(true);
    estimator_(params, out);
  }
  std::vector<torch::Tensor> all;
  std::size_t k = 0;
  for (const auto& group : this->param_groups_)
    for (const auto& p : group.params()) all.push_back(p.grad().defined() ? out[k++] : torch::Tensor());
  apply_estimate(all);
}

template <class Opts>
void SophiaImpl<Opts>::update() {
  if (!pending_.empty()) {
    apply_estimate(pending_);
    pending_.clear();
  }
  OptimizerImpl<Opts>::update();
  ++steps_;
  if (estimator_ && !this->param_groups_.empty() && steps_ % this->options(0).hess_interval() == 0) {
    // The estimator reads the stepped parameters and rewrites the Hessian
    // buffers the queued launches read: finish those launches first.
    detail::flush_current_batch();
    run_estimator();
  }
}

template <class Opts>
void SophiaImpl<Opts>::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                                    const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = this->cast(options);
  const double b1 = o.betas()[0];
  if constexpr (std::is_same_v<Opts, SophiaGOptions>) {
    kernels::SophiaGRule r;
    r.gsign = o.maximize() ? -1.0 : 1.0;
    r.decay = 1 - o.lr() * o.weight_decay();
    r.beta1 = b1;
    r.one_minus_beta1 = 1 - b1;
    r.rho_bs = o.rho() * o.bs();
    r.neg_lr = -o.lr();
    launch(r, p, g, st.buffer(0), st.buffer(1));
  } else {
    kernels::SophiaHRule r;
    r.gsign = o.maximize() ? -1.0 : 1.0;
    r.decay = 1 - o.lr() * o.weight_decay();
    r.beta1 = b1;
    r.one_minus_beta1 = 1 - b1;
    r.gamma = o.gamma();
    // The reference's step count is a float32 0-d tensor read with .item().
    const double t = static_cast<double>(static_cast<float>(st.step));
    r.neg_step = -o.lr() / (1 - std::pow(b1, t));
    launch(r, p, g, st.buffer(0), st.buffer(1));
  }
}

template class SophiaImpl<SophiaGOptions>;
template class SophiaImpl<SophiaHOptions>;

}  // namespace descent::detail
