// descent/optim/galore.h: GaLore's low-rank projected AdamW, as the authors'
// galore_torch.GaLoreAdamW (jiaweizzhao/GaLore @ 2cc66f8 :
// galore_torch/adamw.py, galore_torch/galore_projector.py).
//
// Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank
// Projection", ICML 2024. Param groups with rank > 0 are GaLore groups (the
// reference: groups with a "rank" key): each 2-D gradient is projected onto
// rank r singular vectors of a gradient (recomputed every update_proj_gap
// steps), Adam runs in the r-dimensional space, and the normalized update is
// projected back and scaled. Other groups get the same (Hugging Face) AdamW
// without projection.
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/projection.h>

#include <cstdint>
#include <string>

namespace descent {

struct GaLoreAdamWOptions : Options<GaLoreAdamWOptions> {
  static constexpr const char* kOptimizer = "galore_adamw";
  explicit GaLoreAdamWOptions(double lr = 1e-3) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-6)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, correct_bias, true)
  // GaLore group keys (GaLoreProjector's defaults; rank 0: no projection)
  DESCENT_OPTION(std::int64_t, rank, 0)
  DESCENT_OPTION(std::int64_t, update_proj_gap, 200)
  DESCENT_OPTION(double, scale, 1.0)
  DESCENT_OPTION(std::string, proj_type, "std")
  DESCENT_OPTION(std::int64_t, dim, 2)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("correct_bias", correct_bias_, any_bool());
    v("rank", rank_, at_least(0));
    v("update_proj_gap", update_proj_gap_, in_cc(1, 1e15));
    v("scale", scale_, any_number());
    v("proj_type", proj_type_, one_of({"std", "reverse_std", "right", "left", "full"}));
    // dim > 2 selects the reference's Tucker projector (GaLoreProjectorTensor,
    // needs tensorly): not supported.
    v("dim", dim_, in_cc(0, 2));
  }
};

// State per parameter: exp_avg, exp_avg_sq (shaped like the projected
// gradient in GaLore groups; created at the first step and kept across
// projector changes, as the reference), the projector "ortho" (the left or
// right factor; the left one of a full projection) and "ortho_right" (the
// right one of a full projection), and the scalars "side" (0 none, 1 right,
// 2 left, 3 full) and "rank".
class GaLoreAdamW : public OptimizerImpl<GaLoreAdamWOptions>, public BuildsProjections {
 public:
  using OptimizerImpl::OptimizerImpl;

  void set_projection_source(Source source) override { projection_source_ = std::move(source); }

 protected:
  bool supports_bf16_modes() const override { return false; }  // the projected path writes p with ATen
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState& gs) override;
  torch::Tensor lazy_state(std::size_t b, const torch::Tensor& p, const ParamState& st) const override;

 private:
  Source projection_source_;
};

}  // namespace descent
