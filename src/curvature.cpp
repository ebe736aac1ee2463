#include <descent/curvature.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <stdexcept>
#include <string>

namespace descent::curvature {

namespace {

void check_params(const Tensors& params, const char* who) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i].defined()) throw std::invalid_argument(std::string(who) + ": parameter " + std::to_string(i) + " is undefined");
    if (!params[i].requires_grad())
      throw std::invalid_argument(std::string(who) + ": parameter " + std::to_string(i) +
                                  " does not require grad (set requires_grad on the parameters)");
  }
}

// Undefined results (inputs the outputs do not depend on) become zeros.
Tensors zeros_for_undefined(Tensors r, const Tensors& params) {
  for (std::size_t i = 0; i < r.size(); ++i)
    if (!r[i].defined()) r[i] = at::zeros_like(params[i], at::MemoryFormat::Contiguous);
  return r;
}

}  // namespace

Tensors gradients_with_graph(const torch::Tensor& loss, const Tensors& params) {
  check_params(params, "gradients_with_graph");
  if (!loss.defined() || loss.numel() != 1) throw std::invalid_argument("gradients_with_graph: the loss must be a scalar");
  at::AutoGradMode grad(true);
  auto g = torch::autograd::grad({loss}, params, {}, /*retain_graph=*/true, /*create_graph=*/true, /*allow_unused=*/true);
  return zeros_for_undefined(std::move(g), params);
}

Tensors hvp(const Tensors& grads, const Tensors& params, const Tensors& v, bool retain_graph) {
  check_params(params, "hvp");
  if (grads.size() != params.size() || v.size() != params.size())
    throw std::invalid_argument("hvp: give one gradient and one vector per parameter");
  at::AutoGradMode grad(true);
  // Gradients that do not depend on the parameters (no graph) contribute nothing.
  Tensors outputs, grad_outputs;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!v[i].sizes().equals(params[i].sizes()))
      throw std::invalid_argument("hvp: vector " + std::to_string(i) + " is not shaped like its parameter");
    if (grads[i].defined() && grads[i].requires_grad()) {
      outputs.push_back(grads[i]);
      grad_outputs.push_back(v[i].to(grads[i].scalar_type()));
    }
  }
  if (outputs.empty()) return zeros_for_undefined(Tensors(params.size()), params);
  auto hv = torch::autograd::grad(outputs, params, grad_outputs, retain_graph, /*create_graph=*/false,
                                  /*allow_unused=*/true);
  return zeros_for_undefined(std::move(hv), params);
}

Tensors hvp(const LossFn& loss_fn, const Tensors& params, const Tensors& v) {
  at::AutoGradMode grad(true);
  const auto g = gradients_with_graph(loss_fn(), params);
  return hvp(g, params, v, /*retain_graph=*/false);
}

Tensors rademacher_like(const Tensors& params, c10::optional<at::Generator> generator) {
  Tensors out;
  out.reserve(params.size());
  at::NoGradGuard no_grad;
  for (const auto& p : params) {
    auto r = at::empty_like(p, at::MemoryFormat::Contiguous);
    r.random_(0, 2, generator);
    out.push_back(r.mul_(2).sub_(1));
  }
  return out;
}

Tensors hutchinson_diagonal(const Tensors& grads, const Tensors& params, const std::vector<Tensors>& probes) {
  if (probes.empty()) throw std::invalid_argument("hutchinson_diagonal: no probes");
  Tensors sum;
  for (std::size_t s = 0; s < probes.size(); ++s) {
    auto hz = hvp(grads, params, probes[s], /*retain_graph=*/true);
    at::NoGradGuard no_grad;
    for (std::size_t i = 0; i < hz.size(); ++i) {
      auto term = probes[s][i].to(hz[i].scalar_type()) * hz[i];
      if (s == 0) sum.push_back(term);
      else sum[i].add_(term);
    }
  }
  if (probes.size() > 1)
    for (auto& t : sum) t.div_(static_cast<double>(probes.size()));
  return sum;
}

Tensors hutchinson_diagonal(const LossFn& loss_fn, const Tensors& params, const std::vector<Tensors>& probes) {
  at::AutoGradMode grad(true);
  const auto g = gradients_with_graph(loss_fn(), params);
  return hutchinson_diagonal(g, params, probes);
}

