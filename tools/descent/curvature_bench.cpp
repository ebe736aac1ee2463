// descent curvature-bench: the matrix optimizers' step cost against what bounds it.
//
// Muon: a step is dominated by Newton–Schulz, 3 matrix products per iteration
// on the wide n × k orientation of each matrix (n ≤ k): X·Xᵀ (2n²k flops),
// A·A (2n³) and B·X (2n²k). In the same run the command times LibTorch's own
// matrix products on exactly those shapes and dtype (at::mm into preallocated
// outputs, the same count per step) and reports Muon's step time next to that
// GEMM-only time: the fraction is the share of the step the products take
// (goal ≥ 60%: the rest is the momentum, the normalisation and the update).
//
// M-FAC: a step reads the window twice (G·g, then Gᵀ·y: 2·m·d elements) and
// refactors the m × m system from the replaced row on (≤ m³/6 multiply-adds):
// step time per window element, for m = 8 … 1024, shows the O(m·d) cost.
#include "curvature_bench.h"

#include <descent/optim/mfac.h>
#include <descent/optim/muon.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace descent::cli {

namespace {

struct Config {
  std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {{256, 256}, {512, 512}, {1024, 1024}, {1024, 4096}, {4096, 1024}};
  std::string ns_dtype = "float32";
  std::vector<std::int64_t> mfac_m = {8, 16, 32, 64, 128, 256, 512, 1024};
  std::int64_t mfac_d = 1 << 18;
  int threads = 0;
  bool json = false;
  bool muon = true, mfac = true;
  double min_seconds = 1.0;
};

template <class F>
double median_ms(F&& f, double min_seconds) {
  for (int i = 0; i < 2; ++i) f();  // warm-up: state, workspaces, page faults
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  while (times.size() < 5 ||
         (times.size() < 100 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < min_seconds)) {
    const auto a = std::chrono::steady_clock::now();
    f();
    const auto b = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

std::vector<std::int64_t> parse_ints(const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoll(item));
  return out;
}

std::vector<std::pair<std::int64_t, std::int64_t>> parse_shapes(const std::string& s) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto x = item.find('x');
    if (x == std::string::npos) throw std::invalid_argument("--shapes: expected ROWSxCOLS, got '" + item + "'");
    out.emplace_back(std::stoll(item.substr(0, x)), std::stoll(item.substr(x + 1)));
  }
  return out;
}

at::ScalarType ns_type(const std::string& s) {
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float64") return at::kDouble;
  if (s == "float32") return at::kFloat;
  throw std::invalid_argument("--ns-dtype must be float32, bfloat16 or float64");
}

nlohmann::json bench_muon(const Config& c) {
  nlohmann::json rows = nlohmann::json::array();
  if (!c.json)
    std::printf("muon (ns_dtype %s, 5 Newton-Schulz steps, float32 parameters)\n"
                "%-12s %12s %12s %12s %10s %14s\n",
                c.ns_dtype.c_str(), "shape", "step ms", "GEMM ms", "GEMM GF/s", "step GF/s", "GEMM/step");
  for (const auto& [r, k] : c.shapes) {
    at::manual_seed(1);
    auto p = (at::randn({r, k}) * 0.1).set_requires_grad(true);
    p.mutable_grad() = at::randn({r, k}) * 0.01;
    MuonOptions o(0.02);
    o.ns_dtype(c.ns_dtype);
    Muon opt(std::vector<torch::Tensor>{p}, o);
    const double step_ms = median_ms([&] { opt.step(); }, c.min_seconds);

    // LibTorch's matrix products on the same shapes: 5 iterations of X·Xᵀ, A·A, B·X.
    const std::int64_t n = std::min(r, k), m = std::max(r, k);
    const auto opts = at::TensorOptions().dtype(ns_type(c.ns_dtype));
    auto x = at::randn({n, m}).to(opts) * 0.01, a = at::empty({n, n}, opts), b = at::randn({n, n}).to(opts) * 0.01;
    auto y = at::empty({n, m}, opts);
    auto xt = x.t();
    const double gemm_ms = median_ms(
        [&] {
          for (int s = 0; s < 5; ++s) {
            at::mm_out(a, x, xt);
            at::mm_out(b, a, a);
            at::mm_out(y, b, x);
          }
        },
        c.min_seconds);
    const double flops = 5.0 * (4.0 * n * n * m + 2.0 * n * n * n);
    const double gemm_gf = flops / gemm_ms * 1e-6, step_gf = flops / step_ms * 1e-6;
    const double ratio = gemm_ms / step_ms;
    if (!c.json)
      std::printf("%5lldx%-6lld %12.3f %12.3f %12.1f %10.1f %13.0f%%\n", static_cast<long long>(r),
                  static_cast<long long>(k), step_ms, gemm_ms, gemm_gf, step_gf, 100 * ratio);
    rows.push_back({{"rows", r}, {"cols", k}, {"step_ms", step_ms}, {"gemm_ms", gemm_ms}, {"gemm_gflops", gemm_gf},
                    {"step_gflops", step_gf}, {"gemm_fraction_of_step", ratio}});
  }
  return {{"ns_dtype", c.ns_dtype}, {"shapes", rows}};
}

