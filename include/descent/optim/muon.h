// descent/optim/muon.h: Muon (MomentUm Orthogonalized by Newton–Schulz), with
// the AdamW users run beside it on the parameters Muon does not orthogonalise,
// as KellerJordan/Muon @ 857d1ad : muon.py (SingleDeviceMuon,
// SingleDeviceMuonWithAuxAdam).
//
// Each param group names its rule with `use_muon`, as in the reference:
//
//     descent::Muon opt({
//         {hidden_matrices, std::make_unique<descent::MuonOptions>(descent::MuonOptions(0.02))},
//         {embeddings_heads_biases, std::make_unique<descent::MuonOptions>(descent::MuonOptions::adamw(3e-4))}});
//
// or, splitting a flat list by rank (matrices and conv kernels to Muon, the rest
// to AdamW), descent::muon_param_groups(model->parameters(), muon, adamw) — which
// is what the registry does for make_optimizer("muon", model->parameters()).
// Groups with use_muon read lr, momentum, weight_decay, nesterov, ns_steps and
// ns_dtype; groups without read lr, betas, eps and weight_decay.
#pragma once

#include <descent/optim/optimizer.h>

#include <ATen/core/Tensor.h>

#include <array>
#include <map>
#include <string>
#include <vector>

namespace descent {

struct MuonOptions : Options<MuonOptions> {
  static constexpr const char* kOptimizer = "muon";
  explicit MuonOptions(double lr = 0.02) { this->lr(lr); }
  // The options of an AdamW group, with the reference's defaults for it
  // (lr 3e-4, betas (0.9, 0.95), eps 1e-10, weight_decay 0).
  static MuonOptions adamw(double lr = 3e-4) {
    MuonOptions o(lr);
    o.use_muon(false);
    return o;
  }

  // Learning rate: Muon's in units of spectral norm per update; AdamW's otherwise.
  DESCENT_OPTION(double, lr, 0.02)
  // Muon's momentum β.
  DESCENT_OPTION(double, momentum, 0.95)
  // Decoupled weight decay, p ← p·(1 − lr·weight_decay), both rules.
  DESCENT_OPTION(double, weight_decay, 0.0)
  // Muon: orthogonalise the Nesterov blend lerp(g, m, β) (true) or m (false).
  DESCENT_OPTION(bool, nesterov, true)
  // Muon: Newton–Schulz iterations.
  DESCENT_OPTION(std::int64_t, ns_steps, 5)
  // Muon: the dtype the Newton–Schulz iteration runs in. The reference casts to
  // bfloat16 (fast on GPUs); on the CPU float32 runs on the optimized BLAS and is
  // descent's default (see docs/optimizers/muon.md).
  DESCENT_OPTION(std::string, ns_dtype, "float32")
  // The rule of this group: Muon (true) or AdamW (false).
  DESCENT_OPTION(bool, use_muon, true)
  // AdamW groups: decay rates of the moments, and eps.
  DESCENT_OPTION(Betas, betas, {0.9, 0.95})
  DESCENT_OPTION(double, eps, 1e-10)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("momentum", momentum_, in_co(0, 1));
    v("weight_decay", weight_decay_, at_least(0));
    v("nesterov", nesterov_, any_bool());
    v("ns_steps", ns_steps_, in_cc(0, 1000));
    v("ns_dtype", ns_dtype_, one_of({"float32", "bfloat16", "float64"}));
    v("use_muon", use_muon_, any_bool());
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
  }
};

// Splits `params` by rank: tensors with two or more dimensions form a Muon
// group with `muon`'s options, the others an AdamW group with `adamw`'s (its
// use_muon is set false). Empty groups are left out; order: Muon, AdamW.
std::vector<torch::optim::OptimizerParamGroup> muon_param_groups(const std::vector<torch::Tensor>& params,
                                                                const MuonOptions& muon = MuonOptions(),
                                                                const MuonOptions& adamw = MuonOptions::adamw());

class Muon : public OptimizerImpl<MuonOptions> {
 public:
  // Every parameter of a group with use_muon must have two or more dimensions.
  explicit Muon(std::vector<torch::optim::OptimizerParamGroup> groups, MuonOptions defaults = MuonOptions());
  // A flat list: split by rank (muon_param_groups with `defaults` and AdamW's defaults).
  explicit Muon(std::vector<torch::Tensor> params, MuonOptions defaults = MuonOptions());

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  // As the reference, a parameter without a gradient is stepped with a zero
  // gradient (its momentum decays, weight decay applies).
  void update() override;

 private:
  void check_groups() const;
  void muon_step(const torch::Tensor& p, const torch::Tensor& g, ParamState& st, const MuonOptions& o);
  void adam_step(const torch::Tensor& p, const torch::Tensor& g, ParamState& st, const MuonOptions& o);
  // The gradient to use: p.grad, or zeros (a per-shape workspace) without one.
  const torch::Tensor& grad_or_zeros(const torch::Tensor& p);

  // Newton–Schulz workspaces per (n, k, dtype) of the wide n × k matrix (n ≤
  // k), reused every step (not state: nothing in them outlives a step).
  struct Workspace {
    torch::Tensor x, xt, y, yt, a, b;  // x, y: n × k; a, b: n × n; xt, yt: transposed views of x, y
  };
  Workspace& workspace(at::ScalarType ns_dtype, std::int64_t n, std::int64_t k);
  std::map<std::array<std::int64_t, 3>, Workspace> workspaces_;
  // Zero gradients for parameters stepped without one (by TensorImpl).
  std::map<const void*, torch::Tensor> zeros_;
};

}  // namespace descent
