// The protocol: reproducible numbers, lr chosen on validation data, closures,
// state memory.
#include <descent/bench/protocol.h>
#include <descent/bench/report.h>
#include <descent/registry.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>

namespace db = descent::bench;
using nlohmann::json;

namespace {

db::BenchOptions small_options(int jobs, std::uint64_t seed = 0) {
  db::BenchOptions o;
  o.suite = "quick";
  o.workloads = {"rosenbrock", "fmnist_logreg"};
  o.optimizers = {"sgd", "adamw"};
  o.seeds = 2;
  o.jobs = jobs;
  o.seed = seed;
  o.progress = false;
  o.command = "test";
  return o;
}

json numbers(const db::BenchResult& r) {
  json j = json::parse(db::results_json(r, /*with_timings=*/false));
  return {{"cells", j["cells"]}, {"runs", j["runs"]}};
}

db::BenchResult run(const db::BenchOptions& o) { return db::run_plan(o, db::make_plan(o), nullptr); }

}  // namespace

// Same command and seed: the same numbers, whether cells run in one process
// or in worker processes; another seed: other numbers.
TEST(Protocol, SameSeedSameNumbers) {
  const auto a = run(small_options(1));
  const auto b = run(small_options(2));
  const auto c = run(small_options(1, 1));
  ASSERT_EQ(a.cells.size(), 4u);
  EXPECT_EQ(numbers(a), numbers(b));
  EXPECT_NE(numbers(a)["runs"], numbers(c)["runs"]);
  // The timings are measured, not copied.
  for (const auto& r : a.runs)
    if (r.status == db::RunStatus::ok) {
      EXPECT_GT(r.ms_per_step, 0) << r.workload << " " << r.optimizer;
    }
}

// The chosen lr is the grid's best on validation; seeds run at it; the grid run
// of the chosen lr is the first seed.
TEST(Protocol, ChoosesTheLrOnValidation) {
  const auto r = run(small_options(1));
  for (const auto& c : r.cells) {
    ASSERT_TRUE(c.skipped.empty()) << c.skipped;
    const auto& w = c.workload == "fmnist_logreg" ? r.workloads[1] : r.workloads[0];
    ASSERT_EQ(c.grid_runs.size(), w.lr_multipliers.size());
    double best = w.higher_is_better ? -1 : INFINITY;
    for (auto i : c.grid_runs) {
      const auto& run = r.runs[i];
      EXPECT_EQ(run.phase, "grid");
      EXPECT_EQ(run.seed_index, 0);
      if (run.status != db::RunStatus::ok) continue;
      const double v = w.higher_is_better ? run.final_val_acc : run.final_val_loss;
      best = w.higher_is_better ? std::max(best, v) : std::min(best, v);
    }
    ASSERT_EQ(c.seed_runs.size(), 2u);
    const auto& first = r.runs[c.seed_runs[0]];
    EXPECT_EQ(first.phase, "grid");
    EXPECT_EQ(w.higher_is_better ? first.final_val_acc : first.final_val_loss, best);
    EXPECT_EQ(first.lr, c.best_lr);
    EXPECT_EQ(r.runs[c.seed_runs[1]].lr, c.best_lr);
    EXPECT_EQ(r.runs[c.seed_runs[1]].seed_index, 1);
    EXPECT_GE(c.rank, 1);
    if (w.has_test) {
      EXPECT_GT(first.test_acc, 0.5);
    }
  }
  // adamw learns Fashion-MNIST's logistic regression within 200 steps.
  for (const auto& c : r.cells)
    if (c.workload == "fmnist_logreg" && c.optimizer == "adamw") {
      EXPECT_GT(c.val_acc_mean, 0.75);
    }
}

// Closure-driven optimizers get step(closure) with a create_graph backward;
// for an optimizer that does not need it the numbers are the same.
TEST(Protocol, ClosurePathTrainsTheSame) {
  auto w = db::make_workload("fmnist_logreg", "quick");
  w->prepare();
  db::OptimizerEntry plain{"adamw", "adam", false, false, 1e-3};
  db::OptimizerEntry closure{"adamw", "adam", true, true, 1e-3};
  const auto a = db::train_run(*w, plain, 3e-3, 0, 42, nullptr);
  const auto b = db::train_run(*w, closure, 3e-3, 0, 42, nullptr);
  ASSERT_EQ(a.status, db::RunStatus::ok) << a.error;
  ASSERT_EQ(b.status, db::RunStatus::ok) << b.error;
  EXPECT_EQ(a.val_loss, b.val_loss);
  EXPECT_LT(a.final_val_loss, a.val_loss.front());
}

TEST(Protocol, FailuresAreReportedNotHidden) {
  auto w = db::make_workload("rosenbrock", "quick");
  // lr = -1 is outside adamw's range: the run fails with the optimizer's message.
  db::OptimizerEntry e{"adamw", "adam", false, false, 1e-3};
  const auto r = db::train_run(*w, e, -1.0, 0, 1, nullptr);
  EXPECT_EQ(r.status, db::RunStatus::failed);
  EXPECT_NE(r.error.find("lr"), std::string::npos) << r.error;
  // A huge lr diverges and says so.
  db::OptimizerEntry s{"sgd", "sgd", false, false, 0.05};
  const auto d = db::train_run(*w, s, 10.0, 0, 1, nullptr);
  EXPECT_EQ(d.status, db::RunStatus::diverged);
  EXPECT_FALSE(d.error.empty());
}

TEST(Protocol, StopFlagEndsTheRun) {
  auto w = db::make_workload("noisy_quadratic", "quick");
  std::atomic<bool> stop{false};
  db::OptimizerEntry e{"sgd", "sgd", false, false, 0.05};
  const auto r = db::train_run(*w, e, 0.05, 0, 1, &stop, [&](int step) {
    if (step == 10) stop = true;
  });
  EXPECT_EQ(r.status, db::RunStatus::interrupted);
  EXPECT_EQ(r.steps_done, 10);
}

// Optimizer state memory: the bytes of the state tensors, measured.
TEST(Protocol, StateBytesAreTheStateTensors) {
  auto step = [](const std::string& name, const std::string& options) {
    auto p = torch::randn({1000}).requires_grad_(true);
    auto opt = descent::make_optimizer(name, {p}, options);
    p.mutable_grad() = torch::randn({1000});
    opt->step();
    return db::state_tensor_bytes(*opt);
  };
  EXPECT_EQ(step("adam", R"({"lr": 0.001})"), 8000);   // exp_avg + exp_avg_sq, float32
  EXPECT_EQ(step("adam", R"({"lr": 0.001, "amsgrad": true})"), 12000);
  EXPECT_EQ(step("sgd", R"({"lr": 0.1})"), 0);          // no momentum: no state
  EXPECT_EQ(step("sgd", R"({"lr": 0.1, "momentum": 0.9})"), 4000);
  EXPECT_EQ(step("lookahead", R"({"lr": 0.001})"), 12000);  // slow weights + the inner adamw's two moments
}

TEST(Protocol, SeedsAreDistinct) {
  EXPECT_NE(db::seed_of(0, 0), db::seed_of(0, 1));
  EXPECT_NE(db::seed_of(0, 0), db::seed_of(1, 0));
  EXPECT_EQ(db::seed_of(5, 3), db::seed_of(5, 3));
}
