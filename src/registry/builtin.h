// The built-in optimizers, registered by family: one file per family under
// src/registry/, each listing its optimizers with paper, reference and state
// bytes. Registry::instance() calls them in this order (the order of
// `descent list`).
#pragma once

#include <descent/registry.h>

#include <string>
#include <vector>

namespace descent {

// PyTorch's implementation-selection flags: accepted, no numerical effect.
inline const std::vector<std::string> kTorchFlags = {"foreach", "fused", "capturable", "differentiable"};
// kozistr/pytorch_optimizer's equivalent.
inline const std::vector<std::string> kZooFlags = {"foreach"};

void register_torch_optimizers(Registry& r);      // torch_optim.cpp: sgd, adam, adamw, adagrad, ...
void register_adam_variants(Registry& r);         // adam_variants.cpp: diffgrad, adabelief, adamp, sgdp, ...
void register_sign_momentum(Registry& r);         // sign_momentum.cpp: adan, lion, tiger, signsgd, ...
void register_adaptive_lr(Registry& r);           // adaptive_lr.cpp: schedule-free, lamb, prodigy, ...
void register_factored_and_wrappers(Registry& r); // factored.cpp: adafactor, came, lookahead
void register_curvature_optimizers(Registry& r);  // curvature.cpp: muon, mfac, sophia_g, sophia_h, adahessian
void register_memory_efficient(Registry& r);      // memory_efficient.cpp: adam8bit, adamw8bit, frugal, galore_adamw

}  // namespace descent
