// descent/bench/report.h: the benchmark's outputs.
//
//   OUT/index.html      self-contained report (inline CSS and SVG plots, no
//                       external resources): ranking tables, loss and accuracy
//                       curves, trajectories, lr sensitivity, time and memory bars
//   OUT/results.json    every number: workloads, optimizers, cells, runs (curves,
//                       trajectories, timings)
//   OUT/results.csv     one row per (workload, optimizer) cell
//   OUT/runs.csv        one row per training run
//   OUT/curves.csv      every curve point behind the plots
//   OUT/trajectories.csv  the 2-D trajectories
//   OUT/plots/          the gnuplot script, its data and the SVGs it drew
//
// Plots are drawn by gnuplot (Debian package gnuplot-nox, svg terminal).
#pragma once

#include <descent/bench/protocol.h>

#include <string>

namespace descent::bench {

// Writes everything; returns the path of index.html. If gnuplot is missing the
// report says so in place of each plot (and the message names gnuplot-nox).
std::string write_report(const BenchResult& result, const std::string& out_dir);

// results.json alone (tests compare it across runs).
std::string results_json(const BenchResult& result, bool with_timings = true);

}  // namespace descent::bench
