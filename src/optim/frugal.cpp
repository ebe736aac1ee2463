#include <descent/kernels/frugal.h>
#include <descent/optim/frugal.h>
#include <descent/optim/launch.h>

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace descent {

namespace {

enum Buf { kM = 0, kV, kOrtho, kOrthoRight, kIndices };
enum Scalar { kSelected = 0, kActive, kSide, kRank };
enum Side { kNone = 0, kRight = 1, kLeft = 2, kFull = 3, kColumns = 4, kRows = 5, kRandK = 6 };
enum GroupScalar { kNextBlockStart = 0, kStarted = 1 };

// The dtype of the projected path's arithmetic and state: the parameter's,
// float32 for bfloat16 parameters (descent's rule for bfloat16).
at::ScalarType work_dtype(const torch::Tensor& p) { return state_dtype(p.scalar_type()); }

std::string shape_of(const torch::Tensor& p) {
  std::string s = "[";
  for (std::int64_t d = 0; d < p.dim(); ++d) s += (d ? ", " : "") + std::to_string(p.size(d));
  return s + "]";
}

}  // namespace

const StateLayout& Frugal::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq", "ortho", "ortho_right", "indices"},
                             {"selected", "active", "side", "rank"}};
  return l;
}

void Frugal::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  // Regular parameters: AdamW state from the start. Projected parameters get
  // theirs at re-selection.
  if (!cast(options).is_proj_params()) {
    st.buffer(kM) = zeros_state(p);
    st.buffer(kV) = zeros_state(p);
  }
}

torch::Tensor Frugal::lazy_state(std::size_t b, const torch::Tensor& p, const ParamState& st) const {
  const auto side = static_cast<int>(st.scalars[kSide]);
  const auto r = static_cast<std::int64_t>(st.scalars[kRank]);
  if (side == kNone || p.dim() != 2) return zeros_state(p);
  const std::int64_t rows = p.size(0), cols = p.size(1);
  const auto opts = p.options().dtype(work_dtype(p));
  if (b == kM || b == kV) {
    switch (side) {
      case kRight: return at::zeros({rows, r}, opts);
      case kLeft: return at::zeros({r, cols}, opts);
      case kFull: return at::zeros({r, r}, opts);
      case kColumns: return at::zeros({rows, r}, opts);
      case kRows: return at::zeros({r, cols}, opts);
      default: return at::zeros({r}, opts);
    }
  }
  if (b == kOrtho) return side == kRight ? at::zeros({r, cols}, opts) : at::zeros({rows, r}, opts);
  if (b == kOrthoRight) return at::zeros({r, cols}, opts);
  return at::zeros({r}, p.options().dtype(at::kLong));
}

// Everything that could make a step fail is checked before any change.
void Frugal::check_projectable() const {
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& o = cast(param_groups_[gi].options());
    if (!o.is_proj_params()) continue;
    const auto& params = param_groups_[gi].params();
    if (o.mode() == "block") {
      const std::int64_t n = static_cast<std::int64_t>(params.size());
      const std::int64_t k = projection::py_round(static_cast<double>(n) * o.density());
      if (o.block_order() == "mirror" && k % 2 != 0)
        throw OptionError("frugal: block_order = mirror needs an even number of active blocks; group " +
                          std::to_string(gi) + " has " + std::to_string(n) + " tensors and density " +
                          detail::format_value(o.density()) + ", so round(n*density) = " + std::to_string(k));
      continue;
    }
    for (std::size_t pi = 0; pi < params.size(); ++pi)
      if (params[pi].dim() != 2)
        throw std::invalid_argument("frugal: mode = " + o.mode() + " projects 2-D parameters (as the reference's " +
                                    "projectors); parameter " + std::to_string(pi) + " of group " +
                                    std::to_string(gi) + " has shape " + shape_of(params[pi]));
  }
}

void Frugal::update() {
  check_projectable();
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) update_group(gi);
}

void Frugal::update_group(std::size_t gi) {
  auto& group = param_groups_[gi];
  const auto& o = cast(group.options());
  GroupState& gs = mutable_group_state(gi);
  ++gs.step;
  if (o.is_proj_params() && !group.params().empty()) {
    // ProjOptimizer._update_states_if_necessary: the group's FIRST parameter
    // decides, whether or not it has a gradient.
    const ParamState* first = state_of(group.params().front());
    if (first == nullptr || first->scalars[kSelected] == 0 || first->step % o.update_gap() == 0) reselect(gi);
  }
  for (const auto& p : group.params()) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    ParamState& st = state_for(p, o);
    ++st.step;
    if (!o.is_proj_params()) {
      update_regular(p, g, st, o, o.lr());
    } else if (o.mode() == "block") {
      if (st.scalars[kActive] != 0) update_regular(p, g, st, o, o.lr() * o.proj_params_lr_scale());
      else update_inactive(p, g, o);
    } else {
      update_projected(p, g, st, o, gs.step);
    }
  }
}

