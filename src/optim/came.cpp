#include <descent/kernels/came.h>
#include <descent/optim/came.h>

#include "optim/factored_launch.h"

#include <cmath>

namespace descent {

namespace {
// State buffers, in layout() order.
enum Buf { kExpAvg = 0, kSqRow = 1, kSqCol = 2, kResRow = 3, kResCol = 4, kExpAvgSq = 5, kHat = 6 };
}  // namespace

void CAMEOptions::check_consistency() const {
  // The reference's validate_betas: β1, β2 in [0, 1), β3 in [0, 1].
  for (int i = 0; i < 2; ++i)
    if (!(betas_[i] < 1.0))
      throw OptionError("came: invalid value " + detail::format_value(betas_) + " for option 'betas': beta" +
                        std::to_string(i + 1) + " must be in [0, 1)");
}

const StateLayout& CAME::layout() const {
  static const StateLayout l{{"exp_avg", "exp_avg_sq_row", "exp_avg_sq_col", "exp_avg_res_row", "exp_avg_res_col",
                              "exp_avg_sq", "exp_avg_sq_hat"},
                             {}};
  return l;
}

void CAME::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  st.buffer(kExpAvg) = detail::zeros_elementwise(p);
  if (p.dim() >= 2) {
    st.buffer(kSqRow) = detail::zeros_rows(p);
    st.buffer(kSqCol) = detail::zeros_cols(p);
    st.buffer(kResRow) = detail::zeros_rows(p);
    st.buffer(kResCol) = detail::zeros_cols(p);
  } else {
    st.buffer(kExpAvgSq) = detail::zeros_elementwise(p);
  }
  if (cast(options).ams_bound()) st.buffer(kHat) = detail::zeros_elementwise(p);
}

void CAME::update_param(const torch::Tensor& param, const torch::Tensor& grad, ParamState& st,
                        const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const auto& d = cast(defaults());  // clip_threshold, eps1, eps2, maximize: the constructor's (self.<name>)
  const bool ams = o.ams_bound();
  const bool factored = param.dim() >= 2;
  if (ams && !st.buffer(kHat).defined()) st.buffer(kHat) = detail::zeros_elementwise(param);  // switched on later
  for (auto& b : st.buffers) detail::make_contiguous(b);

  const bool f32 = param.scalar_type() != at::kDouble;
  auto R = [f32](double x) { return f32 ? static_cast<double>(static_cast<float>(x)) : x; };
  const double beta1 = o.betas()[0], beta2 = o.betas()[1], beta3 = o.betas()[2];
  kernels::CameScalars c;
  c.gsign = d.maximize() ? -1.0 : 1.0;
  c.eps1 = d.eps1();
  c.eps2 = d.eps2();
  c.beta1 = beta1;
  c.one_minus_beta1 = 1.0 - beta1;
  c.beta2 = beta2;
  c.one_minus_beta2 = 1.0 - beta2;
  c.lr = o.lr();
  c.decay = !o.weight_decouple() ? 1.0 : 1.0 - o.weight_decay() * (o.fixed_decay() ? 1.0 : o.lr()) * 1.0;

  const torch::Tensor p = param.is_contiguous() ? param : param.contiguous();
  const torch::Tensor g = grad.is_contiguous() ? grad : grad.contiguous();
  const kernels::Grid grid = detail::grid_of(p, factored);
  const std::int64_t nrow = grid.batches * grid.rows, ncol = grid.batches * grid.cols;
  const double sqrt_n = R(std::sqrt(static_cast<double>(p.numel())));
  // The clipping divisor max(RMS(U)/clip, 1) from ΣU² (NaN stays NaN).
  auto clip_factor = [&](double sum) {
    const double ratio = R(R(R(std::sqrt(sum)) / sqrt_n) / R(d.clip_threshold()));
    return ratio < 1.0 ? 1.0 : ratio;
  };
  const torch::Tensor& hat = st.buffer(kHat);
  const torch::Tensor& m = st.buffer(kExpAvg);

  if (!factored) {
    const torch::Tensor& v = st.buffer(kExpAvgSq);
    detail::with_bool(ams, [&](auto am) {
      constexpr bool Am = decltype(am)::value;
      kernels::CamePrecondition<false, Am> pre;
      pre.c = c;
      double sum;
      if constexpr (Am)
        sum = detail::launch_grid(pre, grid, p, g, nullptr, nullptr, nullptr, nullptr, partials_, v, hat)[0];
      else
        sum = detail::launch_grid(pre, grid, p, g, nullptr, nullptr, nullptr, nullptr, partials_, v)[0];
      c.factor = clip_factor(sum);
      kernels::CameApply<Am> apply;
      apply.c = c;
      if constexpr (Am)
        detail::launch_grid(apply, grid, p, g, nullptr, nullptr, nullptr, nullptr, partials_, v, hat, m);
      else
        detail::launch_grid(apply, grid, p, g, nullptr, nullptr, nullptr, nullptr, partials_, v, m);
    });
  } else {
    double* s = detail::grow(stats_, static_cast<std::size_t>(2 * (nrow + ncol)));
    double* rf = s;
    double* cf = rf + nrow;
    double* row_sum = cf + ncol;
    double* col_sum = row_sum + nrow;
    // Row and column statistics of a (row, col) pair from this step's sums, then their factors.
    auto statistics = [&](torch::Tensor& row, torch::Tensor& col, double beta) {
      detail::dispatch_compute(p.scalar_type(), [&](auto a, auto s_) {
        using A = decltype(a);
        using S = decltype(s_);
        S* rp = static_cast<S*>(row.data_ptr());
        S* cp = static_cast<S*>(col.data_ptr());
        kernels::came_statistics<A>(grid, rp, cp, row_sum, col_sum, beta, 1.0 - beta);
        kernels::factors<A>(grid, rp, cp, rf, cf);
      });
    };
    kernels::CameSquares sq{c.eps1};
    detail::launch_grid(sq, grid, p, g, nullptr, nullptr, row_sum, col_sum, partials_);
    statistics(st.buffer(kSqRow), st.buffer(kSqCol), beta2);
    detail::with_bool(ams, [&](auto am) {
      constexpr bool Am = decltype(am)::value;
      kernels::CamePrecondition<true, Am> pre;
      pre.c = c;
      double sum;
      if constexpr (Am)
        sum = detail::launch_grid(pre, grid, p, g, rf, cf, nullptr, nullptr, partials_, hat)[0];
      else
        sum = detail::launch_grid(pre, grid, p, g, rf, cf, nullptr, nullptr, partials_)[0];
      c.factor = clip_factor(sum);
      kernels::CameResidual<Am> res;
      res.c = c;
      if constexpr (Am)
        detail::launch_grid(res, grid, p, g, rf, cf, row_sum, col_sum, partials_, hat, m);
      else
        detail::launch_grid(res, grid, p, g, rf, cf, row_sum, col_sum, partials_, m);
    });
    statistics(st.buffer(kResRow), st.buffer(kResCol), beta3);
    kernels::CameStep step;
    step.c = c;
    detail::launch_grid(step, grid, p, g, rf, cf, nullptr, nullptr, partials_, m);
  }
  if (!p.is_same(param)) param.copy_(p);
}

}  // namespace descent
