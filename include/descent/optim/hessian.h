// descent/optim/hessian.h: the interface of optimizers that use a
// Hessian-diagonal estimate (AdaHessian, Sophia).
//
// Such optimizers can compute the estimate themselves from a closure, or take
// one from the caller, as the golden cases do through their `hessian` key:
//  * set_hessian: the estimate the next step() uses (AdaHessian takes its
//    Hutchinson estimate inside every step: FORMAT.md's "in_step");
//  * update_hessian: an explicit refresh of the optimizer's running estimate,
//    right after a step (Sophia's update_hessian(): "after_step").
// Estimates come one per parameter, in the order of the param groups.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace descent {

class UsesHessianDiagonal {
 public:
  virtual ~UsesHessianDiagonal() = default;
  virtual void set_hessian(const std::vector<torch::Tensor>& diagonal) = 0;
  virtual void update_hessian(const std::vector<torch::Tensor>& diagonal) = 0;
};

}  // namespace descent
