// The benchmark's workloads: 2-D test functions, a noisy quadratic,
// Fashion-MNIST classifiers and a character-level language model.
#include <descent/bench/workload.h>

#include <descent/bench/data.h>
#include <descent/bench/models.h>

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

namespace descent::bench {

const char* kind_name(WorkloadKind k) {
  switch (k) {
    case WorkloadKind::function2d: return "function2d";
    case WorkloadKind::quadratic: return "quadratic";
    case WorkloadKind::classification: return "classification";
    case WorkloadKind::language_model: return "language_model";
  }
  return "?";
}

namespace {

bool quick_suite(const std::string& suite) {
  if (suite == "quick") return true;
  if (suite == "full") return false;
  throw std::invalid_argument("unknown suite '" + suite + "'; valid suites: quick, full");
}

// Half-decade grids: multipliers 10^(a/2) for a in [lo, hi].
std::vector<double> half_decades(int lo, int hi) {
  std::vector<double> out;
  for (int a = lo; a <= hi; ++a) out.push_back(a % 2 == 0 ? std::pow(10.0, a / 2) : 3 * std::pow(10.0, (a - 1) / 2));
  return out;
}

at::Generator generator(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// ---- 2-D test functions ---------------------------------------------------------------

using at::Tensor;

Function2D rosenbrock() {
  Function2D f;
  f.gnuplot = "(1-x)**2 + 100*(y-x**2)**2";
  f.minima = {{1, 1}};
  f.start = {-1.2, 1.0};
  f.box = {-2, 2, -1, 3};
  f.f = [](const Tensor& x, const Tensor& y) { return (1 - x).pow(2) + 100 * (y - x * x).pow(2); };
  f.value = [](double x, double y) { return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x); };
  return f;
}

Function2D beale() {
  Function2D f;
  f.gnuplot = "(1.5-x+x*y)**2 + (2.25-x+x*y**2)**2 + (2.625-x+x*y**3)**2";
  f.minima = {{3, 0.5}};
  f.start = {-1.0, 1.0};
  f.box = {-2, 4, -2, 2};
  f.f = [](const Tensor& x, const Tensor& y) {
    return (1.5 - x + x * y).pow(2) + (2.25 - x + x * y * y).pow(2) + (2.625 - x + x * y * y * y).pow(2);
  };
  f.value = [](double x, double y) {
    const double a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
    return a * a + b * b + c * c;
  };
  return f;
}

Function2D rastrigin() {
  Function2D f;
  f.gnuplot = "20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)";
  f.minima = {{0, 0}};
  f.start = {-2.5, 2.2};
  f.box = {-4.5, 4.5, -4.5, 4.5};
  f.f = [](const Tensor& x, const Tensor& y) {
    const double tau = 2 * M_PI;
    return 20 + x * x - 10 * at::cos(tau * x) + y * y - 10 * at::cos(tau * y);
  };
  f.value = [](double x, double y) {
    return 20 + x * x - 10 * std::cos(2 * M_PI * x) + y * y - 10 * std::cos(2 * M_PI * y);
  };
  return f;
}

Function2D himmelblau() {
  Function2D f;
  f.gnuplot = "(x**2+y-11)**2 + (x+y**2-7)**2";
  f.minima = {{3, 2}, {-2.805118, 3.131312}, {-3.779310, -3.283186}, {3.584428, -1.848126}};
  f.start = {0.0, 0.0};
  f.box = {-5, 5, -5, 5};
  f.f = [](const Tensor& x, const Tensor& y) { return (x * x + y - 11).pow(2) + (x + y * y - 7).pow(2); };
  f.value = [](double x, double y) {
    const double a = x * x + y - 11, b = x + y * y - 7;
    return a * a + b * b;
  };
  return f;
}

Function2D ackley() {
  Function2D f;
  // 1e-12 inside the square root keeps the gradient finite at the minimum.
  f.gnuplot = "-20*exp(-0.2*sqrt(0.5*(x**2+y**2))) - exp(0.5*(cos(2*pi*x)+cos(2*pi*y))) + exp(1) + 20";
  f.minima = {{0, 0}};
  f.start = {2.3, -1.6};
  f.box = {-4, 4, -4, 4};
  f.f = [](const Tensor& x, const Tensor& y) {
    const double tau = 2 * M_PI;
    return -20 * at::exp(-0.2 * at::sqrt(0.5 * (x * x + y * y) + 1e-12)) -
           at::exp(0.5 * (at::cos(tau * x) + at::cos(tau * y))) + std::exp(1.0) + 20;
  };
  f.value = [](double x, double y) {
    return -20 * std::exp(-0.2 * std::sqrt(0.5 * (x * x + y * y) + 1e-12)) -
           std::exp(0.5 * (std::cos(2 * M_PI * x) + std::cos(2 * M_PI * y))) + std::exp(1.0) + 20;
  };
  return f;
}

Function2D styblinski_tang() {
  Function2D f;
  f.gnuplot = "0.5*(x**4-16*x**2+5*x + y**4-16*y**2+5*y)";
  f.f_min = -78.33233140754282;
  f.minima = {{-2.903534, -2.903534}};
  f.start = {4.5, 4.0};
  f.box = {-5, 5, -5, 5};
  f.f = [](const Tensor& x, const Tensor& y) {
    return 0.5 * (x.pow(4) - 16 * x * x + 5 * x + y.pow(4) - 16 * y * y + 5 * y);
  };
  f.value = [](double x, double y) {
    return 0.5 * (x * x * x * x - 16 * x * x + 5 * x + y * y * y * y - 16 * y * y + 5 * y);
  };
  return f;
}

class Function2DTrial : public Trial {
 public:
  Function2DTrial(const Function2D& f, std::uint64_t seed, bool jitter) : f_(f) {
    double x0 = f.start[0], y0 = f.start[1];
    if (jitter) {
      // Seeds other than the first start within +-0.2 of the canonical start.
      auto g = generator(seed);
      auto u = at::rand({2}, g, at::kDouble);
      x0 += 0.4 * (u[0].item<double>() - 0.5);
      y0 += 0.4 * (u[1].item<double>() - 0.5);
    }
    p_ = at::tensor({x0, y0}, at::kFloat).requires_grad_(true);
  }
  std::vector<Tensor> parameters() override { return {p_}; }
  void next_batch(int) override {}
  Tensor loss() override { return f_.f(p_[0], p_[1]); }
  Eval evaluate(bool) override {
    const auto pt = point();
    Eval e;
    e.loss = f_.value(pt[0], pt[1]) - f_.f_min;
    if (!std::isfinite(e.loss)) e.loss = std::numeric_limits<double>::infinity();
    e.loss = std::max(e.loss, 0.0);
    return e;
  }
  bool has_point() const override { return true; }
  std::array<double, 2> point() const override {
    const float* d = p_.data_ptr<float>();
    return {d[0], d[1]};
  }

