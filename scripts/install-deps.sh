#!/usr/bin/env bash
# Installs everything descent needs from Debian 12's packages. Idempotent: when
# every package is already installed it does nothing (and needs no network).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache git
  libtorch-dev            # LibTorch 1.13 (the C++ API of PyTorch)
  libopenblas0-pthread    # an optimized BLAS for LibTorch's float32 matrix products
  nlohmann-json3-dev      # JSON for golden cases, the registry and reports
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-torch           # /usr/bin/python3 with PyTorch 1.13: regenerates reference data
  zlib1g-dev              # descent bench: reads Fashion-MNIST's .gz files
  dataset-fashion-mnist   # descent bench: Fashion-MNIST (/usr/share/datasets/fashion-mnist)
  bible-kjv-text          # descent bench: the King James Bible (/usr/lib/bible.data)
  gnuplot-nox             # descent bench: the report's plots (SVG)
  chromium                # tests/bench: renders the report headless to check every plot
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#PACKAGES[@]} packages present"
fi
