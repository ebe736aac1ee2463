// descent step-bench: how close a step comes to the memory-bandwidth floor.
//
// An elementwise step reads p, g and every state buffer once and writes p and
// the states once: ideal bytes per parameter = 3·|p| + 2·|state| (fp32 AdamW:
// 3·4 + 2·8 = 28). In the same run the command measures the machine's
// read-modify-write bandwidth with a plain streaming loop over the same
// footprint and access pattern (read p, g, states; write p, states), then
// reports achieved GB/s, the fraction of the measured bandwidth and, where
// LibTorch 1.13 has the same optimizer, LibTorch's step time on identical
// tensors and the speedup.
#include "step_bench.h"

#include <descent/kernels/elementwise.h>
#include <descent/kernels/scalar_types.h>
#include <descent/optim/adagrad.h>
#include <descent/optim/adam.h>
#include <descent/optim/launch_batch.h>
#include <descent/optim/rmsprop.h>
#include <descent/optim/sgd.h>
#include <descent/optim/state_memory.h>
#include <descent/registry.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>

namespace descent::cli {

namespace {

struct Config {
  std::string optimizer = "adamw";
  std::string options = "{}";
  std::string bf16_mode;  // --bf16-mode: merged into the options
  std::int64_t numel = 16 << 20;
  int tensors = 1;
  std::string dtype = "f32";
  int threads = 0;  // 0: LibTorch's default
  bool json = false;
  bool sweep = false;
  bool libtorch = true;
  bool batch = true;  // --no-batch: the multi-tensor scheduler off (launch_batch.h)
  bool huge_pages = true;  // --no-huge-pages: all state in 4 KiB pages (state_memory.h)
  double min_seconds = 1.0;
};

at::ScalarType dtype_of(const std::string& s) {
  if (s == "f32" || s == "float32") return at::kFloat;
  if (s == "f64" || s == "float64") return at::kDouble;
  if (s == "bf16" || s == "bfloat16") return at::kBFloat16;
  throw std::invalid_argument("--dtype must be f32, bf16 or f64 (got '" + s + "')");
}

// K sizes summing to n: mixed, deterministic (log-uniform weights).
std::vector<std::int64_t> mixed_sizes(std::int64_t n, int k) {
  if (k <= 1) return {n};
  std::mt19937 rng(1234);
  std::uniform_real_distribution<double> u(0.0, 4.0);
  std::vector<double> w(k);
  double total = 0;
  for (auto& x : w) total += (x = std::pow(10.0, u(rng)));
  std::vector<std::int64_t> sizes(k);
  std::int64_t used = 0;
  for (int i = 0; i < k; ++i) used += sizes[i] = std::max<std::int64_t>(1, static_cast<std::int64_t>(n * w[i] / total));
  sizes[std::max_element(w.begin(), w.end()) - w.begin()] += n - used;
  return sizes;
}

// Parameters with two sets of gradients that steps alternate between. With one
// fixed gradient, moments of gradient differences (AdaBelief's (g - m)^2,
// Adan's g - g_prev) decay geometrically to subnormal floats within a few
// hundred steps, and subnormal arithmetic is ~10x slower on x86: the benchmark
// would time that artefact instead of the optimizer. Training gradients vary.
struct Tensors {
  std::vector<torch::Tensor> params;
  std::vector<torch::Tensor> grads[2];
  int next = 0;
  void flip() {  // untimed, between steps: swaps tensor handles only
    for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[next][i];
    next ^= 1;
  }
};

Tensors make_tensors(const Config& c, std::uint64_t seed) {
  const auto dtype = dtype_of(c.dtype);
  at::manual_seed(seed);
  Tensors t;
  for (auto n : mixed_sizes(c.numel, c.tensors)) {
    auto p = (at::randn({n}) * 0.1).to(dtype).set_requires_grad(true);
    for (auto& g : t.grads) g.push_back((at::randn({n}) * 0.01).to(dtype));
    p.mutable_grad() = t.grads[0].back();
    t.params.push_back(p);
  }
  return t;
}

// Streaming read-modify-write over the same footprint as the optimizer: p and
// NS state arrays read and written, g read, in one pass, threaded as descent's
// kernels are; RO (0 or 1) of the state arrays only read, for optimizers with
// a read-only state (StateLayout::read_only). Its time is the bandwidth floor of the step.
template <int NS, int RO, class T, class S>
void stream_pass(T* __restrict p, const T* __restrict g, S* const* s, std::int64_t b, std::int64_t e) {
  static_assert(RO <= NS);
  S* st[NS > 0 ? NS : 1];
  for (int k = 0; k < NS; ++k) st[k] = s[k];
#pragma GCC ivdep
  for (std::int64_t i = b; i < e; ++i) {
    S acc = static_cast<S>(kernels::load(g, i));
    for (int k = 0; k < NS; ++k) {
      const S v = st[k][i] * S(0.999) + acc;
      if (k >= RO) st[k][i] = v;
      acc = v * S(1e-3);
    }
    kernels::store(p, i, static_cast<S>(kernels::load(p, i)) - acc);
  }
}

template <int RO, class T, class S>
void stream_ro(int ns, T* p, const T* g, S* const* s, std::int64_t b, std::int64_t e) {
  switch (ns) {
    case 0: return stream_pass<0, 0>(p, g, s, b, e);
    case 1: return stream_pass<1, RO>(p, g, s, b, e);
    case 2: return stream_pass<2, RO>(p, g, s, b, e);
    case 3: return stream_pass<3, RO>(p, g, s, b, e);
    case 4: return stream_pass<4, RO>(p, g, s, b, e);
    case 5: return stream_pass<5, RO>(p, g, s, b, e);
    default: return stream_pass<6, RO>(p, g, s, b, e);
  }
}

template <class T, class S>
void stream_any(int ns, int ro, T* p, const T* g, S* const* s, std::int64_t b, std::int64_t e) {
  if (ro > 0) return stream_ro<1>(ns, p, g, s, b, e);
  stream_ro<0>(ns, p, g, s, b, e);
}

// The streaming loop gets the same instruction-set clone as the kernels
// (kernels/elementwise.h), so the floor is measured with the same vectors.
#ifdef DESCENT_AVX2_CLONE
template <class T, class S>
__attribute__((target("avx2,fma"), flatten)) void stream_avx2(int ns, int ro, T* p, const T* g, S* const* s,
                                                          std::int64_t b, std::int64_t e) {
  stream_any(ns, ro, p, g, s, b, e);
}
#endif
template <class T, class S>
void stream_dispatch(int ns, int ro, T* p, const T* g, S* const* s, std::int64_t b, std::int64_t e) {
#ifdef DESCENT_AVX2_CLONE
  if (kernels::detail::use_avx2()) return stream_avx2(ns, ro, p, g, s, b, e);
#endif
  stream_any(ns, ro, p, g, s, b, e);
}

// The streaming loop as a callable that owns its arrays.
std::function<void()> make_stream(const Config& c, double state_bytes_per_param, double read_only_bytes_per_param) {
  const auto dtype = dtype_of(c.dtype);
  const std::int64_t n = c.numel;
  const auto sdt = dtype == at::kDouble ? at::kDouble : at::kFloat;
  const double word = sdt == at::kDouble ? 8 : 4;
  const int ns = std::min(6, static_cast<int>(std::lround(state_bytes_per_param / word)));
  const int ro = std::min(ns, std::min(1, static_cast<int>(std::lround(read_only_bytes_per_param / word))));
  std::vector<torch::Tensor> st;
  // The state arrays live where descent's state does (optim/state_memory.h:
  // huge pages for large buffers), so the floor has the step's memory layout.
  for (int i = 0; i < ns; ++i) st.push_back(empty_state({n}, {1}, sdt).uniform_());
  auto p = at::rand({n}, dtype), g = at::rand({n}, dtype);
  std::function<void(std::int64_t, std::int64_t)> fn;
  if (sdt == at::kDouble) {
    std::vector<double*> sp;
    for (auto& x : st) sp.push_back(x.data_ptr<double>());
    fn = [=, pp = p.data_ptr<double>(), gg = g.data_ptr<double>()](std::int64_t b, std::int64_t e) {
      stream_dispatch(ns, ro, pp, gg, sp.data(), b, e);
    };
  } else {
    std::vector<float*> sp;
    for (auto& x : st) sp.push_back(x.data_ptr<float>());
    if (dtype == at::kFloat) {
      fn = [=, pp = p.data_ptr<float>(), gg = g.data_ptr<float>()](std::int64_t b, std::int64_t e) {
        stream_dispatch(ns, ro, pp, gg, sp.data(), b, e);
      };
    } else {
      fn = [=, pp = reinterpret_cast<kernels::bf16*>(p.data_ptr()),
            gg = reinterpret_cast<const kernels::bf16*>(g.data_ptr())](std::int64_t b, std::int64_t e) {
        stream_dispatch(ns, ro, pp, gg, sp.data(), b, e);
      };
    }
  }
  auto keep = std::make_shared<std::vector<torch::Tensor>>(st);
  keep->push_back(p);
  keep->push_back(g);
  return [n, fn, keep] { at::parallel_for(0, n, 1 << 15, fn); };
}

// Timings taken in turns: each round runs every candidate once (its `between`
// untimed, then its call timed), so slow drifts of the machine's bandwidth
// (a shared host) hit the step, the streaming floor and LibTorch alike and
// their ratios stay meaningful. Two warm-up rounds; at least 5 rounds, then
// until `min_seconds` per candidate on average or 200 rounds; medians.
struct Timed {
  std::function<void()> between, call;
};
std::vector<double> interleaved_medians(const std::vector<Timed>& ts, double min_seconds) {
  for (int w = 0; w < 2; ++w)
    for (const auto& t : ts) {
      t.between();
      t.call();
    }
  std::vector<std::vector<double>> times(ts.size());
  const auto start = std::chrono::steady_clock::now();
  const double budget = min_seconds * static_cast<double>(ts.size());
  for (int round = 0;; ++round) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (round >= 5 && (round >= 200 || elapsed >= budget)) break;
    for (std::size_t k = 0; k < ts.size(); ++k) {
      ts[k].between();
      const auto a = std::chrono::steady_clock::now();
      ts[k].call();
      const auto b = std::chrono::steady_clock::now();
      times[k].push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }
  }
  std::vector<double> out;
  for (auto& v : times) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    out.push_back(v[v.size() / 2]);
  }
  return out;
}

