// Adafactor and CAME: tensors large enough to be split into chunks (row and
// column sums combined across chunks, batches of >2-D tensors spanning chunks)
// against the reference's math written with ATen ops; results independent of
// the thread count; options the golden cases reach only through JSON
// (beta1 = None); the constructor-only options; the momentum_dtype rounding.
#include <descent/optim/adafactor.h>
#include <descent/optim/came.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>
#include "support/optim_testing.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

using dtest::bit_equal;
using dtest::ThreadsGuard;
using dtest::flag;
using dtest::num;
using dtest::text;

using descent::OptionMap;
using descent::OptionValue;
using descent::Optimizer;

std::unique_ptr<Optimizer> make(const std::string& name, const std::vector<torch::Tensor>& params,
                                const OptionMap& options) {
  std::vector<descent::GroupSpec> groups(1);
  groups[0].params = params;
  return descent::Registry::instance().make(name, std::move(groups), options);
}

torch::Tensor randn(at::IntArrayRef shape, std::uint64_t seed, double scale = 1.0) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kDouble)) * scale;
}

// The golden cases' float64 criterion: |a − b| ≤ 1e-12 + 1e-9·|b| everywhere.
bool close(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() <= 1e-12 + 1e-9 * b.abs()).all().item<bool>();
}

const std::vector<std::vector<std::int64_t>> kShapes = {{3, 200, 150}, {400, 300}, {7}, {}};

double rms(const torch::Tensor& x) { return x.norm().item<double>() / std::sqrt(static_cast<double>(x.numel())); }

// ---- the reference's math with ATen ops (float64) ----------------------------------------------

struct Stats {
  torch::Tensor row, col, v, hat, m, rrow, rcol;
  explicit Stats(const torch::Tensor& p) {
    if (p.dim() >= 2) {
      row = at::zeros(p.sizes().slice(0, p.dim() - 1), p.options());
      auto cs = p.sizes().vec();
      cs.erase(cs.end() - 2);
      col = at::zeros(cs, p.options());
      rrow = row.clone();
      rcol = col.clone();
    } else {
      v = at::zeros_like(p);
    }
    hat = at::zeros_like(p);
    m = at::zeros_like(p);
  }
};

torch::Tensor approx(const torch::Tensor& row, const torch::Tensor& col) {
  return (row / row.mean(-1, true)).rsqrt().unsqueeze(-1) * col.unsqueeze(-2).rsqrt();
}

// AdaFactor, defaults but momentum_dtype = float64.
void adafactor_step(torch::Tensor& p, const torch::Tensor& g, Stats& s, int t, bool ams) {
  const double rho = std::min(1e-2, 1.0 / std::sqrt(t));
  const double lr = std::max(1e-3, rms(p)) * rho;
  const double w = 1.0 - std::min(0.999, 1.0 - std::pow(t, -0.8));
  auto u = g * g + 1e-30;
  torch::Tensor pre;
  if (p.dim() >= 2) {
    s.row.lerp_(u.mean(-1), w);
    s.col.lerp_(u.mean(-2), w);
    pre = approx(s.row, s.col);
  } else {
    s.v.lerp_(u, w);
    pre = s.v.rsqrt();
  }
  if (ams) {
    s.hat = at::maximum(s.hat, 1.0 / pre);
    pre = (s.hat / w).rsqrt();
  }
  auto U = pre * g;
  U = U / std::min(rms(U), 1.0) * lr;
  s.m.lerp_(U, 0.1);
  p.sub_(s.m);
}

// CAME with weight decay.
void came_step(torch::Tensor& p, const torch::Tensor& g, Stats& s, bool ams) {
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, b3 = 0.9999, wd = 0.1;
  auto u = g * g + 1e-30;
  torch::Tensor pre;
  if (p.dim() >= 2) {
    s.row.mul_(b2).add_(u.mean(-1), 1 - b2);
    s.col.mul_(b2).add_(u.mean(-2), 1 - b2);
    pre = approx(s.row, s.col);
  } else {
    s.v.mul_(b2).add_(u, 1 - b2);
    pre = s.v.rsqrt();
  }
  if (ams) {
    s.hat = at::maximum(s.hat, 1.0 / pre);
    pre = (s.hat / b2).rsqrt();
  }
  auto U = pre * g;
  U = U / std::max(rms(U), 1.0);
  s.m.mul_(b1).add_(U, 1 - b1);
  p.mul_(1 - wd * lr);
  if (p.dim() >= 2) {
    auto res = (U - s.m).pow(2) + 1e-16;
    s.rrow.mul_(b3).add_(res.mean(-1), 1 - b3);
    s.rcol.mul_(b3).add_(res.mean(-2), 1 - b3);
    p.sub_(approx(s.rrow, s.rcol) * s.m * lr);
  } else {
    s.m.mul_(lr);  // the reference's update aliases exp_avg
    p.sub_(s.m);
  }
}

