// The benchmark protocol: lr grid on validation data, seeds at the chosen lr,
// aggregation and ranking; a progress bar with ETA on stderr.
#include <descent/bench/protocol.h>

#include <descent/bench/data.h>
#include <descent/bench/families.h>
#include <descent/curvature.h>
#include <descent/registry.h>

#include <ATen/Parallel.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <cerrno>
#include <csignal>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <numeric>
#include <set>
#include <sstream>

namespace descent::bench {

using nlohmann::json;

const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::ok: return "ok";
    case RunStatus::diverged: return "diverged";
    case RunStatus::failed: return "failed";
    case RunStatus::interrupted: return "interrupted";
  }
  return "?";
}

std::uint64_t seed_of(std::uint64_t base, int seed_index) {
  // splitmix64 of (base, index): distinct, well-mixed seeds.
  std::uint64_t z = base * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(seed_index + 1) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (z ^ (z >> 31)) & 0x7fffffffffffffffull;  // torch seeds are taken as uint64; keep them printable in JSON
}

std::int64_t state_tensor_bytes(const descent::Optimizer& opt) {
  torch::serialize::OutputArchive archive;
  opt.save(archive);
  std::ostringstream os;
  archive.save_to(os);
  std::istringstream is(os.str());
  caffe2::serialize::PyTorchStreamReader reader(&is);
  std::int64_t bytes = 0;
  for (const auto& name : reader.getAllRecords()) {
    // Tensor storages are the records data/<key>; everything else is the
    // pickled structure (names, step counts, options).
    if (name.rfind("data/", 0) == 0) bytes += static_cast<std::int64_t>(std::get<1>(reader.getRecord(name)));
  }
  return bytes;
}

namespace {

// Optimizers that refresh a Hessian-diagonal estimate from an estimator
// (OptimizerInfo::hessian_estimator) get one over the trial: Gauss-Newton-
// Bartlett on the current batch's logits (Sophia-G), Hutchinson on its loss
// (Sophia-H, and Sophia-G where the workload has no logits).
void install_hessian_estimator(const std::string& name, Optimizer& opt, Trial& trial) {
  const auto* entry = Registry::instance().find(name);
  auto* user = dynamic_cast<UsesHessianDiagonal*>(&opt);
  if (entry == nullptr || user == nullptr || entry->info.hessian_estimator.empty()) return;
  if (entry->info.hessian_estimator == "gnb" && trial.has_logits())
    user->set_estimator(curvature::gnb_estimator([&trial] { return trial.logits(); }));
  else
    user->set_estimator(curvature::hutchinson_estimator([&trial] { return trial.loss(); }));
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  double hi = v[m];
  if (v.size() % 2 == 1) return hi;
  return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m)));
}

bool meets(const WorkloadInfo& w, const Eval& e) {
  return w.higher_is_better ? e.accuracy >= w.target : e.loss <= w.target;
}

double primary(const WorkloadInfo& w, const RunResult& r) {
  return w.higher_is_better ? r.final_val_acc : r.final_val_loss;
}

bool better(const WorkloadInfo& w, double a, double b) { return w.higher_is_better ? a > b : a < b; }

// ---- progress -------------------------------------------------------------------------

