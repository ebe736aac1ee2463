// The family table. Every registered optimizer must appear in exactly one
// family (tests/bench/families_test.cpp enforces it); names of optimizers not
// registered (yet) are harmless and skipped.
#include <descent/bench/families.h>

#include <descent/registry.h>

#include <ATen/ATen.h>

#include <cmath>
#include <map>

namespace descent::bench {

const std::vector<Family>& families() {
  static const std::vector<Family> table = {
      {"sgd", "SGD and heavy-ball momentum",
       {"sgd", "asgd", "qhm", "aggmo", "sgdp", "sgd_sai"}},
      {"adam", "Adam and its variants",
       {"adamw", "adam", "nadam", "radam", "adamax", "adabelief", "diffgrad", "exadam", "yogi", "adabound", "adamod",
        "qhadam", "adopt", "ademamix", "adamp", "adan"}},
      {"adagrad", "Per-coordinate accumulators (AdaGrad, RMSprop, AdaDelta, Rprop, MADGRAD)",
       {"rmsprop", "adagrad", "adadelta", "rprop", "madgrad"}},
      {"sign", "Sign-based updates (Lion, signSGD, Tiger)", {"lion", "lion_kappa", "signsgd", "tiger"}},
      {"layerwise", "Layer-wise trust ratios and normalised moments (LAMB, LARS, NovoGrad)",
       {"lamb", "lars", "novograd"}},
      {"schedule_free", "Schedule-free averaging", {"schedule_free_adamw", "schedule_free_sgd"}},
      {"parameter_free", "Parameter-free step sizes (Prodigy)", {"prodigy"}},
      {"factored", "Factored second moments (Adafactor, CAME)", {"adafactor", "came"}},
      {"wrapper", "Wrappers around another optimizer (Lookahead, SAM)", {"lookahead", "sam", "asam"}},
      {"curvature", "Curvature estimates (Sophia, AdaHessian, M-FAC)",
       {"sophia_g", "sophia_h", "adahessian", "mfac"}},
      {"matrix", "Matrix preconditioners and orthogonalised updates (Muon, Shampoo, SOAP, Kron, MKOR)",
       {"muon", "shampoo", "scalable_shampoo", "soap", "kron", "mkor"}},
      {"quantized", "Block-wise 8-bit optimizer states", {"adam8bit", "adamw8bit"}},
      {"low_rank", "Low-rank and subspace states (GaLore, FRUGAL)", {"galore_adamw", "frugal"}},
  };
  return table;
}

std::string family_of(const std::string& optimizer) {
  for (const auto& f : families())
    for (const auto& m : f.members)
      if (m == optimizer) return f.id;
  return "";
}

std::string family_title(const std::string& id) {
  for (const auto& f : families())
    if (f.id == id) return f.title;
  return "unclassified";
}

std::vector<std::string> unclassified_optimizers() {
  std::vector<std::string> out;
  for (const auto& n : Registry::instance().names())
    if (family_of(n).empty()) out.push_back(n);
  return out;
}

std::vector<std::string> family_representatives() {
  const auto& reg = Registry::instance();
  std::vector<std::string> out;
  for (const auto& f : families())
    for (const auto& m : f.members)
      if (reg.find(m) != nullptr) {
        out.push_back(m);
        break;
      }
  for (const auto& n : unclassified_optimizers()) out.push_back(n);
  return out;
}

double base_lr(const std::string& optimizer) {
  // Optimizers without a default lr (PyTorch's SGD requires one).
  static const std::map<std::string, double> overrides = {{"sgd", 0.05}, {"sgdp", 0.05}};
  const auto it = overrides.find(optimizer);
  if (it != overrides.end()) return it->second;
  try {
    std::vector<GroupSpec> groups(1);
    groups[0].params = {at::zeros({4, 4}).requires_grad_(true), at::zeros({4}).requires_grad_(true)};
    auto opt = Registry::instance().make(optimizer, std::move(groups));
    const double lr = opt->param_groups().at(0).options().get_lr();
    if (std::isfinite(lr) && lr > 0) return lr;
  } catch (const std::exception&) {
  }
  return 1e-2;
}

}  // namespace descent::bench
