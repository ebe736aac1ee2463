// Curvature tools (descent/curvature.h) against exact Hessians of small
// analytic functions, and the curvature optimizers' own behaviour: Muon's
// groups and orthogonalisation, M-FAC against a dense solve, AdaHessian and
// Sophia driven by estimates, closures and estimators.
#include <descent/curvature.h>
#include <descent/optim/adahessian.h>
#include <descent/optim/mfac.h>
#include <descent/optim/muon.h>
#include <descent/optim/sophia.h>
#include <support/optim_testing.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace {

using namespace dtest;
namespace cv = descent::curvature;

at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }

// f(x, w) = ½ xᵀQx + Σ sin(x_i) + (w·x)², x ∈ R⁴, w a 2 × 2 tensor (flattened:
// w_j pairs with x_j). Its Hessian, by hand, with s = w·x:
//   H_xx = Q_sym − diag(sin x) + 2·w·wᵀ,  H_ww = 2·x·xᵀ,  H_xw[k][j] = 2·x_j·w_k + 2·s·δ_kj.
struct Analytic {
  torch::Tensor Q = at::tensor({2.0, 0.3, -0.1, 0.0, 0.5, 1.5, 0.2, 0.1, -0.4, 0.0, 3.0, 0.7, 0.2, 0.1, 0.6, 1.0}, f64()).view({4, 4});
  torch::Tensor x = at::tensor({0.3, -1.2, 0.8, 2.0}, f64()).set_requires_grad(true);
  torch::Tensor w = at::tensor({0.5, -0.7, 1.1, 0.2}, f64()).view({2, 2}).set_requires_grad(true);

  torch::Tensor loss() const {
    const auto s = (w.reshape({-1}) * x).sum();
    return 0.5 * x.dot(Q.matmul(x)) + x.sin().sum() + s * s;
  }
  torch::Tensor hessian() const {
    at::NoGradGuard no_grad;
    const auto xv = x.detach(), wv = w.detach().reshape({-1});
    const double s = (xv * wv).sum().item<double>();
    auto H = at::zeros({8, 8}, f64());
    H.narrow(0, 0, 4).narrow(1, 0, 4).copy_(0.5 * (Q + Q.t()) - at::diag(xv.sin()) + 2 * at::outer(wv, wv));
    H.narrow(0, 4, 4).narrow(1, 4, 4).copy_(2 * at::outer(xv, xv));
    auto Hxw = 2 * at::outer(wv, xv) + 2 * s * at::eye(4, f64());  // [k][j] = 2 w_k x_j + 2 s δ_kj
    H.narrow(0, 0, 4).narrow(1, 4, 4).copy_(Hxw);
    H.narrow(0, 4, 4).narrow(1, 0, 4).copy_(Hxw.t());
    return H;
  }
  std::vector<torch::Tensor> params() const { return {x, w}; }
};

torch::Tensor flat(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> parts;
  for (const auto& t : ts) parts.push_back(t.detach().reshape({-1}));
  return at::cat(parts);
}

std::vector<torch::Tensor> split_like(const torch::Tensor& v, const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  std::int64_t at = 0;
  for (const auto& p : params) {
    out.push_back(v.narrow(0, at, p.numel()).reshape(p.sizes()).clone());
    at += p.numel();
  }
  return out;
}

// ---- Hessian-vector products ------------------------------------------------------------------

TEST(Curvature, HessianVectorProductsMatchTheAnalyticHessian) {
  Analytic f;
  const auto H = f.hessian();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  for (int trial = 0; trial < 5; ++trial) {
    const auto v = at::randn({8}, gen, f64());
    const auto hv = cv::hvp([&] { return f.loss(); }, f.params(), split_like(v, f.params()));
    EXPECT_TRUE(at::allclose(flat(hv), H.matmul(v), 1e-12, 1e-12)) << flat(hv) << H.matmul(v);
  }
  // From gradients that keep their graph (as after backward(create_graph=true)), repeatedly.
  const auto g = cv::gradients_with_graph(f.loss(), f.params());
  for (int k = 0; k < 8; ++k) {
    auto e = at::zeros({8}, f64());
    e[k] = 1;
    const auto col = cv::hvp(g, f.params(), split_like(e, f.params()));
    EXPECT_TRUE(at::allclose(flat(col), H.select(1, k), 1e-12, 1e-12)) << "column " << k;
  }
  EXPECT_TRUE(at::allclose(cv::hessian_matrix([&] { return f.loss(); }, f.params()), H, 1e-12, 1e-12));
}