std::string clock_text(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const long t = std::lround(s);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

class Progress {
 public:
  Progress(bool enabled, const std::vector<std::shared_ptr<Workload>>& workloads, int jobs)
      : enabled_(enabled), jobs_(jobs) {
    tty_ = enabled && isatty(STDERR_FILENO) != 0;
    for (const auto& w : workloads) {
      // First guesses of seconds per step (including evaluations); replaced by
      // measurements as soon as a workload has run.
      double g = 2e-4;
      switch (w->info().kind) {
        case WorkloadKind::function2d: g = 1.5e-4; break;
        case WorkloadKind::quadratic: g = 1.5e-4; break;
        case WorkloadKind::classification:
          g = w->info().name == "fmnist_cnn" ? 5e-3 : w->info().name == "fmnist_mlp" ? 1.5e-3 : 8e-4;
          break;
        case WorkloadKind::language_model: g = 1e-2; break;
      }
      guess_[w->info().name] = g;
    }
  }
  void plan(const std::string& workload, int runs, int steps) { remaining_[workload] += static_cast<double>(runs) * steps; }
  void unplan(const std::string& workload, int runs, int steps) { remaining_[workload] -= static_cast<double>(runs) * steps; }
  void set_total_runs(int n) { total_runs_ = n; }
  void add_total_runs(int n) { total_runs_ += n; }

  void begin_run(const std::string& label, int steps) {
    label_ = label;
    run_steps_ = steps;
    ++run_index_;
    draw(0, true);
  }
  void step(int s) {
    step_ = s;
    if (!enabled_) return;
    const auto now = Clock::now();
    if (tty_ && std::chrono::duration<double>(now - last_draw_).count() > 0.1) draw(s, false);
  }
  void end_run(const std::string& workload, int steps_planned, int steps_done, double seconds) {
    remaining_[workload] -= steps_planned;
    if (steps_done > 0) {
      auto& m = measured_[workload];
      m.first += seconds;
      m.second += steps_done;
    }
  }
  void finish(const std::string& message) {
    if (!enabled_) return;
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
  }
  double eta() const {
    double s = 0;
    for (const auto& [w, steps] : remaining_) s += std::max(0.0, steps) * per_step(w);
    // Runs in flight were counted in remaining_ already; with several workers
    // the work is shared.
    return std::max(0.0, s / jobs_);
  }
  double elapsed() const { return seconds_since(start_); }

 private:
  double per_step(const std::string& w) const {
    auto it = measured_.find(w);
    if (it != measured_.end() && it->second.second > 0) return it->second.first / it->second.second;
    // Not measured yet: the guess, scaled by how the measured workloads
    // compared with their guesses (machine speed and load).
    double measured = 0, guessed = 0;
    for (const auto& [name, m] : measured_) {
      auto g = guess_.find(name);
      if (g == guess_.end() || m.second <= 0) continue;
      measured += m.first;
      guessed += g->second * m.second;
    }
    const double factor = guessed > 0 ? std::clamp(measured / guessed, 0.25, 20.0) : 1.0;
    auto g = guess_.find(w);
    return (g == guess_.end() ? 1e-3 : g->second) * factor;
  }
  void draw(int s, bool new_run) {
    if (!enabled_) return;
    last_draw_ = Clock::now();
    const double el = elapsed(), left = eta();
    const double frac = el + left > 0 ? el / (el + left) : 0;
    if (tty_) {
      const int width = 24, filled = static_cast<int>(frac * width);
      std::string bar(static_cast<std::size_t>(filled), '=');
      if (filled < width) bar += '>';
      bar.resize(width, ' ');
      std::fprintf(stderr, "\r\033[K[%s] %3d%%  run %d/%d  %s  step %d/%d  elapsed %s  ETA %s", bar.c_str(),
                   static_cast<int>(frac * 100), run_index_, total_runs_, label_.c_str(), s, run_steps_,
                   clock_text(el).c_str(), clock_text(left).c_str());
      std::fflush(stderr);
    } else if (new_run) {
      // Not a terminal: one line per tenth of the runs.
      const int decile = total_runs_ > 0 ? (run_index_ * 10) / total_runs_ : 0;
      if (decile != last_decile_) {
        last_decile_ = decile;
        std::fprintf(stderr, "bench: %3d%%  run %d/%d  %s  elapsed %s  ETA %s\n", static_cast<int>(frac * 100),
                     run_index_, total_runs_, label_.c_str(), clock_text(el).c_str(), clock_text(left).c_str());
        std::fflush(stderr);
      }
    }
  }

  bool enabled_ = true, tty_ = false;
  Clock::time_point start_ = Clock::now(), last_draw_ = Clock::now() - std::chrono::seconds(1);
  std::map<std::string, double> guess_, remaining_;
  std::map<std::string, std::pair<double, double>> measured_;
  int jobs_ = 1;
  std::string label_;
  int run_index_ = 0, total_runs_ = 0, run_steps_ = 0, step_ = 0, last_decile_ = -1;
};

std::string lr_text(double lr) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", lr);
  return buf;
}

void aggregate(const WorkloadInfo& w, CellResult& c, const std::vector<RunResult>& runs) {
  std::vector<const RunResult*> ok;
  for (auto i : c.seed_runs)
    if (runs[i].status == RunStatus::ok) ok.push_back(&runs[i]);
  c.seeds_ok = static_cast<int>(ok.size());
  if (ok.empty()) return;
  auto stats = [&](auto get, double& mean, double& sd) {
    double s = 0;
    for (auto* r : ok) s += get(*r);
    mean = s / static_cast<double>(ok.size());
    double v = 0;
    for (auto* r : ok) v += (get(*r) - mean) * (get(*r) - mean);
    sd = ok.size() > 1 ? std::sqrt(v / static_cast<double>(ok.size() - 1)) : 0;
  };
  stats([](const RunResult& r) { return r.final_val_loss; }, c.val_loss_mean, c.val_loss_std);
  if (w.has_accuracy) stats([](const RunResult& r) { return r.final_val_acc; }, c.val_acc_mean, c.val_acc_std);
  if (w.has_test) {
    stats([](const RunResult& r) { return r.test_loss; }, c.test_loss_mean, c.test_loss_std);
    if (w.has_accuracy) stats([](const RunResult& r) { return r.test_acc; }, c.test_acc_mean, c.test_acc_std);
  }
  std::vector<double> steps, secs;
  double ms = 0, mso = 0;
  for (auto* r : ok) {
    if (r->steps_to_target >= 0) {
      steps.push_back(r->steps_to_target);
      secs.push_back(r->time_to_target_s);
    }
    ms += r->ms_per_step;
    mso += r->ms_optimizer;
  }
  c.reached_target = static_cast<int>(steps.size());
  if (!steps.empty()) {
    c.steps_to_target_median = median(steps);
    c.time_to_target_median = median(secs);
  }
  c.ms_per_step = ms / static_cast<double>(ok.size());
  c.ms_optimizer = mso / static_cast<double>(ok.size());
  c.state_bytes = ok.front()->state_bytes;
  c.param_count = ok.front()->param_count;
}

