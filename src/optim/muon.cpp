#include <descent/kernels/muon.h>
#include <descent/optim/launch.h>
#include <descent/optim/muon.h>

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <utility>

namespace descent {

namespace {

using kernels::NewtonSchulz5;

const MuonOptions& muon_options(const torch::optim::OptimizerOptions& o) { return static_cast<const MuonOptions&>(o); }

std::string shape_string(at::IntArrayRef s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

at::ScalarType ns_type(const std::string& s) {
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float64") return at::kDouble;
  return at::kFloat;
}

// The matrix Muon orthogonalises for a parameter: a conv kernel [O, I, kh, kw]
// as [O, I·kh·kw]; other tensors as a batch of their last two dimensions.
struct MatrixView {
  std::int64_t batch = 1, rows = 0, cols = 0;
  double scale = 1;  // sqrt(max(1, size(-2)/size(-1))) of the original tensor
};

MatrixView matrix_view(const torch::Tensor& p) {
  MatrixView v;
  const auto s = p.sizes();
  const auto nd = static_cast<std::int64_t>(s.size());
  if (nd == 4) {
    v.rows = s[0];
    v.cols = s[1] * s[2] * s[3];
  } else {
    v.rows = s[nd - 2];
    v.cols = s[nd - 1];
    for (std::int64_t i = 0; i < nd - 2; ++i) v.batch *= s[i];
  }
  // Python: max(1, g.size(-2) / g.size(-1)) ** 0.5 (a true division).
  const double ratio = static_cast<double>(s[nd - 2]) / static_cast<double>(s[nd - 1]);
  v.scale = std::pow(std::max(1.0, ratio), 0.5);
  return v;
}

// One matrix of the batch: updates the momentum, writes the update u (rounded
// to the parameter's dtype, then cast to the iteration dtype N) into x, the
// wide orientation (transposed when rows > cols), and returns Σ x².
template <class P, class N>
double momentum_into(const P* g, kernels::state_t<P>* m, N* x, std::int64_t rows, std::int64_t cols, bool transpose,
                     const kernels::MuonMomentumRule& rule) {
  using A = kernels::compute_t<P>;
  using S = kernels::state_t<P>;
  double sumsq = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t i = r * cols + c;
      A st[1] = {static_cast<A>(m[i])};
      A u = 0;
      rule(u, kernels::load(g, i), st);
      m[i] = static_cast<S>(st[0]);
      P rounded;
      kernels::store(&rounded, 0, u);  // the reference writes u into the gradient tensor
      const N xv = static_cast<N>(kernels::load(&rounded, 0));
      x[transpose ? c * rows + r : i] = xv;
      sumsq += static_cast<double>(xv) * static_cast<double>(xv);
    }
  }
  return sumsq;
}

template <class P> struct Storage { using type = P; };
template <> struct Storage<c10::BFloat16> { using type = kernels::bf16; };

}  // namespace

// ---- groups -------------------------------------------------------------------------------

std::vector<torch::optim::OptimizerParamGroup> muon_param_groups(const std::vector<torch::Tensor>& params,
                                                                const MuonOptions& muon, const MuonOptions& adamw) {
  std::vector<torch::Tensor> matrices, others;
  for (const auto& p : params) (p.dim() >= 2 ? matrices : others).push_back(p);
  MuonOptions m = muon;
  m.use_muon(true);
  MuonOptions a = adamw;
  a.use_muon(false);
  std::vector<torch::optim::OptimizerParamGroup> out;
  if (!matrices.empty()) out.emplace_back(std::move(matrices), std::make_unique<MuonOptions>(m));
  if (!others.empty()) out.emplace_back(std::move(others), std::make_unique<MuonOptions>(a));
  return out;
}

Muon::Muon(std::vector<torch::optim::OptimizerParamGroup> groups, MuonOptions defaults)
    : OptimizerImpl(std::move(groups), std::move(defaults)) {
  check_groups();
}

Muon::Muon(std::vector<torch::Tensor> params, MuonOptions defaults)
    : Muon(muon_param_groups(params, defaults), defaults) {}

void Muon::check_groups() const {
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& group = param_groups_[gi];
    if (!muon_options(group.options()).use_muon()) continue;
    const auto& params = group.params();
    for (std::size_t pi = 0; pi < params.size(); ++pi)
      if (params[pi].defined() && params[pi].dim() < 2)
        throw std::invalid_argument("muon: parameter " + std::to_string(pi) + " of group " + std::to_string(gi) +
                                    " has shape " + shape_string(params[pi].sizes()) +
                                    "; Muon orthogonalises matrices (two or more dimensions): give it a group "
                                    "with use_muon = false (AdamW)");
  }
}

