// descent/optim/hessian.h: the interface of optimizers that use a
// Hessian-diagonal estimate (AdaHessian, Sophia), and of optimizers that draw
// random probe vectors inside their step.
//
// Such optimizers get their estimate in one of three ways:
//  * from the caller, explicitly, as the golden cases do through their
//    `hessian` key:
//      - set_hessian: the estimate the next step() uses (AdaHessian takes its
//        Hutchinson estimate inside every step: FORMAT.md's "in_step");
//      - update_hessian: an explicit refresh of the optimizer's running
//        estimate, right after a step (Sophia's update_hessian(): "after_step");
//  * from an estimator the caller installs (set_estimator): the optimizer calls
//    it on its own schedule (AdaHessian: inside every step; Sophia: right after
//    every k-th step). descent/curvature.h builds estimators from a loss closure
//    (Hutchinson) or from a closure returning logits (Gauss-Newton-Bartlett);
//  * on their own, where the reference does (AdaHessian: Hutchinson through the
//    graph of gradients from loss.backward(create_graph=true)).
// Estimates come one per parameter, in the order of the param groups, raw:
// before any absolute value or spatial averaging the optimizer applies.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace descent {

// Writes a Hessian-diagonal estimate for `params` (their current values) into
// `out`: one tensor per parameter, shaped like it, in the optimizer's state
// dtype, allocated by the optimizer (an estimator fills them in place, e.g.
// with out[i].copy_(...)). Parameters the optimizer does not step this time are
// not listed.
using HessianEstimator =
    std::function<void(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& out)>;

class UsesHessianDiagonal {
 public:
  virtual ~UsesHessianDiagonal() = default;
  virtual void set_hessian(const std::vector<at::Tensor>& diagonal) = 0;
  virtual void update_hessian(const std::vector<at::Tensor>& diagonal) = 0;
  // Installs (or, with an empty function, removes) the estimator the optimizer
  // calls on its own schedule. An explicit set_hessian() takes precedence.
  virtual void set_estimator(HessianEstimator estimator) = 0;
};

// Optimizers that draw random vectors inside their step (AdaHessian's
// Rademacher probes; PSGD-Kron's): set_probes hands in the next step's draws
// (one tensor per parameter, in the order of the param groups), used instead of
// the optimizer's own, as the golden cases' `probes` key does.
class TakesProbes {
 public:
  virtual ~TakesProbes() = default;
  virtual void set_probes(const std::vector<at::Tensor>& probes) = 0;
};

}  // namespace descent