 private:
  const Function2D& f_;
  Tensor p_;
};

class Function2DWorkload : public Workload {
 public:
  Function2DWorkload(WorkloadInfo info, Function2D f) : info_(std::move(info)), f_(std::move(f)) {}
  const WorkloadInfo& info() const override { return info_; }
  std::unique_ptr<Trial> trial(std::uint64_t seed, int seed_index) override {
    // The first seed starts at the canonical point.
    return std::make_unique<Function2DTrial>(f_, seed, seed_index != 0);
  }
  const Function2D* function() const override { return &f_; }

 private:
  WorkloadInfo info_;
  Function2D f_;
};

// ---- noisy quadratic -------------------------------------------------------------------

class QuadraticTrial : public Trial {
 public:
  QuadraticTrial(const Tensor& h, double sigma, std::uint64_t seed) : h_(h), sigma_(sigma), gen_(generator(seed)) {
    x_ = at::randn({h.numel()}, gen_, at::kFloat).requires_grad_(true);
    noise_scale_ = sigma * h.sqrt();
  }
  std::vector<Tensor> parameters() override { return {x_}; }
  void next_batch(int) override { eps_ = at::randn({h_.numel()}, gen_, at::kFloat) * noise_scale_; }
  Tensor loss() override { return 0.5 * (h_ * x_ * x_).sum() + (eps_ * x_).sum(); }
  Eval evaluate(bool) override {
    at::NoGradGuard ng;
    Eval e;
    e.loss = 0.5 * (h_.to(at::kDouble) * x_.detach().to(at::kDouble).pow(2)).sum().item<double>();
    return e;
  }

