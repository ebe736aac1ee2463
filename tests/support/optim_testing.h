// tests/support/optim_testing.h: helpers shared by the optimizer sweeps.
//
// The sweeps run over every optimizer in descent::Registry, built through the
// registry, so an optimizer added there is tested without touching the tests.
#pragma once

#include <descent/optim/hessian.h>
#include <descent/optim/launch_batch.h>
#include <descent/optim/optimizer.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace dtest {

using descent::GroupSpec;
using descent::OptionMap;
using descent::OptionValue;
using descent::Optimizer;

inline OptionValue num(double x) {
  OptionValue v;
  v.kind = OptionValue::Kind::number;
  v.number = x;
  return v;
}

inline OptionValue flag(bool b) {
  OptionValue v;
  v.kind = OptionValue::Kind::boolean;
  v.boolean = b;
  return v;
}

inline OptionValue text(const std::string& s) {
  OptionValue v;
  v.kind = OptionValue::Kind::string;
  v.string = s;
  return v;
}

inline OptionValue list(std::vector<double> xs) {
  OptionValue v;
  v.kind = OptionValue::Kind::list;
  v.list = std::move(xs);
  return v;
}

inline OptionMap lr_only(double lr = 0.01) { return {{"lr", num(lr)}}; }

inline std::vector<std::string> optimizer_names() { return descent::Registry::instance().names(); }

// For INSTANTIATE_TEST_SUITE_P: the optimizer's name as the test's name.
struct NameOfParam {
  std::string operator()(const ::testing::TestParamInfo<std::string>& info) const { return info.param; }
};

// Options the sweeps give an optimizer unless a test sets them, where its
// defaults do not suit the sweeps' problem sizes (each says why).
inline const std::map<std::string, OptionMap>& sweep_options() {
  static const std::map<std::string, OptionMap> m = {
      // The default window of 1024 gradients over the sweeps' 1M-element
      // tensors would be 4 GB (8 GB in float64) per optimizer.
      {"mfac", {{"ngrads", num(8)}}},
  };
  return m;
}

// A Hessian-diagonal estimate for optimizers that need one every step
// (AdaHessian: its reference probes the graph of gradients from
// backward(create_graph=true), which the sweeps' plain gradients lack):
// out = g² + 1/4, written in place (no allocation for contiguous tensors).
inline void synthetic_hessian(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& out) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& g = params[i].grad();
    const torch::Tensor& o = out[i];
    const bool bf16_into_float = g.scalar_type() == at::kBFloat16 && o.scalar_type() == at::kFloat;
    if (!g.is_contiguous() || !o.is_contiguous() || (g.scalar_type() != o.scalar_type() && !bf16_into_float)) {
      const auto gs = g.to(o.scalar_type());  // the same arithmetic as the loops below
      o.copy_(gs * gs + 0.25);
      continue;
    }
    if (bf16_into_float) {
      const c10::BFloat16* gp = g.data_ptr<c10::BFloat16>();
      float* op = o.data_ptr<float>();
      for (std::int64_t k = 0; k < o.numel(); ++k) op[k] = static_cast<float>(gp[k]) * static_cast<float>(gp[k]) + 0.25f;
      continue;
    }
    AT_DISPATCH_FLOATING_TYPES(o.scalar_type(), "synthetic_hessian", [&] {
      const scalar_t* gp = g.data_ptr<scalar_t>();
      scalar_t* op = o.data_ptr<scalar_t>();
      for (std::int64_t k = 0; k < o.numel(); ++k) op[k] = gp[k] * gp[k] + scalar_t(0.25);
    });
  }
}

inline std::unique_ptr<Optimizer> with_sweep_setup(const std::string& name, std::unique_ptr<Optimizer> opt) {
  const auto* entry = descent::Registry::instance().find(name);
  if (entry != nullptr && entry->info.needs_graph)
    if (auto* h = dynamic_cast<descent::UsesHessianDiagonal*>(opt.get())) h->set_estimator(synthetic_hessian);
  return opt;
}

inline OptionMap with_sweep_options(const std::string& name, OptionMap defaults) {
  auto it = sweep_options().find(name);
  if (it != sweep_options().end())
    for (const auto& [k, v] : it->second) defaults.emplace(k, v);  // a test's own value wins
  return defaults;
}

inline std::unique_ptr<Optimizer> make(const std::string& name, std::vector<torch::Tensor> params,
                                       const OptionMap& defaults = lr_only()) {
  std::vector<GroupSpec> groups(1);
  groups[0].params = std::move(params);
  return with_sweep_setup(name, descent::Registry::instance().make(name, std::move(groups),
                                                                   with_sweep_options(name, defaults)));
}