void rank_cells(const WorkloadInfo& w, std::vector<CellResult*> cells) {
  std::vector<CellResult*> ranked;
  for (auto* c : cells)
    if (c->seeds_ok > 0) ranked.push_back(c);
  std::stable_sort(ranked.begin(), ranked.end(), [&](const CellResult* a, const CellResult* b) {
    const double pa = w.higher_is_better ? a->val_acc_mean : a->val_loss_mean;
    const double pb = w.higher_is_better ? b->val_acc_mean : b->val_loss_mean;
    if (pa != pb) return better(w, pa, pb);
    return a->val_loss_mean < b->val_loss_mean;
  });
  for (std::size_t i = 0; i < ranked.size(); ++i) ranked[i]->rank = static_cast<int>(i + 1);
}

}  // namespace

// ---- one run ----------------------------------------------------------------------------

RunResult train_run(Workload& w, const OptimizerEntry& oe, double lr, int seed_index, std::uint64_t seed,
                    const std::atomic<bool>* stop, const std::function<void(int)>& on_step) {
  const WorkloadInfo& info = w.info();
  RunResult r;
  r.workload = info.name;
  r.optimizer = oe.name;
  r.lr = lr;
  r.seed_index = seed_index;
  r.seed = seed;
  try {
    // The global generator drives model initialisation and any randomness
    // inside optimizers (Hutchinson probes, random subspaces).
    torch::manual_seed(seed);
    auto trial = w.trial(seed, seed_index);
    auto params = trial->parameters();
    for (const auto& p : params) r.param_count += p.numel();
    std::vector<GroupSpec> groups(1);
    groups[0].params = params;
    OptionMap defaults;
    OptionValue v;
    v.kind = OptionValue::Kind::number;
    v.number = lr;
    defaults["lr"] = v;
    auto opt = Registry::instance().make(oe.name, std::move(groups), defaults);
    install_hessian_estimator(oe.name, *opt, *trial);

    const Eval e0 = trial->evaluate(false);
    r.eval_steps.push_back(0);
    r.val_loss.push_back(e0.loss);
    r.val_acc.push_back(e0.accuracy);
    if (trial->has_point()) r.trajectory.push_back(trial->point());
    if (meets(info, e0)) {
      r.steps_to_target = 0;
      r.time_to_target_s = 0;
    }
    const bool graph = oe.needs_graph;
    // With create_graph the gradients hold graphs that reference the
    // parameters; setting them to none (rather than zeroing) frees those graphs.
    auto clear_grads = [&] {
      for (auto& p : params) p.mutable_grad() = torch::Tensor();
    };
    auto closure = [&]() -> torch::Tensor {
      if (graph) clear_grads();
      else opt->zero_grad();
      auto loss = trial->loss();
      loss.backward({}, c10::nullopt, graph);
      return loss;
    };
    const int bucket = std::max(1, (info.steps + 199) / 200);
    double bucket_sum = 0;
    int bucket_n = 0;
    double initial_loss = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> step_ms, opt_ms;
    step_ms.reserve(static_cast<std::size_t>(info.steps));
    opt_ms.reserve(static_cast<std::size_t>(info.steps));
    double train_s = 0;
    Eval last = e0;
    for (int step = 1; step <= info.steps; ++step) {
      if (stop != nullptr && stop->load()) {
        r.status = RunStatus::interrupted;
        break;
      }
      trial->next_batch(step);
      const auto t0 = Clock::now();
      torch::Tensor loss;
      double t_opt = 0;
      if (oe.needs_closure) {
        loss = opt->step(closure);
        t_opt = seconds_since(t0);
      } else {
        loss = closure();
        const auto t1 = Clock::now();
        opt->step();
        t_opt = seconds_since(t1);
      }
      const double dt = seconds_since(t0);
      train_s += dt;
      step_ms.push_back(dt * 1e3);
      opt_ms.push_back(t_opt * 1e3);
      r.steps_done = step;
      const double lv = loss.defined() ? loss.detach().item<double>() : std::numeric_limits<double>::quiet_NaN();
      if (step == 1) initial_loss = lv;
      if (trial->has_point()) r.trajectory.push_back(trial->point());
      if (!std::isfinite(lv) || (std::isfinite(initial_loss) && std::fabs(lv) > 1e6 * std::max(1.0, std::fabs(initial_loss)))) {
        r.status = RunStatus::diverged;
        r.error = "loss " + std::to_string(lv) + " at step " + std::to_string(step);
        break;
      }
      bucket_sum += lv;
      ++bucket_n;
      if (bucket_n == bucket || step == info.steps) {
        r.train_steps.push_back(step);
        r.train_loss.push_back(bucket_sum / bucket_n);
        bucket_sum = 0;
        bucket_n = 0;
      }
      if (step % info.eval_every == 0 || step == info.steps) {
        last = trial->evaluate(false);
        r.eval_steps.push_back(step);
        r.val_loss.push_back(last.loss);
        r.val_acc.push_back(last.accuracy);
        if (!std::isfinite(last.loss)) {
          r.status = RunStatus::diverged;
          r.error = "validation loss not finite at step " + std::to_string(step);
          break;
        }
        if (r.steps_to_target < 0 && meets(info, last)) {
          r.steps_to_target = step;
          r.time_to_target_s = train_s;
        }
      }
      if (on_step) on_step(step);
    }
    if (graph) clear_grads();
    r.train_s = train_s;
    r.ms_per_step = median(step_ms);
    r.ms_optimizer = median(opt_ms);
    r.final_val_loss = r.status == RunStatus::diverged ? std::numeric_limits<double>::infinity() : last.loss;
    r.final_val_acc = r.status == RunStatus::diverged ? -1 : last.accuracy;
    if (r.status == RunStatus::ok && info.has_test) {
      const Eval t = trial->evaluate(true);
      r.test_loss = t.loss;
      r.test_acc = t.accuracy;
    }
    r.state_bytes = state_tensor_bytes(*opt);
  } catch (const std::exception& e) {
    r.status = RunStatus::failed;
    r.error = e.what();
    r.final_val_loss = std::numeric_limits<double>::infinity();
    r.final_val_acc = -1;
  }
  return r;
}

