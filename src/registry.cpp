#include <descent/registry.h>

#include "registry/builtin.h"


#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>

namespace descent {

const Registry& Registry::instance() {
  static const Registry r = [] {
    Registry reg;
    register_torch_optimizers(reg);
    register_adam_variants(reg);
    register_sign_momentum(reg);
    register_adaptive_lr(reg);
    register_factored_and_wrappers(reg);
    register_curvature_optimizers(reg);
    register_memory_efficient(reg);
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
      // Python's None inside a tuple (e.g. AdaFactor's betas = (None, 0.999)) is
      // read as NaN: every numeric range check refuses it unless the optimizer's
      // factory gives it a meaning first.
      if (x.is_null()) {
        v.list.push_back(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      if (!x.is_number()) throw OptionError("option '" + key + "': lists must hold numbers or null");
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