inline std::unique_ptr<Optimizer> make_groups(const std::string& name, std::vector<GroupSpec> groups,
                                              const OptionMap& defaults = lr_only()) {
  return with_sweep_setup(name, descent::Registry::instance().make(name, std::move(groups),
                                                                   with_sweep_options(name, defaults)));
}

// Option sets that switch on state-bearing features where an optimizer has
// them (momentum buffers, amsgrad maxima, ...). Each is tried on every
// optimizer and kept only where the optimizer accepts it.
inline std::vector<std::pair<std::string, OptionMap>> candidate_variants() {
  auto with = [](std::vector<std::pair<std::string, OptionValue>> extra) {
    OptionMap m = lr_only();
    for (auto& [k, v] : extra) m[k] = v;
    return m;
  };
  return {
      {"default", lr_only()},
      {"momentum", with({{"momentum", num(0.9)}})},
      {"nesterov", with({{"momentum", num(0.9)}, {"nesterov", flag(true)}})},
      {"amsgrad", with({{"amsgrad", flag(true)}})},
      {"centered", with({{"centered", flag(true)}, {"momentum", num(0.5)}})},
      {"weight_decay", with({{"weight_decay", num(0.1)}})},
      {"maximize", with({{"maximize", flag(true)}})},
      // 8-bit block-wise state (state_dtype = "int8", optim/quantized_state.h),
      // small blocks so that the test tensors span several.
      {"int8", with({{"state_dtype", text("int8")}, {"min_8bit_size", num(0)}, {"blocksize", num(8)}})},
      {"int8_momentum", with({{"state_dtype", text("int8")}, {"min_8bit_size", num(0)}, {"blocksize", num(8)},
                              {"momentum", num(0.9)}})},
      {"int8_amsgrad", with({{"state_dtype", text("int8")}, {"min_8bit_size", num(0)}, {"blocksize", num(8)},
                             {"amsgrad", flag(true)}})},
  };
}

// The variants `name` accepts (always at least "default").
inline std::vector<std::pair<std::string, OptionMap>> variants_for(const std::string& name) {
  std::vector<std::pair<std::string, OptionMap>> out;
  for (auto& [label, opts] : candidate_variants()) {
    try {
      make(name, {at::zeros({2})}, opts);
    } catch (const descent::OptionError&) {
      continue;
    }
    out.emplace_back(label, opts);
  }
  return out;
}

// Optimizers whose reference couples its param groups, so that a group does
// not behave like a single-group optimizer with that group's options. Each
// entry says why; the per-group tests skip these (and say so).
inline const std::map<std::string, std::string>& coupled_groups() {
  static const std::map<std::string, std::string> m = {
      {"prodigy",
       "one step size d for all groups, with d_lr from the first group's lr "
       "(kozistr/pytorch_optimizer Prodigy.step: group = self.param_groups[0])"},
      {"mfac",
       "one preconditioner over every parameter of every group: each group's update depends on all "
       "gradients (IST-DASLab/M-FAC MFAC.step: one window over the concatenated gradients)"},
  };
  return m;
}

// Optimizers that rearrange a flat parameter list into param groups of their
// own, so that group indices, a parameter's index within its group and the
// options a group's parameters follow differ from the list given.
inline const std::map<std::string, std::string>& regrouped_params() {
  static const std::map<std::string, std::string> m = {
      {"muon",
       "a group without use_muon is split by rank into a Muon group (matrices, conv kernels; the group's lr) "
       "and an AdamW group (other tensors; adamw_lr), as users run Muon beside AdamW"},
  };
  return m;
}

// Optimizers whose reference steps a parameter that has no gradient, as if its
// gradient were zero: such a parameter gets state, and may move (decay).
inline const std::map<std::string, std::string>& steps_without_gradient() {
  static const std::map<std::string, std::string> m = {
      {"muon", "SingleDeviceMuon[WithAuxAdam].step sets p.grad = zeros_like(p) for a parameter without one"},
  };
  return m;
}

// Optimizers that keep float32 state for every parameter dtype, as their
// reference does (bitsandbytes: float32 or 8-bit state, float32 arithmetic).
inline const std::map<std::string, std::string>& float32_state_reasons() {
  static const std::map<std::string, std::string> m = {
      {"adam8bit", "bitsandbytes keeps float32 (or 8-bit) state and computes in float32 for every dtype"},
      {"adamw8bit", "bitsandbytes keeps float32 (or 8-bit) state and computes in float32 for every dtype"},
  };
  return m;
}
inline std::set<std::string> float32_state() {
  std::set<std::string> s;
  for (const auto& [k, v] : float32_state_reasons()) s.insert(k);
  return s;
}

