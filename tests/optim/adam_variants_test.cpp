// adam_variants family: AdamP/SGDP's projection against a plain ATen rendering
// of the reference (long rows split in chunks, many short rows in parallel,
// the layer view, non-contiguous parameters, thread-count independence), and
// behaviours the golden cases cannot show.
#include <descent/optim/adabound.h>
#include <descent/optim/adamp.h>
#include <descent/optim/qhadam.h>
#include <descent/optim/sgdp.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

using torch::Tensor;

// clovaai/AdamP's _projection, in ATen (float64), for one parameter.
Tensor reference_projection(const Tensor& p, const Tensor& g, Tensor d, double delta, double eps, double wd_ratio,
                            double& ratio) {
  ratio = 1;
  if (p.dim() <= 1) return d;
  for (bool channel : {true, false}) {
    const Tensor pv = channel ? p.reshape({p.size(0), -1}) : p.reshape({1, -1});
    const Tensor gv = g.reshape_as(pv);
    const Tensor cos = at::cosine_similarity(gv, pv, 1, eps).abs();
    if (cos.max().item<double>() < delta / std::sqrt(static_cast<double>(pv.size(1)))) {
      const Tensor pn = pv / pv.norm(2, {1}, true).add(eps);
      const Tensor dv = d.reshape_as(pv);
      ratio = wd_ratio;
      return (dv - pn * (pn * dv).sum({1}, true)).reshape_as(p);
    }
  }
  return d;
}

// Gradients with the radial component removed per row (channel) or over the
// whole tensor (layer), so that the projection fires.
Tensor orthogonal_grad(const Tensor& p, bool channel, std::int64_t seed) {
  at::manual_seed(seed);
  const Tensor g = at::randn(p.sizes(), p.options()) * 0.05;
  const Tensor pv = channel ? p.reshape({p.size(0), -1}) : p.reshape({1, -1});
  const Tensor gv = g.reshape_as(pv);
  const Tensor c = (gv * pv).sum({1}, true) / (pv * pv).sum({1}, true);
  return (gv - c * pv).reshape_as(p);
}

struct Shape {
  std::vector<std::int64_t> sizes;
  bool channel;
};

// Long rows (chunked sums), many short rows (rows in parallel), a 4-d kernel,
// the layer view.
const std::vector<Shape> kShapes = {{{2, 70000}, true}, {{700, 100}, true}, {{6, 3, 5, 5}, true}, {{40, 30}, false}};

TEST(AdamPProjection, MatchesAnATenRenderingOfTheReference) {
  for (const auto& s : kShapes) {
    for (bool nesterov : {false, true}) {
      SCOPED_TRACE(std::to_string(s.sizes[0]) + (s.channel ? " channel" : " layer") + (nesterov ? " nesterov" : ""));
      at::manual_seed(1);
      Tensor p = at::randn(s.sizes, at::kDouble) * 0.5;
      Tensor ref = p.clone(), m = at::zeros_like(p), v = at::zeros_like(p);
      const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1, delta = 0.1, wd_ratio = 0.1;
      descent::AdamP opt({p}, descent::AdamPOptions(lr).weight_decay(wd).nesterov(nesterov));
      for (int t = 1; t <= 3; ++t) {
        const Tensor g = orthogonal_grad(ref, s.channel, 100 + t);
        p.mutable_grad() = g.clone();
        opt.step();
        m.mul_(b1).add_(g, 1 - b1);
        v.mul_(b2).addcmul_(g, g, 1 - b2);
        const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
        const Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(eps);
        Tensor d = nesterov ? (b1 * m + (1 - b1) * g) / denom : m / denom;
        double ratio = 1;
        d = reference_projection(ref, g, d, delta, eps, wd_ratio, ratio);
        EXPECT_EQ(ratio, wd_ratio) << "the projection should fire at step " << t;
        ref.mul_(1 - lr * wd * ratio);
        ref.add_(d, -lr / bc1);
        EXPECT_TRUE(at::allclose(p, ref, 1e-12, 1e-15)) << "step " << t << ": max diff "
                                                          << (p - ref).abs().max().item<double>();
      }
    }
  }
}

