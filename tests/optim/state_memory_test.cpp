// Where optimizer state lives (optim/state_memory.h): large buffers in
// 2 MiB-aligned mappings advised for transparent huge pages, small ones and
// everything with the switch off from LibTorch's CPU allocator; layouts as
// zeros_like(Preserve); optimizers and checkpoints use it.
#include <support/optim_testing.h>

#include <descent/optim/launch.h>
#include <descent/optim/state_memory.h>

#include <c10/core/CPUAllocator.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <tuple>

namespace {

using namespace dtest;
using descent::kHugePageBytes;

bool huge_page_aligned(const at::Tensor& t) {
  return reinterpret_cast<std::uintptr_t>(t.storage().data()) % kHugePageBytes == 0;
}

bool from_cpu_allocator(const at::Tensor& t) { return t.storage().allocator() == c10::GetCPUAllocator(); }

// The VmFlags of the mapping that holds `addr` in /proc/self/smaps ("" when
// no mapping holds it).
std::string vm_flags_at(const void* addr) {
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
      inside = lo <= a && a < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

bool thp_available() { return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good(); }

struct HugePagesOn {
  ~HugePagesOn() { descent::set_state_huge_pages(true); }
};

const std::int64_t kLarge = static_cast<std::int64_t>(kHugePageBytes / sizeof(float)) + 1000;  // > 2 MiB of float32

TEST(StateMemory, LargeBuffersAreZeroAndHugePageAligned) {
  for (auto dtype : {at::kFloat, at::kDouble, at::kByte, at::kBFloat16}) {
    const auto n = static_cast<std::int64_t>(kHugePageBytes / c10::elementSize(dtype)) + 1000;
    const auto z = descent::zeros_state({n}, dtype);
    EXPECT_EQ(z.scalar_type(), dtype);
    EXPECT_EQ(z.numel(), n);
    EXPECT_TRUE(z.is_contiguous());
    EXPECT_TRUE(huge_page_aligned(z)) << c10::toString(dtype);
    EXPECT_FALSE(from_cpu_allocator(z));
    EXPECT_EQ(z.count_nonzero().item<std::int64_t>(), 0) << c10::toString(dtype);
  }
  // Written to and read back over the whole length (the tail past the last
  // whole huge page included).
  auto t = descent::zeros_state({kLarge}, at::kFloat);
  t.copy_(at::arange(kLarge, at::kFloat));
  EXPECT_TRUE(at::equal(t, at::arange(kLarge, at::kFloat)));
}

TEST(StateMemory, SmallBuffersAndTheSwitchOffUseLibTorchsAllocator) {
  HugePagesOn guard;
  const auto small = descent::zeros_state({1000}, at::kFloat);
  EXPECT_TRUE(from_cpu_allocator(small));
  EXPECT_EQ(small.count_nonzero().item<std::int64_t>(), 0);
  descent::set_state_huge_pages(false);
  EXPECT_FALSE(descent::state_huge_pages());
  const auto large = descent::zeros_state({kLarge}, at::kFloat);
  EXPECT_TRUE(from_cpu_allocator(large));
  EXPECT_EQ(large.count_nonzero().item<std::int64_t>(), 0) << "LibTorch's memory is zeroed by a fill";
  descent::set_state_huge_pages(true);
  EXPECT_FALSE(from_cpu_allocator(descent::zeros_state({kLarge}, at::kFloat)));
}

TEST(StateMemory, BuffersHaveTheParametersLayout) {
  // Channels-last: a dense, non-contiguous layout the state must copy.
  const auto p = at::randn({8, 64, 33, 33}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto z = descent::zeros_state_like(p, at::kFloat);
  EXPECT_EQ(z.sizes(), p.sizes());
  EXPECT_EQ(z.strides(), p.strides());
  EXPECT_TRUE(huge_page_aligned(z));
  EXPECT_EQ(z.count_nonzero().item<std::int64_t>(), 0);
  // The parameter-shaped helpers of launch.h: state dtype and fill value.
  const auto f = descent::full_state(p.to(at::kDouble), 0.25);
  EXPECT_EQ(f.scalar_type(), at::kDouble);
  EXPECT_EQ(f.strides(), p.strides());
  EXPECT_TRUE(at::equal(f, at::full(p.sizes(), 0.25, at::kDouble)));
  // Not dense (every other column): zeros_like's own layout, contiguous.
  const auto wide = at::randn({2048, 1024});
  const auto view = wide.slice(1, 0, 1024, 2);
  const auto zv = descent::zeros_state_like(view, at::kFloat);
  EXPECT_EQ(zv.sizes(), view.sizes());
  EXPECT_TRUE(zv.is_contiguous());
  EXPECT_EQ(zv.count_nonzero().item<std::int64_t>(), 0);
}

TEST(StateMemory, MappingsAreAdvisedForHugePagesAndUnmappedWhenFreed) {
  if (!thp_available()) GTEST_SKIP() << "this kernel has no transparent huge pages";
  const void* addr = nullptr;
  {
    const auto z = descent::zeros_state({kLarge}, at::kFloat);
    addr = z.storage().data();
    const std::string flags = vm_flags_at(addr);
    ASSERT_FALSE(flags.empty()) << "no mapping holds the buffer";
    EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
  }
  EXPECT_EQ(vm_flags_at(addr), "") << "the mapping outlived its tensor";
}

TEST(StateMemory, OptimizerStateUsesItAndSurvivesACheckpoint) {
  for (const auto& [name, options] : std::vector<std::pair<std::string, OptionMap>>{
           {"adam", lr_only()}, {"adam", {{"lr", num(0.01)}, {"state_dtype", text("int8")}}}}) {
    // kLarge float32 parameters: 8-bit codes (1 byte each) stay below 2 MiB,
    // so the int8 variant gets four times as many.
    const std::int64_t n = options.count("state_dtype") ? 4 * kLarge : kLarge;
    auto params = random_params({{n}}, at::kFloat, 3);
    auto opt = make(name, params, options);
    const auto grads = random_grads(params, 3, 5);
    set_grads(params, grads[0]);
    opt->step();
    const auto* st = opt->state_of(params[0]);
    ASSERT_NE(st, nullptr);
    for (const auto& b : st->buffers) {
      if (b.defined() && b.nbytes() >= kHugePageBytes) {
        EXPECT_TRUE(huge_page_aligned(b)) << name;
      }
    }
    // Save, load into a twin, and both go on identically.
    auto twin_params = clones(params);
    auto twin = make(name, twin_params, options);
    const std::string path = temp_path(name);
    torch::save(*opt, path);
    torch::load(*twin, path);
    std::remove(path.c_str());
    const auto* tst = twin->state_of(twin_params[0]);
    ASSERT_NE(tst, nullptr);
    for (std::size_t b = 0; b < st->buffers.size(); ++b) {
      if (!st->buffers[b].defined()) continue;
      EXPECT_TRUE(bit_equal(st->buffers[b], tst->buffers[b])) << name << " buffer " << b;
      if (tst->buffers[b].nbytes() >= kHugePageBytes) {
        EXPECT_TRUE(huge_page_aligned(tst->buffers[b]));
      }
    }
    for (int k = 1; k < 3; ++k) {
      set_grads(params, grads[k]);
      set_grads(twin_params, grads[k]);
      opt->step();
      twin->step();
    }
    EXPECT_TRUE(bit_equal(params[0], twin_params[0])) << name;
  }
}

// StateLayout::read_only: the state a step only reads, which step-bench counts
// once in the bytes a step moves. MADGRAD's x0 exists (and is read only) with
// momentum; Adam has none.
TEST(StateMemory, ReadOnlyStateBytes) {
  const std::int64_t n = 1000;
  for (const auto& [name, options, expected] : std::vector<std::tuple<std::string, OptionMap, std::int64_t>>{
           {"madgrad", lr_only(), 4 * n},
           {"madgrad", {{"lr", num(1e-3)}, {"momentum", num(0)}}, 0},
           {"adam", lr_only(), 0},
           {"lookahead", {{"optimizer", text("madgrad")}, {"lr", num(1e-3)}}, 4 * n}}) {
    auto params = random_params({{n}}, at::kFloat, 3);
    auto opt = make(name, params, options);
    set_grads(params, random_grads(params, 1, 5)[0]);
    EXPECT_EQ(opt->read_only_state_bytes(), 0) << name << ": no state before the first step";
    opt->step();
    EXPECT_EQ(opt->read_only_state_bytes(), expected) << name;
    EXPECT_GT(opt->state_bytes(), opt->read_only_state_bytes()) << name;
  }
}

}  // namespace
