#include <descent/optim/optimizer.h>
#include <descent/optim/launch.h>
#include <descent/kernels/stochastic_rounding.h>
#include <descent/optim/state_memory.h>

#include <ATen/ATen.h>
#include <c10/util/string_utils.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace descent {

namespace {

// 2: adds descent/digest, a checksum over every option, step count, scalar and
// state byte, so that a corrupted checkpoint is refused rather than loaded.
constexpr std::int64_t kFormatVersion = 2;

std::string state_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

// The optimizer whose step() is running on this thread (launch() asks it how
// to write bfloat16 parameters back).
thread_local const Optimizer* t_stepping = nullptr;

struct SteppingScope {
  const Optimizer* saved;
  explicit SteppingScope(const Optimizer* o) : saved(t_stepping) { t_stepping = o; }
  ~SteppingScope() { t_stepping = saved; }
};

std::uint8_t bf16_write_of(const torch::optim::OptimizerOptions& options) {
  const auto* o = dynamic_cast<const OptionsBase*>(&options);
  if (o == nullptr) return 0;
  const std::string& m = o->bf16_write_mode();
  return m == "master_weights" ? 1 : m == "stochastic_rounding" ? 2 : 0;
}

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

bool supported_dtype(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kBFloat16;
}

[[noreturn]] void refuse(const std::string& optimizer, const std::string& why) {
  throw std::runtime_error(optimizer + ": checkpoint refused: " + why);
}

std::int64_t read_int(torch::serialize::InputArchive& a, const std::string& key, const std::string& opt) {
  c10::IValue v;
  if (!a.try_read(key, v) || !v.isInt()) refuse(opt, "missing or malformed '" + key + "'");
  return v.toInt();
}

// A 64-bit FNV-1a-style hash, 8 bytes at a time (fast on large state).
class Digest {
 public:
  void bytes(const void* data, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, b + i, 8);
      mix(w);
    }
    std::uint64_t tail = n;  // the length disambiguates the tail
    for (; i < n; ++i) tail = (tail << 8) | b[i];
    mix(tail);
  }
  void i64(std::int64_t v) { mix(static_cast<std::uint64_t>(v)); }
  void f64(double v) {
    std::uint64_t w;
    std::memcpy(&w, &v, 8);
    mix(w);
  }
  void str(const std::string& s) { bytes(s.data(), s.size()); }
  void tensor(const torch::Tensor& t) {
    if (!t.defined()) {
      i64(-1);
      return;
    }
    const auto c = t.contiguous().cpu();
    str(c10::toString(c.scalar_type()));
    for (auto d : c.sizes()) i64(d);
    bytes(c.data_ptr(), c.nbytes());
  }
  std::int64_t value() const { return static_cast<std::int64_t>(h_); }

 private:
  void mix(std::uint64_t w) {
    h_ ^= w;
    h_ *= 0x100000001b3ULL;
    h_ ^= h_ >> 29;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

// The digest of everything save() writes for the base class: options (through
// their exact describe()), group steps and scalars, and each state with its
// parameter index.
std::int64_t digest_of(const std::vector<const torch::optim::OptimizerOptions*>& options,
                       const std::vector<GroupState>& groups,
                       const std::vector<std::pair<std::int64_t, const ParamState*>>& states) {
  Digest d;
  for (const auto* o : options) {
    const auto* typed = dynamic_cast<const OptionsBase*>(o);
    d.str(typed != nullptr ? typed->describe() : std::string("?"));
  }
  for (const auto& g : groups) {
    d.i64(g.step);
    for (double x : g.scalars) d.f64(x);
    for (const auto& b : g.buffers) d.tensor(b);
  }
  for (const auto& [j, st] : states) {
    d.i64(j);
    d.i64(st->step);
    for (double x : st->scalars) d.f64(x);
    for (const auto& b : st->buffers) d.tensor(b);
    if (st->master.defined()) d.tensor(st->master);
  }
  return d.value();
}

}  // namespace

// ---- ParamState ---------------------------------------------------------------

const torch::Tensor& ParamState::buffer(const std::string& name) const {
  if (layout != nullptr)
    for (std::size_t i = 0; i < layout->buffers.size(); ++i)
      if (layout->buffers[i] == name) return buffers[i];
  throw std::out_of_range("no state buffer named '" + name + "'");
}

double ParamState::scalar(const std::string& name) const {
  if (layout != nullptr)
    for (std::size_t i = 0; i < layout->scalars.size(); ++i)
      if (layout->scalars[i] == name) return scalars[i];
  throw std::out_of_range("no state scalar named '" + name + "'");
}

