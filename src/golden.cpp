#include <descent/curvature.h>
#include <descent/golden.h>
#include <descent/optim/hessian.h>
#include <descent/optim/projection.h>

#include <torch/csrc/autograd/variable.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace descent::golden {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw std::runtime_error(path + ": " + why);
}

std::vector<double> flat_numbers(const json& j, const std::string& path, const std::string& what) {
  if (!j.is_array()) bad(path, what + " is not a list");
  std::vector<double> out;
  out.reserve(j.size());
  for (const auto& x : j) {
    if (x.is_number()) {
      out.push_back(x.get<double>());
    } else if (x.is_string()) {  // "nan", "inf", "-inf" where JSON has no literal
      const auto s = x.get<std::string>();
      if (s == "nan" || s == "NaN") out.push_back(std::nan(""));
      else if (s == "inf" || s == "Infinity") out.push_back(INFINITY);
      else if (s == "-inf" || s == "-Infinity") out.push_back(-INFINITY);
      else bad(path, what + " holds the string '" + s + "'");
    } else {
      bad(path, what + " holds a non-number");
    }
  }
  return out;
}

OptionMap options_of(const json& j, const std::string& path) {
  if (!j.is_object()) bad(path, "options must be an object");
  return parse_options(j.dump());
}

at::ScalarType dtype_of(const std::string& s, const std::string& path) {
  if (s == "float64") return at::kDouble;
  if (s == "float32") return at::kFloat;
  if (s == "bfloat16") return at::kBFloat16;
  bad(path, "unsupported dtype '" + s + "' (float64, float32, bfloat16)");
}

torch::Tensor make_tensor(const std::vector<double>& values, const std::vector<std::int64_t>& shape,
                          at::ScalarType dtype) {
  auto t = at::empty({static_cast<std::int64_t>(values.size())}, at::kDouble);
  std::copy(values.begin(), values.end(), t.data_ptr<double>());
  return t.reshape(shape).to(dtype).contiguous();
}

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

// block_selection and projections (FRUGAL, GaLore): parsed into the case
// and no longer listed as unsupported.
void parse_selection_inputs(const json& j, Case& c) {
  const std::string& path = c.path;
  if (j.contains("block_selection")) {
    if (!j["block_selection"].is_array()) bad(path, "block_selection is not a list");
    for (const auto& e : j["block_selection"]) {
      BlockSelection b;
      b.step = e.at("step").get<std::int64_t>();
      if (e.contains("active")) b.active = e["active"].get<std::vector<std::string>>();
      if (e.contains("active_indices")) b.active_indices = e["active_indices"].get<std::vector<std::int64_t>>();
      c.block_selection.push_back(std::move(b));
    }
  }
  if (j.contains("projections")) {
    if (!j["projections"].is_array()) bad(path, "projections is not a list");
    for (const auto& e : j["projections"]) {
      Projection pr;
      pr.step = e.at("step").get<std::int64_t>();
      pr.param = e.at("param").get<std::string>();
      pr.type = e.at("type").get<std::string>();
      pr.shape = e.at("shape").get<std::vector<std::int64_t>>();
      pr.matrix = flat_numbers(e.at("matrix"), path, "a projection matrix");
      if (static_cast<std::int64_t>(pr.matrix.size()) != numel(pr.shape)) bad(path, "a projection does not match its shape");
      c.projections.push_back(std::move(pr));
    }
  }
  auto& u = c.unsupported;
  u.erase(std::remove_if(u.begin(), u.end(),
                         [](const std::string& k) { return k == "block_selection" || k == "projections"; }),
          u.end());
}