// Persistent state (buffers, a bfloat16 master copy), bytes per parameter.
double state_bytes_per_param(const Optimizer& opt, std::int64_t numel) {
  return static_cast<double>(opt.state_bytes()) / static_cast<double>(numel);
}

// LibTorch's own optimizer with the same options, where it has one.
std::unique_ptr<torch::optim::Optimizer> libtorch_twin(const torch::optim::OptimizerOptions& base,
                                                       std::vector<torch::Tensor> params) {
  namespace to = torch::optim;
  if (const auto* o = dynamic_cast<const SGDOptions*>(&base))
    return std::make_unique<to::SGD>(params, to::SGDOptions(o->lr()).momentum(o->momentum()).dampening(o->dampening())
                                                 .weight_decay(o->weight_decay()).nesterov(o->nesterov()));
  if (const auto* o = dynamic_cast<const AdamOptions*>(&base))
    return std::make_unique<to::Adam>(params, to::AdamOptions(o->lr()).betas({o->betas()[0], o->betas()[1]})
                                                  .eps(o->eps()).weight_decay(o->weight_decay()).amsgrad(o->amsgrad()));
  if (const auto* o = dynamic_cast<const AdamWOptions*>(&base))
    return std::make_unique<to::AdamW>(params, to::AdamWOptions(o->lr()).betas({o->betas()[0], o->betas()[1]})
                                                   .eps(o->eps()).weight_decay(o->weight_decay()).amsgrad(o->amsgrad()));
  if (const auto* o = dynamic_cast<const AdagradOptions*>(&base))
    return std::make_unique<to::Adagrad>(params, to::AdagradOptions(o->lr()).lr_decay(o->lr_decay())
                                                     .weight_decay(o->weight_decay()).eps(o->eps())
                                                     .initial_accumulator_value(o->initial_accumulator_value()));
  if (const auto* o = dynamic_cast<const RMSpropOptions*>(&base))
    return std::make_unique<to::RMSprop>(params, to::RMSpropOptions(o->lr()).alpha(o->alpha()).eps(o->eps())
                                                     .weight_decay(o->weight_decay()).momentum(o->momentum())
                                                     .centered(o->centered()));
  return nullptr;
}

