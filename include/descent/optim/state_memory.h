// descent/optim/state_memory.h: where optimizer state lives.
//
// An elementwise step streams the parameter, its gradient and its state
// buffers once each, so every 4 KiB page of every stream costs a TLB miss per
// step: five streams of 16M floats cross 80k pages. Under virtualisation a
// miss is a two-dimensional page walk, and on the development VM these walks
// cost 15-20% of a step that is otherwise at memory bandwidth (diffGrad, 16M
// float32, 2 threads: 18.4 -> 14.8 ms with every stream in 2 MiB pages, 15.6
// ms with only the state in them; NOTES.md). The parameter and the gradient
// belong to the user, but the state is ours: buffers of at least
// kHugePageBytes are mapped 2 MiB-aligned and advised MADV_HUGEPAGE, so the
// kernel backs them with transparent huge pages where it can (THP "always"
// or "madvise"; with "never" they are ordinary pages, and nothing changes but
// the alignment). Smaller buffers come from LibTorch's CPU allocator.
//
// PyTorch 2.1 added the same for all CPU tensors behind THP_MEM_ALLOC_ENABLE;
// descent does it for its own state only, and by default. The buffers are
// ordinary CPU tensors: torch::save/load, copies and views work as usual.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include <cstddef>

namespace descent {

// Buffers of at least this many bytes go into huge pages.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// Whether new state buffers may use huge pages (default: on; existing buffers
// keep their memory). Off, every buffer comes from LibTorch's CPU allocator.
void set_state_huge_pages(bool on);
bool state_huge_pages();

// An uninitialised state buffer: `sizes` with `strides` (which must describe a
// non-overlapping layout), of `dtype`, on the CPU.
at::Tensor empty_state(c10::IntArrayRef sizes, c10::IntArrayRef strides, c10::ScalarType dtype);

// Contiguous zeros of `dtype` (a fresh mapping is zero already: no fill).
at::Tensor zeros_state(c10::IntArrayRef sizes, c10::ScalarType dtype);

// Uninitialised, shaped and strided like `like` (as at::empty_like with
// MemoryFormat::Preserve), of `dtype`.
at::Tensor empty_state_like(const at::Tensor& like, c10::ScalarType dtype);

// Zeros shaped and strided like `like` (as at::zeros_like with
// MemoryFormat::Preserve), of `dtype`.
at::Tensor zeros_state_like(const at::Tensor& like, c10::ScalarType dtype);

}  // namespace descent
