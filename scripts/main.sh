#!/usr/bin/env bash
# The main job: install, build, replay every golden case with a summary, then
# run the quick benchmark (every optimizer family on every workload, under 5
# minutes on 2 cores) and write report/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR"/descent list
"$BUILD_DIR"/descent check tests/golden/data/*.json tests/golden/data/extra/*.json --skip-unknown
"$BUILD_DIR"/descent bench --suite quick --out "${REPORT_DIR:-report}"
echo "main.sh: open ${REPORT_DIR:-report}/index.html"
