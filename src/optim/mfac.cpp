#include <descent/kernels/mfac.h>
#include <descent/kernels/scalar_types.h>
#include <descent/optim/launch.h>
#include <descent/optim/mfac.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace descent {

namespace {

namespace mk = kernels::mfac;

constexpr std::int64_t kMaxChunks = 64;   // chunks of a tensor (fixed by its size: thread-count independent)
constexpr std::int64_t kMinChunk = 4096;  // elements
constexpr std::int64_t kBlock = 1024;     // elements per inner block (stack buffers)

template <class P> struct Storage { using type = P; };
template <> struct Storage<c10::BFloat16> { using type = kernels::bf16; };

// Round a compute-type value through the parameter's storage type (as the
// reference's tensors in the parameter's dtype do).
template <class P, class A> A through(A v) {
  P tmp;
  kernels::store(&tmp, 0, v);
  return static_cast<A>(kernels::load(&tmp, 0));
}

std::int64_t chunk_size(std::int64_t n) {
  return std::max(kMinChunk, (n + kMaxChunks - 1) / kMaxChunks);
}

enum { kMomentum = 0, kWindow = 1, kMask = 2 };

}  // namespace

const StateLayout& MFAC::layout() const {
  static const StateLayout l{{"momentum_buffer", "grad_window", "mask"}, {}};
  return l;
}

void MFAC::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const auto& o = cast(options);
  st.buffer(kWindow) = at::zeros({o.ngrads(), p.numel()}, p.options().dtype(state_dtype(p.scalar_type())));
  if (o.momentum() > 0) st.buffer(kMomentum) = zeros_state(p);
  if (o.sparse()) st.buffer(kMask) = (p != 0).to(state_dtype(p.scalar_type()));
}

void MFAC::check_group_buffers(std::size_t group, const GroupState& staged) const {
  if (staged.buffers.empty() || !staged.buffers[0].defined()) return;
  const auto& gram = staged.buffers[0];
  if (group != 0) throw std::runtime_error("only group 0 keeps M-FAC's Gram matrix");
  if (gram.dim() != 2 || gram.size(0) != gram.size(1) || gram.scalar_type() != at::kDouble)
    throw std::runtime_error("the Gram matrix must be a square float64 matrix");
  const double next = staged.scalars.empty() ? 0 : staged.scalars[0];
  if (!(next >= 0 && next < static_cast<double>(gram.size(0)) && next == std::floor(next)))
    throw std::runtime_error("the window position is out of range");
}

std::function<void()> MFAC::load_extra(torch::serialize::InputArchive&) {
  return [this] { factored_rows_ = 0; };
}

void MFAC::check_global_options() const {
  const auto& o0 = options(0);
  for (std::size_t gi = 1; gi < param_groups_.size(); ++gi) {
    const auto& o = options(gi);
    if (o.ngrads() != o0.ngrads() || o.damp() != o0.damp() || o.sparse() != o0.sparse())
      throw OptionError("mfac: options 'ngrads', 'damp' and 'sparse' are global (one preconditioner over every "
                        "parameter): group " + std::to_string(gi) + " has ngrads=" + std::to_string(o.ngrads()) +
                        ", damp=" + detail::format_value(o.damp()) + ", sparse=" + (o.sparse() ? "true" : "false") +
                        ", group 0 ngrads=" + std::to_string(o0.ngrads()) + ", damp=" + detail::format_value(o0.damp()) +
                        ", sparse=" + (o0.sparse() ? "true" : "false"));
  }
  const auto& gram = group_state(0).buffers.empty() ? torch::Tensor() : group_state(0).buffers[0];
  if (gram.defined() && gram.size(0) != o0.ngrads())
    throw OptionError("mfac: option 'ngrads' cannot change once the window holds gradients (it holds " +
                      std::to_string(gram.size(0)) + ", the options say " + std::to_string(o0.ngrads()) +
                      "): build a new optimizer");
}

