#include <descent/registry.h>

#include <descent/optim/adadelta.h>
#include <descent/optim/adagrad.h>
#include <descent/optim/adam.h>
#include <descent/optim/adamax.h>
#include <descent/optim/asgd.h>
#include <descent/optim/nadam.h>
#include <descent/optim/radam.h>
#include <descent/optim/rmsprop.h>
#include <descent/optim/rprop.h>
#include <descent/optim/sgd.h>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace descent {

namespace {

const std::vector<std::string> kTorchFlags = {"foreach", "fused", "capturable", "differentiable"};
const std::string kTorch = "pytorch/pytorch v1.13 : torch/optim/";

void add_builtins(Registry& r) {
  r.add({"sgd", "Robbins & Monro 1951; momentum: Polyak 1964; Nesterov: Sutskever et al., ICML 2013",
         kTorch + "sgd.py (SGD)", 0, 0, "+4 with momentum", kTorchFlags},
        factory_of<SGD>());
  r.add({"adam", "Kingma & Ba, Adam: A Method for Stochastic Optimization, ICLR 2015; AMSGrad: Reddi et al., ICLR 2018",
         kTorch + "adam.py (Adam)", 8, 8, "+4 with amsgrad", kTorchFlags},
        factory_of<Adam>());
  r.add({"adamw", "Loshchilov & Hutter, Decoupled Weight Decay Regularization, ICLR 2019",
         kTorch + "adamw.py (AdamW)", 8, 8, "+4 with amsgrad", kTorchFlags},
        factory_of<AdamW>());
  r.add({"adagrad", "Duchi, Hazan & Singer, Adaptive Subgradient Methods for Online Learning and Stochastic "
         "Optimization, JMLR 2011",
         kTorch + "adagrad.py (Adagrad)", 4, 4, "", kTorchFlags},
        factory_of<Adagrad>());
  r.add({"rmsprop", "Hinton, Srivastava & Swersky, Neural Networks for Machine Learning, Lecture 6e, 2012; "
         "centered: Graves, Generating Sequences With Recurrent Neural Networks, arXiv:1308.0850, 2013",
         kTorch + "rmsprop.py (RMSprop)", 4, 4, "+4 with momentum > 0, +4 with centered", kTorchFlags},
        factory_of<RMSprop>());
  r.add({"adadelta", "Zeiler, ADADELTA: An Adaptive Learning Rate Method, arXiv:1212.5701, 2012",
         kTorch + "adadelta.py (Adadelta)", 8, 8, "", kTorchFlags},
        factory_of<Adadelta>());
  r.add({"adamax", "Kingma & Ba, Adam: A Method for Stochastic Optimization, ICLR 2015 (Section 7.1, AdaMax)",
         kTorch + "adamax.py (Adamax)", 8, 8, "", kTorchFlags},
        factory_of<Adamax>());
  r.add({"nadam", "Dozat, Incorporating Nesterov Momentum into Adam, ICLR 2016 Workshop",
         kTorch + "nadam.py (NAdam)", 8, 8, "plus one float32 scalar (mu_product) per tensor", kTorchFlags},
        factory_of<NAdam>());
  r.add({"radam", "Liu et al., On the Variance of the Adaptive Learning Rate and Beyond, ICLR 2020",
         kTorch + "radam.py (RAdam)", 8, 8, "", kTorchFlags},
        factory_of<RAdam>());
  r.add({"rprop", "Riedmiller & Braun, A Direct Adaptive Method for Faster Backpropagation Learning: "
         "The RPROP Algorithm, IEEE ICNN 1993",
         kTorch + "rprop.py (Rprop)", 8, 8, "", kTorchFlags},
        factory_of<Rprop>());
  r.add({"asgd", "Polyak & Juditsky, Acceleration of Stochastic Approximation by Averaging, "
         "SIAM J. Control Optim. 1992",
         kTorch + "asgd.py (ASGD)", 4, 4, "plus two float32 scalars (eta, mu) per tensor", kTorchFlags},
        factory_of<ASGD>());
}

}  // namespace

const Registry& Registry::instance() {
  static const Registry r = [] {
    Registry reg;
    add_builtins(reg);
    return reg;
  }();
  return r;
}

void Registry::add(OptimizerInfo info, Factory factory) {
  if (find(info.name) != nullptr) throw std::logic_error("descent: optimizer '" + info.name + "' registered twice");
  entries_.push_back({std::move(info), std::move(factory)});
}

const Registry::Entry* Registry::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.info.name == name) return &e;
  return nullptr;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.info.name);
  return out;
}

std::unique_ptr<Optimizer> Registry::make(const std::string& name, std::vector<GroupSpec> groups,
                                          const OptionMap& defaults) const {
  const Entry* e = find(name);
  if (e == nullptr) {
    std::string valid;
    for (const auto& n : names()) valid += (valid.empty() ? "" : ", ") + n;
    throw UnknownOptimizer("unknown optimizer '" + name + "'; registered optimizers: " + valid);
  }
  auto strip = [&](const OptionMap& m) {
    OptionMap out;
    for (const auto& [k, v] : m)
      if (std::find(e->info.ignored_options.begin(), e->info.ignored_options.end(), k) ==
          e->info.ignored_options.end())
        out.emplace(k, v);
    return out;
  };
  for (auto& g : groups) g.options = strip(g.options);
  return e->factory(std::move(groups), strip(defaults));
}

namespace {
OptionValue to_value(const std::string& key, const nlohmann::json& j) {
  OptionValue v;
  if (j.is_boolean()) {
    v.kind = OptionValue::Kind::boolean;
    v.boolean = j.get<bool>();
  } else if (j.is_number()) {
    v.kind = OptionValue::Kind::number;
    v.number = j.get<double>();
  } else if (j.is_string()) {
    v.kind = OptionValue::Kind::string;
    v.string = j.get<std::string>();
  } else if (j.is_array()) {
    v.kind = OptionValue::Kind::list;
    for (const auto& x : j) {
      if (!x.is_number()) throw OptionError("option '" + key + "': lists must hold numbers");
      v.list.push_back(x.get<double>());
    }
  } else if (j.is_null()) {
    // Python's None: only meaningful for the ignored implementation flags.
    v.kind = OptionValue::Kind::string;
    v.string = "None";
  } else {
    throw OptionError("option '" + key + "': unsupported JSON value " + j.dump());
  }
  return v;
}
}  // namespace

OptionMap parse_options(const std::string& json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const std::exception& e) {
    throw OptionError(std::string("options are not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw OptionError("options must be a JSON object");
  OptionMap out;
  for (auto it = j.begin(); it != j.end(); ++it) out.emplace(it.key(), to_value(it.key(), it.value()));
  return out;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<torch::Tensor> params,
                                          const std::string& json_options) {
  std::vector<GroupSpec> groups(1);
  groups[0].params = std::move(params);
  return Registry::instance().make(name, std::move(groups), parse_options(json_options));
}

}  // namespace descent