TEST(Curvature, ParametersTheLossDoesNotTouchGetZeroProducts) {
  Analytic f;
  auto unused = at::ones({3}, f64()).set_requires_grad(true);
  auto params = f.params();
  params.push_back(unused);
  auto v = split_like(at::ones({11}, f64()), params);
  const auto hv = cv::hvp([&] { return f.loss(); }, params, v);
  EXPECT_TRUE(at::equal(hv[2], at::zeros({3}, f64())));
  // A linear loss: constant gradients, zero Hessian.
  auto a = at::tensor({1.0, 2.0}, f64()).set_requires_grad(true);
  const auto lin = cv::hvp([&] { return (a * 3.0).sum(); }, {a}, {at::ones({2}, f64())});
  EXPECT_TRUE(at::equal(lin[0], at::zeros({2}, f64())));
}

TEST(Curvature, RejectsParametersWithoutRequiresGrad) {
  auto a = at::ones({2}, f64());
  EXPECT_THROW(cv::hvp([&] { return (a * a).sum(); }, {a}, {a}), std::invalid_argument);
}

// ---- Hutchinson ----------------------------------------------------------------------------

TEST(Curvature, RademacherProbesAreSignsAndReproducible) {
  Analytic f;
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(7);
  auto g2 = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto a = cv::rademacher_like(f.params(), g1);
  const auto b = cv::rademacher_like(f.params(), g2);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(at::equal(a[i], b[i]));
    EXPECT_TRUE((a[i].abs() == 1).all().item<bool>());
    EXPECT_EQ(a[i].sizes(), f.params()[i].sizes());
  }
  auto big = at::zeros({20000}, f64()).set_requires_grad(true);
  const double mean = cv::rademacher_like({big}, g1)[0].mean().item<double>();
  EXPECT_LT(std::abs(mean), 5 / std::sqrt(20000.0));  // 5 standard errors
}

TEST(Curvature, HutchinsonWithGivenProbesIsZTimesHz) {
  Analytic f;
  const auto H = f.hessian();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  std::vector<std::vector<torch::Tensor>> probes = {cv::rademacher_like(f.params(), gen),
                                                    cv::rademacher_like(f.params(), gen)};
  const auto est = cv::hutchinson_diagonal([&] { return f.loss(); }, f.params(), probes);
  const auto z1 = flat(probes[0]), z2 = flat(probes[1]);
  const auto expected = 0.5 * (z1 * H.matmul(z1) + z2 * H.matmul(z2));
  EXPECT_TRUE(at::allclose(flat(est), expected, 1e-12, 1e-12));
}

TEST(Curvature, HutchinsonIsExactForADiagonalHessianAndUnbiasedOtherwise) {
  // Separable: Σ c_i x_i⁴ has a diagonal Hessian, so one probe gives it exactly.
  auto x = at::tensor({0.5, -1.0, 2.0}, f64()).set_requires_grad(true);
  const auto c = at::tensor({1.0, 2.0, 0.5}, f64());
  const auto one = cv::hutchinson_diagonal([&] { return (c * x.pow(4)).sum(); }, {x}, 1);
  EXPECT_TRUE(at::allclose(one[0], 12 * c * x.detach().pow(2), 1e-12, 1e-12));

  // Coupled: the mean over S probes is within 5 standard errors of diag(H),
  // where the variance of component i is Σ_{j≠i} H_ij².
  Analytic f;
  const auto H = f.hessian();
  const int S = 4000;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(12);
  const auto est = flat(cv::hutchinson_diagonal([&] { return f.loss(); }, f.params(), S, gen));
  const auto off = H - at::diag(at::diag(H));
  const auto se = (off.pow(2).sum(1) / S).sqrt();
  const auto err = (est - at::diag(H)).abs();
  EXPECT_TRUE((err <= 5 * se + 1e-12).all().item<bool>()) << "error " << err << "\nstandard error " << se;
  EXPECT_TRUE((se > 0).all().item<bool>());  // the test is not vacuous
}

