#include <descent/curvature.h>
#include <descent/kernels/adahessian.h>
#include <descent/optim/adahessian.h>
#include <descent/optim/launch.h>

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace descent {

namespace {

// D = |estimate|, and for a 4-D (conv) kernel the mean of |estimate| over each
// kh × kw slice, broadcast back over it (the reference's
// torch.mean(hv.abs(), dim=[2, 3], keepdim=True)). Other ranks: no averaging
// (ranks ≤ 2 as the reference; 3-D and ≥ 5-D tensors fail in the reference).
template <class A>
void abs_and_average(A* d, std::int64_t n, std::int64_t block) {
  for (std::int64_t i = 0; i < n; ++i) d[i] = std::abs(d[i]);
  if (block <= 1) return;
  for (std::int64_t b = 0; b + block <= n; b += block) {
    A sum = 0;
    for (std::int64_t j = 0; j < block; ++j) sum += d[b + j];
    const A mean = sum / static_cast<A>(block);
    for (std::int64_t j = 0; j < block; ++j) d[b + j] = mean;
  }
}

void hessian_term(torch::Tensor& d) {
  const std::int64_t block = d.dim() == 4 ? d.size(2) * d.size(3) : 1;
  if (d.is_contiguous()) {
    if (d.scalar_type() == at::kDouble) abs_and_average(d.data_ptr<double>(), d.numel(), block);
    else abs_and_average(d.data_ptr<float>(), d.numel(), block);
    return;
  }
  d.abs_();
  if (block > 1) d.copy_(d.mean({2, 3}, /*keepdim=*/true).expand_as(d));
}

}  // namespace

const StateLayout& AdaHessian::layout() const {
  static const StateLayout l{{"exp_avg", "exp_hessian_diag_sq"}, {}};
  return l;
}

void AdaHessian::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  st.buffer(0) = zeros_state(p);
  st.buffer(1) = zeros_state(p);
}

void AdaHessian::check_per_param(const std::vector<torch::Tensor>& t, const char* what) const {
  std::size_t n = 0;
  for (const auto& group : param_groups_)
    for (const auto& p : group.params()) {
      if (n < t.size() && t[n].defined() && !t[n].sizes().equals(p.sizes()))
        throw std::invalid_argument(std::string("adahessian: the ") + what + " of parameter " + std::to_string(n) +
                                    " is not shaped like it");
      ++n;
    }
  if (t.size() != n)
    throw std::invalid_argument(std::string("adahessian: ") + std::to_string(t.size()) + " " + what + " tensors for " +
                                std::to_string(n) + " parameters; give one per parameter, in the order of the param groups");
}

void AdaHessian::set_hessian(const std::vector<torch::Tensor>& diagonal) {
  check_per_param(diagonal, "Hessian estimate");
  pending_ = diagonal;
}

void AdaHessian::set_probes(const std::vector<torch::Tensor>& probes) {
  check_per_param(probes, "probe");
  probes_ = probes;
}

torch::Tensor& AdaHessian::term_buffer(const torch::Tensor& p) {
  auto it = term_buffers_.find(p.unsafeGetTensorImpl());
  if (it == term_buffers_.end() || !it->second.sizes().equals(p.sizes()) ||
      it->second.scalar_type() != state_dtype(p.scalar_type()))
    it = term_buffers_.insert_or_assign(p.unsafeGetTensorImpl(), zeros_state(p)).first;
  return it->second;
}

void AdaHessian::estimate_from_graph() {
  std::vector<torch::Tensor> grads, probes;
  bool graph = false;
  for (const auto& p : params_) {
    grads.push_back(p.grad());
    graph = graph || p.grad().requires_grad();
  }
  if (!graph)
    throw std::runtime_error(
        "adahessian: the gradients carry no graph, so there is no Hessian to probe: compute them with "
        "loss.backward(/*gradient=*/{}, /*retain_graph=*/true, /*create_graph=*/true) (or give step() a closure "
        "that does), hand in an estimate with set_hessian(), or install an estimator with set_estimator()");
  if (!probes_.empty()) {
    std::size_t i = 0;
    for (const auto& group : param_groups_)
      for (const auto& p : group.params()) {
        if (p.grad().defined()) {
          if (!probes_[i].defined())
            throw std::invalid_argument("adahessian: no probe for parameter " + std::to_string(i) + ", which has a gradient");
          probes.push_back(probes_[i]);
        }
        ++i;
      }
    probes_.clear();
  } else {
    probes = curvature::rademacher_like(params_);
  }
  const auto hv = curvature::hvp(grads, params_, probes, /*retain_graph=*/true);
  for (std::size_t k = 0; k < hv.size(); ++k) terms_[k].copy_(hv[k]);
}

void AdaHessian::update() {
  params_.clear();
  terms_.clear();
  for (const auto& group : param_groups_)
    for (const auto& p : group.params())
      if (p.grad().defined()) {
        params_.push_back(p);
        terms_.push_back(term_buffer(p));
      }
  if (params_.empty()) return;
  if (!pending_.empty()) {
    std::size_t i = 0, k = 0;
    for (const auto& group : param_groups_)
      for (const auto& p : group.params()) {
        if (p.grad().defined()) {
          if (!pending_[i].defined())
            throw std::invalid_argument("adahessian: the Hessian estimate has no tensor for parameter " +
                                        std::to_string(i) + ", which has a gradient");
          terms_[k++].copy_(pending_[i]);
        }
        ++i;
      }
    pending_.clear();
  } else if (estimator_) {
    at::AutoGradMode grad(true);
    estimator_(params_, terms_);
  } else {
    estimate_from_graph();
  }
  for (auto& d : terms_) hessian_term(d);

  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    auto& group = param_groups_[gi];
    const auto& o = cast(group.options());
    ++mutable_group_state(gi).step;
    const double b1 = o.betas()[0], b2 = o.betas()[1], k = o.hessian_power();
    for (const auto& p : group.params()) {
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      ParamState& st = state_for(p, o);
      ++st.step;
      const double t = static_cast<double>(st.step);
      kernels::AdaHessianRule r;
      r.beta1 = b1;
      r.one_minus_beta1 = 1 - b1;
      r.beta2 = b2;
      r.one_minus_beta2 = 1 - b2;
      r.bc1 = 1 - std::pow(b1, t);
      r.bc2_pow = std::pow(std::sqrt(1 - std::pow(b2, t)), k);
      r.eps = o.eps();
      r.weight_decay = o.weight_decay();
      r.lr = o.lr();
      r.power = k;
      r.kind = kernels::power_kind(k);
      launch(r, p, g, st.buffer(0), st.buffer(1), term_buffer(p));
    }
  }
  // The reference detaches the gradients (grad.detach_()), freeing their graph.
  for (const auto& p : params_)
    if (p.grad().requires_grad()) const_cast<torch::Tensor&>(p).mutable_grad() = p.grad().detach();
}

}  // namespace descent