const StateLayout& Muon::layout() const {
  static const StateLayout l{{"momentum_buffer", "exp_avg", "exp_avg_sq"}, {}};
  return l;
}

void Muon::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  if (muon_options(options).use_muon()) {
    st.buffer(0) = zeros_state(p);
  } else {
    st.buffer(1) = zeros_state(p);
    st.buffer(2) = zeros_state(p);
  }
}

const torch::Tensor& Muon::grad_or_zeros(const torch::Tensor& p) {
  if (p.grad().defined()) return p.grad();
  auto it = zeros_.find(p.unsafeGetTensorImpl());
  if (it == zeros_.end()) it = zeros_.emplace(p.unsafeGetTensorImpl(), at::zeros_like(p)).first;
  return it->second;
}

Muon::Workspace& Muon::workspace(at::ScalarType dtype, std::int64_t n, std::int64_t k) {
  const std::array<std::int64_t, 3> key{n, k, static_cast<std::int64_t>(dtype)};
  auto it = workspaces_.find(key);
  if (it != workspaces_.end()) return it->second;
  Workspace w;
  const auto o = at::TensorOptions().dtype(dtype);
  w.x = at::empty({n, k}, o);
  w.y = at::empty({n, k}, o);
  w.xt = w.x.t();
  w.yt = w.y.t();
  w.a = at::empty({n, n}, o);
  w.b = at::empty({n, n}, o);
  return workspaces_.emplace(key, std::move(w)).first->second;
}

void Muon::update() {
  check_groups();  // groups added since construction
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    auto& group = param_groups_[gi];
    const auto& o = muon_options(group.options());
    ++mutable_group_state(gi).step;
    for (const auto& p : group.params()) {
      // The reference steps a parameter without a gradient with zeros.
      const torch::Tensor& g = grad_or_zeros(p);
      ParamState& st = state_for(p, o);
      ++st.step;
      if (o.use_muon()) muon_step(p, g, st, o);
      else adam_step(p, g, st, o);
    }
  }
}

void Muon::adam_step(const torch::Tensor& p, const torch::Tensor& g, ParamState& st, const MuonOptions& o) {
  if (!st.buffer(1).defined()) st.buffer(1) = zeros_state(p);  // the group switched rules
  if (!st.buffer(2).defined()) st.buffer(2) = zeros_state(p);
  const double b1 = o.betas()[0], b2 = o.betas()[1];
  const double t = static_cast<double>(st.step);
  kernels::MuonAdamRule r;
  r.w1 = 1 - b1;
  r.w2 = 1 - b2;
  r.bc1 = 1 - std::pow(b1, t);
  r.bc2 = 1 - std::pow(b2, t);
  r.eps = o.eps();
  r.decay = 1 - o.lr() * o.weight_decay();
  r.neg_lr = -o.lr();
  launch(r, p, g, st.buffer(1), st.buffer(2));
}

