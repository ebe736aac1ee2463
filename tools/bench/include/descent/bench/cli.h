// descent/bench/cli.h: `descent bench`, the command-line entry point.
#pragma once

#include <string>
#include <vector>

namespace descent::bench {

// Parses the arguments after "bench", runs the benchmark and writes the
// report. Returns the process exit status: 0 done, 1 error (e.g. a missing
// data package), 2 bad arguments (unknown optimizer or workload names are
// listed with the valid ones), 130 interrupted by Ctrl-C (report written).
int bench_main(const std::vector<std::string>& args);

}  // namespace descent::bench
