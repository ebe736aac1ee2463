// descent/bench/workload.h: what the benchmark trains.
//
// A Workload owns its data (loaded once) and makes Trials: one model and one
// data order per seed, so every optimizer of a seed starts from the same
// weights and sees the same batches. The protocol (protocol.h) drives a Trial:
//
//     trial->next_batch(step);            // draws this step's batch (or noise)
//     loss = trial->loss();               // builds the graph; the closure calls backward
//     ... optimizer step ...
//     trial->evaluate(false)              // held-out validation metrics
//     trial->evaluate(true)               // test metrics (never used to choose anything)
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace descent::bench {

enum class WorkloadKind { function2d, quadratic, classification, language_model };

const char* kind_name(WorkloadKind k);

struct WorkloadInfo {
  std::string name;         // "fmnist_cnn"
  std::string title;        // "Fashion-MNIST, small CNN"
  std::string description;  // one paragraph for the report
  std::string package;      // Debian package with its data ("" if generated)
  WorkloadKind kind = WorkloadKind::function2d;
  std::string loss_name = "validation loss";  // what val_loss means here
  bool has_accuracy = false;
  bool has_test = false;
  bool higher_is_better = false;  // primary metric: val accuracy if true, else val loss
  bool log_loss = true;           // plot losses on a log scale
  double target = 0;              // on the primary metric
  std::string target_text;        // e.g. "validation accuracy >= 0.80"
  int steps = 100;
  int eval_every = 10;
  int batch = 0;                  // 0: full-batch / not applicable
  std::vector<double> lr_multipliers;  // the grid: base_lr(optimizer) times these
  std::string sizes;              // model / data sizes, for the report
};

struct Eval {
  double loss = 0;
  double accuracy = -1;  // < 0: not applicable
};

class Trial {
 public:
  virtual ~Trial() = default;
  virtual std::vector<at::Tensor> parameters() = 0;
  virtual void next_batch(int step) = 0;
  virtual at::Tensor loss() = 0;
  virtual Eval evaluate(bool test) = 0;
  // 2-D functions: the current point, for trajectories.
  virtual bool has_point() const { return false; }
  virtual std::array<double, 2> point() const { return {0, 0}; }
};

// A 2-D test function with known minima.
struct Function2D {
  std::string gnuplot;  // the formula in gnuplot syntax, in x and y
  double f_min = 0;
  std::vector<std::array<double, 2>> minima;
  std::array<double, 2> start{};
  std::array<double, 4> box{};  // xmin, xmax, ymin, ymax of the contour plot
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& y)> f;  // for training (autograd)
  double (*value)(double x, double y) = nullptr;                           // the same in double, for evaluation
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual const WorkloadInfo& info() const = 0;
  // Loads the data (once; throws MissingData naming the Debian package).
  virtual void prepare() {}
  // A fresh model and data order for a seed (seed_index 0, 1, ...: the
  // protocol's seed number, from which `seed` is derived).
  virtual std::unique_ptr<Trial> trial(std::uint64_t seed, int seed_index) = 0;
  virtual const Function2D* function() const { return nullptr; }
};

// Every workload name, in report order.
const std::vector<std::string>& workload_names();

// suite: "quick" or "full" (sizes, steps, grids). Throws std::invalid_argument
// for an unknown name (listing the valid ones).
std::unique_ptr<Workload> make_workload(const std::string& name, const std::string& suite);

}  // namespace descent::bench
