#!/usr/bin/env bash
# The main job: install, build, then replay every golden case with a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR"/descent list
"$BUILD_DIR"/descent check tests/golden/data/*.json tests/golden/data/extra/*.json --skip-unknown
