// The report renders in headless Chromium with every plot present and drawn.
#include "bench/cli_support.h"

#include <descent/bench/protocol.h>
#include <descent/bench/report.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <regex>

namespace db = descent::bench;

namespace {

std::string attr(const std::string& tag, const std::string& name) {
  const std::regex re(name + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(tag, m, re) ? m[1].str() : "";
}

bool have(const char* program) { return std::system((std::string("command -v ") + program + " > /dev/null 2>&1").c_str()) == 0; }

}  // namespace

TEST(Report, EveryPlotRendersInChromium) {
  ASSERT_TRUE(have("gnuplot")) << "gnuplot is missing: install the Debian package gnuplot-nox (scripts/install-deps.sh)";
  ASSERT_TRUE(have("chromium")) << "chromium is missing: install the Debian package chromium (scripts/install-deps.sh)";
  db::BenchOptions o;
  o.workloads = {"rosenbrock", "noisy_quadratic", "fmnist_logreg"};
  o.optimizers = {"sgd", "adamw"};
  o.seeds = 2;
  o.progress = false;
  o.command = "report test";
  const auto result = db::run_plan(o, db::make_plan(o), nullptr);
  const std::string out = bench_test::temp_dir();
  const std::string index = db::write_report(result, out);

  const std::string html = bench_test::read_text(index);
  // Self-contained: no external resources.
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("plot not drawn"), std::string::npos);
  // The raw numbers are next to it.
  const auto j = nlohmann::json::parse(bench_test::read_text(out + "/results.json"));
  EXPECT_EQ(j["cells"].size(), 6u);
  for (const char* csv : {"results.csv", "runs.csv", "curves.csv", "trajectories.csv"})
    EXPECT_GT(bench_test::read_text(out + "/" + csv).size(), 100u) << csv;

  const std::string profile = bench_test::temp_dir();
  const std::string cmd = "timeout 180 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                          "--no-first-run --user-data-dir=" + profile +
                          " --virtual-time-budget=10000 --dump-dom file://" + index + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string dom;
  char buf[65536];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) dom.append(buf, n);
  pclose(p);
  ASSERT_FALSE(dom.empty()) << "chromium produced no DOM";

  // Expected plots: rosenbrock (val loss, lr sensitivity, time, 2 trajectory
  // panels) + noisy_quadratic (val loss, lr, time) + fmnist_logreg (val loss,
  // val accuracy, train loss, lr, time, memory) = 14.
  const std::regex fig_re("<figure class=\"plot\"[^>]*>");
  std::map<std::string, int> seen;
  int figures = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), fig_re); it != std::sregex_iterator(); ++it) {
    const std::string tag = it->str();
    const std::string id = attr(tag, "id");
    ++figures;
    ++seen[id];
    const int series = std::atoi(attr(tag, "data-series").c_str());
    const int drawn = std::atoi(attr(tag, "data-drawn").c_str());
    int w = 0, h = 0;
    std::sscanf(attr(tag, "data-size").c_str(), "%dx%d", &w, &h);
    EXPECT_GT(series, 0) << id << ": no plotted series";
    EXPECT_EQ(drawn, series) << id << ": some series drew nothing";
    EXPECT_GT(w, 100) << id;
    EXPECT_GT(h, 100) << id;
  }
  EXPECT_EQ(figures, 14);
  EXPECT_EQ(attr(dom.substr(dom.find("<body")), "data-plots-checked"), "14") << "the page's check script did not run";
  for (const char* id : {"fig-rosenbrock__traj__sgd", "fig-rosenbrock__traj__adamw", "fig-fmnist_logreg__val_acc",
                         "fig-fmnist_logreg__memory", "fig-noisy_quadratic__val_loss", "fig-fmnist_logreg__time"})
    EXPECT_EQ(seen[id], 1) << id;
}