// ---- Gauss-Newton-Bartlett -------------------------------------------------------------------

TEST(Curvature, GnbMatchesTheGaussNewtonDiagonalInExpectation) {
  // One example, logits = W·x: ĝ_W = (softmax − onehot(ŷ))·xᵀ, so
  // E[ĝ²]_cj = x_j²·p_c·(1 − p_c), the diagonal of the Gauss-Newton matrix.
  auto W = at::tensor({0.2, -0.5, 1.0, 0.3, -0.8, 0.1}, f64()).view({3, 2}).set_requires_grad(true);
  const auto x = at::tensor({1.5, -0.7}, f64());
  auto logits = [&] { return at::matmul(W, x).unsqueeze(0); };
  const auto p = at::softmax(at::matmul(W.detach(), x), 0);
  const auto expected = at::outer(p * (1 - p), x * x);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const int S = 6000;
  auto sum = at::zeros({3, 2}, f64()), sumsq = at::zeros({3, 2}, f64());
  for (int s = 0; s < S; ++s) {
    const auto e = cv::gnb_diagonal(logits, {W}, gen)[0];
    sum += e;
    sumsq += e * e;
  }
  const auto mean = sum / S;
  const auto se = ((sumsq / S - mean * mean).clamp_min(0) / S).sqrt();
  EXPECT_TRUE(((mean - expected).abs() <= 5 * se + 1e-12).all().item<bool>()) << mean << expected;
}

TEST(Curvature, SampledLabelsFollowTheModelsDistribution) {
  const auto logits = at::log(at::tensor({0.1, 0.6, 0.3}, f64())).unsqueeze(0).expand({30000, 3}).contiguous();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  const auto y = cv::sample_labels(logits, gen);
  ASSERT_EQ(y.sizes(), at::IntArrayRef({30000}));
  for (int c = 0; c < 3; ++c) {
    const double p = std::vector<double>{0.1, 0.6, 0.3}[c];
    const double freq = (y == c).to(at::kDouble).mean().item<double>();
    EXPECT_NEAR(freq, p, 5 * std::sqrt(p * (1 - p) / 30000));
  }
}

// ---- AdaHessian -------------------------------------------------------------------------------

struct TinyNet {
  torch::Tensor w1, b1, w2;
  torch::Tensor x = at::randn({8, 3}, at::make_generator<at::CPUGeneratorImpl>(2), f64());
  torch::Tensor y = at::tensor({0, 1, 2, 1, 0, 2, 2, 1}, at::TensorOptions().dtype(at::kLong));
  explicit TinyNet(std::uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    w1 = (0.5 * at::randn({4, 3}, gen, f64())).set_requires_grad(true);
    b1 = (0.1 * at::randn({4}, gen, f64())).set_requires_grad(true);
    w2 = (0.5 * at::randn({3, 4}, gen, f64())).set_requires_grad(true);
  }
  std::vector<torch::Tensor> params() const { return {w1, b1, w2}; }
  torch::Tensor logits() const { return at::linear(at::tanh(at::linear(x, w1, b1)), w2); }
  torch::Tensor loss() const { return at::cross_entropy_loss(logits(), y); }
};

TEST(AdaHessianOptim, ClosureWithGraphEqualsTheExplicitEstimateWithTheSameProbes) {
  TinyNet a(1), b(1);
  descent::AdaHessian opt_a(a.params(), descent::AdaHessianOptions(0.05));
  descent::AdaHessian opt_b(b.params(), descent::AdaHessianOptions(0.05));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(10);
  for (int t = 0; t < 4; ++t) {
    const auto z = cv::rademacher_like(a.params(), gen);
    // a: the optimizer probes the graph itself, with the given probes.
    opt_a.set_probes(z);
    opt_a.step([&] {
      opt_a.zero_grad();
      auto l = a.loss();
      l.backward({}, true, true);
      return l;
    });
    // b: z ⊙ Hz computed outside, handed in.
    const auto est = cv::hutchinson_diagonal([&] { return b.loss(); }, b.params(), std::vector<std::vector<torch::Tensor>>{z});
    opt_b.set_hessian(est);
    opt_b.zero_grad();
    b.loss().backward();
    opt_b.step();
    for (std::size_t i = 0; i < 3; ++i)
      EXPECT_TRUE(at::allclose(a.params()[i], b.params()[i], 1e-13, 1e-15)) << "step " << t << " param " << i;
    // The gradients were detached (their graph freed), as the reference does.
    EXPECT_FALSE(a.params()[0].grad().requires_grad());
  }
}

