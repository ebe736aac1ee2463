// descent step-bench: step time against memory bandwidth and against LibTorch.
#pragma once

#include <string>
#include <vector>

namespace descent::cli {

int step_bench(const std::vector<std::string>& args);

}  // namespace descent::cli