void Frugal::reselect(std::size_t gi) {
  if (cast(param_groups_[gi].options()).mode() == "block") reselect_blocks(gi);
  else reselect_projections(gi);
}

// BlockOptimizer._update_states: every tensor of the group is deactivated
// (state cleared, step 0), then round(n·density) of them are activated with
// fresh AdamW state.
void Frugal::reselect_blocks(std::size_t gi) {
  const auto& group = param_groups_[gi];
  const auto& o = cast(group.options());
  const auto& params = group.params();
  GroupState& gs = mutable_group_state(gi);
  const std::int64_t n = static_cast<std::int64_t>(params.size());
  const std::int64_t k = projection::py_round(static_cast<double>(n) * o.density());
  for (const auto& p : params) {
    ParamState& st = state_for(p, o);
    st.buffer(kM) = torch::Tensor();
    st.buffer(kV) = torch::Tensor();
    st.step = 0;
    st.scalars[kActive] = 0;
    st.scalars[kSelected] = 1;
  }
  auto activate = [&](std::int64_t idx) {
    const auto& p = params.at(static_cast<std::size_t>(idx));
    ParamState& st = state_for(p, o);
    st.buffer(kM) = zeros_state(p);
    st.buffer(kV) = zeros_state(p);
    st.step = 0;
    st.scalars[kActive] = 1;
  };
  auto mod = [](std::int64_t a, std::int64_t m) { return ((a % m) + m) % m; };  // Python's %
  double& next = gs.scalars[kNextBlockStart];
  double& started = gs.scalars[kStarted];
  const std::string& order = o.block_order();
  if (order == "random") {
    std::vector<std::int64_t> chosen;
    if (selector_) {
      chosen = selector_(gs.step, gi, params, k);
    } else {
      const at::Tensor perm = at::randperm(n, at::kLong);  // the global generator, as torch.randperm
      for (std::int64_t i = 0; i < k; ++i) chosen.push_back(perm.data_ptr<std::int64_t>()[i]);
    }
    for (auto idx : chosen) {
      if (idx < 0 || idx >= n)
        throw std::out_of_range("frugal: block selection index " + std::to_string(idx) + " out of range for " +
                                std::to_string(n) + " tensors");
      activate(idx);
    }
  } else if (order == "ascending") {
    if (started == 0) next = 0;
    const auto start = static_cast<std::int64_t>(next);
    for (std::int64_t idx = start; idx < start + k; ++idx) activate(mod(idx, n));
    next += static_cast<double>(k);
    if (next >= static_cast<double>(n)) next -= static_cast<double>(n);
  } else if (order == "descending") {
    if (started == 0) next = static_cast<double>(n - 1);
    const auto start = static_cast<std::int64_t>(next);
    for (std::int64_t idx = start; idx > start - k; --idx) activate(mod(idx, n));
    next -= static_cast<double>(k);
    if (next < 0) next += static_cast<double>(n);
  } else {  // mirror
    if (started == 0) next = 0;
    const std::int64_t half = n / 2;
    const auto start = static_cast<std::int64_t>(next);
    for (std::int64_t idx = start; idx < start + k / 2; ++idx) {
      activate(mod(idx, half));
      activate(n - 1 - mod(idx, half));
    }
    next += static_cast<double>(k / 2);
    if (next >= static_cast<double>(half)) next -= static_cast<double>(half);
  }
  started = 1;
}

// GaloreOptimizer / CoordOptimizer._update_states: each tensor's projector is
// rebuilt from its current gradient; the AdamW state of the projected
// gradient is created the first time and zeroed (with its step) at every
// re-selection when reset_statistics is set.
void Frugal::reselect_projections(std::size_t gi) {
  const auto& group = param_groups_[gi];
  const auto& o = cast(group.options());
  for (const auto& p : group.params()) {
    // The reference needs every gradient here (it fails on None); descent
    // sets such a tensor up at its next gradient.
    if (!p.grad().defined()) continue;
    setup_projection(p, state_for(p, o), o, group_state(gi).step);
  }
}

