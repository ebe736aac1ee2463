// `descent bench`: argument parsing, Ctrl-C, and the run.
#include <descent/bench/cli.h>

#include <descent/bench/data.h>
#include <descent/bench/families.h>
#include <descent/bench/protocol.h>
#include <descent/bench/report.h>
#include <descent/registry.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <unistd.h>

namespace descent::bench {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  if (g_stop.load()) {
    // Second Ctrl-C: stop now.
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_stop.store(true);
  const char msg[] = "\nbench: Ctrl-C: stopping after the current step, then writing the report (Ctrl-C again to abort)\n";
  (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
}

const char* kUsage =
    "usage: descent bench [options]\n"
    "  --suite quick|full      quick: one optimizer per family, small sizes, under 5 minutes on 2 cores\n"
    "                          (default); full: every registered optimizer, larger models, longer runs\n"
    "  --optimizers a,b,c      optimizers to compare (registry names, or 'all'); default: the suite's\n"
    "  --workloads x,y         workloads to run; default: all\n"
    "  --out DIR               output folder (default: report): index.html, results.json, *.csv, plots/\n"
    "  --seed N                base seed (default 0): the same command and seed give the same numbers\n"
    "  --seeds N               seeds per optimizer and workload at the chosen lr (default: quick 3, full 5)\n"
    "  --threads N             LibTorch intra-op threads (default 2)\n"
    "  --no-progress           no progress bar on stderr\n"
    "  --list                  list workloads, families and optimizers, then exit\n";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

int list_everything() {
  std::printf("workloads:\n");
  for (const auto& n : workload_names()) {
    auto w = make_workload(n, "quick");
    std::printf("  %-16s %s%s%s\n", n.c_str(), w->info().title.c_str(), w->info().package.empty() ? "" : "  [Debian: ",
                w->info().package.empty() ? "" : (w->info().package + "]").c_str());
  }
  std::printf("\nfamilies (the quick suite runs the first registered optimizer of each):\n");
  const auto& reg = Registry::instance();
  for (const auto& f : families()) {
    std::string members;
    for (const auto& m : f.members)
      if (reg.find(m) != nullptr) members += (members.empty() ? "" : ", ") + m;
    if (members.empty()) members = "(none registered)";
    std::printf("  %-15s %s\n  %-15s   %s\n", f.id.c_str(), f.title.c_str(), "", members.c_str());
  }
  const auto unclassified = unclassified_optimizers();
  if (!unclassified.empty()) {
    std::string s;
    for (const auto& n : unclassified) s += (s.empty() ? "" : ", ") + n;
    std::printf("  %-15s %s\n", "unclassified", s.c_str());
  }
  return 0;
}

}  // namespace

int bench_main(const std::vector<std::string>& args) {
  BenchOptions o;
  {
    std::string cmd = "descent bench";
    for (const auto& a : args) cmd += " " + a;
    o.command = cmd;
  }
  auto need = [&](std::size_t& i, const std::string& flag) -> const std::string* {
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "descent bench: %s needs a value\n%s", flag.c_str(), kUsage);
      return nullptr;
    }
    return &args[++i];
  };
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      const std::string* v = nullptr;
      if (a == "-h" || a == "--help") {
        std::printf("%s", kUsage);
        return 0;
      } else if (a == "--list") {
        return list_everything();
      } else if (a == "--no-progress") {
        o.progress = false;
      } else if (a == "--suite") {
        if (!(v = need(i, a))) return 2;
        o.suite = *v;
      } else if (a == "--optimizers") {
        if (!(v = need(i, a))) return 2;
        o.optimizers = split_list(*v);
      } else if (a == "--workloads") {
        if (!(v = need(i, a))) return 2;
        o.workloads = split_list(*v);
      } else if (a == "--out") {
        if (!(v = need(i, a))) return 2;
        o.out = *v;
      } else if (a == "--seed") {
        if (!(v = need(i, a))) return 2;
        o.seed = std::stoull(*v);
      } else if (a == "--seeds") {
        if (!(v = need(i, a))) return 2;
        o.seeds = std::stoi(*v);
        if (o.seeds < 1) throw std::invalid_argument("--seeds must be at least 1");
      } else if (a == "--threads") {
        if (!(v = need(i, a))) return 2;
        o.threads = std::stoi(*v);
        if (o.threads < 1) throw std::invalid_argument("--threads must be at least 1");
      } else {
        std::fprintf(stderr, "descent bench: unknown argument '%s'\n%s", a.c_str(), kUsage);
        return 2;
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "descent bench: %s\n", e.what());
    return 2;
  } catch (const std::out_of_range& e) {
    std::fprintf(stderr, "descent bench: number out of range\n");
    return 2;
  }

  Plan plan;
  try {
    plan = make_plan(o);
  } catch (const MissingData& e) {
    std::fprintf(stderr, "descent bench: %s\n", e.what());
    return 1;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "descent bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "descent bench: %s\n", e.what());
    return 1;
  }
  if (o.progress)
    std::fprintf(stderr, "bench: suite %s, %zu workloads x %zu optimizers, %d seeds; report in %s/\n", o.suite.c_str(),
                 plan.workloads.size(), plan.optimizers.size(), plan.seeds, o.out.c_str());

  g_stop.store(false);
  auto previous = std::signal(SIGINT, on_sigint);
  BenchResult result = run_plan(o, std::move(plan), &g_stop);
  std::signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
  try {
    const std::string index = write_report(result, o.out);
    std::fprintf(stderr, "bench: report written to %s\n", index.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "descent bench: writing the report failed: %s\n", e.what());
    return 1;
  }
  return result.interrupted ? 130 : 0;
}

}  // namespace descent::bench
