// Precompiled header for descent's own translation units: the heavy, stable
// LibTorch headers that nearly every source includes.
#pragma once
#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>