// Hands the case's recorded block choices and projector factors to an
// optimizer that takes them.
void install_selection_inputs(const Case& c, Optimizer& opt, const std::vector<torch::Tensor>& params,
                              at::ScalarType dtype) {
  auto name_of = [&](const torch::Tensor& t) -> std::string {
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i].is_same(t)) return c.params[i].name;
    return "";
  };
  if (!c.block_selection.empty()) {
    auto* s = dynamic_cast<SelectsBlocks*>(&opt);
    if (s == nullptr) bad(c.path, "optimizer '" + c.optimizer + "' takes no block_selection");
    s->set_block_selector([&c, name_of](std::int64_t step, std::size_t, const std::vector<torch::Tensor>& group,
                                        std::int64_t count) {
      for (const auto& b : c.block_selection) {
        if (b.step != step) continue;
        std::vector<std::int64_t> out;
        if (!b.active.empty()) {
          for (const auto& name : b.active)
            for (std::size_t i = 0; i < group.size(); ++i)
              if (name_of(group[i]) == name) out.push_back(static_cast<std::int64_t>(i));
          if (out.size() != b.active.size()) bad(c.path, "block_selection names a parameter outside the group");
        } else {
          out = b.active_indices;
        }
        return out;
      }
      bad(c.path, "no block_selection entry for the re-selection at step " + std::to_string(step));
    });
  }
  if (!c.projections.empty()) {
    auto* s = dynamic_cast<BuildsProjections*>(&opt);
    if (s == nullptr) bad(c.path, "optimizer '" + c.optimizer + "' takes no projections");
    s->set_projection_source([&c, name_of, dtype](std::int64_t step, const torch::Tensor& param,
                                                  const std::string& side, const torch::Tensor& computed) {
      const std::string name = name_of(param);
      for (const auto& pr : c.projections)
        if (pr.step == step && pr.param == name && pr.type == side) return make_tensor(pr.matrix, pr.shape, dtype);
      return computed;
    });
  }
}

}  // namespace