void ParamState::serialize(torch::serialize::OutputArchive& archive) const {
  archive.write("step", c10::IValue(step));
  for (std::size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].defined()) archive.write("buffer/" + std::to_string(i), buffers[i], /*is_buffer=*/true);
  archive.write("scalars", c10::IValue(scalars));
}

void ParamState::serialize(torch::serialize::InputArchive& archive) {
  c10::IValue v;
  if (archive.try_read("step", v)) step = v.toInt();
  for (std::size_t i = 0; i < buffers.size(); ++i) archive.try_read("buffer/" + std::to_string(i), buffers[i], true);
  if (archive.try_read("scalars", v)) scalars = v.toDoubleVector();
}

// ---- Optimizer -------------------------------------------------------------------

Optimizer::Optimizer(std::vector<torch::optim::OptimizerParamGroup> groups,
                     std::unique_ptr<torch::optim::OptimizerOptions> defaults)
    : torch::optim::Optimizer(std::move(groups), std::move(defaults)) {}

ParamState* Optimizer::state_of(const torch::Tensor& param) {
  auto it = index_.find(param.unsafeGetTensorImpl());
  if (it != index_.end()) return it->second;
  return nullptr;
}

const ParamState* Optimizer::state_of(const torch::Tensor& param) const {
  return const_cast<Optimizer*>(this)->state_of(param);
}

std::int64_t Optimizer::state_bytes() const {
  std::int64_t total = 0;
  for (const auto& kv : state_) {
    const auto* st = dynamic_cast<const ParamState*>(kv.second.get());
    if (st == nullptr) continue;
    for (const auto& b : st->buffers)
      if (b.defined()) total += static_cast<std::int64_t>(b.nbytes());
    if (st->master.defined()) total += static_cast<std::int64_t>(st->master.nbytes());
  }
  for (const auto& g : group_states_)
    for (const auto& b : g.buffers)
      if (b.defined()) total += static_cast<std::int64_t>(b.nbytes());
  return total;
}

std::int64_t Optimizer::read_only_state_bytes() const {
  std::int64_t total = 0;
  for (const auto& kv : state_) {
    const auto* st = dynamic_cast<const ParamState*>(kv.second.get());
    if (st == nullptr || st->layout == nullptr) continue;
    const auto& names = st->layout->buffers;
    const auto& ro = st->layout->read_only;
    for (std::size_t k = 0; k < st->buffers.size() && k < names.size(); ++k) {
      if (st->buffers[k].defined() && std::find(ro.begin(), ro.end(), names[k]) != ro.end())
        total += static_cast<std::int64_t>(st->buffers[k].nbytes());
    }
  }
  return total;
}

void Optimizer::reset_state() {
  state_.clear();
  index_.clear();
  group_states_.clear();
  sync_group_states();
}

void Optimizer::sync_group_states() {
  // Groups can be added at any time through add_param_group (not virtual in
  // LibTorch): give new groups fresh state.
  while (group_states_.size() < param_groups_.size()) {
    GroupState g;
    g.scalars = initial_group_scalars(param_groups_[group_states_.size()].options());
    g.buffers.resize(group_buffer_names().size());
    group_states_.push_back(std::move(g));
  }
}

ParamState& Optimizer::state_for(const torch::Tensor& param, const torch::optim::OptimizerOptions& options) {
  if (index_.size() != state_.size()) {
    // Someone edited state() directly: rebuild the index (rare, allocates).
    index_.clear();
    for (auto& group : param_groups_)
      for (auto& p : group.params()) {
        auto it = state_.find(state_key(p));
        if (it != state_.end()) index_[p.unsafeGetTensorImpl()] = static_cast<ParamState*>(it->second.get());
      }
  }
  ParamState* st = state_of(param);
  if (st == nullptr) {
    auto fresh = std::make_unique<ParamState>();
    fresh->layout = &layout();
    fresh->buffers.resize(layout().buffers.size());
    fresh->scalars.assign(layout().scalars.size(), 0.0);
    init_state(*fresh, param, options);
    fresh->ordinal = ordinal_of(param);
    st = fresh.get();
    state_[state_key(param)] = std::move(fresh);
    index_[param.unsafeGetTensorImpl()] = st;
  }
  if (param.scalar_type() == at::kBFloat16) {
    st->bf16_write = bf16_write_of(options);
    if (st->bf16_write == 1 && !st->master.defined())
      st->master = empty_state_like(param, at::kFloat).copy_(param);
    if (st->bf16_write != 1 && st->master.defined()) st->master = torch::Tensor();  // p holds its rounding already
    if (const auto* o = dynamic_cast<const OptionsBase*>(&options)) st->bf16_seed = static_cast<std::uint64_t>(o->bf16_write_seed());
  }
  return *st;
}