 private:
  Tensor h_, x_, eps_, noise_scale_;
  double sigma_;
  at::Generator gen_;
};

class QuadraticWorkload : public Workload {
 public:
  QuadraticWorkload(WorkloadInfo info, std::int64_t dim, double kappa, double sigma)
      : info_(std::move(info)), sigma_(sigma) {
    // Eigenvalues log-spaced from 1 down to 1/kappa.
    h_ = at::pow(kappa, -at::linspace(0, 1, dim, at::kDouble)).to(at::kFloat);
  }
  const WorkloadInfo& info() const override { return info_; }
  std::unique_ptr<Trial> trial(std::uint64_t seed, int) override {
    return std::make_unique<QuadraticTrial>(h_, sigma_, seed);
  }

 private:
  WorkloadInfo info_;
  Tensor h_;
  double sigma_;
};

// ---- Fashion-MNIST classifiers -------------------------------------------------------------

enum class ImageModel { logreg, mlp, cnn };

struct ImageData {
  Tensor train_x, train_y, val_x, val_y, test_x, test_y;
};

// The loaded data, shared by the three classifiers (loaded once per sizes).
const ImageData& image_data(std::int64_t train_n, std::int64_t val_n, std::int64_t test_n) {
  static std::mutex mu;
  static std::map<std::array<std::int64_t, 3>, ImageData> cache;
  std::lock_guard<std::mutex> lock(mu);
  const std::array<std::int64_t, 3> key{train_n, val_n, test_n};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  // The last 5000 training images are the validation split; t10k is the test
  // split, used only for reporting.
  const std::int64_t kTrainPool = 55000;
  auto train = load_fashion_mnist(Split::train);
  auto test = load_fashion_mnist(Split::test, test_n);
  ImageData d;
  d.train_x = normalize_images(train.images.slice(0, 0, std::min(train_n, kTrainPool)));
  d.train_y = train.labels.slice(0, 0, std::min(train_n, kTrainPool));
  d.val_x = normalize_images(train.images.slice(0, kTrainPool, kTrainPool + val_n));
  d.val_y = train.labels.slice(0, kTrainPool, kTrainPool + val_n);
  d.test_x = normalize_images(test.images);
  d.test_y = test.labels;
  return cache.emplace(key, std::move(d)).first->second;
}

Eval evaluate_classifier(const std::function<Tensor(const Tensor&)>& forward, const Tensor& x, const Tensor& y) {
  at::NoGradGuard ng;
  double loss = 0;
  std::int64_t correct = 0;
  const std::int64_t n = x.size(0), chunk = 1000;
  for (std::int64_t i = 0; i < n; i += chunk) {
    auto xb = x.slice(0, i, std::min(n, i + chunk));
    auto yb = y.slice(0, i, std::min(n, i + chunk));
    auto logits = forward(xb);
    loss += at::cross_entropy_loss(logits, yb, {}, at::Reduction::Sum).item<double>();
    correct += logits.argmax(-1).eq(yb).sum().item<std::int64_t>();
  }
  Eval e;
  e.loss = loss / static_cast<double>(n);
  e.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return e;
}

struct ImageSizes {
  std::int64_t train_n, val_n, test_n;
  std::int64_t mlp_hidden, cnn_c1, cnn_c2;
};

class ImageTrial : public Trial {
 public:
  ImageTrial(ImageModel kind, const ImageSizes& s, const ImageData& d, int batch, std::uint64_t seed)
      : data_(d), batch_(batch), gen_(generator(seed ^ 0x5bd1e995u)) {
    torch::manual_seed(seed);
    switch (kind) {
      case ImageModel::logreg: module_ = LogisticRegression(784, 10).ptr(); break;
      case ImageModel::mlp: module_ = Mlp(MlpConfig{784, s.mlp_hidden, 10}).ptr(); break;
      case ImageModel::cnn: module_ = SmallCnn(SmallCnnConfig{s.cnn_c1, s.cnn_c2, 10}).ptr(); break;
    }
    kind_ = kind;
  }
  std::vector<Tensor> parameters() override { return module_->parameters(); }
  void next_batch(int) override {
    const std::int64_t n = data_.train_x.size(0);
    if (perm_.defined() == false || pos_ + batch_ > n) {
      perm_ = at::randperm(n, gen_, at::kLong);
      pos_ = 0;
    }
    auto idx = perm_.slice(0, pos_, pos_ + batch_);
    pos_ += batch_;
    xb_ = data_.train_x.index_select(0, idx);
    yb_ = data_.train_y.index_select(0, idx);
  }
  Tensor loss() override { return at::cross_entropy_loss(forward(xb_), yb_); }
  bool has_logits() const override { return true; }
  Tensor logits() override { return forward(xb_); }
  Eval evaluate(bool test) override {
    return evaluate_classifier([this](const Tensor& x) { return forward(x); }, test ? data_.test_x : data_.val_x,
                               test ? data_.test_y : data_.val_y);
  }

