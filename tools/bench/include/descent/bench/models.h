// descent/bench/models.h: the benchmark's models, LibTorch nn modules that
// examples can reuse (link descent::bench_models).
//
//   LogisticRegression   784 -> 10 (one Linear layer on flattened images)
//   Mlp                  784 -> hidden -> hidden -> 10, ReLU
//   SmallCnn             conv3x3 stride 2 (1->c1) ReLU, conv3x3 stride 2 (c1->c2) ReLU, Linear(c2*7*7 -> 10)
//                        (strided convolutions instead of pooling: a quarter of the
//                        convolution work, so the benchmark's quick suite stays quick)
//   CharTransformer      a GPT-style character language model: token + position
//                        embeddings, `layers` pre-LayerNorm blocks of causal
//                        multi-head self-attention and a GELU MLP, a final
//                        LayerNorm and a linear head over the vocabulary
//
// Image models take float [N,1,28,28] (see normalize_images) and return logits
// [N,10]. CharTransformer takes int64 [B,T] token ids (T <= context) and
// returns logits [B,T,vocab]. Parameters are initialised by LibTorch's default
// initialisers from the global generator: call torch::manual_seed first for a
// reproducible model.
//
//     torch::manual_seed(0);
//     descent::bench::SmallCnn cnn(descent::bench::SmallCnnConfig{});
//     auto logits = cnn->forward(x);
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace descent::bench {

class LogisticRegressionImpl : public torch::nn::Module {
 public:
  explicit LogisticRegressionImpl(std::int64_t inputs = 784, std::int64_t classes = 10);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(LogisticRegression);

struct MlpConfig {
  std::int64_t inputs = 784;
  std::int64_t hidden = 128;
  std::int64_t classes = 10;
};

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const MlpConfig& config = {});
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, fc3_{nullptr};
};
TORCH_MODULE(Mlp);

struct SmallCnnConfig {
  std::int64_t channels1 = 8;
  std::int64_t channels2 = 16;
  std::int64_t classes = 10;
};

class SmallCnnImpl : public torch::nn::Module {
 public:
  explicit SmallCnnImpl(const SmallCnnConfig& config = {});
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(SmallCnn);

struct CharTransformerConfig {
  std::int64_t vocab = 128;
  std::int64_t context = 64;  // longest sequence
  std::int64_t d_model = 64;
  std::int64_t heads = 4;     // must divide d_model
  std::int64_t layers = 2;
  std::int64_t d_ff = 256;
};

// One pre-LayerNorm transformer block with causal self-attention.
class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(std::int64_t d_model, std::int64_t heads, std::int64_t d_ff);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& causal_mask);

 private:
  std::int64_t heads_;
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, ff1_{nullptr}, ff2_{nullptr};
};
TORCH_MODULE(TransformerBlock);

class CharTransformerImpl : public torch::nn::Module {
 public:
  explicit CharTransformerImpl(const CharTransformerConfig& config);
  torch::Tensor forward(const torch::Tensor& tokens);
  const CharTransformerConfig& config() const { return config_; }

 private:
  CharTransformerConfig config_;
  torch::nn::Embedding tok_{nullptr}, pos_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::Tensor mask_;  // bool [context, context], true above the diagonal
};
TORCH_MODULE(CharTransformer);

}  // namespace descent::bench