std::uint32_t Optimizer::ordinal_of(const torch::Tensor& param) const {
  std::uint32_t j = 0;
  for (const auto& group : param_groups_)
    for (const auto& p : group.params()) {
      if (p.is_same(param)) return j;
      ++j;
    }
  return j;
}

namespace detail {
ParamWrite param_write_for(const torch::Tensor& param) {
  ParamWrite w;
  if (t_stepping == nullptr) return w;
  const ParamState* st = t_stepping->state_of(param);
  if (st == nullptr) return w;
  if (st->bf16_write == 1 && st->master.defined()) w.master = &st->master;
  if (st->bf16_write == 2) {
    w.stochastic = true;
    w.seed = kernels::stream_seed(st->bf16_seed, st->ordinal, st->step);
  }
  return w;
}
}  // namespace detail

void Optimizer::check_step() const {
  const char* opt = name();
  bool have_device = false;
  at::Device device(at::kCPU);
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& group = param_groups_[gi];
    check_options(group.options());
    const auto& params = group.params();
    if (!supports_bf16_modes() && bf16_write_of(group.options()) != 0) {
      for (const auto& p : params)
        if (p.scalar_type() == at::kBFloat16)
          throw OptionError(std::string(opt) + ": bf16_mode '" +
                            dynamic_cast<const OptionsBase&>(group.options()).bf16_write_mode() +
                            "' is not available for this optimizer (it writes its parameters outside the fused "
                            "kernels); use bf16_mode 'nearest'");
    }
    for (std::size_t pi = 0; pi < params.size(); ++pi) {
      const torch::Tensor& p = params[pi];
      auto where = [&] {
        return std::string(opt) + ": parameter " + std::to_string(pi) + " of group " + std::to_string(gi);
      };
      if (!p.defined()) throw std::invalid_argument(where() + " is an undefined tensor");
      if (!supported_dtype(p.scalar_type()))
        throw std::invalid_argument(where() + " has dtype " + std::string(c10::toString(p.scalar_type())) +
                                    "; descent optimizes float32, float64 and bfloat16 parameters");
      if (!have_device) {
        device = p.device();
        have_device = true;
      } else if (p.device() != device) {
        throw std::invalid_argument(where() + " is on " + p.device().str() + " but an earlier parameter is on " +
                                    device.str() + "; all parameters of one optimizer must share a device");
      }
      if (p.device().type() != at::kCPU)
        throw std::invalid_argument(where() + " is on " + p.device().str() +
                                    "; this build of descent runs its kernels on the CPU only");
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      if (g.is_sparse() || g.layout() != at::kStrided)
        throw std::invalid_argument(where() + " has a sparse gradient; descent's optimizers need dense gradients");
      if (g.scalar_type() != p.scalar_type())
        throw std::invalid_argument(where() + " has dtype " + std::string(c10::toString(p.scalar_type())) +
                                    " but its gradient has dtype " + c10::toString(g.scalar_type()));
      if (!g.sizes().equals(p.sizes()))
        throw std::invalid_argument(where() + " has shape " + shape_str(p.sizes()) + " but its gradient has shape " +
                                    shape_str(g.sizes()));
      if (g.device() != p.device())
        throw std::invalid_argument(where() + " is on " + p.device().str() + " but its gradient is on " +
                                    g.device().str());
    }
  }
}

torch::Tensor Optimizer::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  at::NoGradGuard no_grad;
  check_step();
  sync_group_states();
  SteppingScope scope(this);
  {
    detail::BatchScope batch(batches_launches() ? &batch_ : nullptr);  // runs the queued launches on exit
    update();
  }
  return loss;
}

torch::Tensor Optimizer::lazy_state(std::size_t, const torch::Tensor& param, const ParamState&) const {
  return zeros_state(param);
}

void Optimizer::update() {
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) update_group(gi);
}

void Optimizer::update_group(std::size_t gi) {
  auto& group = param_groups_[gi];
  const auto& options = group.options();
  GroupState& gs = group_states_[gi];
  ++gs.step;
  for (const auto& p : group.params()) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    ParamState& st = state_for(p, options);
    ++st.step;
    update_param(p, g, st, options, gs);
  }
}

// ---- checkpoints ------------------------------------------------------------------