TEST(Factored, ChunkedTensorsMatchTheReferenceMath) {
  for (bool ams : {false, true}) {
    SCOPED_TRACE(ams ? "ams_bound" : "plain");
    std::vector<torch::Tensor> pa, pc, ra, rc;
    std::vector<Stats> sa, sc;
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      pa.push_back(randn(kShapes[i], 10 + i, 0.5));
      pc.push_back(pa.back().clone());
      ra.push_back(pa.back().clone());
      rc.push_back(pa.back().clone());
      sa.emplace_back(ra.back());
      sc.emplace_back(rc.back());
    }
    auto a = make("adafactor", pa, {{"momentum_dtype", text("float64")}, {"ams_bound", flag(ams)}});
    auto c = make("came", pc, {{"lr", num(1e-3)}, {"weight_decay", num(0.1)}, {"ams_bound", flag(ams)}});
    for (int t = 1; t <= 4; ++t) {
      for (std::size_t i = 0; i < kShapes.size(); ++i) {
        auto g = randn(kShapes[i], 100 * t + i, 0.05);
        pa[i].mutable_grad() = g;
        pc[i].mutable_grad() = g;
        adafactor_step(ra[i], g, sa[i], t, ams);
        came_step(rc[i], g, sc[i], ams);
      }
      a->step();
      c->step();
      for (std::size_t i = 0; i < kShapes.size(); ++i) {
        EXPECT_TRUE(close(pa[i], ra[i])) << "adafactor, parameter " << i << ", step " << t;
        EXPECT_TRUE(close(pc[i], rc[i])) << "came, parameter " << i << ", step " << t;
      }
    }
  }
}

TEST(Factored, TwoThreadsGiveBitIdenticalResultsToOne) {
  ThreadsGuard guard;
  const std::vector<std::pair<std::string, OptionMap>> configs = {
      {"adafactor", {}},
      {"adafactor", {{"ams_bound", flag(true)}, {"cautious", flag(true)}, {"momentum_dtype", text("float32")}}},
      {"came", {{"ams_bound", flag(true)}}},
  };
  for (const auto& [name, options] : configs) {
    for (auto dtype : {at::kFloat, at::kDouble, at::kBFloat16}) {
      SCOPED_TRACE(name + " " + c10::toString(dtype));
      std::vector<torch::Tensor> results[2];
      for (int threads : {1, 2}) {
        at::set_num_threads(threads);
        std::vector<torch::Tensor> p;
        for (std::size_t i = 0; i < kShapes.size(); ++i) p.push_back(randn(kShapes[i], 20 + i, 0.5).to(dtype));
        auto opt = make(name, p, options);
        for (int t = 1; t <= 3; ++t) {
          for (std::size_t i = 0; i < p.size(); ++i) p[i].mutable_grad() = randn(kShapes[i], 200 * t + i, 0.05).to(dtype);
          opt->step();
        }
        results[threads - 1] = p;
      }
      for (std::size_t i = 0; i < kShapes.size(); ++i) EXPECT_TRUE(bit_equal(results[0][i], results[1][i])) << i;
    }
  }
}

// ---- options ---------------------------------------------------------------------------------

TEST(Adafactor, BetasWithNoneBeta1HaveNoFirstMoment) {
  auto p = randn({4, 3}, 1), q = p.clone();
  auto a = descent::make_optimizer("adafactor", {p}, R"({"betas": [null, 0.999]})");
  auto b = descent::make_optimizer("adafactor", {q}, R"({"no_momentum": true})");
  for (int t = 1; t <= 3; ++t) {
    p.mutable_grad() = randn({4, 3}, t, 0.1);
    q.mutable_grad() = randn({4, 3}, t, 0.1);
    a->step();
    b->step();
  }
  EXPECT_TRUE(bit_equal(p, q));
  EXPECT_FALSE(a->state_of(p)->buffer(std::string("exp_avg")).defined());
  // None is refused where it means nothing.
  EXPECT_THROW(descent::make_optimizer("adafactor", {p}, R"({"betas": [0.9, null]})"), descent::OptionError);
  EXPECT_THROW(descent::make_optimizer("adam", {p}, R"({"betas": [null, 0.999]})"), descent::OptionError);
  // lr = None with relative steps (where lr is unused); refused without.
  EXPECT_NO_THROW(descent::make_optimizer("adafactor", {p}, R"({"lr": null})"));
  EXPECT_THROW(descent::make_optimizer("adafactor", {p}, R"({"lr": null, "relative_step": false})"),
               descent::OptionError);
}