struct Result {
  double ms = 0, libtorch_ms = -1, stream_ms = 0, state_bytes = 0, read_only_bytes = 0, bytes_per_param = 0;
};

Result measure(const Config& c) {
  if (c.threads > 0) at::set_num_threads(c.threads);
  auto t = make_tensors(c, 7);
  std::vector<GroupSpec> groups{{t.params, {}}};
  auto opt = Registry::instance().make(c.optimizer, groups, parse_options(c.options));
  Result r;
  t.flip();
  opt->step();  // creates the state, so that its size is known
  r.state_bytes = state_bytes_per_param(*opt, c.numel);
  r.read_only_bytes = static_cast<double>(opt->read_only_state_bytes()) / static_cast<double>(c.numel);
  const double elt = static_cast<double>(t.params[0].element_size());
  // Read p and g, write p; read and write every state byte but the read-only
  // ones (read once). With a master copy (counted in the state) the bfloat16
  // parameter is written, not read.
  const bool master = c.dtype == "bf16" && c.options.find("master_weights") != std::string::npos;
  r.bytes_per_param = (master ? 2 : 3) * elt + 2 * r.state_bytes - r.read_only_bytes;
  std::vector<Timed> timed{{[&] { t.flip(); }, [&] { opt->step(); }},
                           {[] {}, make_stream(c, r.state_bytes, r.read_only_bytes)}};
  Tensors t2;
  std::unique_ptr<torch::optim::Optimizer> twin;
  if (c.libtorch && c.dtype != "bf16") {
    t2 = make_tensors(c, 7);
    twin = libtorch_twin(opt->param_groups()[0].options(), t2.params);
    if (twin) timed.push_back({[&] { t2.flip(); }, [&] { twin->step(); }});
  }
  const auto ms = interleaved_medians(timed, c.min_seconds);
  r.ms = ms[0];
  r.stream_ms = ms[1];
  if (twin) r.libtorch_ms = ms[2];
  return r;
}