void Optimizer::save(torch::serialize::OutputArchive& archive) const {
  archive.write("descent/format", c10::IValue(kFormatVersion));
  archive.write("descent/optimizer", c10::IValue(std::string(name())));
  archive.write("groups/size", c10::IValue(static_cast<std::int64_t>(param_groups_.size())));
  std::int64_t j = 0;
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& group = param_groups_[gi];
    torch::serialize::OutputArchive ga(archive.compilation_unit());
    ga.write("params/size", c10::IValue(static_cast<std::int64_t>(group.params().size())));
    torch::serialize::OutputArchive oa(archive.compilation_unit());
    group.options().serialize(oa);
    ga.write("options", oa);
    const GroupState empty;
    const GroupState& gs = gi < group_states_.size() ? group_states_[gi] : empty;
    ga.write("step", c10::IValue(gs.step));
    ga.write("scalars", c10::IValue(gs.scalars));
    const auto bnames = group_buffer_names();
    for (std::size_t b = 0; b < bnames.size() && b < gs.buffers.size(); ++b)
      if (gs.buffers[b].defined()) ga.write("buffers/" + bnames[b], gs.buffers[b], true);
    archive.write("groups/" + std::to_string(gi), ga);
    for (const auto& p : group.params()) {
      const ParamState* st = state_of(p);
      if (st != nullptr) {
        torch::serialize::OutputArchive sa(archive.compilation_unit());
        sa.write("step", c10::IValue(st->step));
        sa.write("scalars", c10::IValue(st->scalars));
        for (std::size_t b = 0; b < st->buffers.size(); ++b)
          if (st->buffers[b].defined()) sa.write("buffers/" + layout().buffers[b], st->buffers[b], true);
        if (st->master.defined()) sa.write("master", st->master, true);
        archive.write("state/" + std::to_string(j), sa);
      }
      ++j;
    }
  }
  torch::serialize::OutputArchive ea(archive.compilation_unit());
  save_extra(ea);
  archive.write("extra", ea);

  std::vector<const torch::optim::OptimizerOptions*> options;
  std::vector<GroupState> groups;
  std::vector<std::pair<std::int64_t, const ParamState*>> states;
  j = 0;
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    options.push_back(&param_groups_[gi].options());
    groups.push_back(gi < group_states_.size() ? group_states_[gi] : GroupState{});
    for (const auto& p : param_groups_[gi].params()) {
      if (const ParamState* st = state_of(p)) states.emplace_back(j, st);
      ++j;
    }
  }
  archive.write("descent/digest", c10::IValue(digest_of(options, groups, states)));
}

