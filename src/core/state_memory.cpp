#include <descent/optim/state_memory.h>

#include <ATen/ATen.h>
#include <ATen/EmptyTensor.h>
#include <c10/core/Allocator.h>
#include <c10/core/Storage.h>
#include <c10/util/strides.h>

#include <atomic>
#include <cstdint>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#define DESCENT_HUGE_PAGES 1
#endif

namespace descent {

namespace {
std::atomic<bool> g_huge_pages{true};

#ifdef DESCENT_HUGE_PAGES
struct Mapping {
  void* base;
  std::size_t length;
};

void unmap(void* ctx) {
  auto* m = static_cast<Mapping*>(ctx);
  munmap(m->base, m->length);
  delete m;
}

// Anonymous mappings aligned to kHugePageBytes and advised MADV_HUGEPAGE.
// Fresh mappings read as zero.
class HugePageAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t length = (n + page - 1) / page * page;
    // Map an extra huge page, then trim the unaligned head and the tail.
    const std::size_t span = length + kHugePageBytes;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (start + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    const std::size_t head = aligned - start;
    const std::size_t tail = span - head - length;
    if (head > 0) munmap(raw, head);
    if (tail > 0) munmap(reinterpret_cast<void*>(aligned + length), tail);
    void* base = reinterpret_cast<void*>(aligned);
    madvise(base, length, MADV_HUGEPAGE);  // advice only: refused (THP "never"), the pages are 4 KiB
    return {base, new Mapping{base, length}, &unmap, c10::Device(c10::DeviceType::CPU)};
  }
};

HugePageAllocator& huge_page_allocator() {
  static HugePageAllocator a;
  return a;
}
#endif
}  // namespace

void set_state_huge_pages(bool on) { g_huge_pages.store(on, std::memory_order_relaxed); }
bool state_huge_pages() { return g_huge_pages.load(std::memory_order_relaxed); }

namespace {
// A state buffer, zero-filled when `zero` (a fresh mapping is zero already:
// no fill then).
at::Tensor state_buffer(c10::IntArrayRef sizes, c10::IntArrayRef strides, c10::ScalarType dtype, bool zero) {
  const auto options = at::TensorOptions().dtype(dtype);
#ifdef DESCENT_HUGE_PAGES
  const std::size_t nbytes = at::detail::computeStorageNbytes(sizes, strides, c10::elementSize(dtype));
  if (state_huge_pages() && nbytes >= kHugePageBytes) {
    c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, &huge_page_allocator(), /*resizable=*/true);
    return at::empty({0}, options).set_(std::move(storage), 0, sizes, strides);
  }
#endif
  at::Tensor t = at::empty_strided(sizes, strides, options);
  return zero ? t.zero_() : t;
}

// Shaped and strided like `like`, as at::empty_like with MemoryFormat::Preserve
// (a non-dense `like` gets that layout from LibTorch's allocator).
at::Tensor state_buffer_like(const at::Tensor& like, c10::ScalarType dtype, bool zero) {
  if (like.is_non_overlapping_and_dense()) return state_buffer(like.sizes(), like.strides(), dtype, zero);
  at::Tensor t = at::empty_like(like, like.options().dtype(dtype), at::MemoryFormat::Preserve);
  return zero ? t.zero_() : t;
}
}  // namespace

at::Tensor empty_state(c10::IntArrayRef sizes, c10::IntArrayRef strides, c10::ScalarType dtype) {
  return state_buffer(sizes, strides, dtype, false);
}

at::Tensor zeros_state(c10::IntArrayRef sizes, c10::ScalarType dtype) {
  return state_buffer(sizes, c10::contiguous_strides(sizes), dtype, true);
}

at::Tensor empty_state_like(const at::Tensor& like, c10::ScalarType dtype) {
  return state_buffer_like(like, dtype, false);
}

at::Tensor zeros_state_like(const at::Tensor& like, c10::ScalarType dtype) {
  return state_buffer_like(like, dtype, true);
}

}  // namespace descent