nlohmann::json to_json(const Config& c, const Result& r) {
  const double gbps = r.bytes_per_param * c.numel / (r.ms * 1e6);
  const double bw = r.bytes_per_param * c.numel / (r.stream_ms * 1e6);
  const auto opts = nlohmann::json::parse(c.options);
  nlohmann::json j{{"optimizer", c.optimizer},
                   {"options", opts},
                   {"bf16_mode", opts.contains("bf16_mode") ? opts["bf16_mode"] : nlohmann::json("nearest")},
                   {"dtype", c.dtype},
                   {"numel", c.numel},
                   {"tensors", c.tensors},
                   {"threads", at::get_num_threads()},
                   {"batched", c.batch},
                   {"huge_pages", c.huge_pages},
                   {"ms_per_step", r.ms},
                   {"state_bytes_per_param", r.state_bytes},
                   {"read_only_state_bytes_per_param", r.read_only_bytes},
                   {"bytes_per_param", r.bytes_per_param},
                   {"gbps", gbps},
                   {"bandwidth_gbps", bw},
                   {"stream_ms", r.stream_ms},
                   {"fraction_of_bandwidth", r.stream_ms / r.ms}};
  if (r.libtorch_ms > 0) {
    j["libtorch_ms_per_step"] = r.libtorch_ms;
    j["speedup_vs_libtorch"] = r.libtorch_ms / r.ms;
  } else {
    j["libtorch_ms_per_step"] = nullptr;
    j["speedup_vs_libtorch"] = nullptr;
  }
  return j;
}

