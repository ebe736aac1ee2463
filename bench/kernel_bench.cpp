// Kernel micro-benchmarks: the fused rules on raw buffers (vector and scalar
// paths, every dtype) and whole optimizer steps through the registry.
//
//   build-bench/bench/descent_kernel_bench --benchmark_filter=Adam
#include <descent/kernels/adam.h>
#include <descent/kernels/sgd.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <vector>

namespace {

using descent::kernels::bf16;
using descent::kernels::Path;
using descent::kernels::Span;
using descent::kernels::state_t;

template <class T> T value(float x) { return static_cast<T>(x); }
template <> bf16 value<bf16>(float x) { return descent::kernels::to_bf16(x); }

template <class Rule, class T>
void BM_Rule(benchmark::State& state, Rule rule, Path path) {
  const std::int64_t n = state.range(0);
  std::vector<T> p(n, value<T>(0.5f)), g(n, value<T>(0.01f));
  std::vector<std::vector<state_t<T>>> s(Rule::kStates, std::vector<state_t<T>>(n, state_t<T>(0.1)));
  Span<T> x;
  x.p = p.data();
  x.g = g.data();
  for (int k = 0; k < Rule::kStates; ++k) x.s[k] = s[k].data();
  for (auto _ : state) {
    descent::kernels::run(rule, x, 0, n, path);
    benchmark::ClobberMemory();
  }
  const double bytes = 3.0 * sizeof(T) + 2.0 * Rule::kStates * sizeof(state_t<T>);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * bytes));
}

descent::kernels::AdamRule<false> adam_rule() {
  descent::kernels::AdamRule<false> r;
  r.neg_step_size = -1e-3;
  r.bc2_sqrt = 0.5;
  return r;
}

void BM_AdamF32Vector(benchmark::State& s) { BM_Rule<descent::kernels::AdamRule<false>, float>(s, adam_rule(), Path::vector); }
void BM_AdamF32Scalar(benchmark::State& s) { BM_Rule<descent::kernels::AdamRule<false>, float>(s, adam_rule(), Path::scalar); }
void BM_AdamBf16Vector(benchmark::State& s) { BM_Rule<descent::kernels::AdamRule<false>, bf16>(s, adam_rule(), Path::vector); }
void BM_AdamF64Vector(benchmark::State& s) { BM_Rule<descent::kernels::AdamRule<false>, double>(s, adam_rule(), Path::vector); }
void BM_SgdF32Vector(benchmark::State& s) {
  BM_Rule<descent::kernels::SgdRule, float>(s, descent::kernels::SgdRule{1, 0, 0.1}, Path::vector);
}
BENCHMARK(BM_AdamF32Vector)->RangeMultiplier(8)->Range(1 << 10, 1 << 24);
BENCHMARK(BM_AdamF32Scalar)->RangeMultiplier(8)->Range(1 << 10, 1 << 24);
BENCHMARK(BM_AdamBf16Vector)->RangeMultiplier(8)->Range(1 << 10, 1 << 24);
BENCHMARK(BM_AdamF64Vector)->RangeMultiplier(8)->Range(1 << 10, 1 << 24);
BENCHMARK(BM_SgdF32Vector)->RangeMultiplier(8)->Range(1 << 10, 1 << 24);

// A whole step through the registry: N parameters in K tensors.
void BM_Step(benchmark::State& state, const char* name) {
  const std::int64_t n = state.range(0), k = state.range(1);
  std::vector<torch::Tensor> params;
  for (std::int64_t i = 0; i < k; ++i) {
    auto p = at::randn({n / k}).set_requires_grad(true);
    p.mutable_grad() = at::randn({n / k});
    params.push_back(p);
  }
  auto opt = descent::make_optimizer(name, params, R"({"lr": 0.001})");
  opt->step();
  for (auto _ : state) opt->step();
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK_CAPTURE(BM_Step, adamw, "adamw")->Args({1 << 20, 1})->Args({1 << 20, 64})->Args({100000, 50});
BENCHMARK_CAPTURE(BM_Step, lion, "lion")->Args({1 << 20, 1})->Args({100000, 50});

}  // namespace

BENCHMARK_MAIN();