void Frugal::setup_projection(const torch::Tensor& p, ParamState& st, const FrugalOptions& o, std::int64_t step) {
  {
    const torch::Tensor g = p.grad().to(work_dtype(p));
    const std::int64_t rows = g.size(0), cols = g.size(1);
    const at::ScalarType dt = g.scalar_type();
    auto source = [&](const char* side, const torch::Tensor& computed) {
      if (!projection_source_) return computed;
      torch::Tensor t = projection_source_(step, p, side, computed);
      if (!t.defined()) return computed;
      if (!t.sizes().equals(computed.sizes()))
        throw std::invalid_argument(std::string("frugal: the supplied ") + side + " factor has the wrong shape");
      return t.to(dt);
    };
    if (o.mode() == "galore") {
      const std::string& ps = o.proj_side();
      int side;
      std::int64_t rank;
      if (ps == "right" || (ps == "std" && rows >= cols) || (ps == "reverse_std" && rows < cols)) {
        side = kRight;
        rank = projection::py_round(static_cast<double>(cols) * o.density());
      } else if (ps == "left" || (ps == "reverse_std" && rows >= cols) || (ps == "std" && rows < cols)) {
        side = kLeft;
        rank = projection::py_round(static_cast<double>(rows) * o.density());
      } else {
        side = kFull;
        rank = projection::py_round(static_cast<double>(std::min(rows, cols)) * o.density());
      }
      torch::Tensor left, right;
      const bool want_left = side != kRight, want_right = side != kLeft;
      if (o.proj_type() == "svd") {
        auto f = projection::svd_factors(g, rank, want_left, want_right);
        left = f.left;
        right = f.right;
      } else if (o.proj_type() == "random") {
        if (want_left) left = projection::random_orthogonal(rows, rank, dt);
        if (want_right) right = projection::random_orthogonal(rank, cols, dt);
      } else {
        if (want_left) left = projection::randperm_factor(rows, rank, false, dt);
        if (want_right) right = projection::randperm_factor(cols, rank, true, dt);
      }
      if (want_left) left = source("left", left).contiguous();
      if (want_right) right = source("right", right).contiguous();
      st.buffer(kOrtho) = want_left ? left : right;
      st.buffer(kOrthoRight) = side == kFull ? right : torch::Tensor();
      st.scalars[kSide] = side;
      st.scalars[kRank] = static_cast<double>(side == kRight ? right.size(0) : left.size(1));
    } else {
      const std::string& cc = o.coord_choice();
      const int side = cc == "columns" ? kColumns : cc == "rows" ? kRows : kRandK;
      const std::int64_t n = side == kColumns ? cols : side == kRows ? rows : rows * cols;
      const auto k = static_cast<std::int64_t>(static_cast<double>(n) * o.density());  // int(): truncation
      st.buffer(kIndices) = at::randperm(n, at::kLong).slice(0, 0, k).contiguous();
      st.scalars[kSide] = side;
      st.scalars[kRank] = static_cast<double>(k);
    }
    const bool first = st.scalars[kSelected] == 0 || !st.buffer(kM).defined();
    if (first || o.reset_statistics()) {
      if (first) {
        const torch::Tensor low = project_down(g, st);
        st.buffer(kM) = at::zeros_like(low);
        st.buffer(kV) = at::zeros_like(low);
      } else {
        st.buffer(kM).zero_();
        st.buffer(kV).zero_();
      }
      st.step = 0;
    }
    st.scalars[kSelected] = 1;
  }
}

torch::Tensor Frugal::project_down(const torch::Tensor& g, const ParamState& st) const {
  const torch::Tensor& o = st.buffer(kOrtho);
  switch (static_cast<int>(st.scalars[kSide])) {
    case kRight: return at::matmul(g, o.t());
    case kLeft: return at::matmul(o.t(), g);
    case kFull: return at::matmul(at::matmul(o.t(), g), st.buffer(kOrthoRight).t());
    case kColumns: return g.index_select(1, st.buffer(kIndices));
    case kRows: return g.index_select(0, st.buffer(kIndices));
    default: return g.reshape({-1}).index_select(0, st.buffer(kIndices));
  }
}

