// descent/optim/optimizer.h: the base every descent optimizer derives from.
//
// descent::Optimizer is a torch::optim::Optimizer: param groups with per-group
// options, step(closure), torch::save / torch::load and LibTorch's LR schedulers
// all work as users expect. What it adds, written once for every optimizer:
//
//  * step() checks everything before it changes anything: every group's options
//    (validated against their declared ranges), every gradient (dense, same
//    dtype, shape and device as its parameter), every parameter (float32,
//    float64 or bfloat16, all on one device). Parameters without a gradient are
//    skipped, as in PyTorch.
//  * Per-parameter state (ParamState: a step count, named tensor buffers, named
//    scalars) lives in LibTorch's state() map, so users can inspect it, and is
//    found again through a pointer-keyed index, so a step allocates nothing.
//  * Checkpoints carry a format version, the optimizer's name, every group's
//    options and every state; load() reads and checks all of it before it
//    replaces anything, so a truncated, corrupted or foreign checkpoint is
//    refused and leaves the optimizer as it was.
#pragma once

#include <descent/optim/launch_batch.h>
#include <descent/optim/options.h>

#include <ATen/core/Tensor.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace descent {

// The names of an optimizer's per-parameter state, fixed for its lifetime.
struct StateLayout {
  std::vector<std::string> buffers;  // tensors (most shaped like the parameter)
  std::vector<std::string> scalars;  // per-parameter numbers (e.g. NAdam's mu_product)
  // Buffers a step reads but never writes (MADGRAD's x0): they cost one pass of
  // memory traffic per step, not two (read_only_state_bytes, step-bench).
  std::vector<std::string> read_only = {};
};

// The state of one parameter. Buffers that an option turns off stay undefined.
class ParamState final : public torch::optim::OptimizerCloneableParamState<ParamState> {
 public:
  std::int64_t step = 0;
  std::vector<torch::Tensor> buffers;
  std::vector<double> scalars;
  const StateLayout* layout = nullptr;
  // Mixed precision (bfloat16 parameters; the bf16_mode option): the float32
  // master copy (bf16_mode = master_weights), and what seeds the stochastic
  // rounding stream (bf16_mode = stochastic_rounding). Set by state_for() from
  // the group's options at every step.
  torch::Tensor master;
  std::uint8_t bf16_write = 0;      // 0 nearest, 1 master_weights, 2 stochastic_rounding
  std::uint64_t bf16_seed = 0;
  std::uint32_t ordinal = 0;        // the parameter's position over all groups

  torch::Tensor& buffer(std::size_t i) { return buffers[i]; }
  const torch::Tensor& buffer(std::size_t i) const { return buffers[i]; }
  // Looks a buffer up by name (for users and tests; step() uses indices).
  const torch::Tensor& buffer(const std::string& name) const;
  double scalar(const std::string& name) const;

  // LibTorch's per-state serialization (descent's own save() does not use it).
  void serialize(torch::serialize::OutputArchive& archive) const override;
  void serialize(torch::serialize::InputArchive& archive) override;
};

// Per-group state beyond the options (e.g. Adan's group step count).
struct GroupState {
  std::int64_t step = 0;
  std::vector<double> scalars;
  // Tensors of the group as a whole, named by group_buffer_names() (e.g.
  // M-FAC's Gram matrix of its gradient window, which spans every parameter);
  // saved, checksummed and restored like parameter state. Undefined until the
  // optimizer creates them.
  std::vector<torch::Tensor> buffers;
};

class Optimizer : public torch::optim::Optimizer {
 public:
  using LossClosure = torch::optim::Optimizer::LossClosure;

  // Runs the closure (with grad mode on) if given, checks options, parameters
  // and gradients, then updates every parameter that has a gradient.
  torch::Tensor step(LossClosure closure = nullptr) final;

  // The registry name, e.g. "adam".
  virtual const char* name() const = 0;

  // The state of a parameter, or nullptr if it has none yet.
  ParamState* state_of(const torch::Tensor& param);
  const ParamState* state_of(const torch::Tensor& param) const;
  const GroupState& group_state(std::size_t group) const { return group_states_.at(group); }

  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // Drops every state (moments, step counts); options stay.
  void reset_state();

  // Bytes of persistent optimizer state: every state buffer of every
  // parameter, plus whatever an optimizer keeps elsewhere (wrappers add their
  // inner optimizer's, global windows their own). What `descent list` claims
  // per parameter is checked against this by the tests; the benchmark reports it.
  virtual std::int64_t state_bytes() const;
  // The part of state_bytes() in read_only buffers (StateLayout::read_only):
  // state a step reads but never writes. Wrappers add their inner optimizer's.
  virtual std::int64_t read_only_state_bytes() const;

 protected:
  Optimizer(std::vector<torch::optim::OptimizerParamGroup> groups,
            std::unique_ptr<torch::optim::OptimizerOptions> defaults);

  // Throws OptionError if `options` is not this optimizer's options type or is
  // invalid. Called for every group before every step.
  virtual void check_options(const torch::optim::OptimizerOptions& options) const = 0;

