// The benchmark's report: JSON, CSV, gnuplot SVGs inlined into one HTML page.
#include <descent/bench/report.h>

#include <descent/bench/families.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace descent::bench {

namespace {

using nlohmann::json;

// ---- small helpers -----------------------------------------------------------------------

void make_dirs(const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part + "/";
    ::mkdir(cur.c_str(), 0755);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw std::runtime_error("cannot create folder " + path);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A gnuplot single-quoted string.
std::string gq(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  return out + "'";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

std::string num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A CSV value, empty when not applicable (the results use negative sentinels
// for accuracies, test metrics and steps to target that do not apply).
std::string na(double v) { return v < 0 ? "" : num(v); }

// A JSON number, or null when not finite (JSON has no inf / nan).
json jnum(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return out;
}

// Colours (the ten of matplotlib's "tab10", distinct on screen and in print)
// and dash types: optimizer i keeps the same style in every plot; after ten
// optimizers the colours repeat with another dash pattern.
const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kNumColors = 10;

std::string style_of(int i) {
  return "lc rgb '" + std::string(kColors[i % kNumColors]) + "' dt " + std::to_string(1 + (i / kNumColors) % 5);
}

// ---- JSON and CSV ---------------------------------------------------------------------------

json workload_json(const WorkloadInfo& w, const Function2D* f) {
  json j = {{"name", w.name},
            {"title", w.title},
            {"description", w.description},
            {"kind", kind_name(w.kind)},
            {"package", w.package},
            {"loss_name", w.loss_name},
            {"has_accuracy", w.has_accuracy},
            {"has_test", w.has_test},
            {"primary_metric", w.higher_is_better ? "val_acc" : "val_loss"},
            {"target", w.target},
            {"target_text", w.target_text},
            {"steps", w.steps},
            {"eval_every", w.eval_every},
            {"batch", w.batch},
            {"lr_multipliers", w.lr_multipliers},
            {"sizes", w.sizes}};
  if (f != nullptr) {
    j["function"] = {{"formula", f->gnuplot}, {"f_min", f->f_min}, {"start", f->start}, {"minima", f->minima}};
  }
  return j;
}

json run_json(const RunResult& r, bool with_timings) {
  json j = {{"workload", r.workload},
            {"optimizer", r.optimizer},
            {"phase", r.phase},
            {"lr", r.lr},
            {"seed_index", r.seed_index},
            {"seed", r.seed},
            {"status", status_name(r.status)},
            {"error", r.error},
            {"steps_done", r.steps_done},
            {"final_val_loss", jnum(r.final_val_loss)},
            {"final_val_acc", r.final_val_acc >= 0 ? json(r.final_val_acc) : json(nullptr)},
            {"test_loss", r.test_loss >= 0 ? jnum(r.test_loss) : json(nullptr)},
            {"test_acc", r.test_acc >= 0 ? json(r.test_acc) : json(nullptr)},
            {"steps_to_target", r.steps_to_target >= 0 ? json(r.steps_to_target) : json(nullptr)},
            {"param_count", r.param_count},
            {"state_bytes", r.state_bytes}};
  json curves = {{"eval_steps", r.eval_steps}, {"train_steps", r.train_steps}};
  json vl = json::array(), va = json::array(), tl = json::array();
  for (double v : r.val_loss) vl.push_back(jnum(v));
  for (double v : r.val_acc) va.push_back(v >= 0 ? json(v) : json(nullptr));
  for (double v : r.train_loss) tl.push_back(jnum(v));
  curves["val_loss"] = vl;
  curves["val_acc"] = va;
  curves["train_loss"] = tl;
  j["curves"] = curves;
  if (!r.trajectory.empty()) {
    json t = json::array();
    for (const auto& p : r.trajectory) t.push_back({jnum(p[0]), jnum(p[1])});
    j["trajectory"] = t;
  }
  if (with_timings)
    j["timing"] = {{"ms_per_step", r.ms_per_step},
                   {"ms_optimizer", r.ms_optimizer},
                   {"train_s", r.train_s},
                   {"time_to_target_s", r.time_to_target_s >= 0 ? json(r.time_to_target_s) : json(nullptr)}};
  return j;
}

json cell_json(const CellResult& c, bool with_timings) {
  auto opt = [](double v) { return v >= 0 ? jnum(v) : json(nullptr); };
  json j = {{"workload", c.workload},
            {"optimizer", c.optimizer},
            {"family", c.family},
            {"skipped", c.skipped},
            {"grid_runs", c.grid_runs},
            {"seed_runs", c.seed_runs},
            {"best_lr", c.best_lr},
            {"best_lr_at_grid_edge", c.best_at_edge},
            {"seeds_ok", c.seeds_ok},
            {"val_loss_mean", c.seeds_ok > 0 ? jnum(c.val_loss_mean) : json(nullptr)},
            {"val_loss_std", c.seeds_ok > 0 ? jnum(c.val_loss_std) : json(nullptr)},
            {"val_acc_mean", opt(c.val_acc_mean)},
            {"val_acc_std", c.val_acc_mean >= 0 ? jnum(c.val_acc_std) : json(nullptr)},
            {"test_loss_mean", opt(c.test_loss_mean)},
            {"test_loss_std", c.test_loss_mean >= 0 ? jnum(c.test_loss_std) : json(nullptr)},
            {"test_acc_mean", opt(c.test_acc_mean)},
            {"test_acc_std", c.test_acc_mean >= 0 ? jnum(c.test_acc_std) : json(nullptr)},
            {"reached_target", c.reached_target},
            {"steps_to_target_median", opt(c.steps_to_target_median)},
            {"state_bytes", c.state_bytes},
            {"param_count", c.param_count},
            {"state_bytes_per_param",
             c.param_count > 0 ? json(static_cast<double>(c.state_bytes) / static_cast<double>(c.param_count))
                               : json(nullptr)},
            {"rank", c.rank}};
  if (with_timings)
    j["timing"] = {{"ms_per_step", c.ms_per_step},
                   {"ms_optimizer", c.ms_optimizer},
                   {"time_to_target_median_s", opt(c.time_to_target_median)}};
  return j;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  return "unknown CPU";
}

}  // namespace

std::string results_json(const BenchResult& r, bool with_timings) {
  json j;
  j["format"] = "descent-bench/1";
  j["command"] = r.options.command;
  j["suite"] = r.options.suite;
  j["seed"] = r.options.seed;
  j["seeds"] = r.seeds;
  j["threads"] = r.options.threads;
  j["jobs"] = r.options.jobs;
  j["interrupted"] = r.interrupted;
  if (with_timings) {
    j["started"] = r.started;
    j["wall_s"] = r.wall_s;
    j["machine"] = {{"cpu", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()}};
  }
  json ws = json::array();
  for (std::size_t i = 0; i < r.workloads.size(); ++i) ws.push_back(workload_json(r.workloads[i], r.functions[i]));
  j["workloads"] = ws;
  json os = json::array();
  for (const auto& o : r.optimizers)
    os.push_back({{"name", o.name},
                  {"family", o.family},
                  {"family_title", family_title(o.family)},
                  {"needs_closure", o.needs_closure},
                  {"needs_graph", o.needs_graph},
                  {"base_lr", o.base_lr}});
  j["optimizers"] = os;
  json cs = json::array();
  for (const auto& c : r.cells) cs.push_back(cell_json(c, with_timings));
  j["cells"] = cs;
  json rs = json::array();
  for (const auto& run : r.runs) rs.push_back(run_json(run, with_timings));
  j["runs"] = rs;
  return j.dump(1);
}

namespace {

void write_csvs(const BenchResult& r, const std::string& out) {
  {
    std::ostringstream s;
    s << "workload,optimizer,family,rank,skipped,best_lr,best_lr_at_grid_edge,seeds,seeds_ok,val_loss_mean,val_loss_std,"
         "val_acc_mean,val_acc_std,test_loss_mean,test_loss_std,test_acc_mean,test_acc_std,reached_target,"
         "steps_to_target_median,time_to_target_median_s,ms_per_step,ms_optimizer,state_bytes,param_count\n";
    for (const auto& c : r.cells)
      s << c.workload << ',' << c.optimizer << ',' << c.family << ',' << c.rank << ',' << csv_field(c.skipped) << ','
        << num(c.best_lr) << ',' << (c.best_at_edge ? 1 : 0) << ',' << c.seed_runs.size() << ',' << c.seeds_ok << ','
        << (c.seeds_ok > 0 ? num(c.val_loss_mean) : "") << ',' << (c.seeds_ok > 0 ? num(c.val_loss_std) : "") << ','
        << na(c.val_acc_mean) << ','
        << (c.val_acc_mean < 0 ? "" : num(c.val_acc_std)) << ',' << na(c.test_loss_mean) << ','
        << (c.test_loss_mean < 0 ? "" : num(c.test_loss_std)) << ',' << na(c.test_acc_mean) << ','
        << (c.test_acc_mean < 0 ? "" : num(c.test_acc_std)) << ',' << c.reached_target << ','
        << na(c.steps_to_target_median) << ',' << na(c.time_to_target_median) << ',' << num(c.ms_per_step) << ','
        << num(c.ms_optimizer) << ',' << c.state_bytes << ',' << c.param_count << '\n';
    write_file(out + "/results.csv", s.str());
  }
  {
    std::ostringstream s;
    s << "workload,optimizer,phase,lr,seed_index,seed,status,error,steps_done,final_val_loss,final_val_acc,test_loss,"
         "test_acc,steps_to_target,time_to_target_s,train_s,ms_per_step,ms_optimizer,state_bytes,param_count\n";
    for (const auto& x : r.runs)
      s << x.workload << ',' << x.optimizer << ',' << x.phase << ',' << num(x.lr) << ',' << x.seed_index << ','
        << x.seed << ',' << status_name(x.status) << ',' << csv_field(x.error) << ',' << x.steps_done << ','
        << num(x.final_val_loss) << ',' << na(x.final_val_acc) << ',' << na(x.test_loss) << ',' << na(x.test_acc)
        << ',' << na(x.steps_to_target) << ',' << na(x.time_to_target_s) << ',' << num(x.train_s) << ','
        << num(x.ms_per_step) << ',' << num(x.ms_optimizer) << ',' << x.state_bytes << ',' << x.param_count << '\n';
    write_file(out + "/runs.csv", s.str());
  }
  {
    std::ostringstream s;
    s << "workload,optimizer,phase,lr,seed_index,series,step,value\n";
    for (const auto& x : r.runs) {
      auto emit = [&](const char* series, const std::vector<int>& steps, const std::vector<double>& vals) {
        for (std::size_t i = 0; i < steps.size() && i < vals.size(); ++i)
          s << x.workload << ',' << x.optimizer << ',' << x.phase << ',' << num(x.lr) << ',' << x.seed_index << ','
            << series << ',' << steps[i] << ',' << num(vals[i]) << '\n';
      };
      emit("val_loss", x.eval_steps, x.val_loss);
      if (!x.val_acc.empty() && x.val_acc.front() >= 0) emit("val_acc", x.eval_steps, x.val_acc);
      emit("train_loss", x.train_steps, x.train_loss);
    }
    write_file(out + "/curves.csv", s.str());
  }
  {
    std::ostringstream s;
    s << "workload,optimizer,phase,lr,seed_index,step,x,y\n";
    for (const auto& x : r.runs)
      for (std::size_t i = 0; i < x.trajectory.size(); ++i)
        s << x.workload << ',' << x.optimizer << ',' << x.phase << ',' << num(x.lr) << ',' << x.seed_index << ','
          << i << ',' << num(x.trajectory[i][0]) << ',' << num(x.trajectory[i][1]) << '\n';
    write_file(out + "/trajectories.csv", s.str());
  }
}

// ---- plots -------------------------------------------------------------------------------

struct Plot {
  std::string id;       // file stem
  std::string caption;
  std::string script;   // gnuplot commands drawing id.svg
  bool panel = false;   // small trajectory panel
};

struct PlotSet {
  std::string dir;  // OUT/plots
  std::vector<Plot> plots;
  std::string preamble;  // contour tables
  int data_files = 0;
  std::string data(const std::string& stem, const std::string& text) {
    const std::string rel = "data/" + stem + ".dat";
    write_file(dir + "/" + rel, text);
    ++data_files;
    return rel;
  }
};

std::string terminal(int w, int h, const std::string& id) {
  return "reset\nset terminal svg size " + std::to_string(w) + "," + std::to_string(h) +
         " noenhanced font 'sans,10' background rgb 'white'\nset output " + gq(id + ".svg") + "\n";
}

const std::string kGrid = "set grid lc rgb '#dddddd'\nset border lc rgb '#555555'\n";

int optimizer_index(const BenchResult& r, const std::string& name) {
  for (std::size_t i = 0; i < r.optimizers.size(); ++i)
    if (r.optimizers[i].name == name) return static_cast<int>(i);
  return 0;
}

// The ok seed runs of a cell.
std::vector<const RunResult*> ok_seeds(const BenchResult& r, const CellResult& c) {
  std::vector<const RunResult*> out;
  for (auto i : c.seed_runs)
    if (r.runs[i].status == RunStatus::ok) out.push_back(&r.runs[i]);
  return out;
}

// Mean over seeds at each step (runs share their step lists).
std::vector<std::pair<int, double>> mean_curve(const std::vector<const RunResult*>& runs,
                                               const std::vector<int> RunResult::*steps,
                                               const std::vector<double> RunResult::*vals) {
  std::vector<std::pair<int, double>> out;
  if (runs.empty()) return out;
  const auto& s0 = runs.front()->*steps;
  for (std::size_t i = 0; i < s0.size(); ++i) {
    double sum = 0;
    int n = 0;
    for (const auto* r : runs) {
      const auto& s = r->*steps;
      const auto& v = r->*vals;
      if (i < s.size() && i < v.size() && s[i] == s0[i] && std::isfinite(v[i])) {
        sum += v[i];
        ++n;
      }
    }
    if (n > 0) out.emplace_back(s0[i], sum / n);
  }
  return out;
}

std::vector<const CellResult*> cells_of(const BenchResult& r, const std::string& workload) {
  std::vector<const CellResult*> out;
  for (const auto& c : r.cells)
    if (c.workload == workload) out.push_back(&c);
  return out;
}

// Ranked cells first (by rank), then the others in optimizer order.
std::vector<const CellResult*> display_order(std::vector<const CellResult*> cells) {
  std::stable_sort(cells.begin(), cells.end(), [](const CellResult* a, const CellResult* b) {
    const int ra = a->rank > 0 ? a->rank : 1 << 30, rb = b->rank > 0 ? b->rank : 1 << 30;
    return ra < rb;
  });
  return cells;
}

int key_height(std::size_t series) { return std::max(330, static_cast<int>(series) * 15 + 90); }

// One line plot per (workload, kind): the series (gnuplot "file using ... title ..." clauses) with the key
// outside on the right; axes holds the axis set-up lines; log_y puts y on a log scale.
void push_line_plot(PlotSet& ps, std::string id, std::string caption, const std::vector<std::string>& series,
                    const std::string& axes, bool log_y) {
  Plot p;
  p.id = std::move(id);
  p.caption = std::move(caption);
  std::ostringstream s;
  s << terminal(760, key_height(series.size()), p.id) << kGrid << "set key outside right top spacing 0.9\n" << axes;
  if (log_y) s << "set logscale y\nset format y '%.0e'\n";
  s << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i) s << (i ? ", \\\n     " : "") << series[i];
  s << "\n";
  p.script = s.str();
  ps.plots.push_back(std::move(p));
}

void curve_plot(PlotSet& ps, const BenchResult& r, const WorkloadInfo& w, const std::vector<const CellResult*>& cells,
                const std::string& kind) {
  // kind: val_loss | val_acc | train_loss
  const bool acc = kind == "val_acc";
  const bool log = !acc && w.log_loss;
  std::vector<std::string> series;
  for (const auto* c : cells) {
    auto runs = ok_seeds(r, *c);
    if (runs.empty()) continue;
    auto curve = kind == "train_loss" ? mean_curve(runs, &RunResult::train_steps, &RunResult::train_loss)
                 : acc               ? mean_curve(runs, &RunResult::eval_steps, &RunResult::val_acc)
                                     : mean_curve(runs, &RunResult::eval_steps, &RunResult::val_loss);
    std::ostringstream d;
    int pts = 0;
    for (const auto& [s, v] : curve) {
      double y = v;
      if (log) {
        if (!(y > 0)) y = 1e-12;  // f - f* can reach 0: floor it for the log axis
      }
      d << s << ' ' << num(acc ? 100 * y : y) << '\n';
      ++pts;
    }
    if (pts == 0) continue;
    const auto file = ps.data(w.name + "__" + kind + "__" + c->optimizer, d.str());
    series.push_back(gq(file) + " using 1:2 with lines lw 1.6 " + style_of(optimizer_index(r, c->optimizer)) +
                     " title " + gq(c->optimizer));
  }
  if (series.empty()) return;
  const std::string what = kind == "train_loss" ? "training loss (minibatch, averaged over " +
                                                      std::to_string(std::max(1, (w.steps + 199) / 200)) + " steps)"
                           : acc               ? "validation accuracy (%)"
                                               : w.loss_name;
  push_line_plot(ps, w.name + "__" + kind,
                 w.title + ": " + what + " against steps, mean over seeds at each optimizer's chosen lr" +
                     (log ? " (log scale)" : "") + ".",
                 series, "set xlabel 'step'\nset ylabel " + gq(what) + "\n", log);
}

void lr_plot(PlotSet& ps, const BenchResult& r, const WorkloadInfo& w, const std::vector<const CellResult*>& cells) {
  const bool acc = w.higher_is_better;
  const bool log = !acc && w.log_loss;
  std::vector<std::string> series;
  for (const auto* c : cells) {
    std::ostringstream d;
    int pts = 0;
    for (auto i : c->grid_runs) {
      const auto& run = r.runs[i];
      if (run.status != RunStatus::ok) continue;
      double y = acc ? 100 * run.final_val_acc : run.final_val_loss;
      if (!std::isfinite(y)) continue;
      if (log && !(y > 0)) y = 1e-12;
      d << num(run.lr) << ' ' << num(y) << '\n';
      ++pts;
    }
    if (pts == 0) continue;
    const auto file = ps.data(w.name + "__lr__" + c->optimizer, d.str());
    series.push_back(gq(file) + " using 1:2 with linespoints pt 7 ps 0.5 lw 1.2 " +
                     style_of(optimizer_index(r, c->optimizer)) + " title " + gq(c->optimizer));
  }
  if (series.empty()) return;
  const std::string what = acc ? "final validation accuracy (%)" : "final " + w.loss_name;
  push_line_plot(ps, w.name + "__lr",
                 w.title + ": learning-rate sensitivity, " + what +
                     " of the first seed at each lr of the grid (diverged runs omitted). The chosen lr is the best "
                     "point of each line.",
                 series, "set logscale x\nset format x '%.0e'\nset xlabel 'learning rate'\nset ylabel " + gq(what) + "\n",
                 log);
}

void bar_plots(PlotSet& ps, const BenchResult& r, const WorkloadInfo& w, const std::vector<const CellResult*>& cells) {
  std::vector<const CellResult*> ok;
  for (const auto* c : cells)
    if (c->seeds_ok > 0) ok.push_back(c);
  if (ok.empty()) return;
  const int h = std::max(200, static_cast<int>(ok.size()) * 18 + 80);
  {
    auto sorted = ok;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const CellResult* a, const CellResult* b) { return a->ms_per_step > b->ms_per_step; });
    std::ostringstream d;
    for (const auto* c : sorted) d << c->optimizer << ' ' << num(c->ms_per_step) << ' ' << num(c->ms_optimizer) << '\n';
    const auto file = ps.data(w.name + "__time", d.str());
    Plot p;
    p.id = w.name + "__time";
    p.caption = w.title + ": time per training step (median over steps, mean over seeds; forward, backward and "
                "step) and the part spent inside optimizer.step() (for closure-driven optimizers this includes "
                "their extra forward/backward passes). Wall-clock times on a shared machine: compare ratios.";
    std::ostringstream s;
    s << terminal(760, h, p.id) << kGrid << "set style fill solid 0.85 border -1\nset key outside top center horizontal\n"
      << "set xlabel 'milliseconds per step'\nset xrange [0:*]\nset yrange [-0.6:" << sorted.size() - 0.4
      << "]\nset ytics nomirror\n"
      << "plot " << gq(file) << " using 2:0:(0):2:($0-0.38):($0+0.38):ytic(1) with boxxyerror lc rgb '#4477AA' "
      << "title 'training step', \\\n     " << gq(file)
      << " using 3:0:(0):3:($0-0.18):($0+0.18) with boxxyerror lc rgb '#EE6677' title 'inside step()'\n";
    p.script = s.str();
    ps.plots.push_back(p);
  }
  if (w.kind == WorkloadKind::classification || w.kind == WorkloadKind::language_model) {
    auto sorted = ok;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const CellResult* a, const CellResult* b) { return a->state_bytes > b->state_bytes; });
    std::ostringstream d;
    for (const auto* c : sorted)
      d << c->optimizer << ' ' << num(static_cast<double>(c->state_bytes) / 1024.0) << ' '
        << num(c->param_count > 0 ? static_cast<double>(c->state_bytes) / static_cast<double>(c->param_count) : 0)
        << '\n';
    const auto file = ps.data(w.name + "__memory", d.str());
    Plot p;
    p.id = w.name + "__memory";
    p.caption = w.title + ": optimizer state memory, the bytes of the tensors in the optimizer's checkpoint after "
                "training (labels: bytes per model parameter; the model has " +
                std::to_string(ok.front()->param_count) + " parameters).";
    std::ostringstream s;
    s << terminal(760, h, p.id) << kGrid << "set style fill solid 0.85 border -1\nunset key\n"
      << "set xlabel 'optimizer state (KiB)'\nset xrange [0:*]\nset offsets 0, graph 0.12, 0, 0\nset yrange [-0.6:"
      << sorted.size() - 0.4 << "]\nset ytics nomirror\n"
      << "plot " << gq(file) << " using 2:0:(0):2:($0-0.38):($0+0.38):ytic(1) with boxxyerror lc rgb '#228833', \\\n"
      << "     " << gq(file) << " using 2:0:(sprintf(' %.2f B/param', $3)) with labels left font 'sans,9'\n";
    p.script = s.str();
    ps.plots.push_back(p);
  }
}