TEST(AdaHessianOptim, WithoutGraphEstimateOrEstimatorTheStepExplains) {
  TinyNet a(1);
  descent::AdaHessian opt(a.params(), descent::AdaHessianOptions());
  a.loss().backward();
  const auto before = clones(a.params());
  const std::string msg = message_of<std::runtime_error>([&] { opt.step(); });
  EXPECT_TRUE(contains(msg, "create_graph")) << msg;
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(bit_equal(a.params()[i].detach(), before[i]));
}

TEST(AdaHessianOptim, ConvKernelsAverageTheAbsoluteEstimateOverEachSlice) {
  // lr such that the first step is lr·sign-like: with one step, m = (1−β1)g,
  // v = (1−β2)D², denom = |D|·sqrt(1−β2)/sqrt(1−β2) + eps = |D| + eps.
  auto p = at::zeros({1, 1, 2, 2}, f64());
  p.mutable_grad() = at::ones({1, 1, 2, 2}, f64());
  descent::AdaHessian opt({p}, descent::AdaHessianOptions(1.0).eps(0));
  opt.set_hessian({at::tensor({1.0, -3.0, 2.0, -2.0}, f64()).view({1, 1, 2, 2})});
  opt.step();
  // D = mean(|e|) = 2 everywhere: p = −(g/D) = −0.5.
  EXPECT_TRUE(at::allclose(p, at::full({1, 1, 2, 2}, -0.5, f64()), 1e-15, 1e-15)) << p;
  // A matrix: no averaging, D = |e| elementwise.
  auto q = at::zeros({2, 2}, f64());
  q.mutable_grad() = at::ones({2, 2}, f64());
  descent::AdaHessian opt2({q}, descent::AdaHessianOptions(1.0).eps(0));
  opt2.set_hessian({at::tensor({1.0, -4.0, 2.0, -0.5}, f64()).view({2, 2})});
  opt2.step();
  EXPECT_TRUE(at::allclose(q.reshape({-1}), at::tensor({-1.0, -0.25, -0.5, -2.0}, f64()), 1e-15, 1e-15)) << q;
}

TEST(AdaHessianOptim, InstalledEstimatorIsCalledEveryStep) {
  TinyNet a(3);
  descent::AdaHessian opt(a.params(), descent::AdaHessianOptions(0.01));
  int calls = 0;
  opt.set_estimator([&](const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& out) {
    ++calls;
    EXPECT_EQ(params.size(), 3u);
    for (auto& o : out) o.fill_(2.0);
  });
  for (int t = 0; t < 3; ++t) {
    opt.zero_grad();
    a.loss().backward();
    opt.step();
  }
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(at::allclose(opt.state_of(a.w1)->buffer(1), at::full({4, 3}, 4 * (1 - std::pow(0.999, 3)), f64())));
}

// ---- Sophia -----------------------------------------------------------------------------------

TEST(SophiaOptim, GnbEstimatorRefreshesAfterEveryKthStep) {
  TinyNet a(4);
  descent::SophiaG opt(a.params(), descent::SophiaGOptions(1e-3).hess_interval(3).bs(8));
  opt.set_estimator(cv::gnb_estimator([&] { return a.logits(); }, at::make_generator<at::CPUGeneratorImpl>(1)));
  std::vector<double> h_sums;
  for (int t = 0; t < 7; ++t) {
    opt.zero_grad();
    a.loss().backward();
    opt.step();
    h_sums.push_back(opt.state_of(a.w1)->buffer(1).sum().item<double>());
  }
  // h is 0 until the end of step 3, changes after steps 3 and 6 only.
  EXPECT_EQ(h_sums[0], 0);
  EXPECT_EQ(h_sums[1], 0);
  EXPECT_GT(h_sums[2], 0);
  EXPECT_EQ(h_sums[3], h_sums[2]);
  EXPECT_EQ(h_sums[4], h_sums[2]);
  EXPECT_NE(h_sums[5], h_sums[4]);
  EXPECT_EQ(h_sums[6], h_sums[5]);
}

