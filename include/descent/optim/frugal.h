// descent/optim/frugal.h: FRUGAL, as the authors' BlockAdamW / GaloreAdamW /
// CoordAdamW (hungquangbui02022003/FRUGAL @ c7ebe4c, the authors' upload).
//
// Parameters are split by param group: groups with is_proj_params = false are
// "regular" (plain AdamW); in groups with is_proj_params = true, a subspace
// is updated by AdamW (state-full) and the rest by signSGD, SGD or not at all
// (state-free). `mode` picks how the subspace is chosen:
//   block   whole tensors (BlockAdamW, the paper's main FRUGAL): every
//           update_gap steps, round(density·#tensors) tensors of the group are
//           activated (block_order: random | ascending | descending | mirror)
//           with fresh AdamW state; the others lose theirs;
//   galore  a rank-r projection of each tensor (GaloreAdamW): every update_gap
//           steps the projector is rebuilt from the current gradient (proj_type
//           svd | random | randperm; proj_side std | reverse_std | left | right
//           | full; r = round(density·dim)); AdamW runs on the projected
//           gradient, the residual gets the state-free update;
//   coord   a random subset of columns, rows or entries (CoordAdamW;
//           coord_choice columns | rows | randk), int(density·n) of them.
// The registry's factory infers `mode` from the options the reference's
// classes take (proj_side/proj_type: galore; coord_choice: coord; else block)
// unless it is given.
#pragma once

#include <descent/optim/optimizer.h>
#include <descent/optim/projection.h>

#include <cstdint>
#include <string>

namespace descent {

struct FrugalOptions : Options<FrugalOptions> {
  static constexpr const char* kOptimizer = "frugal";
  explicit FrugalOptions(double lr = 1e-3) { this->lr(lr); }

  // AdamW (frugal/adamw.py)
  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.01)
  DESCENT_OPTION(bool, correct_bias, true)
  // the projection (ProjOptimizer)
  DESCENT_OPTION(bool, is_proj_params, false)
  DESCENT_OPTION(std::string, mode, "block")
  DESCENT_OPTION(double, proj_params_lr_scale, 1.0)
  DESCENT_OPTION(std::int64_t, update_gap, 200)
  DESCENT_OPTION(double, density, 0.25)
  DESCENT_OPTION(bool, reset_statistics, true)
  DESCENT_OPTION(std::string, inactive_update_rule, "sign_sgd")
  DESCENT_OPTION(double, inactive_lr_scale, 1.0)
  DESCENT_OPTION(bool, _example_state_init, false)
  // block mode
  DESCENT_OPTION(std::string, block_order, "random")
  // galore mode
  DESCENT_OPTION(std::string, proj_side, "std")
  DESCENT_OPTION(std::string, proj_type, "svd")
  // coord mode
  DESCENT_OPTION(std::string, coord_choice, "columns")

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("correct_bias", correct_bias_, any_bool());
    v("is_proj_params", is_proj_params_, any_bool());
    v("mode", mode_, one_of({"block", "galore", "coord"}));
    v("proj_params_lr_scale", proj_params_lr_scale_, at_least(0));
    v("update_gap", update_gap_, in_cc(1, 1e15));
    v("density", density_, in_cc(0, 1));
    v("reset_statistics", reset_statistics_, any_bool());
    v("inactive_update_rule", inactive_update_rule_, one_of({"sign_sgd", "sgd", "no"}));
    v("inactive_lr_scale", inactive_lr_scale_, at_least(0));
    v("_example_state_init", _example_state_init_, any_bool());
    v("block_order", block_order_, one_of({"random", "ascending", "descending", "mirror"}));
    v("proj_side", proj_side_, one_of({"std", "reverse_std", "left", "right", "full"}));
    v("proj_type", proj_type_, one_of({"svd", "random", "randperm"}));
    v("coord_choice", coord_choice_, one_of({"columns", "rows", "randk"}));
  }
};

// Per-parameter state: exp_avg, exp_avg_sq (shaped like the parameter, or
// like the projected gradient in galore/coord mode), the projector ("ortho":
// the left or right factor; "ortho_right": the right one of a full
// projection; "indices": coord mode's chosen coordinates, int64), and the
// scalars "selected" (1 once a re-selection has set the state up), "active"
// (block mode), "side" (1 right, 2 left, 3 full), "rank" (the factor's rank
// or the number of coordinates). The group state counts the step() calls
// (the step number the hooks see) and keeps block_order's "next_block_start".
class Frugal : public OptimizerImpl<FrugalOptions>, public SelectsBlocks, public BuildsProjections {
 public:
  using OptimizerImpl::OptimizerImpl;

  void set_block_selector(Selector selector) override { selector_ = std::move(selector); }
  void set_projection_source(Source source) override { projection_source_ = std::move(source); }

 protected:
  bool supports_bf16_modes() const override { return false; }  // the projected paths write p with ATen
  const StateLayout& layout() const override;
  std::vector<std::string> group_scalar_names() const override { return {"next_block_start", "started"}; }
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;
  void update_group(std::size_t gi) override;
  torch::Tensor lazy_state(std::size_t b, const torch::Tensor& p, const ParamState& st) const override;

 private:
  void check_projectable() const;
  void reselect(std::size_t gi);
  void reselect_blocks(std::size_t gi);
  void reselect_projections(std::size_t gi);
  void setup_projection(const torch::Tensor& p, ParamState& st, const FrugalOptions& o, std::int64_t step);
  void update_regular(const torch::Tensor& p, const torch::Tensor& g, ParamState& st, const FrugalOptions& o,
                      double lr);
  void update_inactive(const torch::Tensor& p, const torch::Tensor& g, const FrugalOptions& o);
  void update_projected(const torch::Tensor& p, const torch::Tensor& g, ParamState& st, const FrugalOptions& o,
                        std::int64_t step);
  torch::Tensor project_down(const torch::Tensor& g, const ParamState& st) const;
  torch::Tensor project_up(const torch::Tensor& low, const torch::Tensor& g, const ParamState& st) const;

  Selector selector_;
  Source projection_source_;
};

}  // namespace descent