TEST(SGDPProjection, ProjectsTheStoredBufferWithoutNesterovOnly) {
  for (const auto& s : kShapes) {
    for (bool nesterov : {false, true}) {
      SCOPED_TRACE(std::to_string(s.sizes[0]) + (s.channel ? " channel" : " layer") + (nesterov ? " nesterov" : ""));
      at::manual_seed(2);
      Tensor p = at::randn(s.sizes, at::kDouble) * 0.5;
      Tensor ref = p.clone(), buf = at::zeros_like(p);
      const double lr = 0.1, mom = 0.9, damp = 0.2, eps = 1e-8, wd = 0.01, delta = 0.1, wd_ratio = 0.1;
      descent::SGDP opt({p}, descent::SGDPOptions(lr).momentum(mom).dampening(nesterov ? 0.0 : damp)
                                 .weight_decay(wd).nesterov(nesterov));
      for (int t = 1; t <= 3; ++t) {
        const Tensor g = orthogonal_grad(ref, s.channel, 200 + t);
        p.mutable_grad() = g.clone();
        opt.step();
        buf.mul_(mom).add_(g, 1 - (nesterov ? 0.0 : damp));
        Tensor d = nesterov ? g + mom * buf : buf;
        double ratio = 1;
        d = reference_projection(ref, g, d, delta, eps, wd_ratio, ratio);
        if (!nesterov) buf = d;  // the reference projects the buffer in place
        ref.mul_(1 - lr * wd * ratio / (1 - mom));
        ref.add_(d, -lr);
        EXPECT_TRUE(at::allclose(p, ref, 1e-12, 1e-15)) << "step " << t;
        EXPECT_TRUE(at::allclose(opt.state_of(p)->buffer("momentum"), buf, 1e-12, 1e-15)) << "buffer, step " << t;
      }
    }
  }
}

// Same result with one thread or several, and for a transposed (non-contiguous) parameter.
TEST(AdamPProjection, IndependentOfThreadsAndLayout) {
  const int threads = at::get_num_threads();
  for (const auto& s : kShapes) {
    at::manual_seed(3);
    const Tensor p0 = at::randn(s.sizes, at::kFloat);
    const Tensor g = orthogonal_grad(p0, s.channel, 7);
    auto run = [&](int nthreads, bool transposed) {
      at::set_num_threads(nthreads);
      Tensor p = transposed ? p0.transpose(0, -1).contiguous().transpose(0, -1) : p0.clone();
      EXPECT_EQ(p.is_contiguous(), !transposed || p.dim() == 1);
      p.mutable_grad() = g.clone();
      descent::AdamP opt({p}, descent::AdamPOptions(0.01).weight_decay(0.1));
      for (int t = 0; t < 3; ++t) opt.step();
      return p.contiguous();
    };
    const Tensor one = run(1, false);
    EXPECT_TRUE(at::equal(one, run(4, false))) << "thread count changes the result";
    EXPECT_TRUE(at::equal(one, run(1, true))) << "layout changes the result";
  }
  at::set_num_threads(threads);
}

// final_lr follows lr / (the group's lr at construction), per group.
TEST(AdaBound, FinalLrScalesWithTheLrSinceConstruction) {
  auto trajectory = [](double lr_at_construction, double lr_in_use) {
    Tensor p = at::linspace(-1, 1, 8, at::kDouble);
    descent::AdaBound opt({p}, descent::AdaBoundOptions(lr_at_construction).final_lr(0.02).gamma(0.5));
    opt.options().lr(lr_in_use);
    for (int t = 0; t < 5; ++t) {
      p.mutable_grad() = at::linspace(0.3, -0.2, 8, at::kDouble);
      opt.step();
    }
    return p;
  };
  // Same lr in use, different base: different bounds, different trajectories.
  EXPECT_FALSE(at::allclose(trajectory(0.01, 0.01), trajectory(0.02, 0.01)));
  // The base lr is kept as a group scalar (so checkpoints carry it).
  Tensor p = at::ones({3}, at::kDouble);
  descent::AdaBound opt({p}, descent::AdaBoundOptions(0.02));
  opt.options().lr(0.005);
  p.mutable_grad() = at::ones({3}, at::kDouble);
  opt.step();
  EXPECT_EQ(opt.group_state(0).scalars.at(0), 0.02);
  // Built with lr = 0 (the reference divides by zero): no NaN, no move while lr is 0.
  Tensor z = at::ones({3}, at::kDouble);
  descent::AdaBound zero({z}, descent::AdaBoundOptions(0.0));
  z.mutable_grad() = at::ones({3}, at::kDouble);
  zero.step();
  EXPECT_TRUE(at::equal(z, at::ones({3}, at::kDouble)));
}

// The reference raises for 0-d parameters (its shape-[1] weights cannot
// broadcast into a 0-d state); descent updates them like a 1-element tensor.
TEST(QHAdam, ZeroDimParameterMatchesOneElementParameter) {
  Tensor s = at::full({}, 0.5, at::kDouble), v = at::full({1}, 0.5, at::kDouble);
  descent::QHAdam a({s}, descent::QHAdamOptions(0.01).nus({0.7, 0.9}));
  descent::QHAdam b({v}, descent::QHAdamOptions(0.01).nus({0.7, 0.9}));
  for (int t = 1; t <= 4; ++t) {
    s.mutable_grad() = at::full({}, 0.1 * t, at::kDouble);
    v.mutable_grad() = at::full({1}, 0.1 * t, at::kDouble);
    a.step();
    b.step();
  }
  EXPECT_EQ(s.item<double>(), v.item<double>());
  EXPECT_NE(s.item<double>(), 0.5);
}

}  // namespace