void Muon::muon_step(const torch::Tensor& p, const torch::Tensor& grad, ParamState& st, const MuonOptions& o) {
  if (!st.buffer(0).defined()) st.buffer(0) = zeros_state(p);
  torch::Tensor& momentum = st.buffer(0);
  const MatrixView v = matrix_view(p);
  const bool transpose = v.rows > v.cols;
  const std::int64_t n = std::min(v.rows, v.cols), k = std::max(v.rows, v.cols);
  kernels::MuonMomentumRule rule;
  rule.w_momentum = 1 - o.momentum();
  rule.w_nesterov = o.momentum();
  rule.nesterov = o.nesterov();
  const double decay = 1 - o.lr() * o.weight_decay();
  const double neg_lr = -o.lr();
  const at::ScalarType nst = ns_type(o.ns_dtype());
  const std::int64_t steps = o.ns_steps();

  // Work on contiguous memory (copies for views; written back at the end).
  const bool dense = p.is_contiguous() && grad.is_contiguous() && momentum.is_contiguous();
  torch::Tensor pc = dense ? p : p.contiguous();
  torch::Tensor gc = dense ? grad : grad.contiguous();
  torch::Tensor mc = dense ? momentum : momentum.contiguous();
  const std::int64_t per = v.rows * v.cols;

  if (nst == at::kBFloat16) {
    // The reference's bfloat16 iteration, op for op through ATen (allocates;
    // its bfloat16 rounding is ATen's): u in the parameter's dtype first.
    auto u = at::empty({v.batch, v.rows, v.cols}, pc.options());
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, pc.scalar_type(), "muon_momentum", [&] {
      using P = typename Storage<scalar_t>::type;
      using S = kernels::state_t<P>;
      auto* gp = reinterpret_cast<const P*>(gc.data_ptr());
      auto* mp = reinterpret_cast<S*>(mc.data_ptr());
      auto* up = reinterpret_cast<P*>(u.data_ptr());
      using A = kernels::compute_t<P>;
      for (std::int64_t i = 0; i < v.batch * per; ++i) {
        A st1[1] = {static_cast<A>(mp[i])};
        A val = 0;
        rule(val, kernels::load(gp, i), st1);
        mp[i] = static_cast<S>(st1[0]);
        kernels::store(up, i, val);
      }
    });
    torch::Tensor x = u.to(at::kBFloat16);
    if (transpose) x = x.transpose(-2, -1);
    x = x / (at::frobenius_norm(x, {-2, -1}, /*keepdim=*/true) + NewtonSchulz5::eps);  // Tensor.norm(dim=(-2, -1))
    for (std::int64_t s = 0; s < steps; ++s) {
      auto a = at::matmul(x, x.transpose(-2, -1));
      auto b = a * NewtonSchulz5::b + at::matmul(a * NewtonSchulz5::c, a);
      x = x * NewtonSchulz5::a + at::matmul(b, x);
    }
    if (transpose) x = x.transpose(-2, -1);
    x.mul_(v.scale);
    pc.mul_(decay);
    pc.add_(x.reshape(pc.sizes()), neg_lr);
  } else {
    Workspace& w = workspace(nst, n, k);
    for (std::int64_t bi = 0; bi < v.batch; ++bi) {
      // u into w.x (wide orientation), then X = X / (‖X‖_F + 1e-7).
      AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, pc.scalar_type(), "muon_momentum", [&] {
        using P = typename Storage<scalar_t>::type;
        using S = kernels::state_t<P>;
        auto* gp = reinterpret_cast<const P*>(gc.data_ptr()) + bi * per;
        auto* mp = reinterpret_cast<S*>(mc.data_ptr()) + bi * per;
        AT_DISPATCH_FLOATING_TYPES(nst, "muon_ns_input", [&] {
          using N = scalar_t;
          N* x = w.x.data_ptr<N>();
          const double sumsq = momentum_into<P, N>(gp, mp, x, v.rows, v.cols, transpose, rule);
          const N d = static_cast<N>(std::sqrt(sumsq)) + static_cast<N>(NewtonSchulz5::eps);
          for (std::int64_t i = 0; i < per; ++i) x[i] = x[i] / d;
        });
      });
      // Newton–Schulz: A = X·Xᵀ; B = b·A + c·A·A; X = a·X + B·X.
      torch::Tensor* x = &w.x;
      torch::Tensor* xt = &w.xt;
      torch::Tensor* y = &w.y;
      torch::Tensor* yt = &w.yt;
      for (std::int64_t s = 0; s < steps; ++s) {
        at::mm_out(w.a, *x, *xt);
        at::addmm_out(w.b, w.a, w.a, w.a, NewtonSchulz5::b, NewtonSchulz5::c);
        at::addmm_out(*y, *x, w.b, *x, NewtonSchulz5::a, 1.0);
        std::swap(x, y);
        std::swap(xt, yt);
      }
      // O = X·scale (in the iteration dtype), back in the matrix orientation;
      // p = p·(1 − lr·wd) − lr·O.
      AT_DISPATCH_FLOATING_TYPES(nst, "muon_apply", [&] {
        using N = scalar_t;
        N* xs = x->data_ptr<N>();
        if (v.scale != 1.0) {
          const N sc = static_cast<N>(v.scale);
          for (std::int64_t i = 0; i < per; ++i) xs[i] = xs[i] * sc;
        }
        const std::int64_t rs = transpose ? 1 : v.cols, cs = transpose ? v.rows : 1;
        AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, pc.scalar_type(), "muon_apply_param", [&] {
          using P = typename Storage<scalar_t>::type;
          auto* pp = reinterpret_cast<P*>(pc.data_ptr()) + bi * per;
          kernels::muon_apply(pp, xs, v.rows, v.cols, rs, cs, decay, neg_lr);
        });
      });
    }
  }
  if (!pc.is_same(p)) p.copy_(pc);
  if (!mc.is_same(momentum)) momentum.copy_(mc);
}

}  // namespace descent
