#include <descent/kernels/lookahead.h>
#include <descent/optim/launch.h>
#include <descent/optim/lookahead.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cmath>
#include <stdexcept>
#include <typeinfo>

namespace descent {

namespace {

const Check kK = at_least(1);
const Check kAlpha = in_cc(0, 1);
const Check kPullback = one_of({"none", "reset", "pullback"});

[[noreturn]] void refuse(const std::string& why) {
  throw std::runtime_error("lookahead: checkpoint refused: " + why);
}

const std::vector<torch::optim::OptimizerParamGroup> groups_of(const std::unique_ptr<Optimizer>& inner) {
  if (!inner) throw std::invalid_argument("lookahead: the inner optimizer is null");
  std::vector<torch::optim::OptimizerParamGroup> out;
  for (const auto& g : inner->param_groups()) out.emplace_back(g.params(), g.options().clone());
  return out;
}

std::unique_ptr<torch::optim::OptimizerOptions> defaults_of(const std::unique_ptr<Optimizer>& inner) {
  if (!inner) throw std::invalid_argument("lookahead: the inner optimizer is null");
  return inner->defaults().clone();
}

// Copies options of the same type into `dst` (no allocation for descent's options).
void copy_options(torch::optim::OptimizerParamGroup& dst, const torch::optim::OptimizerOptions& src) {
  if (auto* typed = dynamic_cast<OptionsBase*>(&dst.options()))
    typed->copy_from(src);
  else
    dst.set_options(src.clone());
}

}  // namespace

// ---- LookaheadOptions ---------------------------------------------------------------------

LookaheadOptions& LookaheadOptions::k(std::int64_t value) {
  detail::check_value("lookahead", "k", value, kK);
  k_ = value;
  return *this;
}

LookaheadOptions& LookaheadOptions::alpha(double value) {
  detail::check_value("lookahead", "alpha", value, kAlpha);
  alpha_ = value;
  return *this;
}

LookaheadOptions& LookaheadOptions::pullback_momentum(const std::string& value) {
  detail::check_value("lookahead", "pullback_momentum", value, kPullback);
  pullback_momentum_ = value;
  return *this;
}

const std::vector<std::string>& LookaheadOptions::names() {
  static const std::vector<std::string> n{"k", "alpha", "pullback_momentum"};
  return n;
}

bool LookaheadOptions::is_option(const std::string& name) {
  for (const auto& n : names())
    if (n == name) return true;
  return false;
}

void LookaheadOptions::set(const std::string& name, const OptionValue& v) {
  auto wrong = [&](const char* want) {
    return OptionError("lookahead: option '" + name + "' expects " + want);
  };
  if (name == "k") {
    if (v.kind != OptionValue::Kind::number || v.number != std::floor(v.number) || std::abs(v.number) > 9.0e15)
      throw wrong("an integer");
    k(static_cast<std::int64_t>(v.number));
  } else if (name == "alpha") {
    if (v.kind != OptionValue::Kind::number) throw wrong("a number");
    alpha(v.number);
  } else if (name == "pullback_momentum") {
    if (v.kind != OptionValue::Kind::string) throw wrong("a string");
    pullback_momentum(v.string);
  } else {
    throw OptionError("lookahead: unknown option '" + name + "'; valid options: k, alpha, pullback_momentum");
  }
}

void LookaheadOptions::validate() const {
  detail::check_value("lookahead", "k", k_, kK);
  detail::check_value("lookahead", "alpha", alpha_, kAlpha);
  detail::check_value("lookahead", "pullback_momentum", pullback_momentum_, kPullback);
}

std::string LookaheadOptions::describe() const {
  return "k=" + detail::format_value(k_) + ", alpha=" + detail::format_value(alpha_) +
         ", pullback_momentum=" + detail::format_value(pullback_momentum_);
}

// ---- Lookahead ----------------------------------------------------------------------------

Lookahead::Lookahead(std::unique_ptr<Optimizer> inner, LookaheadOptions options)
    : Optimizer(groups_of(inner), defaults_of(inner)), inner_(std::move(inner)), options_(std::move(options)) {
  options_.validate();
  for (const auto& g : param_groups_) check_options(g.options());
}

void Lookahead::set_lookahead_options(const LookaheadOptions& options) {
  options.validate();
  options_ = options;
}

void Lookahead::check_options(const torch::optim::OptimizerOptions& options) const {
  const torch::optim::OptimizerOptions& expected = inner_->defaults();
  if (typeid(options) != typeid(expected)) {
    const auto* other = dynamic_cast<const OptionsBase*>(&options);
    throw OptionError(std::string("lookahead: a param group carries options of another optimizer") +
                      (other != nullptr ? std::string(" (") + other->optimizer() + ")" : std::string()) +
                      "; this Lookahead wraps " + inner_->name() + ": give the group " + inner_->name() +
                      "'s options type");
  }
  if (const auto* typed = dynamic_cast<const OptionsBase*>(&options)) {
    try {
      typed->validate();
    } catch (const OptionError& e) {
      throw OptionError(std::string("lookahead: ") + e.what());
    }
  }
}

const StateLayout& Lookahead::layout() const {
  // slow_param: the slow weights; pullbacks: how many "pullback" synchronisations
  // this parameter has had (from the first on, the reference's slow momentum is
  // the inner momentum buffer itself).
  static const StateLayout l{{"slow_param"}, {"pullbacks"}};
  return l;
}

void Lookahead::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions&) const {
  // The weights before the parameter's first step. (The reference copies every
  // parameter in its constructor: the same values unless the parameter changed
  // between construction and its first step.)
  st.buffer(0) = zeros_state(p);
  st.buffer(0).copy_(p);
}