Tensors hutchinson_diagonal(const LossFn& loss_fn, const Tensors& params, int samples,
                            c10::optional<at::Generator> generator) {
  if (samples < 1) throw std::invalid_argument("hutchinson_diagonal: samples must be at least 1");
  std::vector<Tensors> probes;
  for (int s = 0; s < samples; ++s) probes.push_back(rademacher_like(params, generator));
  return hutchinson_diagonal(loss_fn, params, probes);
}

torch::Tensor sample_labels(const torch::Tensor& logits, c10::optional<at::Generator> generator) {
  if (!logits.defined() || logits.dim() < 1) throw std::invalid_argument("sample_labels: logits must be [..., classes]");
  at::NoGradGuard no_grad;
  const auto c = logits.size(-1);
  // Categorical(logits=...): normalised logits, their softmax, one multinomial
  // draw per row.
  auto normalised = logits - logits.logsumexp(-1, /*keepdim=*/true);
  auto probs = at::softmax(normalised, -1).reshape({-1, c});
  auto sizes = logits.sizes().vec();
  sizes.pop_back();
  return at::multinomial(probs, 1, /*replacement=*/true, generator).t().reshape(sizes);
}

Tensors gnb_diagonal(const LogitsFn& logits_fn, const Tensors& params, c10::optional<at::Generator> generator) {
  check_params(params, "gnb_diagonal");
  at::AutoGradMode grad(true);
  const auto logits = logits_fn();
  if (!logits.defined() || logits.dim() < 1) throw std::invalid_argument("gnb_diagonal: the closure must return logits [..., classes]");
  const auto y = sample_labels(logits, generator);
  const auto c = logits.size(-1);
  const auto loss = at::cross_entropy_loss(logits.reshape({-1, c}), y.reshape({-1}));
  auto g = torch::autograd::grad({loss}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                 /*allow_unused=*/true);
  g = zeros_for_undefined(std::move(g), params);
  at::NoGradGuard no_grad;
  for (auto& t : g) t = t * t;
  return g;
}

torch::Tensor hessian_matrix(const LossFn& loss_fn, const Tensors& params) {
  check_params(params, "hessian_matrix");
  at::AutoGradMode grad(true);
  const auto g = gradients_with_graph(loss_fn(), params);
  std::int64_t d = 0;
  for (const auto& p : params) d += p.numel();
  const auto dtype = params.empty() ? at::kDouble : params[0].scalar_type();
  auto h = at::zeros({d, d}, at::TensorOptions().dtype(dtype));
  Tensors e;
  for (const auto& p : params) e.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous));
  std::int64_t col = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    for (std::int64_t k = 0; k < params[i].numel(); ++k, ++col) {
      e[i].view({-1})[k].fill_(1);
      auto hv = hvp(g, params, e, /*retain_graph=*/true);
      e[i].view({-1})[k].fill_(0);
      at::NoGradGuard no_grad;
      std::int64_t row = 0;
      for (const auto& t : hv) {
        h.select(1, col).narrow(0, row, t.numel()).copy_(t.reshape({-1}));
        row += t.numel();
      }
    }
  }
  return h;
}

HessianEstimator hutchinson_estimator(LossFn loss_fn, int samples, c10::optional<at::Generator> generator) {
  if (samples < 1) throw std::invalid_argument("hutchinson_estimator: samples must be at least 1");
  return [loss_fn = std::move(loss_fn), samples, generator](const Tensors& params, const Tensors& out) {
    const auto est = hutchinson_diagonal(loss_fn, params, samples, generator);
    at::NoGradGuard no_grad;
    for (std::size_t i = 0; i < out.size(); ++i) out[i].copy_(est[i]);
  };
}

HessianEstimator gnb_estimator(LogitsFn logits_fn, c10::optional<at::Generator> generator) {
  return [logits_fn = std::move(logits_fn), generator](const Tensors& params, const Tensors& out) {
    const auto est = gnb_diagonal(logits_fn, params, generator);
    at::NoGradGuard no_grad;
    for (std::size_t i = 0; i < out.size(); ++i) out[i].copy_(est[i]);
  };
}

}  // namespace descent::curvature