nlohmann::json bench_mfac(const Config& c) {
  nlohmann::json rows = nlohmann::json::array();
  if (!c.json)
    std::printf("\nmfac (float32, d = %lld parameters in one tensor)\n%-8s %12s %16s %14s %12s\n",
                static_cast<long long>(c.mfac_d), "m", "step ms", "ns per m*d", "window GB/s", "window MB");
  for (auto m : c.mfac_m) {
    at::manual_seed(2);
    auto p = (at::randn({c.mfac_d}) * 0.1).set_requires_grad(true);
    p.mutable_grad() = at::randn({c.mfac_d}) * 0.01;
    MFAC opt(std::vector<torch::Tensor>{p}, MFACOptions(1e-4).ngrads(m));
    // Fill the window first, so that every measured step sees a full one.
    for (std::int64_t i = 0; i < m; ++i) opt.step();
    const double ms = median_ms([&] { opt.step(); }, c.min_seconds);
    const double elems = static_cast<double>(m) * static_cast<double>(c.mfac_d);
    const double ns_per = ms * 1e6 / elems;
    const double gbs = 2 * elems * 4 / (ms * 1e-3) * 1e-9;  // two passes over the window
    if (!c.json)
      std::printf("%-8lld %12.3f %16.4f %14.1f %12.1f\n", static_cast<long long>(m), ms, ns_per, gbs, elems * 4 / 1e6);
    rows.push_back({{"m", m}, {"d", c.mfac_d}, {"step_ms", ms}, {"ns_per_window_element", ns_per},
                    {"window_read_gbs", gbs}});
  }
  return {{"d", c.mfac_d}, {"steps", rows}};
}

int usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: descent curvature-bench [--muon-only | --mfac-only] [--shapes RxC,...] [--ns-dtype float32|bfloat16|float64]\n"
               "                               [--mfac-m 8,16,...] [--mfac-d N] [--threads T] [--min-seconds S] [--json]\n"
               "  Muon: step time next to LibTorch's GEMM time on the same Newton-Schulz shapes, in the same run.\n"
               "  M-FAC: step time for each window size m (float32, d parameters).\n");
  return code;
}

}  // namespace

int curvature_bench(const std::vector<std::string>& args) {
  Config c;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto next = [&]() -> const std::string& {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "-h" || a == "--help") return usage(0);
      if (a == "--shapes") c.shapes = parse_shapes(next());
      else if (a == "--ns-dtype") c.ns_dtype = next();
      else if (a == "--mfac-m") c.mfac_m = parse_ints(next());
      else if (a == "--mfac-d") c.mfac_d = std::stoll(next());
      else if (a == "--threads") c.threads = std::stoi(next());
      else if (a == "--min-seconds") c.min_seconds = std::stod(next());
      else if (a == "--json") c.json = true;
      else if (a == "--muon-only") c.mfac = false;
      else if (a == "--mfac-only") c.muon = false;
      else throw std::invalid_argument("unknown argument '" + a + "'");
    }
    ns_type(c.ns_dtype);
    if (c.threads > 0) at::set_num_threads(c.threads);
    nlohmann::json out{{"format", "descent-curvature-bench/1"}, {"threads", at::get_num_threads()}};
    if (c.muon) out["muon"] = bench_muon(c);
    if (c.mfac) out["mfac"] = bench_mfac(c);
    if (c.json) std::printf("%s\n", out.dump(2).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "descent curvature-bench: %s\n", e.what());
    return usage(2);
  }
  return 0;
}

}  // namespace descent::cli
