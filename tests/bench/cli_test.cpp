// `descent bench` from the command line: errors, Ctrl-C.
#include "bench/cli_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using bench_test::run_cli;

TEST(BenchCli, UnknownOptimizerListsTheValidOnes) {
  const auto r = run_cli({"bench", "--optimizers", "adamw,nope", "--out", bench_test::temp_dir()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown optimizer 'nope'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("registered optimizers: sgd, adam, adamw"), std::string::npos) << r.err;
}

TEST(BenchCli, UnknownWorkloadListsTheValidOnes) {
  const auto r = run_cli({"bench", "--workloads", "fmnist_cnn,mnist", "--out", bench_test::temp_dir()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown workload 'mnist'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("valid workloads: rosenbrock, beale,"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kjv_char_lm"), std::string::npos) << r.err;
}

TEST(BenchCli, BadArguments) {
  EXPECT_EQ(run_cli({"bench", "--suite", "medium"}).exit_code, 2);
  EXPECT_EQ(run_cli({"bench", "--frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_cli({"bench", "--seeds", "0"}).exit_code, 2);
  EXPECT_EQ(run_cli({"bench", "--help"}).exit_code, 0);
}

TEST(BenchCli, MissingDatasetNamesTheDebianPackage) {
  const auto f = run_cli({"bench", "--workloads", "fmnist_mlp", "--out", bench_test::temp_dir()},
                         {"DESCENT_FASHION_MNIST_DIR=/nonexistent"});
  EXPECT_EQ(f.exit_code, 1) << f.err;
  EXPECT_NE(f.err.find("install the Debian package dataset-fashion-mnist"), std::string::npos) << f.err;
  const auto k = run_cli({"bench", "--workloads", "kjv_char_lm", "--out", bench_test::temp_dir()},
                         {"DESCENT_KJV_PATH=/nonexistent/bible.data"});
  EXPECT_EQ(k.exit_code, 1) << k.err;
  EXPECT_NE(k.err.find("install the Debian package bible-kjv-text"), std::string::npos) << k.err;
}

// Ctrl-C stops after the current step and writes the report of what was
// measured (signal sent to the main process only: it passes it on to its workers).
TEST(BenchCli, InterruptWritesThePartialReport) {
  const std::string out = bench_test::temp_dir() + "/report";
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_cli({"bench", "--workloads", "rosenbrock,beale,rastrigin", "--optimizers", "all", "--out", out},
                         {}, [](pid_t pid, const std::string& err_path) {
                           // Wait until training has started, then a little more.
                           for (int i = 0; i < 600; ++i) {
                             if (bench_test::read_text(err_path).find("bench: suite") != std::string::npos) break;
                             std::this_thread::sleep_for(std::chrono::milliseconds(50));
                           }
                           std::this_thread::sleep_for(std::chrono::milliseconds(1500));
                           kill(pid, SIGINT);
                         });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("Ctrl-C"), std::string::npos) << r.err;
  EXPECT_LT(seconds, 60) << "the whole run would take minutes; the interrupt should end it soon";
  const std::string html = bench_test::read_text(out + "/index.html");
  EXPECT_NE(html.find("Interrupted."), std::string::npos);
  const auto j = nlohmann::json::parse(bench_test::read_text(out + "/results.json"));
  EXPECT_TRUE(j["interrupted"].get<bool>());
  ASSERT_FALSE(j["runs"].empty());
  // 3 workloads x 40+ optimizers x 12 runs were planned; far fewer ran.
  EXPECT_LT(j["runs"].size(), 3u * 40u * 12u / 2u);
  // Whether a run was in flight when the signal came is timing (these runs
  // last milliseconds, and the gap between two can catch it): a run cut short
  // is marked "interrupted", which protocol_test checks deterministically
  // (Protocol.StopFlagEndsTheRun); here every recorded run has a status.
  for (const auto& run : j["runs"]) {
    const auto status = run["status"].get<std::string>();
    EXPECT_TRUE(status == "ok" || status == "diverged" || status == "interrupted" || status == "failed") << status;
  }
}