void trajectory_plots(PlotSet& ps, const BenchResult& r, const WorkloadInfo& w, const Function2D& f,
                      const std::vector<const CellResult*>& cells) {
  const std::string contour = "data/" + w.name + "__contours.dat";
  std::ostringstream minima;
  for (const auto& m : f.minima) minima << num(m[0]) << ' ' << num(m[1]) << '\n';
  const std::string mfile = ps.data(w.name + "__minima", minima.str());
  // Contours of log10(f - f* + 1e-3), computed once by gnuplot over the
  // function's box widened by half its size on every side: a panel shows the
  // box, widened (up to that limit) to keep its whole trajectory in view.
  const double wx = f.box[1] - f.box[0], wy = f.box[3] - f.box[2];
  const std::array<double, 4> ext{f.box[0] - wx / 2, f.box[1] + wx / 2, f.box[2] - wy / 2, f.box[3] + wy / 2};
  std::ostringstream pre;
  pre << "reset\nset table " << gq(contour) << "\nunset surface\nset contour base\nset cntrparam levels 14\n"
      << "set isosamples 100,100\nset samples 100,100\nset xrange [" << num(ext[0]) << ":" << num(ext[1])
      << "]\nset yrange [" << num(ext[2]) << ":" << num(ext[3]) << "]\nfmin = " << num(f.f_min)
      << "\nF(x,y) = " << f.gnuplot << "\nsplot log10((F(x,y)-fmin > 0 ? F(x,y)-fmin : 0) + 1e-3) notitle\n"
      << "unset table\n";
  ps.preamble += pre.str();
  for (const auto* c : cells) {
    if (c->seed_runs.empty()) continue;
    const auto& run = r.runs[c->seed_runs.front()];
    if (run.trajectory.empty()) continue;
    std::ostringstream d;
    std::array<double, 4> view = f.box;
    for (const auto& pt : run.trajectory)
      if (std::isfinite(pt[0]) && std::isfinite(pt[1])) {
        d << num(pt[0]) << ' ' << num(pt[1]) << '\n';
        view = {std::min(view[0], std::max(pt[0], ext[0])), std::max(view[1], std::min(pt[0], ext[1])),
                std::min(view[2], std::max(pt[1], ext[2])), std::max(view[3], std::min(pt[1], ext[3]))};
      }
    d << "\n\n" << num(run.trajectory.back()[0]) << ' ' << num(run.trajectory.back()[1]) << "\n\n\n"
      << num(run.trajectory.front()[0]) << ' ' << num(run.trajectory.front()[1]) << '\n';
    const auto file = ps.data(w.name + "__traj__" + c->optimizer, d.str());
    Plot p;
    p.id = w.name + "__traj__" + c->optimizer;
    p.panel = true;
    p.caption = c->optimizer + ": lr " + fmt("%.3g", c->best_lr) + ", final f - f* " + fmt("%.3g", run.final_val_loss);
    std::ostringstream s;
    s << terminal(300, 280, p.id) << "set border lc rgb '#555555'\nunset key\nset tics font 'sans,8'\nset title "
      << gq(c->optimizer + "  (lr " + fmt("%.3g", c->best_lr) + ")") << "\nset xrange [" << num(view[0]) << ":"
      << num(view[1]) << "]\nset yrange [" << num(view[2]) << ":" << num(view[3]) << "]\n"
      << "plot " << gq(contour) << " using 1:2 with lines lc rgb '#c4c4c4' lw 0.7, \\\n"
      << "     " << gq(file) << " index 0 using 1:2 with lines lw 1.8 " << style_of(optimizer_index(r, c->optimizer))
      << ", \\\n     " << gq(file) << " index 1 using 1:2 with points pt 7 ps 0.7 lc rgb '#000000', \\\n"
      << "     " << gq(file) << " index 2 using 1:2 with points pt 6 ps 0.9 lc rgb '#000000', \\\n"
      << "     " << gq(mfile) << " using 1:2 with points pt 3 ps 1.3 lc rgb '#D62728'\n";
    p.script = s.str();
    ps.plots.push_back(p);
  }
}

