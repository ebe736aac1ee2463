#include <descent/bench/models.h>

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include <cmath>
#include <stdexcept>

namespace descent::bench {

namespace F = torch::nn::functional;

LogisticRegressionImpl::LogisticRegressionImpl(std::int64_t inputs, std::int64_t classes) {
  fc_ = register_module("fc", torch::nn::Linear(inputs, classes));
}

torch::Tensor LogisticRegressionImpl::forward(const torch::Tensor& x) { return fc_->forward(x.flatten(1)); }

MlpImpl::MlpImpl(const MlpConfig& c) {
  fc1_ = register_module("fc1", torch::nn::Linear(c.inputs, c.hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(c.hidden, c.hidden));
  fc3_ = register_module("fc3", torch::nn::Linear(c.hidden, c.classes));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(fc1_->forward(x.flatten(1)));
  h = torch::relu(fc2_->forward(h));
  return fc3_->forward(h);
}

SmallCnnImpl::SmallCnnImpl(const SmallCnnConfig& c) {
  conv1_ = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, c.channels1, 3).stride(2).padding(1)));
  conv2_ = register_module(
      "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.channels1, c.channels2, 3).stride(2).padding(1)));
  fc_ = register_module("fc", torch::nn::Linear(c.channels2 * 7 * 7, c.classes));
}

torch::Tensor SmallCnnImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(conv1_->forward(x));  // [N, c1, 14, 14]
  h = torch::relu(conv2_->forward(h));        // [N, c2, 7, 7]
  return fc_->forward(h.flatten(1));
}

TransformerBlockImpl::TransformerBlockImpl(std::int64_t d_model, std::int64_t heads, std::int64_t d_ff)
    : heads_(heads) {
  if (heads <= 0 || d_model % heads != 0) throw std::invalid_argument("TransformerBlock: heads must divide d_model");
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  qkv_ = register_module("qkv", torch::nn::Linear(d_model, 3 * d_model));
  proj_ = register_module("proj", torch::nn::Linear(d_model, d_model));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  ff1_ = register_module("ff1", torch::nn::Linear(d_model, d_ff));
  ff2_ = register_module("ff2", torch::nn::Linear(d_ff, d_model));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& causal_mask) {
  const auto B = x.size(0), T = x.size(1), C = x.size(2), hd = C / heads_;
  auto qkv = qkv_->forward(ln1_->forward(x)).view({B, T, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
  auto q = qkv[0], k = qkv[1], v = qkv[2];  // [B, H, T, hd]
  auto att = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(hd)));
  att = att.masked_fill(causal_mask.slice(0, 0, T).slice(1, 0, T), -std::numeric_limits<float>::infinity());
  att = torch::softmax(att, -1);
  auto y = torch::matmul(att, v).transpose(1, 2).reshape({B, T, C});
  auto h = x + proj_->forward(y);
  return h + ff2_->forward(torch::gelu(ff1_->forward(ln2_->forward(h))));
}

CharTransformerImpl::CharTransformerImpl(const CharTransformerConfig& c) : config_(c) {
  tok_ = register_module("tok", torch::nn::Embedding(c.vocab, c.d_model));
  pos_ = register_module("pos", torch::nn::Embedding(c.context, c.d_model));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.layers; ++i) blocks_->push_back(TransformerBlock(c.d_model, c.heads, c.d_ff));
  ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
  head_ = register_module("head", torch::nn::Linear(c.d_model, c.vocab));
  mask_ = torch::ones({c.context, c.context}, torch::kBool).triu(1);
}

torch::Tensor CharTransformerImpl::forward(const torch::Tensor& tokens) {
  const auto T = tokens.size(1);
  if (T > config_.context) throw std::invalid_argument("CharTransformer: sequence longer than the context");
  auto positions = torch::arange(T, torch::kLong);
  auto h = tok_->forward(tokens) + pos_->forward(positions).unsqueeze(0);
  for (const auto& b : *blocks_) h = b->as<TransformerBlockImpl>()->forward(h, mask_);
  return head_->forward(ln_f_->forward(h));
}

}  // namespace descent::bench