// The first option variant that keeps state beyond the default (momentum,
// amsgrad, ...), else the default.
inline std::pair<std::string, OptionMap> stateful_variant(const std::string& name) {
  auto vs = variants_for(name);
  for (const auto& v : vs)
    if (v.first == "momentum" || v.first == "amsgrad" || v.first == "centered") return v;
  return vs.front();
}

// ---- tensors -------------------------------------------------------------------------

// Restores LibTorch's intra-op thread count when a test ends.
struct ThreadsGuard {
  int saved = at::get_num_threads();
  ~ThreadsGuard() { at::set_num_threads(saved); }
};

// Switches the multi-tensor scheduler back on (the default) when a test ends.
struct BatchingGuard {
  ~BatchingGuard() { descent::set_launch_batching(true); }
};

inline std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

// Bit-for-bit equality: same dtype, shape and bytes (NaNs compare by bits).
inline bool bit_equal(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || !a.sizes().equals(b.sizes())) return false;
  if (a.device() != b.device()) return false;
  if (a.is_meta()) return true;  // no data to compare
  auto ac = a.contiguous();
  auto bc = b.contiguous();
  const auto n = static_cast<std::size_t>(ac.numel()) * ac.element_size();
  return n == 0 || std::memcmp(ac.data_ptr(), bc.data_ptr(), n) == 0;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// Sets every parameter's gradient (a copy of grads[i]; undefined = no gradient).
inline void set_grads(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (grads[i].defined())
      params[i].mutable_grad() = grads[i].detach().clone();
    else
      params[i].mutable_grad() = torch::Tensor();
  }
}

// Gradients for `steps` steps, drawn from a fixed seed, shaped like `params`.
inline std::vector<std::vector<torch::Tensor>> random_grads(const std::vector<torch::Tensor>& params, int steps,
                                                           std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::vector<torch::Tensor>> out(steps);
  for (int s = 0; s < steps; ++s)
    for (const auto& p : params)
      out[s].push_back(at::randn(p.sizes(), gen, at::TensorOptions().dtype(at::kDouble)).to(p.scalar_type()));
  return out;
}

inline std::vector<torch::Tensor> random_params(const std::vector<std::vector<std::int64_t>>& shapes,
                                                at::ScalarType dtype, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<torch::Tensor> out;
  for (const auto& s : shapes) out.push_back(at::randn(s, gen, at::TensorOptions().dtype(at::kDouble)).to(dtype));
  return out;
}

// ---- snapshots of an optimizer -----------------------------------------------------------

inline std::string options_bytes(const torch::optim::OptimizerOptions& o) {
  torch::serialize::OutputArchive a;
  o.serialize(a);
  std::ostringstream s;
  a.save_to(s);
  return s.str();
}

inline std::string checkpoint_bytes(const Optimizer& opt) {
  std::ostringstream s;
  torch::save(opt, s);
  return s.str();
}

struct ParamSnap {
  bool has_state = false;
  std::int64_t step = 0;
  std::vector<torch::Tensor> buffers;
  std::vector<double> scalars;
};

struct Snapshot {
  std::vector<torch::Tensor> params;
  std::vector<ParamSnap> states;
  std::vector<double> lrs;
  std::vector<std::string> options;
  std::vector<bool> has_group_state;
  std::vector<std::int64_t> group_steps;
  std::vector<std::vector<double>> group_scalars;
  std::size_t state_map_size = 0;
};

inline Snapshot snapshot(const Optimizer& opt) {
  Snapshot s;
  for (std::size_t gi = 0; gi < opt.param_groups().size(); ++gi) {
    const auto& g = opt.param_groups()[gi];
    s.lrs.push_back(g.options().get_lr());
    s.options.push_back(options_bytes(g.options()));
    try {
      const auto& gs = opt.group_state(gi);
      s.has_group_state.push_back(true);
      s.group_steps.push_back(gs.step);
      s.group_scalars.push_back(gs.scalars);
    } catch (const std::out_of_range&) {
      s.has_group_state.push_back(false);
      s.group_steps.push_back(-1);
      s.group_scalars.emplace_back();
    }
    for (const auto& p : g.params()) {
      s.params.push_back(p.detach().clone());
      ParamSnap ps;
      if (const descent::ParamState* st = opt.state_of(p)) {
        ps.has_state = true;
        ps.step = st->step;
        for (const auto& b : st->buffers) ps.buffers.push_back(b.defined() ? b.detach().clone() : torch::Tensor());
        ps.scalars = st->scalars;
      }
      s.states.push_back(std::move(ps));
    }
  }
  s.state_map_size = opt.state().size();
  return s;
}