 private:
  Tensor forward(const Tensor& x) {
    switch (kind_) {
      case ImageModel::logreg: return static_cast<LogisticRegressionImpl&>(*module_).forward(x);
      case ImageModel::mlp: return static_cast<MlpImpl&>(*module_).forward(x);
      case ImageModel::cnn: return static_cast<SmallCnnImpl&>(*module_).forward(x);
    }
    return {};
  }
  const ImageData& data_;
  int batch_;
  at::Generator gen_;
  ImageModel kind_ = ImageModel::logreg;
  std::shared_ptr<torch::nn::Module> module_;
  Tensor perm_, xb_, yb_;
  std::int64_t pos_ = 0;
};

class ImageWorkload : public Workload {
 public:
  ImageWorkload(WorkloadInfo info, ImageModel kind, ImageSizes sizes)
      : info_(std::move(info)), kind_(kind), sizes_(sizes) {}
  const WorkloadInfo& info() const override { return info_; }
  void prepare() override {
    if (data_ == nullptr) data_ = &image_data(sizes_.train_n, sizes_.val_n, sizes_.test_n);
  }
  std::unique_ptr<Trial> trial(std::uint64_t seed, int) override {
    prepare();
    return std::make_unique<ImageTrial>(kind_, sizes_, *data_, info_.batch, seed);
  }

