// descent curvature-bench: Muon's step against LibTorch's GEMM throughput on
// the same shapes, and M-FAC's step cost over window sizes.
#pragma once

#include <string>
#include <vector>

namespace descent::cli {

int curvature_bench(const std::vector<std::string>& args);

}  // namespace descent::cli