torch::Tensor Frugal::project_up(const torch::Tensor& low, const torch::Tensor& g, const ParamState& st) const {
  const torch::Tensor& o = st.buffer(kOrtho);
  const int side = static_cast<int>(st.scalars[kSide]);
  switch (side) {
    case kRight: return at::matmul(low, o);
    case kLeft: return at::matmul(o, low);
    case kFull: return at::matmul(at::matmul(o, low), st.buffer(kOrthoRight));
    default: break;
  }
  at::Tensor full = at::zeros(g.sizes(), low.options());
  if (side == kColumns) full.index_copy_(1, st.buffer(kIndices), low);
  else if (side == kRows) full.index_copy_(0, st.buffer(kIndices), low);
  else full.view({-1}).index_copy_(0, st.buffer(kIndices), low);
  return full;
}

void Frugal::update_regular(const torch::Tensor& p, const torch::Tensor& g, ParamState& st, const FrugalOptions& o,
                            double lr) {
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double t = static_cast<double>(st.step);
  kernels::FrugalAdamRule r;
  r.decay = 1 - o.lr() * o.weight_decay();
  r.beta1 = b1;
  r.one_minus_beta1 = 1.0 - b1;
  r.beta2 = b2;
  r.one_minus_beta2 = 1.0 - b2;
  r.correct_bias = o.correct_bias();
  r.bc2_sqrt = std::sqrt(1.0 - std::pow(b2, t));
  r.eps = o.eps();
  r.neg_step = o.correct_bias() ? -(lr / (1.0 - std::pow(b1, t))) : -lr;
  launch(r, p, g, st.buffer(kM), st.buffer(kV));
}

void Frugal::update_inactive(const torch::Tensor& p, const torch::Tensor& g, const FrugalOptions& o) {
  const double decay = 1 - o.lr() * o.weight_decay();
  const double neg_lr = -(o.lr() * o.proj_params_lr_scale() * o.inactive_lr_scale());
  using R = kernels::InactiveRule;
  const std::string& rule = o.inactive_update_rule();
  if (rule == "sign_sgd") launch(kernels::FrugalInactiveRule<R::sign_sgd>{decay, neg_lr}, p, g);
  else if (rule == "sgd") launch(kernels::FrugalInactiveRule<R::sgd>{decay, neg_lr}, p, g);
  else launch(kernels::FrugalInactiveRule<R::none>{decay, neg_lr}, p, g);
}

// GaloreOptimizer / CoordOptimizer._proj_params_update with AdamW's
// _compute_update, op for op (ATen, in the parameter's dtype; float32 for
// bfloat16 parameters):
//   low = down(g);  u = up(AdamW(low, lr·proj_params_lr_scale))
//   u += −lr'·sign(g − up(low))   (or ·(g − up(low)) for sgd; nothing for no)
//   p = p·(1 − lr·wd) + u
void Frugal::update_projected(const torch::Tensor& p, const torch::Tensor& graw, ParamState& st,
                              const FrugalOptions& o, std::int64_t step) {
  const torch::Tensor g = graw.to(work_dtype(p));
  if (st.scalars[kSelected] == 0 || !st.buffer(kM).defined()) {
    // No projector yet (no gradient at the last re-selection): build one now.
    const std::int64_t saved_step = st.step;
    setup_projection(p, st, o, step);
    st.step = saved_step;
  }
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double active_lr = o.lr() * o.proj_params_lr_scale();
  torch::Tensor& m = st.buffer(kM);
  torch::Tensor& v = st.buffer(kV);
  const at::Tensor down = project_down(g, st);
  m.mul_(b1).add_(down, 1.0 - b1);
  v.mul_(b2).addcmul_(down, down, 1.0 - b2);
  at::Tensor denom = v.sqrt();
  double step_size = active_lr;
  if (o.correct_bias()) {
    const double t = static_cast<double>(st.step);
    step_size = active_lr / (1.0 - std::pow(b1, t));
    denom.div_(std::sqrt(1.0 - std::pow(b2, t)));
  }
  denom.add_(o.eps());
  at::Tensor update = project_up(m / denom * (-step_size), g, st);
  const std::string& rule = o.inactive_update_rule();
  if (rule != "no") {
    const at::Tensor inactive = g - project_up(down, g, st);
    const double inactive_lr = o.lr() * o.proj_params_lr_scale() * o.inactive_lr_scale();
    if (rule == "sgd") update.add_(inactive.mul(-inactive_lr));
    else update.add_(inactive.sign().mul(-inactive_lr));
  }
  p.mul_(1 - o.lr() * o.weight_decay());
  p.add_(update);
}

}  // namespace descent
