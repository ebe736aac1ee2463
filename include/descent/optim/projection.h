// descent/optim/projection.h: low-rank projections (GaLore, FRUGAL) and the
// hooks through which their random or SVD-dependent choices can be supplied
// from outside (the golden replay feeds the reference's recorded choices
// through them; users can steer them too).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace descent {

// An optimizer that picks parameter blocks at random (FRUGAL's block mode).
class SelectsBlocks {
 public:
  // Called at each re-selection with the optimizer's step (1-based, the step
  // at whose start the selection is made), the group index, the group's
  // parameters and how many to activate; returns the indices (into `params`)
  // of the blocks to activate, in place of the optimizer's own random draw.
  using Selector = std::function<std::vector<std::int64_t>(std::int64_t step, std::size_t group,
                                                           const std::vector<at::Tensor>& params,
                                                           std::int64_t count)>;
  virtual void set_block_selector(Selector selector) = 0;
  virtual ~SelectsBlocks() = default;
};

// An optimizer that builds low-rank projectors (from an SVD of the gradient,
// or at random).
class BuildsProjections {
 public:
  // Called at each rebuild with the optimizer's step (1-based), the
  // parameter, the factor's side ("left": U[:, :r], r columns; "right":
  // Vh[:r, :], r rows) and the factor the optimizer computed; returns the
  // factor to use (the computed one, or e.g. the reference's recorded one).
  using Source = std::function<at::Tensor(std::int64_t step, const at::Tensor& param, const std::string& side,
                                             const at::Tensor& computed)>;
  virtual void set_projection_source(Source source) = 0;
  virtual ~BuildsProjections() = default;
};

namespace projection {

// The rank-r factors of g's thin SVD, as GaLore's get_orthogonal_matrix:
// computed in float32 (g.float(); torch.linalg.svd, full_matrices=False) and
// cast back to g's dtype. left = U[:, :r], right = Vh[:r, :] (r clipped to
// min(rows, cols), as slicing does).
struct Factors {
  at::Tensor left, right;
};
Factors svd_factors(const at::Tensor& g, std::int64_t rank, bool want_left, bool want_right);

// torch.nn.init.orthogonal_(torch.empty(rows, cols)) (float32, global RNG),
// cast to `dtype`.
at::Tensor random_orthogonal(std::int64_t rows, std::int64_t cols, at::ScalarType dtype);

// FRUGAL's randperm projector: a permutation matrix (float32, global RNG's
// randperm), rows [0, r) (right) or columns [0, r) (left), cast to `dtype`.
at::Tensor randperm_factor(std::int64_t n, std::int64_t rank, bool right, at::ScalarType dtype);

// Python's round() (halves to even) of x, as an integer.
std::int64_t py_round(double x);

}  // namespace projection

}  // namespace descent