// Equal bit for bit (parameters only when `with_params`).
inline ::testing::AssertionResult same(const Snapshot& a, const Snapshot& b, bool with_params = true) {
  auto fail = [] { return ::testing::AssertionFailure(); };
  if (a.params.size() != b.params.size()) return fail() << "parameter counts differ";
  if (a.lrs != b.lrs) return fail() << "learning rates differ";
  for (std::size_t i = 0; i < a.options.size(); ++i)
    if (a.options[i] != b.options[i]) return fail() << "options of group " << i << " differ";
  if (a.has_group_state != b.has_group_state) return fail() << "group states exist in one, not the other";
  if (a.group_steps != b.group_steps) return fail() << "group step counts differ";
  if (a.group_scalars != b.group_scalars) return fail() << "group scalars differ";
  if (a.state_map_size != b.state_map_size)
    return fail() << "state() sizes differ: " << a.state_map_size << " vs " << b.state_map_size;
  for (std::size_t i = 0; i < a.params.size(); ++i) {
    if (with_params && !bit_equal(a.params[i], b.params[i])) return fail() << "parameter " << i << " differs";
    const auto& x = a.states[i];
    const auto& y = b.states[i];
    if (x.has_state != y.has_state) return fail() << "parameter " << i << ": state exists in one, not the other";
    if (x.step != y.step) return fail() << "parameter " << i << ": step " << x.step << " vs " << y.step;
    if (x.scalars != y.scalars) return fail() << "parameter " << i << ": state scalars differ";
    if (x.buffers.size() != y.buffers.size()) return fail() << "parameter " << i << ": buffer counts differ";
    for (std::size_t k = 0; k < x.buffers.size(); ++k)
      if (!bit_equal(x.buffers[k], y.buffers[k])) return fail() << "parameter " << i << ": buffer " << k << " differs";
  }
  return ::testing::AssertionSuccess();
}

// ---- files -----------------------------------------------------------------------------------

inline std::string temp_path(const std::string& stem) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = stem;
  if (info != nullptr) name = std::string(info->test_suite_name()) + "." + info->name() + "." + stem;
  for (auto& c : name)
    if (c == '/') c = '_';
  return ::testing::TempDir() + "descent_" + std::to_string(::getpid()) + "_" + name + ".pt";
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The records of a zip file (LibTorch archives are zip files), from its
// central directory: name and where the record's stored bytes lie.
struct ZipRecord {
  std::string name;
  std::size_t header = 0;  // offset of the local header
  std::size_t data = 0;    // offset of the stored bytes
  std::size_t size = 0;    // stored (compressed) size
};

inline std::vector<ZipRecord> zip_records(const std::string& b) {
  auto u16 = [&](std::size_t o) {
    return static_cast<std::size_t>(static_cast<unsigned char>(b.at(o))) |
           static_cast<std::size_t>(static_cast<unsigned char>(b.at(o + 1))) << 8;
  };
  auto u32 = [&](std::size_t o) { return u16(o) | u16(o + 2) << 16; };
  std::vector<ZipRecord> out;
  if (b.size() < 22) return out;
  std::size_t eocd = b.size() - 22;
  while (eocd > 0 && u32(eocd) != 0x06054b50u) --eocd;
  if (u32(eocd) != 0x06054b50u) return out;
  const std::size_t count = u16(eocd + 10);
  std::size_t c = u32(eocd + 16);
  for (std::size_t i = 0; i < count && c + 46 <= b.size() && u32(c) == 0x02014b50u; ++i) {
    ZipRecord r;
    const std::size_t n = u16(c + 28), e = u16(c + 30), k = u16(c + 32);
    r.name = b.substr(c + 46, n);
    r.name = r.name.substr(r.name.find('/') + 1);  // drop the archive's name
    r.size = u32(c + 20);
    r.header = u32(c + 42);
    r.data = r.header + 30 + u16(r.header + 26) + u16(r.header + 28);
    out.push_back(r);
    c += 46 + n + e + k;
  }
  return out;
}

// The record holding byte `pos`, or "zip structure".
inline std::string record_at(const std::vector<ZipRecord>& records, std::size_t pos) {
  for (const auto& r : records)
    if (pos >= r.data && pos < r.data + r.size) return r.name;
  return "zip structure";
}

// The message of the exception `f` throws (of type E), or "" (and a failure) if none.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    if constexpr (!std::is_same_v<E, std::exception>) {
      if (dynamic_cast<const E*>(&e) == nullptr) ADD_FAILURE() << "threw another exception type: " << e.what();
    }
    return e.what();
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace dtest
