#!/usr/bin/env bash
# Measures step speed for docs/performance.md (run on an idle machine after
# scripts/build.sh): every registered optimizer at 16M float32 parameters as 1
# and as 200 tensors, the small-model case (100k parameters in 50 tensors), the
# bfloat16 modes, and the size/thread sweep. JSON lines go to $OUT (default
# perf/), the sweep's plot to $OUT/sweep.svg (gnuplot).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-perf}
D="$BUILD_DIR/descent"
mkdir -p "$OUT"
# Matrix and curvature methods are not elementwise steps (Newton-Schulz,
# M-FAC's gradient window of 1024 x numel, SVD projections): their costs are
# measured by `descent curvature-bench` and the benchmark, not here.
# adahessian needs a Hessian estimate (a graph through the gradients) that a
# bare step-bench cannot give it; its elementwise update is sophia-like.
skip=" muon mfac frugal galore_adamw adahessian "
names=${NAMES:-$("$D" list | awk 'NR > 1 && /^[a-z]/ {print $1}')}  # NAMES="a b": only those
sb() { "$D" step-bench --threads 2 --json "$@"; }
if [ -z "${APPEND:-}" ]; then : > "$OUT/large.jsonl"; : > "$OUT/small.jsonl"; fi  # APPEND=1: add to them
for opt in $names; do
  case "$skip" in *" $opt "*) continue ;; esac
  for k in 1 200; do
    sb --optimizer "$opt" --numel 16777216 --tensors "$k" >> "$OUT/large.jsonl"
  done
  sb --optimizer "$opt" --numel 100000 --tensors 50 >> "$OUT/small.jsonl"
done
# SGD with momentum (the default above is plain SGD), and the multi-tensor
# scheduler switched off for comparison.
for k in 1 200; do
  sb --optimizer sgd --options '{"momentum":0.9}' --numel 16777216 --tensors "$k" >> "$OUT/large.jsonl"
done
sb --optimizer sgd --options '{"momentum":0.9}' --numel 100000 --tensors 50 >> "$OUT/small.jsonl"
: > "$OUT/nobatch.jsonl"
for k in 200 50; do
  n=16777216; [ "$k" = 50 ] && n=100000
  sb --optimizer adamw --numel "$n" --tensors "$k" --no-batch >> "$OUT/nobatch.jsonl"
  sb --optimizer sgd --options '{"momentum":0.9}' --numel "$n" --tensors "$k" --no-batch >> "$OUT/nobatch.jsonl"
done
# 8-bit block-wise state (issue 7): bitsandbytes' Adam and state_dtype=int8 across the zoo.
: > "$OUT/int8.jsonl"
for opt in adam lion sgd adabelief ademamix adan; do
  o='{"state_dtype":"int8"}'
  [ "$opt" = sgd ] && o='{"state_dtype":"int8","momentum":0.9}'
  sb --optimizer "$opt" --options "$o" --numel 16777216 --no-libtorch >> "$OUT/int8.jsonl"
done
: > "$OUT/bf16.jsonl"
for mode in nearest master_weights stochastic_rounding; do
  for opt in adamw sgd lion; do
    sb --optimizer "$opt" --numel 16777216 --dtype bf16 --bf16-mode "$mode" >> "$OUT/bf16.jsonl"
  done
done
"$D" step-bench --optimizer adamw --sweep --json > "$OUT/sweep.json"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = json.load(open(f"{out}/sweep.json"))
for t in (1, 2):
    with open(f"{out}/sweep_t{t}.dat", "w") as f:
        for r in rows:
            if r["threads"] == t:
                f.write(f'{r["numel"]} {r["ms_per_step"]*1e6/r["numel"]} {r["gbps"]} {r["bandwidth_gbps"]}\n')
PY
gnuplot <<GP
set terminal svg size 800,420 dynamic font "sans,11"
set output "$OUT/sweep.svg"
set logscale x 2
set xlabel "parameters (float32, one tensor)"
set ylabel "GB/s"
set key top right
set grid
set title "AdamW step: achieved bandwidth against size (descent step-bench --sweep)"
plot "$OUT/sweep_t1.dat" using 1:3 with linespoints title "descent, 1 thread", \
     "$OUT/sweep_t2.dat" using 1:3 with linespoints title "descent, 2 threads", \
     "$OUT/sweep_t1.dat" using 1:4 with lines dashtype 2 title "stream kernel, 1 thread", \
     "$OUT/sweep_t2.dat" using 1:4 with lines dashtype 2 title "stream kernel, 2 threads"
GP
/usr/bin/python3 scripts/perf_tables.py "$OUT" > "$OUT/tables.md"
echo "wrote $OUT/{large,small,nobatch,int8,bf16}.jsonl, $OUT/tables.md, $OUT/sweep.json, $OUT/sweep.svg"