// decay_rate, clip_threshold, eps1, eps2, momentum_dtype and maximize are the
// constructor's in the reference: a group's own values change nothing.
TEST(Adafactor, ConstructorOnlyOptionsIgnoreGroupValues) {
  auto p = randn({4, 3}, 2), q = p.clone(), r = p.clone();
  std::vector<descent::GroupSpec> groups(1);
  groups[0].params = {p};
  groups[0].options = {{"clip_threshold", num(0.01)}, {"eps2", num(5.0)}, {"decay_rate", num(-0.3)},
                       {"maximize", flag(true)}, {"momentum_dtype", text("float64")}};
  auto a = descent::Registry::instance().make("adafactor", std::move(groups), {});
  auto b = make("adafactor", {q}, {});
  auto c = make("adafactor", {r}, {{"clip_threshold", num(0.01)}});
  for (int t = 1; t <= 3; ++t) {
    for (auto* x : {&p, &q, &r}) x->mutable_grad() = randn({4, 3}, 10 + t, 0.1);
    a->step();
    b->step();
    c->step();
  }
  EXPECT_TRUE(bit_equal(p, q));
  EXPECT_FALSE(bit_equal(r, q));
}

TEST(Adafactor, MomentumIsRoundedToItsDtype) {
  for (const char* md : {"bfloat16", "float16", "float32"}) {
    SCOPED_TRACE(md);
    auto p = randn({6, 5}, 3);
    auto opt = make("adafactor", {p}, {{"momentum_dtype", text(md)}});
    for (int t = 1; t <= 3; ++t) {
      p.mutable_grad() = randn({6, 5}, 30 + t, 0.1);
      opt->step();
    }
    const auto& m = opt->state_of(p)->buffer(std::string("exp_avg"));
    // Kept in momentum_dtype itself (2 bytes per parameter for bfloat16), as the reference.
    const auto torch_dtype = std::string(md) == "bfloat16" ? at::kBFloat16 : std::string(md) == "float16" ? at::kHalf : at::kFloat;
    EXPECT_EQ(m.scalar_type(), torch_dtype);
    EXPECT_EQ(opt->state_bytes(), static_cast<std::int64_t>(m.element_size()) * p.numel() + (6 + 5) * 8);
    EXPECT_GT(m.abs().max().item<double>(), 0.0);
  }
}

// The reference divides by min(RMS(U)/clip, 1): an all-zero gradient gives 0/0.
TEST(Adafactor, ZeroGradientGivesNaNAsTheReference) {
  auto p = randn({5}, 4);
  auto opt = make("adafactor", {p}, {});
  p.mutable_grad() = at::zeros_like(p);
  opt->step();
  EXPECT_TRUE(at::isnan(p).all().item<bool>());
}

TEST(Came, BetasAreCheckedAsTheReference) {
  auto p = randn({3}, 5);
  EXPECT_NO_THROW(make("came", {p}, {{"betas", [] {
                                         OptionValue v;
                                         v.kind = OptionValue::Kind::list;
                                         v.list = {0.9, 0.999, 1.0};
                                         return v;
                                       }()}}));
  for (std::vector<double> bad : {std::vector<double>{1.0, 0.999, 0.9}, {0.9, 1.0, 0.9}, {0.9, 0.99, 1.5}, {0.9, 0.99}}) {
    OptionValue v;
    v.kind = OptionValue::Kind::list;
    v.list = bad;
    EXPECT_THROW(make("came", {p}, {{"betas", v}}), descent::OptionError);
  }
}

// Parameters in another memory layout (a transposed 3-D view) give what
// their contiguous copies give.
TEST(Factored, PermutedParametersMatchContiguousOnes) {
  for (const char* name : {"adafactor", "came"}) {
    SCOPED_TRACE(name);
    auto base = randn({5, 4, 3}, 6);
    auto view = base.permute({2, 0, 1});  // [3, 5, 4], not contiguous
    auto copy = view.contiguous();
    auto a = make(name, {view}, {{"lr", num(0.01)}});
    auto b = make(name, {copy}, {{"lr", num(0.01)}});
    for (int t = 1; t <= 3; ++t) {
      auto g = randn({3, 5, 4}, 60 + t, 0.1);
      view.mutable_grad() = g.permute({0, 1, 2}).contiguous().transpose(1, 2).contiguous().transpose(1, 2);
      copy.mutable_grad() = g;
      a->step();
      b->step();
    }
    EXPECT_TRUE(bit_equal(view.contiguous(), copy));
  }
}

}  // namespace
