// descent/optim/lookahead.h: Lookahead ("k steps forward, 1 step back") around
// any descent optimizer, as kozistr/pytorch_optimizer's Lookahead.
//
//     auto inner = std::make_unique<descent::AdamW>(params, descent::AdamWOptions(1e-3));
//     descent::Lookahead opt(std::move(inner), descent::LookaheadOptions{}.k(5).alpha(0.5));
//
// The wrapper's param groups are copies of the inner optimizer's (the same
// tensors, options of the inner optimizer's type): LibTorch's LR schedulers and
// users change options there, and every step copies them into the inner
// optimizer before running it. Slow weights are the wrapper's own state
// ("slow_param"); the inner optimizer's state travels in the wrapper's checkpoints.
#pragma once

#include <descent/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace descent {

// Lookahead's own options (for every group alike, as the reference's).
class LookaheadOptions {
 public:
  // Number of inner steps between synchronisations, ≥ 1.
  LookaheadOptions& k(std::int64_t value);
  std::int64_t k() const noexcept { return k_; }
  // Weight of the fast weights at a synchronisation, in [0, 1] (1: no pull back).
  LookaheadOptions& alpha(double value);
  double alpha() const noexcept { return alpha_; }
  // What a synchronisation does to the inner optimizer's "momentum_buffer":
  // "none", "reset" (zero it) or "pullback" (interpolate it as the weights).
  LookaheadOptions& pullback_momentum(const std::string& value);
  const std::string& pullback_momentum() const noexcept { return pullback_momentum_; }

  // The option names ("k", "alpha", "pullback_momentum").
  static const std::vector<std::string>& names();
  static bool is_option(const std::string& name);
  // Sets an option by name, validated (OptionError naming lookahead otherwise).
  void set(const std::string& name, const OptionValue& value);
  void validate() const;
  std::string describe() const;

 private:
  std::int64_t k_ = 5;
  double alpha_ = 0.5;
  std::string pullback_momentum_ = "none";
};

class Lookahead : public Optimizer {
 public:
  // Wraps `inner` (not null); takes over its param groups' tensors and options.
  explicit Lookahead(std::unique_ptr<Optimizer> inner, LookaheadOptions options = {});

  const char* name() const override { return "lookahead"; }

  // The wrapped optimizer. Its group options are overwritten from this
  // optimizer's before every step; load() replaces the object (references
  // taken before a load refer to the old one).
  Optimizer& inner() { return *inner_; }
  const Optimizer& inner() const { return *inner_; }

  // The slow weights plus the inner optimizer's state.
  std::int64_t state_bytes() const override { return Optimizer::state_bytes() + inner_->state_bytes(); }
  // The slow weights are written every k steps, so only the inner optimizer's count.
  std::int64_t read_only_state_bytes() const override {
    return Optimizer::read_only_state_bytes() + inner_->read_only_state_bytes();
  }

  const LookaheadOptions& lookahead_options() const noexcept { return options_; }
  void set_lookahead_options(const LookaheadOptions& options);

  // A group's options as the inner optimizer's options type, e.g. options<AdamWOptions>(0).
  template <class O> O& options(std::size_t group = 0) { return dynamic_cast<O&>(param_groups_.at(group).options()); }

 protected:
  void check_options(const torch::optim::OptimizerOptions& options) const override;
  bool supports_bf16_modes() const override { return false; }  // the slow-weight synchronisation writes p with ATen
  const StateLayout& layout() const override;
  std::vector<std::string> group_scalar_names() const override { return {"counter"}; }
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;
  void save_extra(torch::serialize::OutputArchive& archive) const override;
  std::function<void()> load_extra(torch::serialize::InputArchive& archive) override;

 private:
  void synchronise(const torch::Tensor& p, ParamState& st);

  std::unique_ptr<Optimizer> inner_;
  LookaheadOptions options_;
};

}  // namespace descent
