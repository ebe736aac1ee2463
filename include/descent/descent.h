// descent/descent.h: the whole public API in one include (for applications;
// library code should include the narrow headers it needs).
#pragma once

#include <descent/golden.h>
#include <descent/optim/adam.h>
#include <descent/optim/optimizer.h>
#include <descent/optim/options.h>
#include <descent/optim/sgd.h>
#include <descent/registry.h>
