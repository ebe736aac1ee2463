#!/usr/bin/env bash
# The whole test suite: install, build, run every test, then check that an
# installed descent is usable from another CMake project via find_package.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel "$(nproc)"

# find_package(descent) from a separate project, against an installed copy.
prefix="$PWD/$BUILD_DIR/_install"
cmake --install "$BUILD_DIR" --prefix "$prefix" > /dev/null
cmake -S examples/consumer -B "$BUILD_DIR/_consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$BUILD_DIR/_consumer" > /dev/null
"$BUILD_DIR/_consumer/consumer"
echo "test.sh: all tests passed"
