// descent/optim/mfac.h: M-FAC, the matrix-free approximation of the inverse
// empirical Fisher over a sliding window of gradients (Frantar, Kurtic &
// Alistarh, NeurIPS 2021), as IST-DASLab/M-FAC @ 8116367 : optim.py (MFAC).
//
// One preconditioner spans every parameter of every group, flattened in order:
//   g   = concat over parameters of (grad + weight_decay·p)       (L2)
//   G   = the last `ngrads` gradients (a ring: g replaces the oldest row; rows
//         not yet filled are zero and count)
//   x   = F⁻¹·g,  F = damp·I + (1/ngrads)·Gᵀ·G                   (exact, Woodbury)
//   v   = momentum·v + (1 − momentum)·x;  x = v                  (if momentum > 0)
//   p   = p − lr·x                                               (each group's lr)
// Each parameter keeps its columns of the window (ngrads × numel: the
// "grad_window" state) and its momentum; the ngrads × ngrads Gram matrix G·Gᵀ
// (double) and the ring position are group 0's state. ngrads and damp are
// global: every group must agree with group 0.
#pragma once

#include <descent/optim/optimizer.h>

#include <vector>

namespace descent {

struct MFACOptions : Options<MFACOptions> {
  static constexpr const char* kOptimizer = "mfac";
  explicit MFACOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(double, momentum, 0.0)
  DESCENT_OPTION(double, weight_decay, 0.0)
  // Gradients in the window (m).
  DESCENT_OPTION(std::int64_t, ngrads, 1024)
  // λ⁻¹: the damping added to the diagonal of the empirical Fisher.
  DESCENT_OPTION(double, damp, 1e-5)
  // Weights exactly zero when a parameter's state is created are pruned: their
  // gradients are ignored and they never move.
  DESCENT_OPTION(bool, sparse, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("momentum", momentum_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("ngrads", ngrads_, in_cc(1, 1 << 20));
    v("damp", damp_, greater_than(0));
    v("sparse", sparse_, any_bool());
  }
};

class MFAC : public OptimizerImpl<MFACOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  std::vector<std::string> group_scalar_names() const override { return {"next_row"}; }
  std::vector<std::string> group_buffer_names() const override { return {"gram"}; }
  void check_group_buffers(std::size_t group, const GroupState& staged) const override;
  void update() override;
  std::function<void()> load_extra(torch::serialize::InputArchive& archive) override;

 private:
  void check_global_options() const;
  void ensure_workspace(std::int64_t m);

  // Not state: the factors of K = λ·G·Gᵀ + m·I (rebuilt from the Gram matrix),
  // and scratch. factored_rows_: rows of L and D valid for the current Gram
  // matrix (0 after a load).
  std::vector<double> L_, D_, w_, q_, y_, partial_;
  std::int64_t factored_rows_ = 0;
};

}  // namespace descent