void Lookahead::update() {
  auto& inner_groups = inner_->param_groups();
  // Groups added to the wrapper (add_param_group) join the inner optimizer.
  for (std::size_t gi = inner_groups.size(); gi < param_groups_.size(); ++gi)
    inner_->add_param_group(
        torch::optim::OptimizerParamGroup(param_groups_[gi].params(), param_groups_[gi].options().clone()));
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) copy_options(inner_groups[gi], param_groups_[gi].options());
  // Slow weights of parameters stepping for the first time: their values now.
  for (auto& group : param_groups_)
    for (const auto& p : group.params())
      if (p.grad().defined()) state_for(p, group.options());

  inner_->step();

  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    GroupState& gs = mutable_group_state(gi);
    ++gs.step;
    double& counter = gs.scalars[0];
    counter += 1;
    const bool sync = counter >= static_cast<double>(options_.k());
    if (sync) counter = 0;
    for (const auto& p : param_groups_[gi].params()) {
      if (!p.grad().defined()) continue;
      ParamState& st = state_for(p, param_groups_[gi].options());
      ++st.step;
      if (sync) synchronise(p, st);
    }
  }
}

void Lookahead::synchronise(const torch::Tensor& p, ParamState& st) {
  const double alpha = options_.alpha();
  launch(kernels::LookaheadRule{alpha, 1.0 - alpha}, p, p.grad(), st.buffer(0));
  const std::string& mode = options_.pullback_momentum();
  if (mode == "none") return;
  // The inner optimizer's "momentum_buffer", where it keeps one (the reference
  // inserts a zero one into any other optimizer's state, where it changes nothing).
  ParamState* inner = inner_->state_of(p);
  if (inner == nullptr || inner->layout == nullptr) return;
  const auto& names = inner->layout->buffers;
  std::size_t idx = names.size();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == "momentum_buffer") idx = i;
  if (idx == names.size() || !inner->buffers[idx].defined()) return;
  torch::Tensor& b = inner->buffers[idx];
  if (mode == "reset") {
    b.zero_();
    return;
  }
  const bool aliased = st.scalars[0] > 0;
  torch::Tensor bc = b.is_contiguous() ? b : b.contiguous();
  if (bc.scalar_type() == at::kDouble)
    kernels::pull_back_momentum(bc.data_ptr<double>(), bc.numel(), alpha, 1.0 - alpha, aliased);
  else if (bc.scalar_type() == at::kFloat)
    kernels::pull_back_momentum(bc.data_ptr<float>(), bc.numel(), alpha, 1.0 - alpha, aliased);
  else
    throw std::logic_error("lookahead: momentum_buffer of unsupported dtype");
  if (!bc.is_same(b)) b.copy_(bc);
  st.scalars[0] += 1;
}

// ---- checkpoints --------------------------------------------------------------------------

void Lookahead::save_extra(torch::serialize::OutputArchive& archive) const {
  archive.write("k", c10::IValue(options_.k()));
  archive.write("alpha", c10::IValue(options_.alpha()));
  archive.write("pullback_momentum", c10::IValue(options_.pullback_momentum()));
  torch::serialize::OutputArchive ia(archive.compilation_unit());
  inner_->save(ia);
  archive.write("inner", ia);
}

std::function<void()> Lookahead::load_extra(torch::serialize::InputArchive& archive) {
  LookaheadOptions staged;
  {
    c10::IValue k, alpha, pullback;
    if (!archive.try_read("k", k) || !k.isInt() || !archive.try_read("alpha", alpha) || !alpha.isDouble() ||
        !archive.try_read("pullback_momentum", pullback) || !pullback.isString())
      refuse("missing or malformed lookahead options");
    try {
      staged.k(k.toInt()).alpha(alpha.toDouble()).pullback_momentum(pullback.toStringRef());
    } catch (const std::exception& e) {
      refuse(e.what());
    }
  }
  torch::serialize::InputArchive ia;
  if (!archive.try_read("inner", ia)) refuse("the inner optimizer's state is missing");

  // Stage the inner optimizer: a fresh one over the same parameters, built
  // through the registry with the same options, loads the checkpoint (which
  // checks all of it); the commit swaps it in.
  std::unique_ptr<Optimizer> fresh;
  if (Registry::instance().find(inner_->name()) != nullptr) {
    std::vector<GroupSpec> groups;
    for (const auto& g : inner_->param_groups()) groups.push_back(GroupSpec{g.params(), {}});
    OptionValue lr;
    lr.number = inner_->defaults().get_lr();
    try {
      fresh = Registry::instance().make(inner_->name(), std::move(groups), {{"lr", lr}});
      if (auto* d = dynamic_cast<OptionsBase*>(&fresh->defaults())) d->copy_from(inner_->defaults());
      for (std::size_t gi = 0; gi < fresh->param_groups().size(); ++gi)
        copy_options(fresh->param_groups()[gi], inner_->param_groups()[gi].options());
    } catch (const std::exception&) {
      fresh.reset();  // not rebuildable from its name and lr: load in place below
    }
  }
  if (fresh) {
    try {
      fresh->load(ia);
    } catch (const std::exception& e) {
      refuse(std::string("inner optimizer: ") + e.what());
    }
    auto holder = std::make_shared<std::unique_ptr<Optimizer>>(std::move(fresh));
    return [this, holder, staged] {
      inner_ = std::move(*holder);
      options_ = staged;
    };
  }
  // An inner optimizer the registry cannot rebuild: its own load() is staged
  // (it changes nothing unless all of it loads), and nothing of the wrapper's
  // load can fail after this hook.
  try {
    inner_->load(ia);
  } catch (const std::exception& e) {
    refuse(std::string("inner optimizer: ") + e.what());
  }
  return [this, staged] { options_ = staged; };
}

}  // namespace descent
