#include <descent/kernels/adafactor.h>
#include <descent/optim/adafactor.h>
#include <descent/optim/state_memory.h>

#include "optim/factored_launch.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace descent {

namespace {

// State buffers, in layout() order.
enum Buf { kExpAvg = 0, kRow = 1, kCol = 2, kExpAvgSq = 3, kHat = 4 };

// The canonical spelling of a momentum_dtype.
std::string canonical_dtype(const std::string& s) {
  std::string t = s.rfind("torch.", 0) == 0 ? s.substr(6) : s;
  if (t == "float") return "float32";
  if (t == "double") return "float64";
  if (t == "half") return "float16";
  return t;
}

template <kernels::Momentum M> using Mom = std::integral_constant<kernels::Momentum, M>;

using detail::with_bool;
using detail::zeros_elementwise;

template <class F> void with_momentum(kernels::Momentum m, F&& f) {
  switch (m) {
    case kernels::Momentum::none: f(Mom<kernels::Momentum::none>{}); break;
    case kernels::Momentum::lerp: f(Mom<kernels::Momentum::lerp>{}); break;
    case kernels::Momentum::bf16: f(Mom<kernels::Momentum::bf16>{}); break;
    case kernels::Momentum::f16: f(Mom<kernels::Momentum::f16>{}); break;
    default: f(Mom<kernels::Momentum::f32>{}); break;
  }
}

// How the first moment is kept, from the constructor's momentum_dtype.
kernels::Momentum momentum_mode(const AdafactorOptions& o, const AdafactorOptions& d) {
  if (o.no_momentum()) return kernels::Momentum::none;
  const std::string md = canonical_dtype(d.momentum_dtype());
  return md == "float64"    ? kernels::Momentum::lerp
         : md == "bfloat16" ? kernels::Momentum::bf16
         : md == "float16"  ? kernels::Momentum::f16
                            : kernels::Momentum::f32;
}

// The momentum buffer, in the storage of its momentum_dtype (bfloat16 by
// default: 2 bytes per parameter, as the reference), contiguous.
torch::Tensor zeros_momentum(const torch::Tensor& p, kernels::Momentum mode) {
  const at::ScalarType dt = mode == kernels::Momentum::bf16  ? at::kBFloat16
                            : mode == kernels::Momentum::f16 ? at::kHalf
                            : mode == kernels::Momentum::f32 ? at::kFloat
                                                             : state_dtype(p.scalar_type());
  return zeros_state(p.sizes(), dt);
}

}  // namespace

const StateLayout& Adafactor::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq_row", "exp_avg_sq_col", "exp_avg_sq", "exp_avg_sq_hat"}, {"RMS"}};
  return l;
}

void Adafactor::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  const auto& o = cast(options);
  if (!o.no_momentum()) st.buffer(kExpAvg) = zeros_momentum(p, momentum_mode(o, cast(defaults())));
  if (p.dim() >= 2) {
    st.buffer(kRow) = detail::zeros_rows(p);
    st.buffer(kCol) = detail::zeros_cols(p);
  } else {
    st.buffer(kExpAvgSq) = zeros_elementwise(p);
  }
  if (o.ams_bound()) st.buffer(kHat) = zeros_elementwise(p);
}

