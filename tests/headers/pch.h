// Precompiled header of the header self-containment check (tests/CMakeLists.txt):
// ATen's Tensor only. Every public descent header may rely on nothing more than
// what it includes itself; this PCH holds at::Tensor and the standard headers it
// pulls in, so a header that uses a torch:: name (torch/ headers) without
// including it fails to compile here. Kept this narrow on purpose: a PCH of the
// torch/ headers would hide exactly that mistake.
#pragma once
#include <ATen/core/Tensor.h>
