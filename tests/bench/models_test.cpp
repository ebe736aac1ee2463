// The benchmark's models: shapes, parameter counts, causality.
#include <descent/bench/models.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace db = descent::bench;

namespace {
int64_t count(const std::vector<torch::Tensor>& ps) {
  int64_t n = 0;
  for (const auto& p : ps) n += p.numel();
  return n;
}
}  // namespace

TEST(Models, ImageModelsMapImagesToTenLogits) {
  torch::manual_seed(0);
  const auto x = torch::randn({5, 1, 28, 28});
  db::LogisticRegression lr;
  EXPECT_EQ(lr->forward(x).sizes(), (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(count(lr->parameters()), 784 * 10 + 10);
  db::Mlp mlp(db::MlpConfig{784, 32, 10});
  EXPECT_EQ(mlp->forward(x).sizes(), (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(count(mlp->parameters()), 784 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10);
  db::SmallCnn cnn(db::SmallCnnConfig{4, 6, 10});
  EXPECT_EQ(cnn->forward(x).sizes(), (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(count(cnn->parameters()), (9 * 4 + 4) + (9 * 4 * 6 + 6) + (6 * 49 * 10 + 10));
}

TEST(Models, SameSeedSameWeights) {
  torch::manual_seed(7);
  db::SmallCnn a;
  torch::manual_seed(7);
  db::SmallCnn b;
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(pa[i].equal(pb[i]));
}

TEST(Models, CharTransformerIsCausal) {
  torch::manual_seed(0);
  db::CharTransformerConfig c;
  c.vocab = 20;
  c.context = 16;
  c.d_model = 32;
  c.heads = 4;
  c.layers = 2;
  c.d_ff = 64;
  db::CharTransformer m(c);
  auto t = torch::randint(0, 20, {2, 12}, torch::kLong);
  const auto y = m->forward(t);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 12, 20}));
  // Changing token 8 changes no logits before position 8, and some after.
  auto t2 = t.clone();
  t2.index_put_({torch::indexing::Slice(), 8}, (t.index({torch::indexing::Slice(), 8}) + 1) % 20);
  const auto y2 = m->forward(t2);
  EXPECT_TRUE(torch::allclose(y.slice(1, 0, 8), y2.slice(1, 0, 8)));
  EXPECT_FALSE(torch::allclose(y.slice(1, 8), y2.slice(1, 8)));
  EXPECT_THROW(m->forward(torch::zeros({1, 17}, torch::kLong)), std::invalid_argument);
  EXPECT_THROW(db::TransformerBlock(30, 4, 64), std::invalid_argument);
}

// Double backward works through every model (curvature optimizers take
// Hessian-vector products through the gradients).
TEST(Models, SecondDerivativesExist) {
  torch::manual_seed(0);
  db::CharTransformerConfig c;
  c.vocab = 10;
  c.context = 8;
  c.d_model = 16;
  c.heads = 2;
  c.layers = 1;
  c.d_ff = 32;
  db::CharTransformer lm(c);
  db::SmallCnn cnn(db::SmallCnnConfig{2, 3, 10});
  auto check = [](torch::nn::Module& m, const torch::Tensor& loss) {
    auto ps = m.parameters();
    auto g = torch::autograd::grad({loss}, ps, {}, true, true);
    torch::Tensor dot = torch::zeros({});
    for (auto& gi : g) dot = dot + (gi * gi).sum();
    auto h = torch::autograd::grad({dot}, ps, {}, false, false, true);
    double norm = 0;
    for (auto& hi : h)
      if (hi.defined()) norm += hi.abs().sum().item<double>();
    EXPECT_GT(norm, 0);
  };
  auto t = torch::randint(0, 10, {3, 8}, torch::kLong);
  auto logits = lm->forward(t);
  check(*lm, torch::cross_entropy_loss(logits.reshape({-1, 10}), t.reshape({-1})));
  auto x = torch::randn({4, 1, 28, 28});
  check(*cnn, torch::cross_entropy_loss(cnn->forward(x), torch::tensor({1, 2, 3, 4}, torch::kLong)));
}