bool have_gnuplot() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// Runs gnuplot on a script in `dir`; returns its stderr.
std::string run_gnuplot(const std::string& dir, const std::string& script_name) {
  const std::string cmd = "cd " + shell_quote(dir) + " && gnuplot " + shell_quote(script_name) + " 2> " +
                          shell_quote(script_name + ".log");
  (void)std::system(cmd.c_str());
  return read_file(dir + "/" + script_name + ".log");
}

// An SVG from gnuplot, ready to inline: no XML prolog, ids prefixed so that
// several SVGs can share one page.
std::string inline_svg(const std::string& svg, const std::string& prefix) {
  std::string s = svg;
  const auto start = s.find("<svg");
  if (start == std::string::npos) return "";
  s = s.substr(start);
  std::string out;
  out.reserve(s.size() + 1024);
  for (std::size_t i = 0; i < s.size();) {
    auto match = [&](const char* pat) { return s.compare(i, std::strlen(pat), pat) == 0; };
    if (match("id='") || match("id=\"")) {
      out += s.substr(i, 4) + prefix;
      i += 4;
    } else if (match("href='#") || match("href=\"#")) {
      out += s.substr(i, 7) + prefix;
      i += 7;
    } else if (match("url(#")) {
      out += "url(#" + prefix;
      i += 5;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// ---- HTML ------------------------------------------------------------------------------

const char* kCss = R"CSS(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1400px; padding: 1em 2em 4em; color: #222; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { margin-top: 2.2em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.86em; }
div.scroll { overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
tr.unranked td { color: #888; }
.meta td { text-align: left; white-space: normal; }
.banner { background: #fff3cd; border: 1px solid #e0c060; padding: 0.6em 1em; margin: 1em 0; }
figure.plot { margin: 1em 0; }
figure.plot svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #444; max-width: 760px; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 0.4em; }
.panels figure.plot { margin: 0; }
.small { font-size: 0.85em; color: #555; }
td.rank1 { background: #d8f0d8; font-weight: bold; }
td.rank2, td.rank3 { background: #eef8ee; }
code { background: #f4f4f4; padding: 0 0.2em; }
nav a { margin-right: 0.8em; }
p.missing { color: #b00; }
)CSS";

// Marks every plot after layout: data-series (gnuplot plot groups), data-drawn
// (groups with a non-empty bounding box) and data-size (rendered size). The
// Chromium test reads these from the DOM.
const char* kCheckScript = R"JS(
window.addEventListener('load', function () {
  document.querySelectorAll('figure.plot').forEach(function (f) {
    var svg = f.querySelector('svg');
    var series = 0, drawn = 0, size = '0x0';
    if (svg) {
      svg.querySelectorAll('g[id*="gnuplot_plot_"]').forEach(function (g) {
        series++;
        var b = g.getBBox();
        if (b.width > 0 || b.height > 0) drawn++;
      });
      var r = svg.getBoundingClientRect();
      size = Math.round(r.width) + 'x' + Math.round(r.height);
    }
    f.setAttribute('data-series', series);
    f.setAttribute('data-drawn', drawn);
    f.setAttribute('data-size', size);
  });
  document.body.setAttribute('data-plots-checked', document.querySelectorAll('figure.plot').length);
});
)JS";

std::string pm(double mean, double sd, const char* f, double scale = 1) {
  if (!(mean >= 0) && !(mean < 0)) return "–";
  return fmt(f, mean * scale) + " ± " + fmt(f, sd * scale);
}

std::string bytes_text(std::int64_t b) {
  if (b < 10 * 1024) return std::to_string(b) + " B";
  if (b < 10 * 1024 * 1024) return fmt("%.1f KiB", static_cast<double>(b) / 1024);
  return fmt("%.1f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
}

std::string ranking_table(const BenchResult& r, const WorkloadInfo& w, const std::vector<const CellResult*>& cells) {
  std::ostringstream h;
  h << "<div class=scroll><table class=\"ranking\"><tr><th>rank</th><th class=l>optimizer</th><th class=l>family</th><th>lr</th>"
    << "<th>seeds ok</th><th>" << html_escape(w.loss_name) << "<br>(validation, final)</th>";
  if (w.has_accuracy) h << "<th>val accuracy %</th>";
  if (w.has_test) h << "<th>test loss</th>";
  if (w.has_test && w.has_accuracy) h << "<th>test accuracy %</th>";
  h << "<th>reached target</th><th>steps to target<br>(median)</th><th>s to target<br>(median)</th>"
    << "<th>ms / step</th><th>ms in step()</th><th>state</th><th>B / param</th><th class=l>notes</th></tr>\n";
  for (const auto* c : display_order(cells)) {
    std::vector<std::string> notes;
    if (!c->skipped.empty()) notes.push_back(c->skipped);
    if (c->best_at_edge) notes.push_back("chosen lr at the grid's edge");
    const int nseeds = static_cast<int>(c->seed_runs.size());
    if (c->skipped.empty() && c->seeds_ok < nseeds) notes.push_back(std::to_string(nseeds - c->seeds_ok) + " seed(s) diverged or failed");
    if (c->skipped.empty() && nseeds < r.seeds) notes.push_back("interrupted: " + std::to_string(nseeds) + " of " + std::to_string(r.seeds) + " seeds");
    if (c->skipped.empty() && c->grid_runs.size() < w.lr_multipliers.size()) notes.push_back("interrupted: grid incomplete");
    for (const auto& o : r.optimizers)
      if (o.name == c->optimizer && o.needs_closure) notes.push_back(o.needs_graph ? "closure + create_graph" : "closure");
    std::string note;
    for (const auto& n : notes) note += (note.empty() ? "" : "; ") + n;
    const bool ranked = c->rank > 0;
    h << "<tr" << (ranked ? "" : " class=unranked") << ">";
    h << "<td" << (c->rank >= 1 && c->rank <= 3 ? " class=rank" + std::to_string(c->rank) : "") << ">"
      << (ranked ? std::to_string(c->rank) : "–") << "</td>";
    h << "<td class=l>" << html_escape(c->optimizer) << "</td><td class=l>" << html_escape(c->family.empty() ? "unclassified" : c->family) << "</td>";
    if (!ranked) {
      int span = 9 + (w.has_accuracy ? 1 : 0) + (w.has_test ? 1 : 0) + (w.has_test && w.has_accuracy ? 1 : 0);
      h << "<td>" << (c->best_lr > 0 ? fmt("%.3g", c->best_lr) : "–") << "</td><td colspan=" << span - 1 << "></td>"
        << "<td class=l>" << html_escape(note) << "</td></tr>\n";
      continue;
    }
    h << "<td>" << fmt("%.3g", c->best_lr) << "</td><td>" << c->seeds_ok << "/" << nseeds << "</td>";
    h << "<td>" << pm(c->val_loss_mean, c->val_loss_std, "%.4g") << "</td>";
    if (w.has_accuracy) h << "<td>" << pm(c->val_acc_mean, c->val_acc_std, "%.2f", 100) << "</td>";
    if (w.has_test) h << "<td>" << pm(c->test_loss_mean, c->test_loss_std, "%.4g") << "</td>";
    if (w.has_test && w.has_accuracy) h << "<td>" << pm(c->test_acc_mean, c->test_acc_std, "%.2f", 100) << "</td>";
    h << "<td>" << c->reached_target << "/" << c->seeds_ok << "</td>";
    h << "<td>" << (c->steps_to_target_median >= 0 ? fmt("%.0f", c->steps_to_target_median) : "–") << "</td>";
    h << "<td>" << (c->time_to_target_median >= 0 ? fmt("%.3g", c->time_to_target_median) : "–") << "</td>";
    h << "<td>" << fmt("%.3g", c->ms_per_step) << "</td><td>" << fmt("%.3g", c->ms_optimizer) << "</td>";
    h << "<td>" << bytes_text(c->state_bytes) << "</td><td>"
      << (c->param_count > 0 ? fmt("%.2f", static_cast<double>(c->state_bytes) / static_cast<double>(c->param_count)) : "–")
      << "</td>";
    h << "<td class=l>" << html_escape(note) << "</td></tr>\n";
  }
  h << "</table></div>\n";
  return h.str();
}

std::string overview_table(const BenchResult& r) {
  // Ranks of every optimizer on every workload, and the mean rank.
  std::ostringstream h;
  std::vector<std::pair<double, std::string>> order;
  for (const auto& o : r.optimizers) {
    double sum = 0;
    int n = 0;
    for (const auto& c : r.cells)
      if (c.optimizer == o.name && c.rank > 0) {
        sum += c.rank;
        ++n;
      }
    order.emplace_back(n > 0 ? sum / n : 1e9, o.name);
  }
  std::stable_sort(order.begin(), order.end());
  h << "<div class=scroll><table class=\"overview\"><tr><th class=l>optimizer</th><th class=l>family</th><th>mean rank</th>";
  for (const auto& w : r.workloads) h << "<th><a href=\"#" << w.name << "\">" << html_escape(w.name) << "</a></th>";
  h << "</tr>\n";
  for (const auto& [mean, name] : order) {
    h << "<tr><td class=l>" << html_escape(name) << "</td><td class=l>" << html_escape(family_of(name).empty() ? "unclassified" : family_of(name))
      << "</td><td>" << (mean < 1e8 ? fmt("%.1f", mean) : "–") << "</td>";
    for (const auto& w : r.workloads) {
      const CellResult* cell = nullptr;
      for (const auto& c : r.cells)
        if (c.workload == w.name && c.optimizer == name) cell = &c;
      if (cell == nullptr) h << "<td></td>";
      else if (cell->rank > 0)
        h << "<td" << (cell->rank <= 3 ? " class=rank" + std::to_string(cell->rank) : "") << ">" << cell->rank << "</td>";
      else h << "<td title=\"" << html_escape(cell->skipped) << "\">–</td>";
    }
    h << "</tr>\n";
  }
  h << "</table></div>\n";
  return h.str();
}

std::string figure_html(const PlotSet& ps, const Plot& p, bool gnuplot_ok) {
  std::ostringstream h;
  h << "<figure class=\"plot\" id=\"fig-" << html_escape(p.id) << "\">";
  const std::string svg = read_file(ps.dir + "/" + p.id + ".svg");
  const std::string inl = svg.empty() ? "" : inline_svg(svg, "p-" + safe_name(p.id) + "-");
  if (inl.empty()) {
    h << "<p class=\"missing\">plot not drawn: "
      << (gnuplot_ok ? "gnuplot failed (see plots/*.log)" : "gnuplot is not installed (Debian package gnuplot-nox)")
      << "</p>";
  } else {
    h << inl;
  }
  h << "<figcaption>" << html_escape(p.caption) << "</figcaption></figure>\n";
  return h.str();
}

}  // namespace

std::string write_report(const BenchResult& r, const std::string& out) {
  make_dirs(out);
  make_dirs(out + "/plots/data");
  write_file(out + "/results.json", results_json(r, true) + "\n");
  write_csvs(r, out);

  // Plots: one gnuplot script for all, run once; plots it failed to draw are
  // retried one by one so that one bad plot cannot take the others with it.
  PlotSet ps;
  ps.dir = out + "/plots";
  std::map<std::string, std::vector<std::size_t>> by_workload;
  for (std::size_t wi = 0; wi < r.workloads.size(); ++wi) {
    const auto& w = r.workloads[wi];
    const auto cells = display_order(cells_of(r, w.name));
    const std::size_t first = ps.plots.size();
    curve_plot(ps, r, w, cells, "val_loss");
    if (w.has_accuracy) curve_plot(ps, r, w, cells, "val_acc");
    if (w.kind == WorkloadKind::classification || w.kind == WorkloadKind::language_model)
      curve_plot(ps, r, w, cells, "train_loss");
    lr_plot(ps, r, w, cells);
    bar_plots(ps, r, w, cells);
    if (r.functions[wi] != nullptr) trajectory_plots(ps, r, w, *r.functions[wi], cells);
    for (std::size_t i = first; i < ps.plots.size(); ++i) by_workload[w.name].push_back(i);
  }
  const bool gp = have_gnuplot();
  if (gp && !ps.plots.empty()) {
    std::string all = "# descent bench: every plot of the report (run in this folder: gnuplot plots.gp)\n";
    all += ps.preamble;
    for (const auto& p : ps.plots) all += "\n# " + p.id + "\n" + p.script + "set output\n";
    write_file(ps.dir + "/plots.gp", all);
    for (const auto& p : ps.plots) std::remove((ps.dir + "/" + p.id + ".svg").c_str());
    run_gnuplot(ps.dir, "plots.gp");
    for (const auto& p : ps.plots) {
      const std::string svg = read_file(ps.dir + "/" + p.id + ".svg");
      if (svg.find("</svg>") != std::string::npos) continue;
      const std::string one = "single_" + safe_name(p.id) + ".gp";
      write_file(ps.dir + "/" + one, ps.preamble + p.script + "set output\n");
      run_gnuplot(ps.dir, one);
    }
  }

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>descent benchmark: " << r.options.suite
    << " suite</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n";
  h << "<h1>descent optimizer benchmark</h1>\n";
  if (r.interrupted)
    h << "<div class=\"banner\"><b>Interrupted.</b> The run was stopped (Ctrl-C) before it finished; this report "
         "shows what was measured until then. Cells with fewer seeds or an incomplete grid say so in their notes.</div>\n";
  h << "<table class=\"meta\">"
    << "<tr><th class=l>command</th><td><code>" << html_escape(r.options.command) << "</code></td></tr>"
    << "<tr><th class=l>suite</th><td>" << html_escape(r.options.suite) << " (" << r.workloads.size() << " workloads, "
    << r.optimizers.size() << " optimizers, " << r.runs.size() << " training runs)</td></tr>"
    << "<tr><th class=l>seed</th><td>" << r.options.seed << " (" << r.seeds << " seeds per optimizer and workload)</td></tr>"
    << "<tr><th class=l>machine</th><td>" << html_escape(cpu_model()) << ", " << std::thread::hardware_concurrency()
    << " hardware threads; " << r.options.jobs << " worker process(es) with " << r.options.threads
    << " LibTorch intra-op thread(s) each</td></tr>"
    << "<tr><th class=l>started</th><td>" << html_escape(r.started) << "; wall time " << fmt("%.1f", r.wall_s) << " s</td></tr>"
    << "</table>\n";
  h << "<nav><b>Workloads:</b> ";
  for (const auto& w : r.workloads) h << "<a href=\"#" << w.name << "\">" << html_escape(w.name) << "</a>";
  h << "</nav>\n";

  h << "<h2 id=\"reading\">How to read this report</h2>\n<p>Each optimizer is built through descent's registry with its "
       "default options; only the learning rate is tuned. For every workload and optimizer, a small log-spaced grid of "
       "learning rates (the optimizer's default lr times the workload's multipliers) is trained with the first seed; "
       "the lr with the best final <b>validation</b> metric is chosen (validation accuracy for the classifiers, the "
       "validation loss otherwise; the test split is never used for a choice). Then more seeds are trained at that lr "
       "(the grid run is the first seed). Tables show mean ± standard deviation over the seeds that did not diverge. "
       "Rank 1 is the best mean validation metric. <i>Steps to target</i> counts steps until the validation metric "
       "first met the workload's target (checked at every evaluation); <i>s to target</i> is the training time until "
       "then (evaluations excluded). <i>State</i> is the bytes of tensors in the optimizer's checkpoint after training "
       "(moments, windows, inner optimizers). Times are wall-clock on a shared machine: compare ratios, not absolute "
       "values. A chosen lr at the edge of the grid means the grid may not contain the best lr. Everything but the "
       "times is reproducible: the same command gives the same numbers.</p>\n";

  h << "<h2 id=\"overview\">Overview: rank per workload</h2>\n" << overview_table(r);
  h << "<h3>Families</h3>\n<table><tr><th class=l>family</th><th class=l>description</th><th class=l>optimizers in "
       "this run</th></tr>\n";
  {
    std::map<std::string, std::vector<std::string>> members;
    for (const auto& o : r.optimizers) members[o.family].push_back(o.name);
    auto row = [&](const std::string& id, const std::string& title) {
      auto it = members.find(id);
      if (it == members.end()) return;
      std::string m;
      for (const auto& n : it->second) m += (m.empty() ? "" : ", ") + n;
      h << "<tr><td class=l>" << html_escape(id.empty() ? "unclassified" : id) << "</td><td class=l>"
        << html_escape(title) << "</td><td class=l>" << html_escape(m) << "</td></tr>\n";
    };
    for (const auto& f : families()) row(f.id, f.title);
    row("", "not in the family table");
  }
  h << "</table>\n";

  for (std::size_t wi = 0; wi < r.workloads.size(); ++wi) {
    const auto& w = r.workloads[wi];
    const auto cells = cells_of(r, w.name);
    h << "<h2 id=\"" << w.name << "\">" << html_escape(w.title) << " <span class=small>(" << html_escape(w.name)
      << ")</span></h2>\n";
    h << "<p>" << html_escape(w.description) << "</p>\n";
    std::string grid;
    for (double m : w.lr_multipliers) grid += (grid.empty() ? "" : ", ") + fmt("%g", m);
    h << "<p class=small>Steps " << w.steps << "; evaluation every " << w.eval_every << " step(s)"
      << (w.batch > 0 ? "; batch " + std::to_string(w.batch) : "") << "; " << html_escape(w.sizes)
      << "; lr grid: default lr × {" << grid << "}; target: " << html_escape(w.target_text) << ".</p>\n";
    h << ranking_table(r, w, cells);
    const auto it = by_workload.find(w.name);
    if (it != by_workload.end()) {
      bool panels_open = false;
      for (auto i : it->second) {
        const auto& p = ps.plots[i];
        if (p.panel && !panels_open) {
          h << "<h3>Trajectories</h3>\n<p class=small>The first seed's path at each optimizer's chosen lr over "
               "contours of log10(f - f* + 1e-3); open circle: start, dot: end, red crosses: global minima.</p>\n"
               "<div class=\"panels\">\n";
          panels_open = true;
        }
        if (!p.panel && panels_open) {
          h << "</div>\n";
          panels_open = false;
        }
        h << figure_html(ps, p, gp);
      }
      if (panels_open) h << "</div>\n";
    }
  }
  h << "<h2 id=\"files\">Files</h2>\n<p>Next to this page: <code>results.json</code> (every number, curves and "
       "trajectories included), <code>results.csv</code> (one row per workload and optimizer), <code>runs.csv</code> "
       "(one row per training run), <code>curves.csv</code>, <code>trajectories.csv</code>, and <code>plots/</code> "
       "(the gnuplot script <code>plots.gp</code>, its data and the SVGs).</p>\n";
  if (!gp) h << "<p class=missing>gnuplot was not found, so no plots were drawn: install the Debian package gnuplot-nox.</p>\n";
  h << "<script>" << kCheckScript << "</script>\n</body></html>\n";
  const std::string index = out + "/index.html";
  write_file(index, h.str());
  return index;
}

}  // namespace descent::bench
