#include <descent/kernels/moments.h>
#include <descent/optim/galore.h>
#include <descent/optim/launch.h>

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace descent {

namespace kernels {
// The non-projected update of galore_torch's AdamW, fused (Hugging Face
// AdamW with the weight decay after the step):
//   m = β1·m + (1 − β1)·g,  v = β2·v + (1 − β2)·g·g
//   p = p + (−step)·(m/(sqrt(v) + eps))          step = lr·sqrt(bc2)/bc1 (correct_bias) or lr
//   p = p + (−lr·wd)·p                           (only when wd > 0)
struct GaloreAdamRule {
  static constexpr int kStates = 2;
  double beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001;
  double eps = 1e-6, neg_step = 0;
  bool decay_on = false;
  double neg_decay = 0;
  template <class A> void operator()(A& p, A g, A* s) const {
    s[0] = ema(s[0], g, beta1, one_minus_beta1);
    s[1] = ema_product(s[1], g, g, beta2, one_minus_beta2);
    p = p + A(neg_step) * (s[0] / (std::sqrt(s[1]) + A(eps)));
    if (decay_on) p = p + A(neg_decay) * p;
  }
};
}  // namespace kernels

namespace {

enum Buf { kM = 0, kV, kOrtho, kOrthoRight };
enum Scalar { kSide = 0, kRank };
enum Side { kNone = 0, kRight = 1, kLeft = 2, kFull = 3 };

at::ScalarType work_dtype(const torch::Tensor& p) { return state_dtype(p.scalar_type()); }

bool galore_param(const GaLoreAdamWOptions& o, const torch::Tensor& p) { return o.rank() > 0; }

// The side GaLoreProjector.project takes for a gradient of this shape.
int project_side(const std::string& type, std::int64_t rows, std::int64_t cols) {
  if (type == "std") return rows >= cols ? kRight : kLeft;
  if (type == "reverse_std") return rows >= cols ? kLeft : kRight;
  if (type == "right") return kRight;
  if (type == "left") return kLeft;
  return kFull;
}

std::string shape_of(const torch::Tensor& p) {
  std::string s = "[";
  for (std::int64_t d = 0; d < p.dim(); ++d) s += (d ? ", " : "") + std::to_string(p.size(d));
  return s + "]";
}

}  // namespace

const StateLayout& GaLoreAdamW::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq", "ortho", "ortho_right"}, {"side", "rank"}};
  return l;
}

void GaLoreAdamW::init_state(ParamState& st, const torch::Tensor& p,
                             const torch::optim::OptimizerOptions& options) const {
  // Plain AdamW parameters: moments like the parameter. GaLore parameters get
  // moments shaped like their first projected gradient at their first step.
  if (!galore_param(cast(options), p)) {
    st.buffer(kM) = zeros_state(p);
    st.buffer(kV) = zeros_state(p);
  }
}

torch::Tensor GaLoreAdamW::lazy_state(std::size_t b, const torch::Tensor& p, const ParamState& st) const {
  const auto side = static_cast<int>(st.scalars[kSide]);
  const auto r = static_cast<std::int64_t>(st.scalars[kRank]);
  if (side == kNone || p.dim() != 2) return zeros_state(p);
  const std::int64_t rows = p.size(0), cols = p.size(1);
  const auto opts = p.options().dtype(work_dtype(p));
  if (b == kM || b == kV) {
    if (side == kRight) return at::zeros({rows, r}, opts);
    if (side == kLeft) return at::zeros({r, cols}, opts);
    return at::zeros({r, r}, opts);
  }
  if (b == kOrtho) return side == kRight ? at::zeros({r, cols}, opts) : at::zeros({rows, r}, opts);
  return at::zeros({r, cols}, opts);
}

// What would make the reference fail is refused before anything changes.
void GaLoreAdamW::update() {
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& o = cast(param_groups_[gi].options());
    if (o.rank() == 0) continue;
    const auto& params = param_groups_[gi].params();
    for (std::size_t pi = 0; pi < params.size(); ++pi) {
      const auto& p = params[pi];
      const std::string where = "galore_adamw: parameter " + std::to_string(pi) + " of group " + std::to_string(gi);
      if (p.dim() != 2)
        throw std::invalid_argument(where + " has shape " + shape_of(p) +
                                    "; GaLore groups (rank > 0) project 2-D parameters (put others in a group "
                                    "without rank, as the reference requires)");
      // reverse_std on a wide matrix with rank >= rows projects on the right
      // and then multiplies back on the left (its back-projection looks at the
      // low-rank shape): the reference fails on the shapes.
      const std::int64_t rows = p.size(0), cols = p.size(1);
      if (o.proj_type() == "reverse_std" && rows < cols && std::min(o.rank(), rows) >= rows && rows != cols)
        throw std::invalid_argument(where + " has shape " + shape_of(p) + ": proj_type = reverse_std with rank " +
                                    std::to_string(o.rank()) + " >= rows fails in the reference's back-projection");
    }
  }
  Optimizer::update();
}

