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
names=$("$D" list | awk 'NR > 1 && /^[a-z]/ {print $1}')
: > "$OUT/large.jsonl"
: > "$OUT/small.jsonl"
for opt in $names; do
  for k in 1 200; do
    "$D" step-bench --optimizer "$opt" --numel 16777216 --tensors "$k" --threads 2 --json >> "$OUT/large.jsonl"
  done
  "$D" step-bench --optimizer "$opt" --numel 100000 --tensors 50 --threads 2 --json >> "$OUT/small.jsonl"
done
: > "$OUT/bf16.jsonl"
for mode in nearest master_weights stochastic_rounding; do
  for opt in adamw sgd lion; do
    "$D" step-bench --optimizer "$opt" --numel 16777216 --dtype bf16 --bf16-mode "$mode" --threads 2 --json >> "$OUT/bf16.jsonl"
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
echo "wrote $OUT/{large,small,bf16}.jsonl, $OUT/sweep.json, $OUT/sweep.svg"