// Sophia batches its launches (the multi-tensor scheduler); its estimator,
// run inside step() after every hess_interval-th step, must see the stepped
// parameters and must not rewrite the Hessian under launches still queued.
// An estimator that reads the parameters: batched and one by one agree bit
// for bit (without detail::flush_current_batch() in Sophia's update(), the
// batched run estimates from the parameters before the step and this fails).
TEST(SophiaOptim, EstimatorInsideStepSeesTheBatchedUpdate) {
  BatchingGuard guard;
  const auto init = random_params({{5, 3}, {7}, {}}, at::kFloat, 41);
  const auto grads = random_grads(init, 4, 42);
  std::vector<std::vector<at::Tensor>> runs;
  for (bool batching : {false, true}) {
    descent::set_launch_batching(batching);
    auto p = clones(init);
    descent::SophiaG opt(p, descent::SophiaGOptions(0.05).hess_interval(1).bs(4));
    opt.set_estimator([](const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& out) {
      for (std::size_t i = 0; i < params.size(); ++i) out[i].copy_(params[i].detach() * params[i].detach() + 0.5);
    });
    for (const auto& g : grads) {
      set_grads(p, g);
      opt.step();
    }
    std::vector<at::Tensor> snap = clones(p);
    for (const auto& q : p) snap.push_back(opt.state_of(q)->buffer(1).clone());
    runs.push_back(snap);
  }
  for (std::size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(bit_equal(runs[0][i], runs[1][i])) << "tensor " << i;
  EXPECT_FALSE(bit_equal(runs[1][0], init[0]));
}

TEST(SophiaOptim, UpdateHessianIsTheReferenceEma) {
  auto p = at::zeros({3}, f64());
  descent::SophiaG opt({p}, descent::SophiaGOptions(0.1).weight_decay(0));
  p.mutable_grad() = at::tensor({1.0, -1.0, 0.0}, f64());
  opt.step();  // h = 0: sign descent, m = 0.035·g, clipped to ±1
  EXPECT_TRUE(at::allclose(p, at::tensor({-0.1, 0.1, 0.0}, f64()), 1e-15, 0));
  opt.update_hessian({at::tensor({4.0, 1.0, 2.0}, f64())});
  EXPECT_TRUE(at::allclose(opt.state_of(p)->buffer(1), at::tensor({0.04, 0.01, 0.02}, f64()), 1e-14, 0));
  EXPECT_THROW(opt.update_hessian({at::ones({2}, f64())}), std::invalid_argument);
  EXPECT_THROW(opt.update_hessian({}), std::invalid_argument);
}

// ---- Muon -------------------------------------------------------------------------------------

TEST(MuonOptim, FlatListSplitsByRankWithAdamWDefaultsForTheRest) {
  auto w = at::randn({6, 4}), k = at::randn({3, 2, 3, 3}), b = at::randn({6}), s = at::randn({});
  auto opt = descent::make_optimizer("muon", {w, b, k, s}, R"({"lr": 0.05, "adamw_lr": 0.001, "adamw_wd": 0.1})");
  ASSERT_EQ(opt->param_groups().size(), 2u);
  const auto& g0 = static_cast<const descent::MuonOptions&>(opt->param_groups()[0].options());
  const auto& g1 = static_cast<const descent::MuonOptions&>(opt->param_groups()[1].options());
  EXPECT_TRUE(g0.use_muon());
  EXPECT_EQ(g0.lr(), 0.05);
  EXPECT_EQ(opt->param_groups()[0].params().size(), 2u);  // w, k
  EXPECT_FALSE(g1.use_muon());
  EXPECT_EQ(g1.lr(), 0.001);
  EXPECT_EQ(g1.weight_decay(), 0.1);
  EXPECT_EQ(g1.eps(), 1e-10);
  EXPECT_EQ(g1.betas()[1], 0.95);
  EXPECT_EQ(opt->param_groups()[1].params().size(), 2u);  // b, s
}

TEST(MuonOptim, UseMuonGroupsTakeTheReferencesKeysOnly) {
  auto w = at::randn({6, 4}), b = at::randn({6});
  std::vector<GroupSpec> groups(2);
  groups[0].params = {w};
  groups[0].options = {{"use_muon", flag(true)}, {"lr", num(0.05)}};
  groups[1].params = {b};
  groups[1].options = {{"use_muon", flag(false)}, {"betas", OptionValue{OptionValue::Kind::list, 0, false, "", {0.8, 0.9}}}};
  auto opt = descent::Registry::instance().make("muon", groups);
  const auto& g1 = static_cast<const descent::MuonOptions&>(opt->param_groups()[1].options());
  EXPECT_EQ(g1.lr(), 3e-4);  // the reference's AdamW default
  EXPECT_EQ(g1.betas()[0], 0.8);
  groups[1].options["momentum"] = num(0.9);
  EXPECT_THROW(descent::Registry::instance().make("muon", groups), descent::OptionError);
  // A vector in a Muon group is refused, naming the parameter.
  std::vector<GroupSpec> bad(1);
  bad[0].params = {b};
  bad[0].options = {{"use_muon", flag(true)}};
  const std::string msg = message_of<std::invalid_argument>([&] { descent::Registry::instance().make("muon", bad); });
  EXPECT_TRUE(contains(msg, "use_muon = false")) << msg;
}

// One step from zero momentum with momentum 0: p = −lr·NS5(g)·scale.
torch::Tensor one_step_update(const torch::Tensor& g, const std::string& ns_dtype) {
  auto p = at::zeros_like(g);
  p.mutable_grad() = g.clone();
  descent::Muon opt(std::vector<torch::Tensor>{p}, descent::MuonOptions(1.0).momentum(0).nesterov(false).ns_dtype(ns_dtype));
  opt.step();
  return -p;
}

TEST(MuonOptim, NewtonSchulzOrthogonalisesApproximately) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
  for (auto shape : {std::vector<std::int64_t>{16, 40}, std::vector<std::int64_t>{40, 16}}) {
    const auto g = at::randn(shape, gen, f64());
    const auto o = one_step_update(g, "float32");
    const double scale = std::sqrt(std::max(1.0, static_cast<double>(shape[0]) / shape[1]));
    const auto sv = at::linalg_svdvals(o / scale);
    // The reference's quintic: singular values roughly in [0.68, 1.13].
    EXPECT_GT(sv.min().item<double>(), 0.6) << sv;
    EXPECT_LT(sv.max().item<double>(), 1.2) << sv;
    // Same singular vectors as g: o ≈ U·S'·Vᵀ, so oᵀ·g is symmetric positive.
    const auto m = shape[0] <= shape[1] ? at::matmul(o, g.t()) : at::matmul(o.t(), g);
    EXPECT_TRUE(at::allclose(m, m.t(), 1e-4, 1e-4));
    // bfloat16 and float64 iterations agree with float32 to their precision.
    EXPECT_LT((one_step_update(g, "float64") - o).abs().max().item<double>(), 1e-5);
    EXPECT_LT((one_step_update(g, "bfloat16") - o).abs().max().item<double>(), 0.1);
  }
}

