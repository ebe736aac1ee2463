// descent/curvature.h: curvature information from autograd, for the
// curvature optimizers (AdaHessian, Sophia) and for use on its own.
//
//   * Hessian-vector products H·v by double backward: from gradients that keep
//     their graph (loss.backward(create_graph=true), or gradients_with_graph),
//     or from a closure that returns the loss.
//   * Hutchinson's estimate of the Hessian diagonal, diag(H) ≈ E[z ⊙ (H z)]
//     over Rademacher probes z (entries ±1 with probability 1/2): unbiased, since
//     E[z zᵀ] = I. One probe costs one Hessian-vector product. Probes can be
//     handed in (reproducible runs, golden replay) or drawn from a generator.
//   * The Gauss-Newton-Bartlett estimate SophiaG's authors use (Liu et al.,
//     ICLR 2024, Algorithm 2): labels ŷ drawn from the model's own predictive
//     distribution softmax(logits), ĝ = ∇ mean cross-entropy(logits, ŷ), and
//     the estimate ĝ ⊙ ĝ. With labels drawn from the model, E[B·ĝ⊙ĝ] is the
//     diagonal of the Gauss-Newton matrix of a batch of B examples; Sophia
//     applies the factor B through rho·bs in its step.
//   * Estimators (descent/optim/hessian.h) that optimizers call on their own
//     schedule, built from the above.
//
// Every function takes the parameters as leaf tensors with requires_grad; the
// closures evaluate the model at the parameters' current values. Results have
// the parameters' shapes and dtypes and carry no graph.
#pragma once

#include <descent/optim/hessian.h>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <functional>
#include <vector>

namespace descent::curvature {

using Tensors = std::vector<at::Tensor>;
// Returns a scalar loss built from the parameters (with grad mode on).
using LossFn = std::function<at::Tensor()>;
// Returns the model's logits, [..., classes] (every leading index one example).
using LogitsFn = std::function<at::Tensor()>;

// ∇loss with create_graph=true: gradients that keep their graph, for hvp().
Tensors gradients_with_graph(const at::Tensor& loss, const Tensors& params);

// H·v, given gradients that keep their graph (from gradients_with_graph, or the
// parameters' .grad() after loss.backward(create_graph=true)). retain_graph
// keeps the graph for further products. A parameter that the gradients do not
// depend on gets a zero product.
Tensors hvp(const Tensors& grads, const Tensors& params, const Tensors& v, bool retain_graph = true);

// H·v of the loss `loss_fn` returns, at the parameters' current values.
Tensors hvp(const LossFn& loss_fn, const Tensors& params, const Tensors& v);

// Rademacher vectors (entries −1 or +1), one per parameter, in its shape and
// dtype: 2·randint(0, 2) − 1 per parameter in order, as AdaHessian's reference
// draws them (so a seeded default generator reproduces its probes).
Tensors rademacher_like(const Tensors& params, c10::optional<at::Generator> generator = c10::nullopt);

// Hutchinson's diagonal estimate, the mean over the probes of z ⊙ (H z): one
// probe set (one tensor per parameter) per sample. From gradients that keep
// their graph (retained), or from a loss closure (evaluated once).
Tensors hutchinson_diagonal(const Tensors& grads, const Tensors& params, const std::vector<Tensors>& probes);
Tensors hutchinson_diagonal(const LossFn& loss_fn, const Tensors& params, const std::vector<Tensors>& probes);
// The same with `samples` Rademacher probe sets drawn from `generator`.
Tensors hutchinson_diagonal(const LossFn& loss_fn, const Tensors& params, int samples = 1,
                            c10::optional<at::Generator> generator = c10::nullopt);

// Labels drawn from softmax(logits), one per example: logits [..., C] → [...],
// int64 (torch.distributions.Categorical(logits=...).sample()).
at::Tensor sample_labels(const at::Tensor& logits, c10::optional<at::Generator> generator = c10::nullopt);

// The Gauss-Newton-Bartlett estimate ĝ ⊙ ĝ with ĝ = ∇ mean CE(logits, ŷ),
// ŷ ~ softmax(logits), logits from one evaluation of `logits_fn`.
Tensors gnb_diagonal(const LogitsFn& logits_fn, const Tensors& params,
                     c10::optional<at::Generator> generator = c10::nullopt);

// The exact Hessian of `loss_fn` over the parameters flattened in order
// (d × d, d = total elements, the parameters' common dtype): one
// Hessian-vector product per column, for small problems and tests.
at::Tensor hessian_matrix(const LossFn& loss_fn, const Tensors& params);

// Estimators for UsesHessianDiagonal::set_estimator: Hutchinson (z ⊙ Hz over
// `samples` Rademacher probes, loss from `loss_fn`) and Gauss-Newton-Bartlett
// (logits from `logits_fn`). The estimator evaluates its closure at the
// parameters' values when the optimizer calls it.
HessianEstimator hutchinson_estimator(LossFn loss_fn, int samples = 1,
                                      c10::optional<at::Generator> generator = c10::nullopt);
HessianEstimator gnb_estimator(LogitsFn logits_fn, c10::optional<at::Generator> generator = c10::nullopt);

}  // namespace descent::curvature
