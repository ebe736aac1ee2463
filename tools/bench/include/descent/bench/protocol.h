// descent/bench/protocol.h: the benchmark's protocol and its results.
//
// For every (workload, optimizer) cell:
//   1. grid: train at lr = base_lr(optimizer) * each of the workload's
//      multipliers, seed 0; choose the lr with the best final validation
//      metric (validation accuracy for classifiers, validation loss otherwise;
//      the test split is never looked at);
//   2. seeds: train seeds 1..n-1 at the chosen lr (seed 0's grid run is the
//      first of the n);
//   3. aggregate: mean and standard deviation over the n seeds of the final
//      validation loss / accuracy and test loss / accuracy, median steps and
//      seconds to the target, time per step, optimizer state bytes.
// Optimizers are built through the registry with their default options and
// the grid's lr; optimizers whose registry entry says needs_closure get
// step(closure), whose closure zeroes the gradients, recomputes the loss and
// calls backward (create_graph when needs_graph).
//
// Everything but the timings is a function of (suite, workload, optimizer,
// --seed): the same command gives the same numbers.
#pragma once

#include <descent/bench/workload.h>
#include <descent/optim/optimizer.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace descent::bench {

struct BenchOptions {
  std::string suite = "quick";
  std::vector<std::string> optimizers;  // empty: the suite's choice
  std::vector<std::string> workloads;   // empty: all
  std::string out = "report";
  std::uint64_t seed = 0;
  int seeds = 0;       // 0: 3
  int threads = 1;     // LibTorch intra-op threads per worker
  int jobs = 2;        // worker processes running cells side by side
  bool progress = true;  // progress bar on stderr
  std::string command;   // the command line, for the report
};

enum class RunStatus { ok, diverged, failed, interrupted };
const char* status_name(RunStatus s);

struct RunResult {
  std::string workload, optimizer;
  std::string phase;  // "grid" or "seed"
  double lr = 0;
  int seed_index = 0;
  std::uint64_t seed = 0;
  RunStatus status = RunStatus::ok;
  std::string error;
  int steps_done = 0;
  double final_val_loss = 0, final_val_acc = -1;
  double test_loss = -1, test_acc = -1;  // < 0: not measured
  int steps_to_target = -1;              // first evaluation step meeting the target
  std::int64_t param_count = 0;
  std::int64_t state_bytes = 0;          // tensor bytes of the optimizer's checkpoint
  // Timings (not reproducible; kept apart so comparisons can drop them).
  double time_to_target_s = -1;  // training seconds (no evaluation) until the target
  double train_s = 0;            // training seconds, all steps
  double ms_per_step = 0;        // median training step (closure + step)
  double ms_optimizer = 0;       // median time inside optimizer.step()
  // Curves.
  std::vector<int> eval_steps;
  std::vector<double> val_loss, val_acc;
  std::vector<int> train_steps;  // bucket ends
  std::vector<double> train_loss;  // bucket means
  std::vector<std::array<double, 2>> trajectory;  // 2-D: the point after each step (index 0: start)
};

struct CellResult {
  std::string workload, optimizer, family;
  std::string skipped;  // non-empty: why the cell did not run
  std::vector<std::size_t> grid_runs;  // indices into BenchResult::runs
  std::vector<std::size_t> seed_runs;  // the n runs at the chosen lr (grid run first)
  double best_lr = 0;
  bool best_at_edge = false;  // the chosen lr is the smallest or largest of the grid
  int seeds_ok = 0;
  double val_loss_mean = 0, val_loss_std = 0, val_acc_mean = -1, val_acc_std = 0;
  double test_loss_mean = -1, test_loss_std = 0, test_acc_mean = -1, test_acc_std = 0;
  int reached_target = 0;                // seeds reaching the target
  double steps_to_target_median = -1, time_to_target_median = -1;
  double ms_per_step = 0, ms_optimizer = 0;  // mean over seeds
  std::int64_t state_bytes = 0, param_count = 0;
  int rank = 0;  // within the workload, 1 = best; 0 = unranked (skipped / all diverged)
};

struct OptimizerEntry {
  std::string name, family;
  bool needs_closure = false, needs_graph = false;
  double base_lr = 0;
};

struct BenchResult {
  BenchOptions options;
  std::vector<WorkloadInfo> workloads;
  std::vector<const Function2D*> functions;  // per workload, nullptr if not 2-D (valid while `owners` live)
  std::vector<std::shared_ptr<Workload>> owners;
  std::vector<OptimizerEntry> optimizers;
  std::vector<RunResult> runs;
  std::vector<CellResult> cells;
  bool interrupted = false;
  double wall_s = 0;
  std::string started;  // local time
  int seeds = 0;
};

// Checks names and data; throws std::invalid_argument (unknown names, listing
// the valid ones) or MissingData (naming the Debian package).
struct Plan {
  std::vector<std::shared_ptr<Workload>> workloads;
  std::vector<OptimizerEntry> optimizers;
  int seeds = 0;
};
Plan make_plan(const BenchOptions& options);

// What a cell reports while it runs (all optional).
struct RunEvents {
  std::function<void(const std::string& label, int steps)> begin;
  std::function<void(int step)> step;
  std::function<void(const std::string& workload, int steps_planned, int steps_done, double seconds)> end;
  std::function<void(const std::string& workload, int runs, int steps)> unplan;  // seed runs that will not happen
};

// One (workload, optimizer) cell: its runs, and the cell whose grid_runs /
// seed_runs index into them.
struct CellOutcome {
  CellResult cell;
  std::vector<RunResult> runs;
};
CellOutcome run_cell(Workload& w, const OptimizerEntry& opt, int seeds, std::uint64_t base_seed,
                     const std::atomic<bool>* stop, const RunEvents& events = {});

// Runs the plan (cells in options.jobs worker processes when > 1). `stop` is
// polled after every step: once set, the current runs end (marked
// interrupted), nothing more starts, and workers are told to stop.
BenchResult run_plan(const BenchOptions& options, Plan plan, const std::atomic<bool>* stop);

// Trains one run (exposed for tests).
RunResult train_run(Workload& w, const OptimizerEntry& opt, double lr, int seed_index, std::uint64_t seed,
                    const std::atomic<bool>* stop, const std::function<void(int)>& on_step = {});

// The seed of a run: a hash of --seed and the seed index.
std::uint64_t seed_of(std::uint64_t base, int seed_index);

// The tensor bytes of an optimizer's checkpoint (torch::save): its state
// tensors, wherever the optimizer keeps them (per-parameter buffers, an inner
// optimizer's state, windows over all gradients).
std::int64_t state_tensor_bytes(const descent::Optimizer& opt);

}  // namespace descent::bench
