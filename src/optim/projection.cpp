#include <descent/optim/projection.h>

#include <ATen/ATen.h>
#include <ATen/TensorIndexing.h>

#include <cfenv>
#include <cmath>

namespace descent::projection {

Factors svd_factors(const torch::Tensor& g, std::int64_t rank, bool want_left, bool want_right) {
  const at::Tensor m = g.scalar_type() == at::kFloat ? g : g.to(at::kFloat);
  const auto usv = at::linalg_svd(m, /*full_matrices=*/false);
  Factors f;
  if (want_left) {
    const at::Tensor& u = std::get<0>(usv);
    f.left = u.slice(1, 0, std::min(rank, u.size(1))).to(g.scalar_type());
  }
  if (want_right) {
    const at::Tensor& vh = std::get<2>(usv);
    f.right = vh.slice(0, 0, std::min(rank, vh.size(0))).to(g.scalar_type());
  }
  return f;
}

torch::Tensor random_orthogonal(std::int64_t rows, std::int64_t cols, at::ScalarType dtype) {
  // torch.nn.init.orthogonal_ (torch 1.13), on a fresh float32 tensor.
  at::Tensor t = at::empty({rows, cols}, at::kFloat);
  if (t.numel() == 0) return t.to(dtype);
  at::Tensor flat = at::empty({rows, cols}, at::kFloat).normal_(0, 1);
  if (rows < cols) flat.t_();
  auto qr = at::linalg_qr(flat);
  at::Tensor q = std::get<0>(qr);
  const at::Tensor d = at::diag(std::get<1>(qr), 0);
  q *= d.sign();
  if (rows < cols) q.t_();
  t.view_as(q).copy_(q);
  t.mul_(1);
  return t.to(dtype);
}

torch::Tensor randperm_factor(std::int64_t n, std::int64_t rank, bool right, at::ScalarType dtype) {
  at::Tensor m = at::zeros({n, n}, at::kFloat);
  const at::Tensor perm = at::randperm(n, at::kLong);
  m.index_put_({at::indexing::TensorIndex(at::arange(n, at::kLong)), at::indexing::TensorIndex(perm)}, 1.0);
  const at::Tensor f = right ? m.slice(0, 0, rank) : m.slice(1, 0, rank);
  return f.to(dtype);
}

std::int64_t py_round(double x) {
  const int mode = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double r = std::nearbyint(x);
  std::fesetround(mode);
  return static_cast<std::int64_t>(r);
}

}  // namespace descent::projection
