#pragma once
#include <gtest/gtest.h>
#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>
#include <vector>
#include <string>