// ---- the plan ------------------------------------------------------------------------------

namespace {

std::vector<std::string> dedup(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& s : v)
    if (seen.insert(s).second) out.push_back(s);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Plan make_plan(const BenchOptions& o) {
  if (o.suite != "quick" && o.suite != "full")
    throw std::invalid_argument("unknown suite '" + o.suite + "'; valid suites: quick, full");
  Plan plan;
  // Optimizers.
  const auto& reg = Registry::instance();
  std::vector<std::string> names;
  if (o.optimizers.empty() || (o.optimizers.size() == 1 && o.optimizers[0] == "default")) {
    names = o.suite == "quick" ? family_representatives() : reg.names();
  } else if (o.optimizers.size() == 1 && o.optimizers[0] == "all") {
    names = reg.names();
  } else {
    std::vector<std::string> unknown;
    for (const auto& n : o.optimizers)
      if (reg.find(n) == nullptr) unknown.push_back(n);
    if (!unknown.empty())
      throw std::invalid_argument(std::string("unknown optimizer") + (unknown.size() > 1 ? "s" : "") + " '" +
                                  join(unknown) + "'; registered optimizers: " + join(reg.names()) +
                                  " (or 'all')");
    names = dedup(o.optimizers);
  }
  for (const auto& n : names) {
    const auto* e = reg.find(n);
    OptimizerEntry oe;
    oe.name = n;
    oe.family = family_of(n);
    oe.needs_closure = e->info.needs_closure;
    oe.needs_graph = e->info.needs_graph;
    oe.base_lr = base_lr(n);
    plan.optimizers.push_back(oe);
  }
  // Workloads.
  std::vector<std::string> wn = o.workloads.empty() ? workload_names() : dedup(o.workloads);
  {
    std::vector<std::string> unknown;
    for (const auto& n : wn)
      if (std::find(workload_names().begin(), workload_names().end(), n) == workload_names().end())
        unknown.push_back(n);
    if (!unknown.empty())
      throw std::invalid_argument(std::string("unknown workload") + (unknown.size() > 1 ? "s" : "") + " '" +
                                  join(unknown) + "'; valid workloads: " + join(workload_names()));
  }
  for (const auto& n : wn) plan.workloads.push_back(std::shared_ptr<Workload>(make_workload(n, o.suite)));
  // Data: load now, so a missing package is reported before anything runs.
  for (auto& w : plan.workloads) w->prepare();
  plan.seeds = o.seeds > 0 ? o.seeds : 3;
  return plan;
}

// ---- one cell: grid, choice, seeds -------------------------------------------------------------

CellOutcome run_cell(Workload& w, const OptimizerEntry& oe, int seeds, std::uint64_t base_seed,
                     const std::atomic<bool>* stop, const RunEvents& ev) {
  const auto& info = w.info();
  CellOutcome out;
  CellResult& c = out.cell;
  c.workload = info.name;
  c.optimizer = oe.name;
  c.family = oe.family;
  auto stopped = [&] { return stop != nullptr && stop->load(); };
  auto run = [&](double lr, int k, const char* phase) {
    if (ev.begin) ev.begin(info.name + " | " + oe.name + " | lr " + lr_text(lr) + " | seed " + std::to_string(k),
                           info.steps);
    const auto t0 = Clock::now();
    RunResult r = train_run(w, oe, lr, k, seed_of(base_seed, k), stop, ev.step);
    r.phase = phase;
    if (ev.end) ev.end(info.name, info.steps, r.steps_done, seconds_since(t0));
    out.runs.push_back(std::move(r));
    return out.runs.size() - 1;
  };
  // 1. the lr grid, first seed
  for (double m : info.lr_multipliers) {
    if (stopped()) break;
    c.grid_runs.push_back(run(oe.base_lr * m, 0, "grid"));
  }
  // 2. the choice, on validation data only
  std::size_t best = SIZE_MAX;
  for (auto i : c.grid_runs) {
    const auto& r = out.runs[i];
    if (r.status != RunStatus::ok || !std::isfinite(primary(info, r))) continue;
    if (best == SIZE_MAX || better(info, primary(info, r), primary(info, out.runs[best]))) best = i;
  }
  const int extra = seeds - 1;
  if (best == SIZE_MAX) {
    // Nothing to choose: say why, and drop the seed runs from the plan.
    std::set<std::string> errors;
    bool all_failed = !c.grid_runs.empty();
    for (auto i : c.grid_runs) {
      if (out.runs[i].status != RunStatus::failed) all_failed = false;
      if (!out.runs[i].error.empty()) errors.insert(out.runs[i].error);
    }
    if (stopped()) c.skipped = "interrupted before a learning rate was chosen";
    else if (all_failed) c.skipped = "cannot train this workload: " + join({errors.begin(), errors.end()});
    else c.skipped = "diverged at every learning rate of the grid";
    if (ev.unplan) ev.unplan(info.name, extra, info.steps);
    return out;
  }
  // 3. more seeds at the chosen lr
  c.best_lr = out.runs[best].lr;
  c.best_at_edge = best == c.grid_runs.front() || best == c.grid_runs.back();
  c.seed_runs.push_back(best);
  for (int k = 1; k <= extra; ++k) {
    if (stopped()) break;
    c.seed_runs.push_back(run(c.best_lr, k, "seed"));
  }
  aggregate(info, c, out.runs);
  return out;
}

// ---- worker processes --------------------------------------------------------------------------
//
// With --jobs N > 1, cells run in N forked worker processes, each with its own
// LibTorch state (so the global generator that seeds models and optimizers is
// not shared) and intra-op threads as given by --threads. Results come back as
// JSON lines over a pipe and are merged in plan order, so the numbers do not
// depend on N or on scheduling.

namespace {

json dbl(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}
double dbl_of(const json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::quiet_NaN();
}
json dvec(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(dbl(x));
  return a;
}
std::vector<double> dvec_of(const json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(dbl_of(x));
  return v;
}

json run_ipc(const RunResult& r) {
  json t = json::array();
  for (const auto& p : r.trajectory) t.push_back({dbl(p[0]), dbl(p[1])});
  return {{"w", r.workload}, {"o", r.optimizer}, {"phase", r.phase}, {"lr", dbl(r.lr)}, {"k", r.seed_index},
          {"seed", r.seed}, {"status", static_cast<int>(r.status)}, {"error", r.error}, {"steps", r.steps_done},
          {"vl", dbl(r.final_val_loss)}, {"va", dbl(r.final_val_acc)}, {"tl", dbl(r.test_loss)},
          {"ta", dbl(r.test_acc)}, {"st", r.steps_to_target}, {"pc", r.param_count}, {"sb", r.state_bytes},
          {"ttt", dbl(r.time_to_target_s)}, {"ts", dbl(r.train_s)}, {"ms", dbl(r.ms_per_step)},
          {"mso", dbl(r.ms_optimizer)}, {"es", r.eval_steps}, {"cvl", dvec(r.val_loss)}, {"cva", dvec(r.val_acc)},
          {"trs", r.train_steps}, {"ctl", dvec(r.train_loss)}, {"traj", t}};
}

RunResult run_of_ipc(const json& j) {
  RunResult r;
  r.workload = j.at("w");
  r.optimizer = j.at("o");
  r.phase = j.at("phase");
  r.lr = dbl_of(j.at("lr"));
  r.seed_index = j.at("k");
  r.seed = j.at("seed");
  r.status = static_cast<RunStatus>(j.at("status").get<int>());
  r.error = j.at("error");
  r.steps_done = j.at("steps");
  r.final_val_loss = dbl_of(j.at("vl"));
  r.final_val_acc = dbl_of(j.at("va"));
  r.test_loss = dbl_of(j.at("tl"));
  r.test_acc = dbl_of(j.at("ta"));
  r.steps_to_target = j.at("st");
  r.param_count = j.at("pc");
  r.state_bytes = j.at("sb");
  r.time_to_target_s = dbl_of(j.at("ttt"));
  r.train_s = dbl_of(j.at("ts"));
  r.ms_per_step = dbl_of(j.at("ms"));
  r.ms_optimizer = dbl_of(j.at("mso"));
  r.eval_steps = j.at("es").get<std::vector<int>>();
  r.val_loss = dvec_of(j.at("cvl"));
  r.val_acc = dvec_of(j.at("cva"));
  r.train_steps = j.at("trs").get<std::vector<int>>();
  r.train_loss = dvec_of(j.at("ctl"));
  for (const auto& p : j.at("traj")) r.trajectory.push_back({dbl_of(p[0]), dbl_of(p[1])});
  return r;
}

json cell_ipc(const CellOutcome& o) {
  const auto& c = o.cell;
  json runs = json::array();
  for (const auto& r : o.runs) runs.push_back(run_ipc(r));
  return {{"w", c.workload}, {"o", c.optimizer}, {"f", c.family}, {"skipped", c.skipped},
          {"grid", c.grid_runs}, {"seeds", c.seed_runs}, {"runs", runs}};
}

// The cell's numbers are recomputed from its runs (aggregate is deterministic).
CellOutcome cell_of_ipc(const json& j, const WorkloadInfo& info) {
  CellOutcome o;
  auto& c = o.cell;
  c.workload = j.at("w");
  c.optimizer = j.at("o");
  c.family = j.at("f");
  c.skipped = j.at("skipped");
  c.grid_runs = j.at("grid").get<std::vector<std::size_t>>();
  c.seed_runs = j.at("seeds").get<std::vector<std::size_t>>();
  for (const auto& r : j.at("runs")) o.runs.push_back(run_of_ipc(r));
  if (!c.seed_runs.empty()) {
    c.best_lr = o.runs[c.seed_runs.front()].lr;
    c.best_at_edge = c.seed_runs.front() == c.grid_runs.front() || c.seed_runs.front() == c.grid_runs.back();
    aggregate(info, c, o.runs);
  }
  return o;
}

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one line from fd (blocking); false at end of file.
bool read_line(int fd, std::string& buffer, std::string& line) {
  while (true) {
    const auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    char tmp[4096];
    const ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(tmp, static_cast<std::size_t>(n));
  }
}

struct Worker {
  pid_t pid = -1;
  int to = -1, from = -1;  // pipes: parent -> worker, worker -> parent
  std::string inbox;
  long cell = -1;          // the cell it is running, -1 idle
  bool quit_sent = false;
  bool alive = false;
};

std::atomic<bool>* g_worker_stop = nullptr;
extern "C" void worker_sigint(int) {
  if (g_worker_stop != nullptr) g_worker_stop->store(true);
}

// The body of a worker process: run the cells the parent names, report back.
[[noreturn]] void worker_main(int in, int out, const std::vector<std::pair<Workload*, const OptimizerEntry*>>& cells,
                              int seeds, std::uint64_t base_seed) {
  static std::atomic<bool> stop{false};
  g_worker_stop = &stop;
  std::signal(SIGINT, worker_sigint);  // Ctrl-C reaches the whole process group: finish the step, report
  std::signal(SIGPIPE, SIG_IGN);
  std::string buffer, line;
  auto send = [&](const json& j) { write_all(out, j.dump() + "\n"); };
  auto last = Clock::now();
  RunEvents ev;
  ev.begin = [&](const std::string& label, int steps) { send({{"t", "begin"}, {"label", label}, {"steps", steps}}); };
  ev.step = [&](int s) {
    if (seconds_since(last) < 0.25) return;
    last = Clock::now();
    send({{"t", "step"}, {"s", s}});
  };
  ev.end = [&](const std::string& w, int planned, int done, double secs) {
    send({{"t", "end"}, {"w", w}, {"planned", planned}, {"done", done}, {"secs", secs}});
  };
  ev.unplan = [&](const std::string& w, int runs, int steps) {
    send({{"t", "unplan"}, {"w", w}, {"runs", runs}, {"steps", steps}});
  };
  while (read_line(in, buffer, line)) {
    if (line == "quit") break;
    const long idx = std::stol(line);
    CellOutcome o;
    try {
      const auto& [w, oe] = cells.at(static_cast<std::size_t>(idx));
      o = run_cell(*w, *oe, seeds, base_seed, &stop, ev);
    } catch (const std::exception& e) {
      o.cell.skipped = std::string("worker error: ") + e.what();
    }
    send({{"t", "cell"}, {"index", idx}, {"cell", cell_ipc(o)}});
  }
  std::fflush(nullptr);
  ::_exit(0);
}

}  // namespace

BenchResult run_plan(const BenchOptions& o, Plan plan, const std::atomic<bool>* stop) {
  BenchResult res;
  res.options = o;
  res.seeds = plan.seeds;
  res.optimizers = plan.optimizers;
  {
    std::time_t t = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
    res.started = buf;
  }
  at::set_num_threads(std::max(1, o.threads));
  const auto t_start = Clock::now();
  Progress progress(o.progress, plan.workloads, std::max(1, o.jobs));
  int total = 0;
  for (const auto& w : plan.workloads) {
    const int per_cell = static_cast<int>(w->info().lr_multipliers.size()) + plan.seeds - 1;
    progress.plan(w->info().name, per_cell * static_cast<int>(plan.optimizers.size()), w->info().steps);
    total += per_cell * static_cast<int>(plan.optimizers.size());
  }
  progress.set_total_runs(total);
  for (const auto& wp : plan.workloads) {
    res.workloads.push_back(wp->info());
    res.functions.push_back(wp->function());
    res.owners.push_back(wp);
  }

  // The cells in plan order (workload-major).
  std::vector<std::pair<Workload*, const OptimizerEntry*>> cells;
  std::vector<const WorkloadInfo*> cell_info;
  for (const auto& wp : plan.workloads)
    for (const auto& oe : plan.optimizers) {
      cells.emplace_back(wp.get(), &oe);
      cell_info.push_back(&wp->info());
    }
  std::vector<std::unique_ptr<CellOutcome>> outcomes(cells.size());
  auto stopped = [&] { return stop != nullptr && stop->load(); };

  RunEvents ev;
  ev.begin = [&](const std::string& label, int steps) { progress.begin_run(label, steps); };
  ev.step = [&](int s) { progress.step(s); };
  ev.end = [&](const std::string& w, int planned, int done, double secs) { progress.end_run(w, planned, done, secs); };
  ev.unplan = [&](const std::string& w, int runs, int steps) {
    progress.unplan(w, runs, steps);
    progress.add_total_runs(-runs);
  };

  const int jobs = std::max(1, std::min<int>(o.jobs, static_cast<int>(cells.size())));
  if (jobs <= 1) {
    for (std::size_t i = 0; i < cells.size() && !stopped(); ++i)
      outcomes[i] = std::make_unique<CellOutcome>(
          run_cell(*cells[i].first, *cells[i].second, plan.seeds, o.seed, stop, ev));
  } else {
    auto previous_pipe = std::signal(SIGPIPE, SIG_IGN);
    std::vector<Worker> workers(static_cast<std::size_t>(jobs));
    std::vector<pid_t> pids(workers.size(), -1);
    const pid_t parent = ::getpid();
    std::size_t next = 0;
    auto spawn = [&](Worker& wk, std::size_t slot) {
      int a[2], b[2];
      if (::pipe(a) != 0 || ::pipe(b) != 0) throw std::runtime_error("bench: pipe() failed");
      std::fflush(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) throw std::runtime_error("bench: fork() failed");
      if (pid == 0) {
        // Die with the parent (a second Ctrl-C kills it outright).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(1);
        ::close(a[1]);
        ::close(b[0]);
        for (auto& other : workers) {
          if (other.to >= 0) ::close(other.to);
          if (other.from >= 0) ::close(other.from);
        }
        worker_main(a[0], b[1], cells, plan.seeds, o.seed);
      }
      ::close(a[0]);
      ::close(b[1]);
      wk = Worker{};
      wk.pid = pid;
      wk.to = a[1];
      wk.from = b[0];
      wk.alive = true;
      pids[slot] = pid;
    };
    auto dispatch = [&](Worker& wk) {
      if (!stopped() && next < cells.size()) {
        wk.cell = static_cast<long>(next);
        write_all(wk.to, std::to_string(next) + "\n");
        ++next;
      } else if (!wk.quit_sent) {
        wk.cell = -1;
        write_all(wk.to, "quit\n");
        wk.quit_sent = true;
      }
    };
    for (std::size_t i = 0; i < workers.size(); ++i) {
      spawn(workers[i], i);
      dispatch(workers[i]);
    }
    bool forwarded = false;
    while (true) {
      if (stopped() && !forwarded) {
        // Ctrl-C from a terminal reaches the workers too; a signal sent to
        // this process alone is passed on. Workers finish their step and report.
        forwarded = true;
        for (auto& wk : workers)
          if (wk.alive) ::kill(wk.pid, SIGINT);
        for (auto& wk : workers)
          if (wk.alive && wk.cell < 0) dispatch(wk);
      }
      std::vector<pollfd> fds;
      std::vector<std::size_t> which;
      for (std::size_t i = 0; i < workers.size(); ++i)
        if (workers[i].alive) {
          fds.push_back({workers[i].from, POLLIN, 0});
          which.push_back(i);
        }
      if (fds.empty()) break;
      const int n = ::poll(fds.data(), fds.size(), 200);
      if (n < 0 && errno != EINTR) break;
      if (n <= 0) continue;
      for (std::size_t f = 0; f < fds.size(); ++f) {
        if ((fds[f].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        Worker& wk = workers[which[f]];
        char tmp[65536];
        const ssize_t got = ::read(wk.from, tmp, sizeof tmp);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          // The worker exited (or died).
          int status = 0;
          ::waitpid(wk.pid, &status, 0);
          ::close(wk.from);
          ::close(wk.to);
          wk.alive = false;
          pids[which[f]] = -1;
          if (wk.cell >= 0) {
            auto oc = std::make_unique<CellOutcome>();
            oc->cell.workload = cells[static_cast<std::size_t>(wk.cell)].first->info().name;
            oc->cell.optimizer = cells[static_cast<std::size_t>(wk.cell)].second->name;
            oc->cell.family = cells[static_cast<std::size_t>(wk.cell)].second->family;
            oc->cell.skipped = WIFSIGNALED(status) ? "the worker process died (signal " +
                                                         std::to_string(WTERMSIG(status)) + ")"
                                                   : "the worker process exited early";
            outcomes[static_cast<std::size_t>(wk.cell)] = std::move(oc);
            if (!stopped() && next < cells.size()) {
              spawn(wk, which[f]);
              dispatch(wk);
            }
          }
          continue;
        }
        wk.inbox.append(tmp, static_cast<std::size_t>(got));
        std::size_t nl;
        while ((nl = wk.inbox.find('\n')) != std::string::npos) {
          const std::string line = wk.inbox.substr(0, nl);
          wk.inbox.erase(0, nl + 1);
          const json m = json::parse(line);
          const std::string t = m.at("t");
          if (t == "begin") ev.begin(m.at("label"), m.at("steps"));
          else if (t == "step") ev.step(m.at("s"));
          else if (t == "end") ev.end(m.at("w"), m.at("planned"), m.at("done"), m.at("secs"));
          else if (t == "unplan") ev.unplan(m.at("w"), m.at("runs"), m.at("steps"));
          else if (t == "cell") {
            const auto idx = m.at("index").get<std::size_t>();
            outcomes[idx] = std::make_unique<CellOutcome>(cell_of_ipc(m.at("cell"), *cell_info[idx]));
            wk.cell = -1;
            dispatch(wk);
          }
        }
      }
    }
    std::signal(SIGPIPE, previous_pipe == SIG_ERR ? SIG_DFL : previous_pipe);
  }

  // Merge in plan order; rank within each workload.
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (!outcomes[i]) continue;
    CellOutcome& oc = *outcomes[i];
    const std::size_t base = res.runs.size();
    for (auto& r : oc.runs) res.runs.push_back(std::move(r));
    for (auto& g : oc.cell.grid_runs) g += base;
    for (auto& s : oc.cell.seed_runs) s += base;
    res.cells.push_back(std::move(oc.cell));
  }
  for (const auto& w : res.workloads) {
    std::vector<CellResult*> cs;
    for (auto& c : res.cells)
      if (c.workload == w.name) cs.push_back(&c);
    rank_cells(w, cs);
  }
  res.interrupted = stopped();
  res.wall_s = seconds_since(t_start);
  progress.finish(res.interrupted ? "bench: interrupted after " + clock_text(res.wall_s) + "; writing the report"
                                  : "bench: done in " + clock_text(res.wall_s));
  return res;
}

}  // namespace descent::bench
