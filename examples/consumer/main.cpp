// Fits y = 3x - 1 with descent's AdamW: the README's usage example.
#include <descent/descent.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  torch::manual_seed(0);
  auto x = torch::randn({256, 1});
  auto y = 3 * x - 1;
  torch::nn::Linear model(1, 1);
  descent::AdamW opt(model->parameters(), descent::AdamWOptions(0.1).weight_decay(0));
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    auto loss = torch::mse_loss(model(x), y);
    loss.backward();
    opt.step();
  }
  const double w = model->weight.item<double>(), b = model->bias.item<double>();
  std::cout << "consumer: w = " << w << ", b = " << b << "\n";
  return std::abs(w - 3) < 1e-2 && std::abs(b + 1) < 1e-2 ? 0 : 1;
}