  // The state names (constant for the optimizer's lifetime).
  virtual const StateLayout& layout() const = 0;
  // Names of the per-group scalars (GroupState::scalars); none by default.
  virtual std::vector<std::string> group_scalar_names() const { return {}; }
  // Fresh per-group scalars for a new group.
  virtual std::vector<double> initial_group_scalars(const torch::optim::OptimizerOptions&) const {
    return std::vector<double>(group_scalar_names().size(), 0.0);
  }
  // Names of the per-group tensors (GroupState::buffers); none by default.
  virtual std::vector<std::string> group_buffer_names() const { return {}; }
  // Checks a group's tensors read from a checkpoint (shapes, dtypes) before
  // they are committed; throws std::exception to refuse the checkpoint.
  virtual void check_group_buffers(std::size_t group, const GroupState& staged) const {}

  // Creates the state of a parameter (buffers, scalars) for a group's options.
  virtual void init_state(ParamState& state, const torch::Tensor& param,
                          const torch::optim::OptimizerOptions& options) const = 0;

  // What a buffer that init_state leaves undefined and update_param creates
  // later (e.g. SGD's momentum buffer) must look like when a checkpoint
  // brings it: by default zeros_state(param); `st` holds the loaded scalars.
  virtual torch::Tensor lazy_state(std::size_t buffer, const torch::Tensor& param, const ParamState& st) const;

  // Updates all parameters; the default visits each group in order and each
  // parameter with a gradient, creating its state and counting its step, then
  // calls update_param(). Optimizers with global steps (clipping over all
  // parameters, windows over all gradients) override this instead.
  virtual void update();
  virtual void update_group(std::size_t group_index);
  virtual void update_param(const torch::Tensor& param, const torch::Tensor& grad, ParamState& state,
                            const torch::optim::OptimizerOptions& options, GroupState& group) {}

  // The state of `param`, created on first use; also applies the group's
  // bf16_mode to it (creates or drops the master copy).
  ParamState& state_for(const torch::Tensor& param, const torch::optim::OptimizerOptions& options);

  // Whether every write of this optimizer to its parameters goes through
  // launch()/launch_reduce() (which honour bf16_mode). Optimizers that write
  // parameters otherwise (grid kernels, ATen ops) return false, and a
  // bf16_mode other than "nearest" is then refused with a clear error.
  virtual bool supports_bf16_modes() const { return true; }

  // Whether the step's elementwise launches may be queued and run together in
  // one parallel region at the end of update() (the multi-tensor scheduler,
  // launch_batch.h): true for optimizers whose update_param() ends in
  // launch() and never reads, within the same step, what an earlier launch()
  // of that step wrote. Off by default: opting in is a claim about the code.
  virtual bool batches_launches() const { return false; }
  GroupState& mutable_group_state(std::size_t group) { return group_states_[group]; }

  // Hooks for optimizers with state outside ParamState/GroupState. save_extra
  // writes it; load_extra reads and checks it into a staging object and returns
  // a function that commits it (called only once everything else has loaded).
  virtual void save_extra(torch::serialize::OutputArchive& archive) const {}
  virtual std::function<void()> load_extra(torch::serialize::InputArchive& archive) { return [] {}; }

 private:
  void check_step() const;
  void sync_group_states();
  std::uint32_t ordinal_of(const torch::Tensor& param) const;

  std::unordered_map<const void*, ParamState*> index_;  // TensorImpl* -> state in state_
  std::vector<GroupState> group_states_;
  detail::LaunchBatch batch_;  // the step's queued launches (capacity kept between steps)
};

// Typed base: options type, constructors, checked access to group options.
template <class Opts>
class OptimizerImpl : public Optimizer {
 public:
  using Options = Opts;

  explicit OptimizerImpl(std::vector<torch::optim::OptimizerParamGroup> groups, Opts defaults = {})
      : Optimizer(std::move(groups), std::make_unique<Opts>(validated(defaults))) {
    for (const auto& g : param_groups_) check_options(g.options());
  }
  explicit OptimizerImpl(std::vector<torch::Tensor> params, Opts defaults = {})
      : OptimizerImpl(std::vector<torch::optim::OptimizerParamGroup>{torch::optim::OptimizerParamGroup(std::move(params))},
                      std::move(defaults)) {}

  const char* name() const override { return Opts::kOptimizer; }

  // The options of a group (LibTorch schedulers and users change them here).
  Opts& options(std::size_t group = 0) { return static_cast<Opts&>(param_groups_.at(group).options()); }
  const Opts& options(std::size_t group = 0) const {
    return static_cast<const Opts&>(param_groups_.at(group).options());
  }

 protected:
  static const Opts& cast(const torch::optim::OptimizerOptions& o) { return static_cast<const Opts&>(o); }

  void check_options(const torch::optim::OptimizerOptions& options) const override {
    const auto* typed = dynamic_cast<const Opts*>(&options);
    if (typed == nullptr) {
      throw OptionError(std::string(Opts::kOptimizer) + ": a param group carries options of another optimizer; "
                        "give it " + Opts::kOptimizer + "'s options type or none");
    }
    typed->validate();
  }

 private:
  static const Opts& validated(const Opts& o) {
    o.validate();
    return o;
  }
};

}  // namespace descent
