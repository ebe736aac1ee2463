// Fashion-MNIST with a small CNN, trained with Muon + AdamW and with SophiaG.
//
//   build/examples/fashion_mnist_curvature/fashion_mnist_curvature [--train N] [--epochs E] [--batch B]
//                                                                  [--optimizer muon|sophia_g|adamw|all]
//
// Muon trains the hidden weight matrices (the two conv kernels, viewed as
// [out, in·3·3]); the classifier head and the biases go to AdamW, in the same
// optimizer, through param groups that name their rule (use_muon), as
// KellerJordan/Muon's SingleDeviceMuonWithAuxAdam. SophiaG refreshes its
// Hessian-diagonal estimate every k steps with the Gauss-Newton-Bartlett
// estimator (labels drawn from the model's own predictions), as the authors'
// training script does. AdamW is the baseline.
//
// Data: the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
// or $DESCENT_FASHION_MNIST_DIR). The reader and the CNN here are minimal
// stand-ins for the benchmark's (tools/bench: descent::bench_models), which
// this example should use once that library is in the build.
#include <descent/curvature.h>
#include <descent/optim/adam.h>
#include <descent/optim/muon.h>
#include <descent/optim/sophia.h>
#include <descent/registry.h>

#include <torch/torch.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// ---- data: idx files, gzip-compressed ----------------------------------------------------

std::vector<unsigned char> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path + " (install the Debian package dataset-fashion-mnist)");
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

struct Split {
  torch::Tensor x;  // float [N, 1, 28, 28], standardised
  torch::Tensor y;  // int64 [N]
};

Split load(const std::string& dir, const std::string& prefix, std::int64_t limit) {
  const auto images = read_gz(dir + "/" + prefix + "-images-idx3-ubyte.gz");
  const auto labels = read_gz(dir + "/" + prefix + "-labels-idx1-ubyte.gz");
  if (images.size() < 16 || be32(images.data()) != 2051 || labels.size() < 8 || be32(labels.data()) != 2049)
    throw std::runtime_error("not Fashion-MNIST idx files in " + dir);
  std::int64_t n = be32(images.data() + 4);
  if (limit > 0 && limit < n) n = limit;
  auto x = torch::from_blob(const_cast<unsigned char*>(images.data() + 16), {n, 1, 28, 28}, torch::kUInt8).clone();
  auto y = torch::from_blob(const_cast<unsigned char*>(labels.data() + 8), {n}, torch::kUInt8).to(torch::kLong);
  return {(x.to(torch::kFloat) / 255.0 - 0.2860) / 0.3530, y};
}

// ---- model: conv3x3(1→8) ReLU maxpool2, conv3x3(8→16) ReLU maxpool2, Linear(16·7·7 → 10) ------

struct CnnImpl : torch::nn::Module {
  CnnImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).padding(1)));
    fc = register_module("fc", torch::nn::Linear(16 * 7 * 7, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::max_pool2d(torch::relu(conv1(x)), 2);
    h = torch::max_pool2d(torch::relu(conv2(h)), 2);
    return fc(h.flatten(1));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Cnn);

// ---- the optimizers ----------------------------------------------------------------------

std::unique_ptr<descent::Optimizer> muon_with_adamw(Cnn& cnn) {
  // Hidden matrices to Muon; the head and every bias to AdamW.
  std::vector<torch::Tensor> hidden = {cnn->conv1->weight, cnn->conv2->weight};
  std::vector<torch::Tensor> rest = {cnn->conv1->bias, cnn->conv2->bias, cnn->fc->weight, cnn->fc->bias};
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(hidden, std::make_unique<descent::MuonOptions>(descent::MuonOptions(0.02).momentum(0.95)));
  groups.emplace_back(rest, std::make_unique<descent::MuonOptions>(descent::MuonOptions::adamw(3e-3).weight_decay(1e-4)));
  return std::make_unique<descent::Muon>(std::move(groups));
  // (Or, splitting by rank, head included in Muon:
  //  descent::make_optimizer("muon", cnn->parameters(), R"({"lr": 0.02, "adamw_lr": 3e-3})").)
}

double accuracy(Cnn& cnn, const Split& test) {
  torch::NoGradGuard no_grad;
  cnn->eval();
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < test.x.size(0); i += 1000) {
    const auto n = std::min<std::int64_t>(1000, test.x.size(0) - i);
    const auto pred = cnn->forward(test.x.narrow(0, i, n)).argmax(1);
    correct += (pred == test.y.narrow(0, i, n)).sum().item<std::int64_t>();
  }
  cnn->train();
  return static_cast<double>(correct) / static_cast<double>(test.x.size(0));
}

void train(const std::string& name, const Split& train_set, const Split& test, int epochs, std::int64_t batch) {
  torch::manual_seed(0);
  Cnn cnn;
  std::unique_ptr<descent::Optimizer> opt;
  torch::Tensor xb;  // the current batch, for SophiaG's estimator
  if (name == "muon") {
    opt = muon_with_adamw(cnn);
  } else if (name == "sophia_g") {
    // lr is ρ·η of the paper; bs: examples per batch (the GNB batch factor).
    auto sophia = std::make_unique<descent::SophiaG>(
        cnn->parameters(),
        descent::SophiaGOptions(2e-3).rho(0.04).weight_decay(1e-4).bs(static_cast<double>(batch)).hess_interval(10));
    sophia->set_estimator(descent::curvature::gnb_estimator([&] { return cnn->forward(xb); }));
    opt = std::move(sophia);
  } else {
    opt = descent::make_optimizer(name, cnn->parameters(), R"({"lr": 3e-3, "weight_decay": 1e-4})");
  }
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t n = train_set.x.size(0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const auto perm = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
    double loss_sum = 0;
    std::int64_t batches = 0;
    for (std::int64_t i = 0; i + batch <= n; i += batch) {
      const auto idx = perm.narrow(0, i, batch);
      xb = train_set.x.index_select(0, idx);
      const auto yb = train_set.y.index_select(0, idx);
      opt->zero_grad();
      auto loss = torch::cross_entropy_loss(cnn->forward(xb), yb);
      loss.backward();
      opt->step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-9s epoch %d  train loss %.4f  test accuracy %.4f  (%.1f s)\n", name.c_str(), epoch,
                loss_sum / static_cast<double>(batches), accuracy(cnn, test), secs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t limit = 20000, batch = 128;
  int epochs = 2;
  std::string which = "all";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--train") limit = std::stoll(argv[i + 1]);
    else if (a == "--epochs") epochs = std::stoi(argv[i + 1]);
    else if (a == "--batch") batch = std::stoll(argv[i + 1]);
    else if (a == "--optimizer") which = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--train N] [--epochs E] [--batch B] [--optimizer muon|sophia_g|adamw|all]\n", argv[0]);
      return 2;
    }
  }
  try {
    const char* env = std::getenv("DESCENT_FASHION_MNIST_DIR");
    const std::string dir = env != nullptr ? env : "/usr/share/datasets/fashion-mnist";
    const Split train_set = load(dir, "train", limit), test = load(dir, "t10k", -1);
    std::printf("Fashion-MNIST: %lld training images, %lld test images, batch %lld\n",
                static_cast<long long>(train_set.x.size(0)), static_cast<long long>(test.x.size(0)),
                static_cast<long long>(batch));
    for (const std::string name : {"muon", "sophia_g", "adamw"})
      if (which == "all" || which == name) train(name, train_set, test, epochs, batch);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