// ---- cases driven by an objective; probes (FORMAT.md) -----------------------------------
namespace {

void nested_into(const json& j, NestedTensor& t, std::size_t depth, const std::string& path, const std::string& what) {
  if (j.is_array()) {
    if (depth == t.shape.size()) t.shape.push_back(static_cast<std::int64_t>(j.size()));
    else if (t.shape[depth] != static_cast<std::int64_t>(j.size())) bad(path, what + " is not rectangular");
    for (const auto& e : j) nested_into(e, t, depth + 1, path, what);
    return;
  }
  if (depth != t.shape.size()) bad(path, what + " is not rectangular");
  auto v = flat_numbers(json::array({j}), path, what);
  t.values.push_back(v[0]);
}

NestedTensor nested_tensor(const json& j, const std::string& path, const std::string& what) {
  NestedTensor t;
  nested_into(j, t, 0, path, what);
  return t;
}

void drop_unsupported(Case& c, const std::string& key) {
  c.unsupported.erase(std::remove(c.unsupported.begin(), c.unsupported.end(), key), c.unsupported.end());
}

// The objective, and each step's batch, probes and loss.
void parse_objective_and_probes(const json& j, Case& c) {
  const std::string& path = c.path;
  if (j.contains("objective")) {
    const auto& o = j["objective"];
    Objective obj;
    obj.loss = o.value("loss", "");
    if (obj.loss != "cross_entropy" && obj.loss != "mse") bad(path, "objective loss '" + obj.loss + "' (cross_entropy or mse)");
    if (!o.contains("model") || !o["model"].is_array()) bad(path, "objective has no 'model' list");
    auto param_known = [&](const std::string& name) {
      for (const auto& p : c.params)
        if (p.name == name) return true;
      return false;
    };
    for (const auto& l : o["model"]) {
      Layer layer;
      layer.type = l.at("type").get<std::string>();
      if (layer.type == "linear" || layer.type == "conv2d") {
        layer.weight = l.at("weight").get<std::string>();
        if (l.contains("bias") && !l["bias"].is_null()) layer.bias = l["bias"].get<std::string>();
        if (!param_known(layer.weight) || (!layer.bias.empty() && !param_known(layer.bias)))
          bad(path, "the objective names a parameter the case does not list");
        layer.stride = l.value("stride", std::int64_t{1});
        layer.padding = l.value("padding", std::int64_t{0});
      } else if (layer.type != "tanh" && layer.type != "relu" && layer.type != "sigmoid" && layer.type != "flatten") {
        bad(path, "objective layer type '" + layer.type + "' (linear, conv2d, tanh, relu, sigmoid, flatten)");
      }
      obj.model.push_back(std::move(layer));
    }
    c.objective = std::move(obj);
    drop_unsupported(c, "objective");
  }
  const auto& steps = j["steps"];
  for (std::size_t i = 0; i < steps.size() && i < c.steps.size(); ++i) {
    const auto& s = steps[i];
    Step& st = c.steps[i];
    if (s.contains("probes")) {
      if (s["probes"].size() != c.params.size()) bad(path, "a step's probes do not list every parameter");
      for (std::size_t k = 0; k < c.params.size(); ++k) {
        auto v = flat_numbers(s["probes"][k], path, "probes");
        if (static_cast<std::int64_t>(v.size()) != numel(c.params[k].shape)) bad(path, "a probe does not match its parameter's shape");
        st.probes.push_back(std::move(v));
      }
    }
    if (s.contains("loss") && s["loss"].is_number()) st.loss = s["loss"].get<double>();
    if (s.contains("batch")) {
      Batch b;
      b.x = nested_tensor(s["batch"].at("x"), path, "batch x");
      b.y = nested_tensor(s["batch"].at("y"), path, "batch y");
      st.batch = std::move(b);
    }
    if (c.objective && !st.batch) bad(path, "a step of an objective case has no batch");
  }
  drop_unsupported(c, "probes");
}

// Parameter indices in the order of the param groups (the order optimizers
// take per-parameter inputs in).
std::vector<std::size_t> group_order(const Case& c) {
  std::vector<std::size_t> order;
  if (c.groups.empty()) {
    for (std::size_t i = 0; i < c.params.size(); ++i) order.push_back(i);
    return order;
  }
  for (const auto& g : c.groups)
    for (const auto& name : g.params)
      for (std::size_t i = 0; i < c.params.size(); ++i)
        if (c.params[i].name == name) order.push_back(i);
  return order;
}

std::vector<torch::Tensor> per_param_inputs(const Case& c, const std::vector<std::vector<double>>& lists,
                                            at::ScalarType dtype) {
  std::vector<torch::Tensor> out;
  for (std::size_t i : group_order(c)) out.push_back(make_tensor(lists[i], c.params[i].shape, dtype));
  return out;
}

void feed_probes(const Case& c, Optimizer* opt, const Step& st, at::ScalarType dtype) {
  if (st.probes.empty()) return;
  auto* taker = dynamic_cast<TakesProbes*>(opt);
  if (taker == nullptr) bad(c.path, "optimizer '" + c.optimizer + "' takes no probes");
  taker->set_probes(per_param_inputs(c, st.probes, dtype));
}

std::unique_ptr<Optimizer> make_case_optimizer(const Case& c, const std::vector<torch::Tensor>& params) {
  std::vector<GroupSpec> groups;
  if (c.groups.empty()) {
    groups.push_back({params, {}});
  } else {
    for (const auto& g : c.groups) {
      GroupSpec spec;
      for (const auto& name : g.params)
        for (std::size_t i = 0; i < c.params.size(); ++i)
          if (c.params[i].name == name) spec.params.push_back(params[i]);
      spec.options = g.options;
      groups.push_back(std::move(spec));
    }
  }
  return Registry::instance().make(c.optimizer, std::move(groups), c.options);
}

// Replays a case driven by an objective: per step, the optimizer's closure (or,
// for optimizers that take none, the same evaluation before step()) clears the
// gradients, evaluates the model on the step's batch and backpropagates the
// loss, with create_graph where the optimizer takes Hessian-vector products.
Trajectory replay_objective(const Case& c) {
  const at::ScalarType dtype = dtype_of(c.dtype, c.path);
  std::vector<torch::Tensor> params;
  for (const auto& p : c.params) params.push_back(make_tensor(p.init, p.shape, dtype).set_requires_grad(true));
  auto param = [&](const std::string& name) -> const torch::Tensor& {
    for (std::size_t i = 0; i < c.params.size(); ++i)
      if (c.params[i].name == name) return params[i];
    bad(c.path, "unknown parameter '" + name + "'");
  };
  auto opt = make_case_optimizer(c, params);
  const OptimizerInfo& info = Registry::instance().find(c.optimizer)->info;
  const Objective& obj = *c.objective;
  auto forward = [&](torch::Tensor x) {
    for (const auto& l : obj.model) {
      const torch::Tensor none;
      if (l.type == "linear") x = at::linear(x, param(l.weight), l.bias.empty() ? none : param(l.bias));
      else if (l.type == "conv2d") x = at::conv2d(x, param(l.weight), l.bias.empty() ? none : param(l.bias), {l.stride}, {l.padding});
      else if (l.type == "tanh") x = at::tanh(x);
      else if (l.type == "relu") x = at::relu(x);
      else if (l.type == "sigmoid") x = at::sigmoid(x);
      else if (l.type == "flatten") x = x.flatten(1);
    }
    return x;
  };
  UsesHessianDiagonal* hessian_user = dynamic_cast<UsesHessianDiagonal*>(opt.get());
  Trajectory t;
  t.optimizer = c.optimizer;
  for (const auto& st : c.steps) {
    const Batch& b = *st.batch;
    const torch::Tensor x = make_tensor(b.x.values, b.x.shape, dtype);
    const torch::Tensor y = obj.loss == "cross_entropy" ? make_tensor(b.y.values, b.y.shape, at::kDouble).to(at::kLong)
                                                         : make_tensor(b.y.values, b.y.shape, dtype);
    // Probes go to an optimizer that draws them itself; for one refreshed after
    // its step (Sophia-H's update_hessian), replay computes z ⊙ (H z) with
    // them, on the step's batch at the updated parameters, as the harness did.
    const bool estimate_after = !st.probes.empty() && dynamic_cast<TakesProbes*>(opt.get()) == nullptr &&
                                hessian_user != nullptr && c.hessian_applied == "after_step" && st.hessian.empty();
    if (!estimate_after) feed_probes(c, opt.get(), st, dtype);
    if (!st.hessian.empty()) {
      if (hessian_user == nullptr) bad(c.path, "optimizer '" + c.optimizer + "' takes no Hessian input");
      if (c.hessian_applied != "after_step") hessian_user->set_hessian(per_param_inputs(c, st.hessian, dtype));
    }
    if (st.lr)
      for (auto& g : opt->param_groups()) g.options().set_lr(*st.lr);
    auto loss_on_batch = [&]() -> torch::Tensor {
      const auto out = forward(x);
      return obj.loss == "cross_entropy" ? at::cross_entropy_loss(out, y) : at::mse_loss(out, y);
    };
    auto closure = [&]() -> torch::Tensor {
      for (auto& p : params) p.mutable_grad() = torch::Tensor();  // zero_grad(set_to_none=True)
      auto loss = loss_on_batch();
      if (info.needs_graph) {
        // backward(create_graph=True), without the parameter-gradient reference cycle
        const auto g = curvature::gradients_with_graph(loss, params);
        for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = g[i];
      } else {
        loss.backward();
      }
      return loss;
    };
    if (info.needs_closure) {
      opt->step(closure);
    } else {
      {
        at::AutoGradMode grad(true);
        closure();
      }
      opt->step();
    }
    if (!st.hessian.empty() && c.hessian_applied == "after_step") hessian_user->update_hessian(per_param_inputs(c, st.hessian, dtype));
    if (estimate_after) {
      std::vector<torch::Tensor> ordered;
      for (std::size_t i : group_order(c)) ordered.push_back(params[i]);
      const std::vector<std::vector<torch::Tensor>> probes{per_param_inputs(c, st.probes, dtype)};
      hessian_user->update_hessian(curvature::hutchinson_diagonal(loss_on_batch, ordered, probes));
    }
    std::vector<std::vector<double>> after;
    for (const auto& p : params) {
      auto d = p.detach().to(at::kDouble).contiguous().reshape({-1});
      after.emplace_back(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
    }
    t.steps.push_back(std::move(after));
  }
  return t;
}

}  // namespace

Case parse_case(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    bad(path, std::string("not valid JSON: ") + e.what());
  }
  Case c;
  c.path = path;
  if (!j.is_object() || !j.contains("optimizer")) bad(path, "not a golden case (no 'optimizer')");
  c.optimizer = j.at("optimizer").get<std::string>();
  c.variant = j.value("variant", "");
  c.dtype = j.value("dtype", "float64");
  dtype_of(c.dtype, path);
  c.options = options_of(j.value("options", json::object()), path);
  if (!j.contains("params") || !j["params"].is_array()) bad(path, "no 'params' list");
  for (const auto& p : j["params"]) {
    ParamSpec s;
    s.name = p.at("name").get<std::string>();
    s.shape = p.at("shape").get<std::vector<std::int64_t>>();
    s.init = flat_numbers(p.at("init"), path, "init of " + s.name);
    if (static_cast<std::int64_t>(s.init.size()) != numel(s.shape)) bad(path, "init of " + s.name + " does not match its shape");
    c.params.push_back(std::move(s));
  }
  if (j.contains("tolerance")) {
    c.rtol = j["tolerance"].value("rtol", 0.0);
    c.atol = j["tolerance"].value("atol", 0.0);
  }
  c.hessian_applied = j.value("hessian_applied", "");
  if (j.contains("param_groups")) {
    for (const auto& g : j["param_groups"]) {
      Group grp;
      for (auto it = g.begin(); it != g.end(); ++it) {
        if (it.key() == "params") grp.params = it.value().get<std::vector<std::string>>();
        else grp.options.emplace(it.key(), parse_options(json{{it.key(), it.value()}}.dump()).begin()->second);
      }
      c.groups.push_back(std::move(grp));
    }
  }
  for (const char* key : {"objective", "block_selection", "projections"})
    if (j.contains(key)) c.unsupported.emplace_back(key);
  if (!j.contains("steps") || !j["steps"].is_array()) bad(path, "no 'steps' list");
  const std::size_t np = c.params.size();
  for (const auto& s : j["steps"]) {
    Step st;
    if (s.contains("grads")) {
      if (s["grads"].size() != np) bad(path, "a step has the wrong number of gradients");
      for (std::size_t i = 0; i < np; ++i) {
        const auto& g = s["grads"][i];
        if (g.is_null()) {
          st.grads.emplace_back(std::nullopt);
        } else {
          auto v = flat_numbers(g, path, "grads");
          if (static_cast<std::int64_t>(v.size()) != numel(c.params[i].shape)) bad(path, "a gradient does not match its parameter's shape");
          st.grads.emplace_back(std::move(v));
        }
      }
    }
    if (s.contains("expected"))
      for (const auto& e : s["expected"]) st.expected.push_back(flat_numbers(e, path, "expected"));
    if (s.contains("hessian"))
      for (const auto& h : s["hessian"]) st.hessian.push_back(flat_numbers(h, path, "hessian"));
    if (s.contains("lr") && !s["lr"].is_null()) st.lr = s["lr"].get<double>();
    if (s.contains("probes") && std::find(c.unsupported.begin(), c.unsupported.end(), "probes") == c.unsupported.end())
      c.unsupported.emplace_back("probes");
    c.steps.push_back(std::move(st));
  }
  parse_objective_and_probes(j, c);
  parse_selection_inputs(j, c);
  return c;
}