void Optimizer::load(torch::serialize::InputArchive& archive) {
  const std::string opt = name();
  {
    c10::IValue v;
    if (!archive.try_read("descent/format", v) || !v.isInt())
      refuse(opt, "not a descent optimizer checkpoint");
    if (v.toInt() != kFormatVersion)
      refuse(opt, "format version " + std::to_string(v.toInt()) + " is not supported (expected " +
                      std::to_string(kFormatVersion) + ")");
    if (!archive.try_read("descent/optimizer", v) || !v.isString()) refuse(opt, "no optimizer name");
    if (v.toStringRef() != opt) refuse(opt, "it was saved from optimizer '" + v.toStringRef() + "'");
  }
  const std::int64_t ngroups = read_int(archive, "groups/size", opt);
  if (ngroups != static_cast<std::int64_t>(param_groups_.size()))
    refuse(opt, "it has " + std::to_string(ngroups) + " param groups, this optimizer " +
                    std::to_string(param_groups_.size()));

  // Stage everything; commit only when all of it has been read and checked.
  std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> options;
  std::vector<GroupState> group_states;
  std::vector<std::pair<torch::Tensor, std::unique_ptr<ParamState>>> states;
  std::vector<std::int64_t> state_index;  // each staged state's parameter index
  const std::size_t nscalars_group = group_scalar_names().size();
  std::int64_t j = 0;
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& group = param_groups_[gi];
    torch::serialize::InputArchive ga;
    if (!archive.try_read("groups/" + std::to_string(gi), ga)) refuse(opt, "group " + std::to_string(gi) + " is missing");
    const std::int64_t np = read_int(ga, "params/size", opt);
    if (np != static_cast<std::int64_t>(group.params().size()))
      refuse(opt, "group " + std::to_string(gi) + " has " + std::to_string(np) + " parameters, this optimizer's " +
                      std::to_string(group.params().size()));
    torch::serialize::InputArchive oa;
    if (!ga.try_read("options", oa)) refuse(opt, "group " + std::to_string(gi) + " has no options");
    auto o = group.options().clone();
    try {
      o->serialize(oa);
      check_options(*o);
    } catch (const std::exception& e) {
      refuse(opt, std::string("group options: ") + e.what());
    }
    GroupState gs;
    gs.step = read_int(ga, "step", opt);
    c10::IValue sv;
    if (!ga.try_read("scalars", sv) || !sv.isDoubleList()) refuse(opt, "group scalars missing");
    gs.scalars = sv.toDoubleVector();
    if (gs.scalars.size() != nscalars_group) refuse(opt, "group scalars have the wrong length");
    {
      const auto bnames = group_buffer_names();
      gs.buffers.resize(bnames.size());
      for (std::size_t b = 0; b < bnames.size(); ++b) ga.try_read("buffers/" + bnames[b], gs.buffers[b], true);
      try {
        check_group_buffers(gi, gs);
      } catch (const std::exception& e) {
        refuse(opt, "group " + std::to_string(gi) + ": " + e.what());
      }
    }

    for (const auto& p : group.params()) {
      torch::serialize::InputArchive sa;
      if (archive.try_read("state/" + std::to_string(j), sa)) {
        auto st = std::make_unique<ParamState>();
        st->layout = &layout();
        st->buffers.resize(layout().buffers.size());
        st->scalars.assign(layout().scalars.size(), 0.0);
        init_state(*st, p, *o);
        st->step = read_int(sa, "step", opt);
        if (st->step < 0) refuse(opt, "negative step count");
        c10::IValue v;
        if (!sa.try_read("scalars", v) || !v.isDoubleList()) refuse(opt, "state scalars missing");
        auto scalars = v.toDoubleVector();
        if (scalars.size() != st->scalars.size()) refuse(opt, "state scalars have the wrong length");
        st->scalars = std::move(scalars);
        for (std::size_t b = 0; b < st->buffers.size(); ++b) {
          const std::string& bname = layout().buffers[b];
          torch::Tensor t;
          const bool present = sa.try_read("buffers/" + bname, t, true);
          torch::Tensor& expect = st->buffers[b];
          if (!present) {
            if (expect.defined()) refuse(opt, "state '" + bname + "' of parameter " + std::to_string(j) + " is missing");
            continue;
          }
          // A buffer this optimizer creates lazily (e.g. SGD's momentum buffer)
          // is not in a fresh state: it must then be shaped like the parameter.
          if (!expect.defined()) expect = lazy_state(b, p, *st);
          if (!t.sizes().equals(expect.sizes()) || t.scalar_type() != expect.scalar_type())
            refuse(opt, "state '" + bname + "' of parameter " + std::to_string(j) + " has shape " +
                            shape_str(t.sizes()) + " " + c10::toString(t.scalar_type()) + ", expected " +
                            shape_str(expect.sizes()) + " " + c10::toString(expect.scalar_type()));
          expect.copy_(t);
        }
        {
          // The float32 master copy of a bfloat16 parameter (bf16_mode = master_weights).
          torch::Tensor m;
          if (sa.try_read("master", m, true)) {
            if (p.scalar_type() != at::kBFloat16 || m.scalar_type() != at::kFloat || !m.sizes().equals(p.sizes()))
              refuse(opt, "master copy of parameter " + std::to_string(j) + " has shape " + shape_str(m.sizes()) +
                              " " + c10::toString(m.scalar_type()) + ", expected " + shape_str(p.sizes()) +
                              " Float for a BFloat16 parameter");
            st->master = empty_state_like(p, at::kFloat).copy_(m);
            st->bf16_write = 1;
          }
        }
        st->ordinal = static_cast<std::uint32_t>(j);
        states.emplace_back(p, std::move(st));
        state_index.push_back(j);
      }
      ++j;
    }
    options.push_back(std::move(o));
    group_states.push_back(std::move(gs));
  }
  {
    std::vector<const torch::optim::OptimizerOptions*> staged_options;
    for (const auto& o : options) staged_options.push_back(o.get());
    std::vector<std::pair<std::int64_t, const ParamState*>> staged;
    for (std::size_t k = 0; k < states.size(); ++k) staged.emplace_back(state_index[k], states[k].second.get());
    c10::IValue v;
    if (!archive.try_read("descent/digest", v) || !v.isInt()) refuse(opt, "no checksum");
    if (v.toInt() != digest_of(staged_options, group_states, staged))
      refuse(opt, "checksum mismatch: the file is corrupted");
  }
  torch::serialize::InputArchive ea;
  std::function<void()> commit_extra = [] {};
  if (archive.try_read("extra", ea)) commit_extra = load_extra(ea);

  // Commit.
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) param_groups_[gi].set_options(std::move(options[gi]));
  group_states_ = std::move(group_states);
  state_.clear();
  index_.clear();
  for (auto& [p, st] : states) {
    index_[p.unsafeGetTensorImpl()] = st.get();
    state_[state_key(p)] = std::move(st);
  }
  commit_extra();
}

}  // namespace descent