void print_row(const nlohmann::json& j) {
  std::string dt = j["dtype"].get<std::string>();
  if (dt == "bf16" && j["bf16_mode"] != "nearest") dt += j["bf16_mode"] == "master_weights" ? "+m" : "+sr";
  std::printf("%-12s %-8s %10lld %7d %3d | %9.3f ms %7.1f GB/s | stream %7.1f GB/s  %5.1f%% | %5.1f B/param",
              j["optimizer"].get<std::string>().c_str(), dt.c_str(),
              static_cast<long long>(j["numel"].get<std::int64_t>()), j["tensors"].get<int>(), j["threads"].get<int>(),
              j["ms_per_step"].get<double>(), j["gbps"].get<double>(), j["bandwidth_gbps"].get<double>(),
              100 * j["fraction_of_bandwidth"].get<double>(), j["bytes_per_param"].get<double>());
  std::printf(" (state %.3f)", j["state_bytes_per_param"].get<double>());  // 8-bit modes: ~1 B per state
  if (!j["libtorch_ms_per_step"].is_null())
    std::printf(" | libtorch %9.3f ms  x%.2f", j["libtorch_ms_per_step"].get<double>(),
                j["speedup_vs_libtorch"].get<double>());
  std::printf("\n");
}

int usage() {
  std::fprintf(stderr,
               "usage: descent step-bench --optimizer NAME [--options JSON] [--numel N] [--tensors K]\n"
               "                          [--dtype f32|bf16|f64] [--threads T] [--json] [--sweep]\n"
               "                          [--min-seconds S] [--no-libtorch] [--no-batch] [--no-huge-pages]\n"
               "                          [--bf16-mode nearest|master_weights|stochastic_rounding]\n");
  return 2;
}

}  // namespace

int step_bench(const std::vector<std::string>& args) {
  Config c;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto next = [&]() -> const std::string& {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "--optimizer") c.optimizer = next();
      else if (a == "--options") c.options = next();
      else if (a == "--bf16-mode") c.bf16_mode = next();
      else if (a == "--numel") c.numel = std::stoll(next());
      else if (a == "--tensors") c.tensors = std::stoi(next());
      else if (a == "--dtype") c.dtype = next();
      else if (a == "--threads") c.threads = std::stoi(next());
      else if (a == "--json") c.json = true;
      else if (a == "--sweep") c.sweep = true;
      else if (a == "--no-libtorch") c.libtorch = false;
      else if (a == "--no-batch") c.batch = false;
      else if (a == "--no-huge-pages") c.huge_pages = false;
      else if (a == "--min-seconds") c.min_seconds = std::stod(next());
      else return usage();
    }
    dtype_of(c.dtype);
    set_launch_batching(c.batch);
    set_state_huge_pages(c.huge_pages);
    {
      auto o = nlohmann::json::parse(c.options);
      if (!o.is_object()) throw std::invalid_argument("--options must be a JSON object");
      if (!c.bf16_mode.empty()) o["bf16_mode"] = c.bf16_mode;
      if (!o.contains("lr")) o["lr"] = 1e-3;  // some references (SGD) have no default
      c.options = o.dump();
    }
    if (c.numel < 1 || c.tensors < 1 || c.tensors > c.numel) throw std::invalid_argument("need 1 <= tensors <= numel");
    if (!c.sweep) {
      const auto j = to_json(c, measure(c));
      if (c.json) std::printf("%s\n", j.dump().c_str());
      else print_row(j);
      return 0;
    }
    // The cost curve: step time against size, for 1 and 2 threads.
    nlohmann::json rows = nlohmann::json::array();
    for (int threads : {1, 2}) {
      for (std::int64_t n = 1 << 10; n <= (64 << 20); n *= 4) {
        Config s = c;
        s.numel = n;
        s.tensors = 1;
        s.threads = threads;
        s.min_seconds = std::min(c.min_seconds, 0.3);
        const auto j = to_json(s, measure(s));
        if (c.json) rows.push_back(j);
        else print_row(j);
      }
    }
    if (c.json) std::printf("%s\n", rows.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "descent step-bench: %s\n", e.what());
    return 1;
  }
}

}  // namespace descent::cli