void MFAC::ensure_workspace(std::int64_t m) {
  const auto mm = static_cast<std::size_t>(m);
  if (D_.size() == mm) return;
  L_.assign(mm * mm, 0.0);
  D_.assign(mm, 0.0);
  w_.assign(mm, 0.0);
  q_.assign(mm, 0.0);
  y_.assign(mm, 0.0);
  partial_.assign(static_cast<std::size_t>(kMaxChunks) * mm, 0.0);
  factored_rows_ = 0;
}

void MFAC::update() {
  if (param_groups_.empty()) return;
  check_global_options();
  const auto& o0 = options(0);
  const std::int64_t m = o0.ngrads();
  const double lambda = 1.0 / o0.damp();
  const bool sparse = o0.sparse();
  GroupState& gs0 = mutable_group_state(0);
  if (!gs0.buffers[0].defined()) {
    gs0.buffers[0] = at::zeros({m, m}, at::TensorOptions().dtype(at::kDouble));
    factored_rows_ = 0;
  }
  ensure_workspace(m);
  const std::int64_t r = static_cast<std::int64_t>(gs0.scalars[0]);
  std::fill(q_.begin(), q_.end(), 0.0);

  // 1. Row r of the window: this step's gradient (zeros where a parameter has
  //    none); q = G·g.
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    auto& group = param_groups_[gi];
    const auto& o = options(gi);
    ++mutable_group_state(gi).step;
    for (const auto& p : group.params()) {
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) {
        if (ParamState* st = state_of(p)) st->buffer(kWindow).select(0, r).zero_();
        continue;
      }
      ParamState& st = state_for(p, o);
      ++st.step;
      if (sparse && !st.buffer(kMask).defined()) st.buffer(kMask) = (p != 0).to(state_dtype(p.scalar_type()));
      const torch::Tensor pc = p.is_contiguous() ? p : p.contiguous();
      const torch::Tensor gc = grad.is_contiguous() ? grad : grad.contiguous();
      const torch::Tensor& maskt = st.buffer(kMask);
      const torch::Tensor mc = sparse ? (maskt.is_contiguous() ? maskt : maskt.contiguous()) : maskt;
      torch::Tensor& window = st.buffer(kWindow);
      const std::int64_t n = p.numel();
      const double wd = o.weight_decay();
      AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, p.scalar_type(), "mfac_window", [&] {
        using P = typename Storage<scalar_t>::type;
        using S = kernels::state_t<P>;
        using A = kernels::compute_t<P>;
        const P* gp = reinterpret_cast<const P*>(gc.data_ptr());
        const P* pp = reinterpret_cast<const P*>(pc.data_ptr());
        const S* mp = sparse ? mc.data_ptr<S>() : nullptr;
        S* G = window.data_ptr<S>();
        S* row = G + r * n;
        const std::int64_t chunk = chunk_size(n);
        const std::int64_t chunks = (n + chunk - 1) / chunk;
        double* partial = partial_.data();
        std::fill(partial, partial + chunks * m, 0.0);
        auto body = [&](std::int64_t cb, std::int64_t ce) {
          for (std::int64_t c = cb; c < ce; ++c) {
            const std::int64_t b = c * chunk, e = std::min(n, b + chunk);
            for (std::int64_t i = b; i < e; ++i) {
              A gv = kernels::load(gp, i);
              // p.grad + weight_decay·p, in the parameter's dtype (only with weight decay)
              if (wd > 0) gv = through<P>(gv + through<P>(A(wd) * kernels::load(pp, i)));
              if (mp != nullptr && mp[i] == S(0)) gv = A(0);
              row[i] = static_cast<S>(gv);
            }
            for (std::int64_t bb = b; bb < e; bb += kBlock)
              mk::window_dots(G, n, m, row, bb, std::min(e, bb + kBlock), partial + c * m);
          }
        };
        if (chunks == 1 || at::get_num_threads() == 1 || at::in_parallel_region()) body(0, chunks);
        else at::parallel_for(0, chunks, 1, body);
        for (std::int64_t c = 0; c < chunks; ++c)
          for (std::int64_t j = 0; j < m; ++j) q_[j] += partial[c * m + j];
      });
    }
  }

  // 2. Row and column r of the Gram matrix G·Gᵀ.
  double* gram = gs0.buffers[0].data_ptr<double>();
  for (std::int64_t j = 0; j < m; ++j) {
    gram[r * m + j] = q_[j];
    gram[j * m + r] = q_[j];
  }
  // 3. K = λ·G·Gᵀ + m·I = L·D·Lᵀ from row r on (rows before r are unchanged);
  //    y = λ²·K⁻¹·q.
  mk::ldl_rows(gram, m, lambda, L_.data(), D_.data(), w_.data(), std::min(r, factored_rows_));
  factored_rows_ = m;
  mk::solve(L_.data(), D_.data(), m, lambda, q_.data(), y_.data());

  // 4. x = λ·g − Gᵀ·y per parameter; momentum; p = p − lr·x.
  for (std::size_t gi = 0; gi < param_groups_.size(); ++gi) {
    auto& group = param_groups_[gi];
    const auto& o = options(gi);
    const double mu = o.momentum();
    const double neg_lr = -o.lr();
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      ParamState& st = *state_of(p);
      if (mu > 0 && !st.buffer(kMomentum).defined()) st.buffer(kMomentum) = zeros_state(p);
      const bool dense = p.is_contiguous() && (mu <= 0 || st.buffer(kMomentum).is_contiguous()) &&
                         (!sparse || st.buffer(kMask).is_contiguous());
      torch::Tensor pc = dense ? p : p.contiguous();
      torch::Tensor vc = mu > 0 ? (dense ? st.buffer(kMomentum) : st.buffer(kMomentum).contiguous()) : torch::Tensor();
      const torch::Tensor mc = sparse ? (dense ? st.buffer(kMask) : st.buffer(kMask).contiguous()) : torch::Tensor();
      const torch::Tensor& window = st.buffer(kWindow);
      const std::int64_t n = p.numel();
      AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, p.scalar_type(), "mfac_apply", [&] {
        using P = typename Storage<scalar_t>::type;
        using S = kernels::state_t<P>;
        using A = kernels::compute_t<P>;
        P* pp = reinterpret_cast<P*>(pc.data_ptr());
        S* vp = mu > 0 ? vc.data_ptr<S>() : nullptr;
        const S* mp = sparse ? mc.data_ptr<S>() : nullptr;
        const S* G = window.data_ptr<S>();
        const S* g = G + r * n;
        const double* y = y_.data();
        const std::int64_t chunk = chunk_size(n);
        const std::int64_t chunks = (n + chunk - 1) / chunk;
        auto body = [&](std::int64_t cb, std::int64_t ce) {
          double x[kBlock];
          for (std::int64_t c = cb; c < ce; ++c) {
            const std::int64_t b = c * chunk, e = std::min(n, b + chunk);
            for (std::int64_t bb = b; bb < e; bb += kBlock) {
              const std::int64_t be = std::min(e, bb + kBlock);
              mk::woodbury_apply(G, n, m, g, y, lambda, bb, be, x);
              for (std::int64_t i = bb; i < be; ++i) {
                A xi = static_cast<A>(static_cast<S>(x[i - bb]));  // x in the window's dtype
                if (mp != nullptr && mp[i] == S(0)) xi = A(0);
                if (vp != nullptr) {
                  // momentum·v + (1 − momentum)·x
                  const A v = A(mu) * static_cast<A>(vp[i]) + A(1 - mu) * xi;
                  vp[i] = static_cast<S>(v);
                  xi = v;
                }
                A pv = kernels::load(pp, i);
                pv = pv + A(neg_lr) * xi;
                kernels::store(pp, i, pv);
              }
            }
          }
        };
        if (chunks == 1 || at::get_num_threads() == 1 || at::in_parallel_region()) body(0, chunks);
        else at::parallel_for(0, chunks, 1, body);
      });
      if (!pc.is_same(p)) const_cast<torch::Tensor&>(p).copy_(pc);
      if (vc.defined() && !vc.is_same(st.buffer(kMomentum))) st.buffer(kMomentum).copy_(vc);
    }
  }
  gs0.scalars[0] = static_cast<double>((r + 1) % m);
}

}  // namespace descent