 private:
  WorkloadInfo info_;
  ImageModel kind_;
  ImageSizes sizes_;
  const ImageData* data_ = nullptr;
};

// ---- character-level language model -------------------------------------------------------

struct LmData {
  std::unique_ptr<CharCorpus> corpus;
  TokenSplits splits;
};

const LmData& lm_data() {
  static std::mutex mu;
  static std::unique_ptr<LmData> data;
  std::lock_guard<std::mutex> lock(mu);
  if (!data) {
    auto kjv = load_kjv();
    auto d = std::make_unique<LmData>();
    d->corpus = std::make_unique<CharCorpus>(kjv.text());
    d->splits = split_tokens(d->corpus->tokens());
    data = std::move(d);
  }
  return *data;
}

struct LmSizes {
  CharTransformerConfig model;
  std::int64_t eval_windows;  // validation / test windows of context+1 tokens
};

class LmTrial : public Trial {
 public:
  LmTrial(const LmSizes& s, const LmData& d, int batch, std::uint64_t seed)
      : sizes_(s), data_(d), batch_(batch), gen_(generator(seed ^ 0x27d4eb2fu)) {
    torch::manual_seed(seed);
    model_ = CharTransformer(s.model);
  }
  std::vector<Tensor> parameters() override { return model_->parameters(); }
  void next_batch(int) override {
    const std::int64_t T = sizes_.model.context, n = data_.splits.train.numel();
    auto offsets = at::randint(0, n - T - 1, {batch_}, gen_, at::kLong);
    auto idx = offsets.unsqueeze(1) + at::arange(T + 1, at::kLong).unsqueeze(0);
    auto w = data_.splits.train.index({idx});
    xb_ = w.slice(1, 0, T);
    yb_ = w.slice(1, 1, T + 1);
  }
  Tensor loss() override {
    auto logits = model_->forward(xb_);
    return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), yb_.reshape({-1}));
  }
  bool has_logits() const override { return true; }
  Tensor logits() override { return model_->forward(xb_); }
  Eval evaluate(bool test) override {
    at::NoGradGuard ng;
    const auto& tokens = test ? data_.splits.test : data_.splits.val;
    const std::int64_t T = sizes_.model.context;
    const std::int64_t windows = std::min(sizes_.eval_windows, (tokens.numel() - 1) / (T + 1));
    auto w = tokens.slice(0, 0, windows * (T + 1)).view({windows, T + 1});
    double loss = 0;
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < windows; i += 64) {
      auto wb = w.slice(0, i, std::min(windows, i + 64));
      auto logits = model_->forward(wb.slice(1, 0, T));
      auto flat = logits.reshape({-1, logits.size(-1)});
      auto target = wb.slice(1, 1, T + 1).reshape({-1});
      loss += at::cross_entropy_loss(flat, target, {}, at::Reduction::Sum).item<double>();
      correct += flat.argmax(-1).eq(target).sum().item<std::int64_t>();
    }
    const double n = static_cast<double>(windows * T);
    Eval e;
    e.loss = loss / n;
    e.accuracy = static_cast<double>(correct) / n;
    return e;
  }

 private:
  LmSizes sizes_;
  const LmData& data_;
  int batch_;
  at::Generator gen_;
  CharTransformer model_{nullptr};
  Tensor xb_, yb_;
};

class LmWorkload : public Workload {
 public:
  LmWorkload(WorkloadInfo info, LmSizes sizes) : info_(std::move(info)), sizes_(sizes) {}
  const WorkloadInfo& info() const override { return info_; }
  void prepare() override {
    if (data_ == nullptr) {
      data_ = &lm_data();
      sizes_.model.vocab = data_->corpus->vocab_size();
    }
  }
  std::unique_ptr<Trial> trial(std::uint64_t seed, int) override {
    prepare();
    return std::make_unique<LmTrial>(sizes_, *data_, info_.batch, seed);
  }

 private:
  WorkloadInfo info_;
  LmSizes sizes_;
  const LmData* data_ = nullptr;
};

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

std::unique_ptr<Workload> make_function2d(const std::string& name, bool quick) {
  static const std::map<std::string, std::pair<std::string, Function2D (*)()>> table = {
      {"rosenbrock", {"Rosenbrock", rosenbrock}},
      {"beale", {"Beale", beale}},
      {"rastrigin", {"Rastrigin", rastrigin}},
      {"himmelblau", {"Himmelblau", himmelblau}},
      {"ackley", {"Ackley", ackley}},
      {"styblinski_tang", {"Styblinski-Tang", styblinski_tang}},
  };
  const auto& [title, make] = table.at(name);
  Function2D f = make();
  WorkloadInfo w;
  w.name = name;
  w.title = title + " function (2-D)";
  w.description = "f(x, y) = " + f.gnuplot + ", minimum f* = " + fmt("%g", f.f_min) + "; start (" +
                  fmt("%g", f.start[0]) + ", " + fmt("%g", f.start[1]) +
                  ") for the first seed, within +-0.2 of it for the others. The validation loss is f - f* at the "
                  "final point; trajectories of the first seed at each optimizer's chosen lr are drawn on "
                  "log-spaced contours of f - f*.";
  w.kind = WorkloadKind::function2d;
  w.loss_name = "f - f*";
  w.target = 1e-3;
  w.target_text = "f - f* <= 1e-3";
  w.steps = quick ? 120 : 1000;
  w.eval_every = 1;
  w.lr_multipliers = half_decades(-4, 6);
  w.sizes = "2 parameters (float32)";
  return std::make_unique<Function2DWorkload>(w, f);
}

}  // namespace