TEST(MuonOptim, ConvKernelsAreFlattenedAndScaledByTheirOriginalLastTwoDims) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  const auto g = at::randn({4, 3, 2, 2}, gen, f64());  // as [4, 12]; scale sqrt(max(1, 2/2)) = 1
  const auto o = one_step_update(g, "float64");
  const auto flat_o = one_step_update(g.reshape({4, 12}), "float64");  // [4, 12]: scale 1 too
  EXPECT_TRUE(at::allclose(o.reshape({4, 12}), flat_o, 1e-12, 1e-12));
  const auto tall = at::randn({12, 4}, gen, f64());  // scale sqrt(3)
  const auto ot = one_step_update(tall, "float64");
  EXPECT_NEAR(at::linalg_svdvals(ot).max().item<double>() / std::sqrt(3.0),
              at::linalg_svdvals(one_step_update(tall.t().contiguous(), "float64")).max().item<double>(), 1e-9);
}

TEST(MuonOptim, ParameterWithoutGradientIsSteppedWithZerosAsTheReference) {
  auto w = at::ones({3, 3}, f64()), b = at::ones({3}, f64());
  auto opt = descent::make_optimizer("muon", {w, b}, R"({"weight_decay": 0.5, "adamw_wd": 0.5})");
  opt->step();  // no gradients at all
  EXPECT_TRUE(at::allclose(w, at::full({3, 3}, 1 - 0.02 * 0.5, f64())));
  EXPECT_TRUE(at::allclose(b, at::full({3}, 1 - 3e-4 * 0.5, f64())));
  EXPECT_EQ(opt->state_of(w)->step, 1);
}

