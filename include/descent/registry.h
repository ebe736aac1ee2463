// descent/registry.h: every optimizer by its canonical name.
//
// The CLI, the golden replay and the benchmark construct optimizers through
// the registry; so can users, from a name and a JSON string of options under
// the reference implementation's option names:
//
//     auto opt = descent::make_optimizer("adamw", model->parameters(),
//                                        R"({"lr": 3e-4, "weight_decay": 0.1})");
#pragma once

#include <descent/optim/optimizer.h>

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace descent {

// What `descent list` prints about an optimizer.
// Every field has a default member initialiser, so registry entries may stop
// after the fields they need (GCC's -Wmissing-field-initializers accepts that).
struct OptimizerInfo {
  std::string name;          // canonical lower_snake_case name, as in the golden files
  std::string paper;         // citation
  std::string reference;     // the implementation descent reproduces (repo @ commit : path)
  double state_bytes = 0;    // descent's persistent state, bytes per float32 parameter (default options)
  double reference_state_bytes = 0;  // the reference's, likewise
  std::string state_note{};  // how options change it, e.g. "+4 with amsgrad"
  // Reference options that select an implementation without changing the
  // numbers (PyTorch's foreach, fused, capturable, differentiable): accepted
  // and ignored.
  std::vector<std::string> ignored_options{};
  // What a training loop must provide (the benchmark and examples read these):
  // needs_closure: step() must be given a closure that re-evaluates the loss
  //   (SAM-like methods, curvature methods estimating their own Hessian);
  // needs_graph: that closure's backward must use create_graph=true (the
  //   optimizer takes Hessian-vector products through the gradients).
  bool needs_closure = false;
  bool needs_graph = false;
  // Optimizers that refresh a Hessian-diagonal estimate from an estimator the
  // training loop installs (UsesHessianDiagonal::set_estimator, built by
  // descent/curvature.h): "gnb" (curvature::gnb_estimator, from a closure
  // returning logits) or "hutchinson" (curvature::hutchinson_estimator, from a
  // loss closure); empty for the others. Without one such an optimizer runs on
  // the estimates it is handed (update_hessian), or none.
  std::string hessian_estimator{};
};

using OptionMap = std::map<std::string, OptionValue>;

// One parameter group: its tensors and the options that override the defaults.
struct GroupSpec {
  std::vector<torch::Tensor> params;
  OptionMap options;
};

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<GroupSpec> groups, const OptionMap& defaults)>;

class UnknownOptimizer : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class Registry {
 public:
  struct Entry {
    OptimizerInfo info;
    Factory factory;
  };

  // The registry with every built-in optimizer.
  static const Registry& instance();

  void add(OptimizerInfo info, Factory factory);
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  std::vector<std::string> names() const;

  // Builds an optimizer; throws UnknownOptimizer (listing the valid names) or
  // OptionError (naming the bad option).
  std::unique_ptr<Optimizer> make(const std::string& name, std::vector<GroupSpec> groups,
                                  const OptionMap& defaults = {}) const;

 private:
  std::vector<Entry> entries_;
};

// Parses a JSON object of options ({"lr": 0.1, "betas": [0.9, 0.99]}).
OptionMap parse_options(const std::string& json);

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<torch::Tensor> params,
                                          const std::string& json_options = "{}");

// The factory of an optimizer class whose Options list their fields: defaults
// first, then each group's overrides, each validated as a whole.
template <class Opt>
Factory factory_of() {
  return [](std::vector<GroupSpec> groups, const OptionMap& defaults) -> std::unique_ptr<Optimizer> {
    using O = typename Opt::Options;
    O base;
    for (const auto& [k, v] : defaults) base.set(k, v, /*consistent=*/false);
    base.validate();
    std::vector<torch::optim::OptimizerParamGroup> pg;
    for (auto& g : groups) {
      O o = base;
      for (const auto& [k, v] : g.options) o.set(k, v, false);
      o.validate();
      pg.emplace_back(std::move(g.params), std::make_unique<O>(o));
    }
    return std::make_unique<Opt>(std::move(pg), base);
  };
}

}  // namespace descent