void Adafactor::update_param(const torch::Tensor& param, const torch::Tensor& grad, ParamState& st,
                             const torch::optim::OptimizerOptions& options, GroupState& group) {
  const auto& o = cast(options);
  // Read from the constructor's options, as the reference (self.<name>).
  const auto& d = cast(defaults());
  const std::string md = canonical_dtype(d.momentum_dtype());
  const bool momentum = !o.no_momentum();
  const bool ams = o.ams_bound();
  const bool factored = param.dim() >= 2;
  // Buffers an option switched on after the state was created start at zero.
  const kernels::Momentum mode = momentum_mode(o, d);
  if (momentum && !st.buffer(kExpAvg).defined()) st.buffer(kExpAvg) = zeros_momentum(param, mode);
  if (ams && !st.buffer(kHat).defined()) st.buffer(kHat) = zeros_elementwise(param);
  for (auto& b : st.buffers) detail::make_contiguous(b);  // loaded from a checkpoint in another layout

  // Per-step scalars, in double; where the reference holds them in 0-d tensors
  // of the parameter's dtype, rounded to float32 as it does (R).
  const bool f32 = param.scalar_type() != at::kDouble;
  auto R = [f32](double x) { return f32 ? static_cast<double>(static_cast<float>(x)) : x; };
  const double t = static_cast<double>(group.step);  // the reference's group['step']
  const double beta2_t = std::min(o.betas()[1], 1.0 - std::pow(t, d.decay_rate()));
  const double w2 = 1.0 - beta2_t;
  const double rho = o.relative_step() ? std::min(o.warmup_init() ? 1e-6 * t : 1e-2, 1.0 / std::sqrt(t)) : o.lr();
  const double eps1 = md == "float16" ? 1e-7 : d.eps1();  // the reference's float16 override

  kernels::AdafactorScalars c;
  c.gsign = d.maximize() ? -1.0 : 1.0;
  c.eps1 = eps1;
  c.w2 = w2;
  c.bias_correction2 = w2;
  c.w1 = 1.0 - o.betas()[0];

  const torch::Tensor p = param.is_contiguous() ? param : param.contiguous();
  const torch::Tensor g = grad.is_contiguous() ? grad : grad.contiguous();
  const kernels::Grid grid = detail::grid_of(p, factored);
  const std::int64_t nrow = grid.batches * grid.rows, ncol = grid.batches * grid.cols;
  double* rf = nullptr;
  double* cf = nullptr;
  if (factored) {
    double* s = detail::grow(stats_, static_cast<std::size_t>(2 * (nrow + ncol)));
    rf = s;
    cf = s + nrow;
    double* row_sum = cf + ncol;
    double* col_sum = row_sum + nrow;
    kernels::AdafactorSquares sq{eps1};
    detail::launch_grid(sq, grid, p, g, nullptr, nullptr, row_sum, col_sum, partials_);
    torch::Tensor& row = st.buffer(kRow);
    torch::Tensor& col = st.buffer(kCol);
    detail::dispatch_compute(p.scalar_type(), [&](auto a, auto s_) {
      using A = decltype(a);
      using S = decltype(s_);
      S* rp = static_cast<S*>(row.data_ptr());
      S* cp = static_cast<S*>(col.data_ptr());
      kernels::adafactor_statistics<A>(grid, rp, cp, row_sum, col_sum, w2);
      kernels::factors<A>(grid, rp, cp, rf, cf);
    });
  }

  const torch::Tensor& v = st.buffer(kExpAvgSq);
  const torch::Tensor& hat = st.buffer(kHat);
  const torch::Tensor& m = st.buffer(kExpAvg);
  const double n = static_cast<double>(p.numel());
  const double sqrt_n = R(std::sqrt(n));

  with_bool(factored, [&](auto fac) {
    with_bool(ams, [&](auto am) {
      constexpr bool F = decltype(fac)::value, Am = decltype(am)::value;
      // Pass 1: statistics, Σp², ΣU².
      kernels::AdafactorPrecondition<F, Am> pre;
      pre.c = c;
      std::array<double, 2> sums{};
      if constexpr (!F && Am) sums = detail::launch_grid(pre, grid, p, g, rf, cf, nullptr, nullptr, partials_, v, hat);
      else if constexpr (!F) sums = detail::launch_grid(pre, grid, p, g, rf, cf, nullptr, nullptr, partials_, v);
      else if constexpr (Am) sums = detail::launch_grid(pre, grid, p, g, rf, cf, nullptr, nullptr, partials_, hat);
      else sums = detail::launch_grid(pre, grid, p, g, rf, cf, nullptr, nullptr, partials_);

      // RMS(p) = ||p|| / sqrt(numel), and the step size lr_t.
      const double rms = R(R(std::sqrt(sums[0])) / sqrt_n);
      st.scalars[0] = rms;
      bool lr_is_tensor = false;  // max(eps2, RMS)·ρ is a 0-d tensor when RMS wins
      double lr_t = rho;
      if (o.scale_parameter()) {
        if (rms > R(d.eps2())) {
          lr_t = R(rms * R(rho));
          lr_is_tensor = true;
        } else {
          lr_t = d.eps2() * rho;
        }
      }
      c.lr = lr_t;
      // Clipping: divide by min(RMS(U)/clip, 1) (NaN stays NaN).
      const double rms_u = R(R(std::sqrt(sums[1])) / sqrt_n);
      const double ratio = R(rms_u / R(d.clip_threshold()));
      c.factor = ratio > 1.0 ? 1.0 : ratio;
      // Decoupled weight decay: p·(1 − wd·lr_t), or p·(1 − wd) with fixed_decay.
      if (!o.weight_decouple()) {
        c.decay = 1.0;
      } else if (o.fixed_decay()) {
        c.decay = 1.0 - o.weight_decay() * 1.0;
      } else if (lr_is_tensor) {
        c.decay = R(1.0 - R(R(o.weight_decay()) * lr_t));
      } else {
        c.decay = 1.0 - o.weight_decay() * lr_t * 1.0;
      }

      // Pass 2: the update.
      with_momentum(mode, [&](auto mo) {
        constexpr kernels::Momentum M = decltype(mo)::value;
        auto run = [&](const auto& rule) {
          if constexpr (!F && Am && M != kernels::Momentum::none)
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_, v, hat, m);
          else if constexpr (!F && Am)
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_, v, hat);
          else if constexpr (!F && M != kernels::Momentum::none)
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_, v, m);
          else if constexpr (!F)
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_, v);
          else if constexpr (Am && M != kernels::Momentum::none)
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_, hat, m);
          else if constexpr (Am)
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_, hat);
          else if constexpr (M != kernels::Momentum::none)
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_, m);
          else
            return detail::launch_grid(rule, grid, p, g, rf, cf, nullptr, nullptr, partials_);
        };
        if constexpr (M != kernels::Momentum::none) {
          if (o.cautious()) {
            kernels::AdafactorMomentum<F, Am, M> mom;
            mom.c = c;
            const double count = run(mom)[0];
            // mask·numel/(Σmask + 1): reciprocal, then the product, in the tensor's dtype.
            c.cautious_scale = R(R(1.0 / R(R(count) + 1.0)) * R(n));
            kernels::AdafactorCautious<M> apply;
            apply.c = c;
            detail::launch_grid(apply, grid, p, g, nullptr, nullptr, nullptr, nullptr, partials_, m);
            return;
          }
        }
        kernels::AdafactorApply<F, Am, M> apply;
        apply.c = c;
        run(apply);
      });
    });
  });
  if (!p.is_same(param)) param.copy_(p);
}

}  // namespace descent