// ---- M-FAC ------------------------------------------------------------------------------------

TEST(MFACOptim, MatchesADenseSolveOverTheSlidingWindow) {
  // x_t = (damp·I + GᵀG/m)⁻¹·g_t, G the last m gradients (zero rows until
  // filled); momentum and weight decay as the reference; two groups, one lr each.
  const std::int64_t m = 3;
  const double damp = 1e-2, lr0 = 0.1, lr1 = 0.05, mu = 0.5, wd = 0.01;
  auto init = random_params({{3, 2}, {4}, {}}, at::kDouble, 1);
  auto p = clones(init);
  std::vector<GroupSpec> groups(2);
  groups[0].params = {p[0]};
  groups[1].params = {p[1], p[2]};
  groups[1].options = {{"lr", num(lr1)}};
  auto opt = make_groups("mfac", groups, {{"lr", num(lr0)}, {"ngrads", num(m)}, {"damp", num(damp)},
                                          {"momentum", num(mu)}, {"weight_decay", num(wd)}});
  auto ref = clones(init);
  const std::int64_t d = 6 + 4 + 1;
  auto G = at::zeros({m, d}, f64());
  auto v = at::zeros({d}, f64());
  const auto grads = random_grads(init, 8, 2);
  for (int t = 0; t < 8; ++t) {
    set_grads(p, grads[t]);
    opt->step();
    auto g = flat({grads[t][0] + wd * ref[0], grads[t][1] + wd * ref[1], grads[t][2] + wd * ref[2]});
    G[t % m] = g;
    const auto F = damp * at::eye(d, f64()) + at::matmul(G.t(), G) / m;
    const auto x = at::linalg_solve(F, g);
    v = mu * v + (1 - mu) * x;
    const auto parts = split_like(v, ref);
    ref[0] -= lr0 * parts[0];
    ref[1] -= lr1 * parts[1];
    ref[2] -= lr1 * parts[2];
    for (int i = 0; i < 3; ++i)
      EXPECT_TRUE(at::allclose(p[i], ref[i], 1e-9, 1e-10)) << "step " << t + 1 << " param " << i;
  }
}

TEST(MFACOptim, SparseKeepsPrunedWeightsAtZero) {
  auto p = at::tensor({0.0, 1.0, 0.0, -2.0}, f64());
  auto opt = make("mfac", {p}, {{"lr", num(0.1)}, {"ngrads", num(2)}, {"sparse", flag(true)}, {"damp", num(0.1)}});
  for (const auto& g : random_grads({p}, 3, 4)) {
    set_grads({p}, g);
    opt->step();
  }
  EXPECT_EQ(p[0].item<double>(), 0.0);
  EXPECT_EQ(p[2].item<double>(), 0.0);
  EXPECT_NE(p[1].item<double>(), 1.0);
}

TEST(MFACOptim, GlobalOptionsMustAgreeAndNgradsCannotChange) {
  auto a = at::randn({3}), b = at::randn({2});
  std::vector<GroupSpec> groups(2);
  groups[0].params = {a};
  groups[1].params = {b};
  groups[1].options = {{"damp", num(0.1)}};
  auto opt = make_groups("mfac", groups, {{"lr", num(0.01)}, {"ngrads", num(4)}});
  set_grads({a, b}, {at::ones({3}), at::ones({2})});
  EXPECT_THROW(opt->step(), descent::OptionError);
  auto single = make("mfac", {a}, {{"lr", num(0.01)}, {"ngrads", num(4)}});
  set_grads({a}, {at::ones({3})});
  single->step();
  static_cast<descent::MFACOptions&>(single->param_groups()[0].options()).ngrads(8);
  EXPECT_THROW(single->step(), descent::OptionError);
}

}  // namespace