void GaLoreAdamW::update_param(const torch::Tensor& p, const torch::Tensor& graw, ParamState& st,
                               const torch::optim::OptimizerOptions& options, GroupState& gs) {
  const auto& o = cast(options);
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double t = static_cast<double>(st.step);  // after the increment
  double step_size = o.lr();
  if (o.correct_bias()) step_size = step_size * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t));

  if (!galore_param(o, p)) {
    if (!st.buffer(kM).defined()) {  // the group became a plain one
      st.buffer(kM) = zeros_state(p);
      st.buffer(kV) = zeros_state(p);
    }
    kernels::GaloreAdamRule r;
    r.beta1 = b1;
    r.one_minus_beta1 = 1.0 - b1;
    r.beta2 = b2;
    r.one_minus_beta2 = 1.0 - b2;
    r.eps = o.eps();
    r.neg_step = -step_size;
    r.decay_on = o.weight_decay() > 0.0;
    r.neg_decay = -o.lr() * o.weight_decay();
    launch(r, p, graw, st.buffer(kM), st.buffer(kV));
    return;
  }

  const torch::Tensor g = graw.to(work_dtype(p));
  const std::int64_t rows = g.size(0), cols = g.size(1);
  const int side = project_side(o.proj_type(), rows, cols);
  // GaLoreProjector.project: a new projector at the first step and whenever
  // the step count before this step is a multiple of update_proj_gap.
  const std::int64_t before = st.step - 1;
  if (!st.buffer(kOrtho).defined() || before % o.update_proj_gap() == 0) {
    auto f = projection::svd_factors(g, o.rank(), side != kRight, side != kLeft);
    auto source = [&](const char* name, const torch::Tensor& computed) {
      if (!projection_source_) return computed;
      torch::Tensor x = projection_source_(gs.step, p, name, computed);
      if (!x.defined()) return computed;
      if (!x.sizes().equals(computed.sizes()))
        throw std::invalid_argument(std::string("galore_adamw: the supplied ") + name + " factor has the wrong shape");
      return x.to(g.scalar_type());
    };
    if (side != kRight) f.left = source("left", f.left).contiguous();
    if (side != kLeft) f.right = source("right", f.right).contiguous();
    st.buffer(kOrtho) = side == kRight ? f.right : f.left;
    st.buffer(kOrthoRight) = side == kFull ? f.right : torch::Tensor();
    st.scalars[kSide] = side;
    st.scalars[kRank] = static_cast<double>(side == kRight ? f.right.size(0) : f.left.size(1));
  }
  const torch::Tensor& ortho = st.buffer(kOrtho);
  at::Tensor low;
  if (side == kRight) low = at::matmul(g, ortho.t());
  else if (side == kLeft) low = at::matmul(ortho.t(), g);
  else low = at::matmul(at::matmul(ortho.t(), g), st.buffer(kOrthoRight).t());
  if (!st.buffer(kM).defined()) {
    st.buffer(kM) = at::zeros_like(low);
    st.buffer(kV) = at::zeros_like(low);
  }
  torch::Tensor& m = st.buffer(kM);
  torch::Tensor& v = st.buffer(kV);
  m.mul_(b1).add_(low, 1.0 - b1);
  v.mul_(b2).addcmul_(low, low, 1.0 - b2);
  const at::Tensor denom = v.sqrt().add_(o.eps());
  at::Tensor norm = m / denom;
  // project_back: 'std' and 'reverse_std' pick the side from the LOW-RANK shape.
  const std::string& type = o.proj_type();
  bool back_right;
  if (type == "std") back_right = norm.size(0) >= norm.size(1);
  else if (type == "reverse_std") back_right = !(norm.size(0) <= norm.size(1));
  else back_right = type == "right";
  if (type == "full") norm = at::matmul(at::matmul(ortho, norm), st.buffer(kOrthoRight));
  else if (back_right) norm = at::matmul(norm, ortho);
  else norm = at::matmul(ortho, norm);
  norm = norm * o.scale();
  p.add_(norm, -step_size);
  if (o.weight_decay() > 0.0) p.add_(p, -o.lr() * o.weight_decay());
}

}  // namespace descent