Case load_case(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_case(ss.str(), path);
}

Trajectory replay(const Case& c) {
  if (!c.unsupported.empty()) {
    std::string what;
    for (const auto& u : c.unsupported) what += (what.empty() ? "" : ", ") + u;
    throw std::runtime_error(c.path + ": replay cannot feed this case's " + what + " yet");
  }
  if (c.objective) return replay_objective(c);
  const at::ScalarType dtype = dtype_of(c.dtype, c.path);
  std::vector<torch::Tensor> params;
  for (const auto& p : c.params) params.push_back(make_tensor(p.init, p.shape, dtype).set_requires_grad(true));

  std::vector<GroupSpec> groups;
  if (c.groups.empty()) {
    groups.push_back({params, {}});
  } else {
    std::vector<bool> used(params.size(), false);
    for (const auto& g : c.groups) {
      GroupSpec spec;
      for (const auto& name : g.params) {
        std::size_t i = 0;
        while (i < c.params.size() && c.params[i].name != name) ++i;
        if (i == c.params.size()) bad(c.path, "param_groups names an unknown parameter '" + name + "'");
        if (used[i]) bad(c.path, "parameter '" + name + "' is in two param groups");
        used[i] = true;
        spec.params.push_back(params[i]);
      }
      spec.options = g.options;
      groups.push_back(std::move(spec));
    }
  }
  auto opt = Registry::instance().make(c.optimizer, std::move(groups), c.options);
  install_selection_inputs(c, *opt, params, dtype);

  auto* hessian_user = dynamic_cast<UsesHessianDiagonal*>(opt.get());
  const bool after_step = c.hessian_applied == "after_step";
  auto hessian_of = [&](const Step& st) {
    if (hessian_user == nullptr) bad(c.path, "optimizer '" + c.optimizer + "' takes no Hessian input");
    if (st.hessian.size() != params.size()) bad(c.path, "a step's hessian does not list every parameter");
    return per_param_inputs(c, st.hessian, dtype);  // in the order of the param groups
  };

  Trajectory t;
  t.optimizer = c.optimizer;
  for (const auto& st : c.steps) {
    if (st.grads.size() != params.size()) bad(c.path, "a step has no gradients");
    if (!st.hessian.empty() && !after_step) {
      auto h = hessian_of(st);  // throws if the optimizer takes no Hessian
      hessian_user->set_hessian(h);
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (st.grads[i]) params[i].mutable_grad() = make_tensor(*st.grads[i], c.params[i].shape, dtype);
      else params[i].mutable_grad() = torch::Tensor();
    }
    if (st.lr)
      for (auto& g : opt->param_groups()) g.options().set_lr(*st.lr);
    feed_probes(c, opt.get(), st, dtype);
    opt->step();
    if (!st.hessian.empty() && after_step) {
      auto h = hessian_of(st);
      hessian_user->update_hessian(h);
    }
    std::vector<std::vector<double>> after;
    for (const auto& p : params) {
      auto d = p.detach().to(at::kDouble).contiguous().reshape({-1});
      after.emplace_back(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
    }
    t.steps.push_back(std::move(after));
  }
  return t;
}

std::string to_json(const Trajectory& t) {
  json steps = json::array();
  for (const auto& s : t.steps) {
    json ps = json::array();
    for (const auto& p : s) {
      json values = json::array();
      for (double x : p) {
        if (std::isnan(x)) values.push_back("nan");
        else if (std::isinf(x)) values.push_back(x > 0 ? "inf" : "-inf");
        else values.push_back(x);  // nlohmann prints the shortest form that round-trips
      }
      ps.push_back(std::move(values));
    }
    steps.push_back(json{{"params", std::move(ps)}});
  }
  json out{{"format", "descent-replay/1"}, {"optimizer", t.optimizer}, {"steps", std::move(steps)}};
  return out.dump();
}

Comparison compare(const Case& c, const Trajectory& t) {
  Comparison r;
  auto fail = [&](std::size_t step, const std::string& why) {
    if (r.passed) {
      r.passed = false;
      r.first_failing_step = static_cast<std::int64_t>(step + 1);
      r.detail = "step " + std::to_string(step + 1) + ": " + why;
    }
  };
  if (t.steps.size() != c.steps.size()) fail(0, "replay has " + std::to_string(t.steps.size()) + " steps");
  for (std::size_t s = 0; s < std::min(t.steps.size(), c.steps.size()); ++s) {
    const auto& exp = c.steps[s].expected;
    const auto& got = t.steps[s];
    if (exp.size() != got.size()) {
      fail(s, "parameter count differs");
      continue;
    }
    for (std::size_t i = 0; i < exp.size(); ++i) {
      if (exp[i].size() != got[i].size()) {
        fail(s, "parameter " + c.params[i].name + " has the wrong size");
        continue;
      }
      for (std::size_t k = 0; k < exp[i].size(); ++k) {
        const double e = exp[i][k], g = got[i][k];
        if (std::isnan(e) || std::isnan(g)) {
          if (std::isnan(e) != std::isnan(g)) fail(s, c.params[i].name + "[" + std::to_string(k) + "] NaN mismatch");
          continue;
        }
        if (std::isinf(e) || std::isinf(g)) {
          if (e != g) fail(s, c.params[i].name + "[" + std::to_string(k) + "] infinity mismatch");
          continue;
        }
        const double err = std::abs(g - e);
        r.max_abs_err = std::max(r.max_abs_err, err);
        if (e != 0) r.max_rel_err = std::max(r.max_rel_err, err / std::abs(e));
        if (err > c.atol + c.rtol * std::abs(e)) {
          std::ostringstream os;
          os.precision(17);
          os << c.params[i].name << "[" << k << "] = " << g << ", expected " << e;
          fail(s, os.str());
        }
      }
    }
  }
  return r;
}

}  // namespace descent::golden
