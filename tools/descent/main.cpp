// descent: the command line.
//
//   descent list                               every optimizer, its paper, reference, state bytes
//   descent replay CASE.json --out OUT.json    replay a golden case, write the trajectory
//   descent check CASE.json... [--skip-unknown] replay and compare with the expected steps
//   descent bench [--suite quick|full] ...     train workloads with each optimizer, write a report
#include <descent/bench/cli.h>
#include <descent/golden.h>
#include <descent/registry.h>

#include "curvature_bench.h"
#include "step_bench.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

int usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: descent <command> [args]\n"
               "  list                                  registered optimizers\n"
               "  replay CASE.json [--out OUT.json]     replay a golden case (stdout without --out)\n"
               "  check CASE.json... [--skip-unknown]   replay cases and compare every step\n"
               "                                        (--skip-unknown: cases for optimizers not\n"
               "                                        yet in descent are listed, not failed)\n"
               "  bench [--suite quick|full] [...]      compare optimizers on real workloads, write\n"
               "                                        report/index.html (descent bench --help)\n"
               "  step-bench --optimizer NAME [...]     step time vs. memory bandwidth and LibTorch\n"
               "                                        (descent step-bench --help for options)\n"
               "  curvature-bench [...]                 Muon vs. GEMM throughput, M-FAC per window size\n");
  return code;
}

int cmd_list() {
  const auto& entries = descent::Registry::instance().entries();
  std::printf("%-16s %10s %10s  %s\n", "optimizer", "B/param", "ref B/par", "paper | reference");
  for (const auto& e : entries) {
    const auto& i = e.info;
    std::printf("%-16s %10g %10g  %s\n%-16s %10s %10s  %s\n", i.name.c_str(), i.state_bytes,
                i.reference_state_bytes, i.paper.c_str(), "", "", "", i.reference.c_str());
    if (!i.state_note.empty()) std::printf("%-16s %10s %10s  state: %s\n", "", "", "", i.state_note.c_str());
  }
  std::printf("%zu optimizers. B/param: persistent state bytes per float32 parameter element, default options.\n",
              entries.size());
  return 0;
}

int cmd_replay(const std::vector<std::string>& args) {
  std::string in, out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--out" && i + 1 < args.size()) out = args[++i];
    else if (in.empty()) in = args[i];
    else return usage(2);
  }
  if (in.empty()) return usage(2);
  try {
    const auto c = descent::golden::load_case(in);
    const auto t = descent::golden::replay(c);
    const std::string text = descent::golden::to_json(t);
    if (out.empty()) {
      std::cout << text << "\n";
    } else {
      std::ofstream f(out);
      if (!f) throw std::runtime_error("cannot write " + out);
      f << text << "\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "descent replay: %s\n", e.what());
    return 1;
  }
  return 0;
}

int cmd_check(const std::vector<std::string>& args) {
  bool skip_unknown = false;
  std::vector<std::string> files;
  for (const auto& a : args) {
    if (a == "--skip-unknown") skip_unknown = true;
    else files.push_back(a);
  }
  if (files.empty()) return usage(2);
  int passed = 0, failed = 0, unknown = 0;
  for (const auto& f : files) {
    std::string name = f.substr(f.find_last_of('/') + 1);
    try {
      const auto c = descent::golden::load_case(f);
      if (descent::Registry::instance().find(c.optimizer) == nullptr) {
        ++unknown;
        std::printf("%-8s %-52s optimizer '%s' is not in descent yet\n", skip_unknown ? "SKIP" : "UNKNOWN",
                    name.c_str(), c.optimizer.c_str());
        continue;
      }
      const auto t = descent::golden::replay(c);
      const auto r = descent::golden::compare(c, t);
      std::printf("%-8s %-52s steps %3zu  max abs err %.3e  max rel err %.3e%s%s\n", r.passed ? "PASS" : "FAIL",
                  name.c_str(), c.steps.size(), r.max_abs_err, r.max_rel_err, r.passed ? "" : "  ",
                  r.detail.c_str());
      (r.passed ? passed : failed)++;
    } catch (const std::exception& e) {
      ++failed;
      std::printf("%-8s %-52s %s\n", "ERROR", name.c_str(), e.what());
    }
  }
  std::printf("\n%d passed, %d failed, %d for optimizers not in descent yet (%zu cases)\n", passed, failed, unknown,
              files.size());
  if (failed > 0) return 1;
  if (unknown > 0 && !skip_unknown) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(2);
  const std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") return usage(0);
  if (cmd == "list") return cmd_list();
  if (cmd == "replay") return cmd_replay(args);
  if (cmd == "check") return cmd_check(args);
  if (cmd == "bench") return descent::bench::bench_main(args);
  if (cmd == "step-bench") return descent::cli::step_bench(args);
  if (cmd == "curvature-bench") return descent::cli::curvature_bench(args);
  std::fprintf(stderr, "descent: unknown command '%s'\n", cmd.c_str());
  return usage(2);
}
