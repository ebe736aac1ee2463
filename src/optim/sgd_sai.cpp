#include <descent/kernels/sgd_sai.h>
#include <descent/optim/launch.h>
#include <descent/optim/sgd_sai.h>

#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace descent {

namespace {

// Calls f(x) for every element of a contiguous tensor, as a double, in order.
template <class F>
void visit(const torch::Tensor& t, F&& f) {
  const std::int64_t n = t.numel();
  switch (t.scalar_type()) {
    case at::kDouble: {
      const double* d = t.data_ptr<double>();
      for (std::int64_t i = 0; i < n; ++i) f(d[i]);
      break;
    }
    case at::kFloat: {
      const float* d = t.data_ptr<float>();
      for (std::int64_t i = 0; i < n; ++i) f(static_cast<double>(d[i]));
      break;
    }
    case at::kBFloat16: {
      const c10::BFloat16* d = t.data_ptr<c10::BFloat16>();
      for (std::int64_t i = 0; i < n; ++i) f(static_cast<double>(static_cast<float>(d[i])));
      break;
    }
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

// Tensor.nan_to_num(): NaN → 0, ±inf → ± the dtype's largest finite value.
double nan_to_num(double x, bool single) {
  if (std::isnan(x)) return 0.0;
  const double big = single ? static_cast<double>(std::numeric_limits<float>::max())
                            : std::numeric_limits<double>::max();
  if (std::isinf(x)) return x > 0 ? big : -big;
  return x;
}

// The reference's warm-up statistic, in its precisions (single = float32 or
// bfloat16 parameters, whose arithmetic the reference does in float32):
//   sigma = g.std().nan_to_num()       unbiased (N − 1); ATen's full reduction sums
//                                      (x − mean)² in double around the tensor's
//                                      mean (for float32, the float32 mean), then
//                                      rounds the std to the dtype
//   norm  = g.norm()                   ‖g‖₂ in the dtype (summed here in double)
//   gsnr  = norm / (sigma + eps)       in the dtype
// One element: std = 0/0 = NaN → 0, so gsnr = |g|/eps (the reference's quirk).
double gsnr_of(const torch::Tensor& grad, double eps) {
  const torch::Tensor g = grad.contiguous();
  const bool single = g.scalar_type() != at::kDouble;
  const std::int64_t n = g.numel();
  double sum = 0, sumsq = 0;
  visit(g, [&](double x) {
    sum += x;
    sumsq += x * x;
  });
  const double mean = single ? static_cast<double>(static_cast<float>(sum) / static_cast<float>(n))
                             : sum / static_cast<double>(n);
  double dev = 0;
  visit(g, [&](double x) { dev += (x - mean) * (x - mean); });
  const double var = dev / static_cast<double>(std::max<std::int64_t>(0, n - 1));  // n = 1: 0/0 = NaN
  if (single) {
    const float sigma = static_cast<float>(nan_to_num(static_cast<float>(std::sqrt(var)), true));
    const float norm = static_cast<float>(std::sqrt(sumsq));
    return norm / (sigma + static_cast<float>(eps));
  }
  const double sigma = nan_to_num(std::sqrt(var), false);
  return std::sqrt(sumsq) / (sigma + eps);
}

}  // namespace

const StateLayout& SGDSaI::layout() const {
  static const StateLayout l{{"momentum_buffer"}, {"gsnr"}};
  return l;
}

void SGDSaI::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                          const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  if (st.step == 1) st.scalars[0] = gsnr_of(g, o.eps());  // frozen from the first gradient
  const double gsnr = st.scalars[0];
  const bool single = p.scalar_type() != at::kDouble;
  // step_size = lr * gsnr: a 0-d tensor of the parameter's dtype.
  const double step = single ? static_cast<double>(static_cast<float>(o.lr()) * static_cast<float>(gsnr))
                             : o.lr() * gsnr;
  auto fill = [&](auto& r) {
    r.momentum = o.momentum();
    r.one_minus_momentum = 1 - o.momentum();
    r.decay = 1 - o.weight_decay() * o.lr();
    r.neg_step = -step;
    return r;
  };
  if (o.momentum() == 0) {
    // The reference crashes here (its buffer is never bound); descent steps along g.
    kernels::SgdSaiRule<false, false> r;
    launch(fill(r), p, g);
    return;
  }
  torch::Tensor& buf = st.buffer(0);
  if (!buf.defined()) {
    buf = zeros_state(p);  // momentum_buffer = grad.clone() at its first use
    kernels::SgdSaiRule<true, true> r;
    launch(fill(r), p, g, buf);
  } else {
    kernels::SgdSaiRule<true, false> r;
    launch(fill(r), p, g, buf);
  }
}

}  // namespace descent
