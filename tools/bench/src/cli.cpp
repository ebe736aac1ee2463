// `descent bench`: argument parsing, Ctrl-C, and the run.
#include <descent/bench/cli.h>

#include <descent/bench/data.h>
#include <descent/bench/families.h>
#include <descent/bench/protocol.h>
#include <descent/bench/report.h>
#include <descent/registry.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <csignal>
#include <dlfcn.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
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
    "  --seeds N               seeds per optimizer and workload at the chosen lr (default 3)\n"
    "  --jobs N                worker processes training side by side (default 2: one per core)\n"
    "  --threads N             LibTorch intra-op threads per worker (default 1)\n"
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

// libgomp's worker threads spin between parallel regions unless
// OMP_WAIT_POLICY=passive, and libgomp reads that variable only when it loads.
// On a shared 2-core machine the spinning costs far more than it saves (the
// quick suite's CNN step: 143 ms spinning, 36 ms passive, under a load of 10),
// so the benchmark restarts itself once with the variable set, unless the
// user set it.
void restart_with_passive_openmp() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> argv_s;
  for (std::size_t p = 0; p < all.size();) {
    const auto e = all.find('\0', p);
    argv_s.push_back(all.substr(p, e == std::string::npos ? std::string::npos : e - p));
    if (e == std::string::npos) break;
    p = e + 1;
  }
  if (argv_s.empty()) return;
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::setenv("OMP_WAIT_POLICY", "passive", 1);
  std::fflush(nullptr);
  ::execv("/proc/self/exe", argv.data());
  // exec failed: carry on with spinning workers.
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
      } else if (a == "--jobs") {
        if (!(v = need(i, a))) return 2;
        o.jobs = std::stoi(*v);
        if (o.jobs < 1) throw std::invalid_argument("--jobs must be at least 1");
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

  restart_with_passive_openmp();
  // Threads before any tensor work (data loading included), so that worker
  // processes forked later inherit no OpenMP thread pool.
  at::set_num_threads(o.threads);
  // OpenBLAS (Debian's LibTorch does its matrix products there) keeps its own
  // thread pool, which at::set_num_threads does not reach; its threads spin
  // too. Matching it to --threads made the quick MLP's step 0.75 -> 0.52 ms
  // alone, and far more with two workers on a busy machine.
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(o.threads);
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
    std::fprintf(stderr, "bench: suite %s, %zu workloads x %zu optimizers, %d seeds, %d worker(s) x %d thread(s); report in %s/\n",
                 o.suite.c_str(), plan.workloads.size(), plan.optimizers.size(), plan.seeds, o.jobs, o.threads,
                 o.out.c_str());

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