const std::vector<std::string>& workload_names() {
  static const std::vector<std::string> names = {"rosenbrock", "beale",           "rastrigin",     "himmelblau",
                                                 "ackley",     "styblinski_tang", "noisy_quadratic", "fmnist_logreg",
                                                 "fmnist_mlp", "fmnist_cnn",      "kjv_char_lm"};
  return names;
}

std::unique_ptr<Workload> make_workload(const std::string& name, const std::string& suite) {
  const bool quick = quick_suite(suite);
  const auto& names = workload_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string valid;
    for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown workload '" + name + "'; valid workloads: " + valid);
  }
  if (name == "rosenbrock" || name == "beale" || name == "rastrigin" || name == "himmelblau" || name == "ackley" ||
      name == "styblinski_tang")
    return make_function2d(name, quick);
  if (name == "noisy_quadratic") {
    const std::int64_t dim = quick ? 100 : 1000;
    const double kappa = quick ? 1e3 : 1e4, sigma = 0.3;
    WorkloadInfo w;
    w.name = name;
    w.title = "Noisy quadratic";
    w.description = "f(x) = 1/2 sum_i h_i x_i^2 with eigenvalues h_i log-spaced from 1 to 1/kappa (condition number "
                    "kappa); each step sees the gradient h*x + sigma*sqrt(h)*eps, eps ~ N(0, I) (gradient noise with "
                    "covariance proportional to the curvature, as in minibatch training). x0 ~ N(0, I) per seed. The "
                    "validation loss is the noise-free f.";
    w.kind = WorkloadKind::quadratic;
    w.loss_name = "f(x)";
    w.target = 0.1;
    w.target_text = "f(x) <= 0.1";
    w.steps = quick ? 300 : 2000;
    w.eval_every = 1;
    w.lr_multipliers = half_decades(-2, 3);
    w.sizes = "d = " + std::to_string(dim) + ", kappa = " + fmt("%g", kappa) + ", sigma = " + fmt("%g", sigma);
    return std::make_unique<QuadraticWorkload>(w, dim, kappa, sigma);
  }
  if (name == "fmnist_logreg" || name == "fmnist_mlp" || name == "fmnist_cnn") {
    ImageSizes s{};
    s.train_n = quick ? 10000 : 55000;
    s.val_n = quick ? 1000 : 5000;
    s.test_n = quick ? 2000 : 10000;
    s.mlp_hidden = quick ? 64 : 128;
    s.cnn_c1 = quick ? 8 : 16;
    s.cnn_c2 = quick ? 16 : 32;
    WorkloadInfo w;
    w.name = name;
    w.package = "dataset-fashion-mnist";
    w.kind = WorkloadKind::classification;
    w.loss_name = "validation cross-entropy";
    w.has_accuracy = w.has_test = true;
    w.higher_is_better = true;
    w.batch = name == "fmnist_cnn" ? (quick ? 32 : 64) : (quick ? 64 : 128);
    w.lr_multipliers = quick ? half_decades(-2, 3) : half_decades(-2, 2);
    ImageModel kind = ImageModel::logreg;
    std::string model;
    if (name == "fmnist_logreg") {
      w.title = "Fashion-MNIST, logistic regression";
      model = "a linear layer 784 -> 10 (7,850 parameters)";
      w.steps = quick ? 150 : 2000;
      w.target = 0.78;
    } else if (name == "fmnist_mlp") {
      kind = ImageModel::mlp;
      w.title = "Fashion-MNIST, MLP";
      model = "an MLP 784 -> " + std::to_string(s.mlp_hidden) + " -> " + std::to_string(s.mlp_hidden) +
              " -> 10 with ReLU";
      w.steps = quick ? 150 : 2000;
      w.target = 0.80;
    } else {
      kind = ImageModel::cnn;
      w.title = "Fashion-MNIST, small CNN";
      model = "a CNN conv3x3/2(1->" + std::to_string(s.cnn_c1) + ")-ReLU, conv3x3/2(" + std::to_string(s.cnn_c1) +
              "->" + std::to_string(s.cnn_c2) + ")-ReLU, linear -> 10 (strided convolutions)";
      w.lr_multipliers = half_decades(-2, 2);
      w.steps = quick ? 100 : 1000;
      w.target = 0.78;
    }
    w.eval_every = quick ? (name == "fmnist_cnn" ? 25 : 30) : 100;
    w.target_text = "validation accuracy >= " + fmt("%.2f", w.target);
    w.description = "Fashion-MNIST (Debian package dataset-fashion-mnist): " + model +
                    ", cross-entropy, minibatches of " + std::to_string(w.batch) + " drawn without replacement from "
                    "the first " + std::to_string(s.train_n) + " training images; validation: " +
                    std::to_string(s.val_n) + " images held out of the training file (images 55000..); test: the "
                    "first " + std::to_string(s.test_n) + " images of t10k, reported but never used for a choice.";
    w.sizes = "train " + std::to_string(s.train_n) + ", val " + std::to_string(s.val_n) + ", test " +
              std::to_string(s.test_n);
    return std::make_unique<ImageWorkload>(w, kind, s);
  }
  // kjv_char_lm
  LmSizes s;
  s.model.context = quick ? 32 : 64;
  s.model.d_model = quick ? 32 : 64;
  s.model.heads = quick ? 2 : 4;
  s.model.layers = quick ? 1 : 2;
  s.model.d_ff = quick ? 96 : 256;
  s.eval_windows = quick ? 96 : 256;
  WorkloadInfo w;
  w.name = name;
  w.title = "King James Bible, character-level transformer";
  w.package = "bible-kjv-text";
  w.kind = WorkloadKind::language_model;
  w.loss_name = "validation cross-entropy (nats/char)";
  w.has_accuracy = w.has_test = true;
  w.higher_is_better = false;
  w.log_loss = false;
  w.batch = 16;
  w.steps = quick ? 80 : 1000;
  w.eval_every = quick ? 20 : 100;
  w.target = quick ? 2.6 : 2.0;
  w.target_text = "validation loss <= " + fmt("%.1f", w.target) + " nats/char";
  w.lr_multipliers = half_decades(-2, 2);
  w.description = "The King James Bible (Debian package bible-kjv-text, verses without their references, one per "
                  "line): a GPT-style transformer with " + std::to_string(s.model.layers) + " block(s), d_model " +
                  std::to_string(s.model.d_model) + ", " + std::to_string(s.model.heads) + " heads, context " +
                  std::to_string(s.model.context) + ", trained on random windows (batch " + std::to_string(w.batch) +
                  ") of the training chunks; of every 20 chunks of 2048 characters, the 19th is validation and the "
                  "20th test. Accuracy is next-character accuracy.";
  w.sizes = "context " + std::to_string(s.model.context) + ", d_model " + std::to_string(s.model.d_model) +
            ", layers " + std::to_string(s.model.layers) + ", eval windows " + std::to_string(s.eval_windows);
  return std::make_unique<LmWorkload>(w, s);
}

}  // namespace descent::bench
