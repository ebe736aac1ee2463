// step() allocates nothing once the state exists, for every registered
// optimizer, on float32, float64 and bfloat16 parameters, small and large
// (split over two threads).
//
// This binary replaces malloc, calloc, realloc, the aligned allocators and
// operator new/delete (forwarding to glibc's __libc_* functions), and counts
// every call while counting is switched on, from any thread. It is a binary of
// its own so the replacement disturbs no other test. The first counted
// allocation's backtrace is kept, to say where an optimizer allocates.
#include <support/optim_testing.h>

#include <ATen/Parallel.h>

#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

// ---- the counting allocator ---------------------------------------------------------------

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

namespace counting {

std::atomic<bool> enabled{false};
std::atomic<long> count{0};
// The first counted allocation's call stack.
constexpr int kFrames = 48;
void* frames[kFrames];
std::atomic<int> nframes{0};
std::atomic<bool> have_trace{false};
thread_local bool in_hook = false;

inline void note() {
  if (!enabled.load(std::memory_order_relaxed) || in_hook) return;
  in_hook = true;
  count.fetch_add(1, std::memory_order_relaxed);
  bool expected = false;
  if (have_trace.compare_exchange_strong(expected, true)) nframes = ::backtrace(frames, kFrames);
  in_hook = false;
}

void start() {
  count = 0;
  have_trace = false;
  nframes = 0;
  enabled = true;
}

long stop() {
  enabled = false;
  return count.load();
}

void print_trace() {
  if (nframes > 0) ::backtrace_symbols_fd(frames, nframes, STDERR_FILENO);
}

}  // namespace counting

extern "C" {

void* malloc(size_t n) {
  counting::note();
  return __libc_malloc(n);
}

void* calloc(size_t n, size_t size) {
  counting::note();
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t n) {
  counting::note();
  return __libc_realloc(p, n);
}

void free(void* p) { __libc_free(p); }

void* memalign(size_t alignment, size_t n) {
  counting::note();
  return __libc_memalign(alignment, n);
}

void* aligned_alloc(size_t alignment, size_t n) {
  counting::note();
  return __libc_memalign(alignment, n);
}

int posix_memalign(void** out, size_t alignment, size_t n) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  counting::note();
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr && n != 0) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(size_t n) {
  counting::note();
  return __libc_memalign(static_cast<size_t>(::sysconf(_SC_PAGESIZE)), n);
}

}  // extern "C"

namespace {
void* checked_new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* checked_new_aligned(std::size_t n, std::align_val_t a) {
  void* p = nullptr;
  if (::posix_memalign(&p, std::max<std::size_t>(static_cast<std::size_t>(a), sizeof(void*)), n == 0 ? 1 : n) != 0)
    throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return checked_new(n); }
void* operator new[](std::size_t n) { return checked_new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new(std::size_t n, std::align_val_t a) { return checked_new_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return checked_new_aligned(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return checked_new_aligned(n, a);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return checked_new_aligned(n, a);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

// ---- tests ----------------------------------------------------------------------------------

namespace {

using namespace dtest;

struct ThreadsGuard {
  int saved = at::get_num_threads();
  ~ThreadsGuard() { at::set_num_threads(saved); }
};

class CounterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    void* f[4];
    ::backtrace(f, 4);  // loads libgcc_s now, not inside the hook
  }
};

// The counter sees allocations through every path, from every thread.
TEST_F(CounterTest, SeesAllocations) {
  counting::start();
  auto t = at::empty({1000});
  EXPECT_GE(counting::stop(), 1) << "torch::empty";

  counting::start();
  auto* v = new std::vector<int>(100);
  EXPECT_GE(counting::stop(), 2) << "operator new";
  delete v;

  counting::start();
  void* p = std::malloc(10);
  p = std::realloc(p, 100000);
  void* q = std::calloc(3, 7);
  void* r = nullptr;
  EXPECT_EQ(::posix_memalign(&r, 64, 128), 0);
  void* s = std::aligned_alloc(64, 128);
  EXPECT_EQ(counting::stop(), 5);
  std::free(p);
  std::free(q);
  std::free(r);
  std::free(s);

  // From the worker threads of a parallel region.
  ThreadsGuard guard;
  at::set_num_threads(2);
  std::atomic<int> workers{0};
  counting::start();
  at::parallel_for(0, 2, 1, [&](std::int64_t b, std::int64_t e) {
    for (auto i = b; i < e; ++i) {
      std::free(std::malloc(16));
      ++workers;
    }
  });
  EXPECT_GE(counting::stop(), 2);
  EXPECT_EQ(workers.load(), 2);
  EXPECT_TRUE(t.defined());
}

class NoAllocation : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    void* f[4];
    ::backtrace(f, 4);
  }
};

// `steps` counted steps after `warmup` uncounted ones; returns the count.
long count_steps(Optimizer& opt, int warmup, int steps) {
  for (int i = 0; i < warmup; ++i) opt.step();
  counting::start();
  for (int i = 0; i < steps; ++i) opt.step();
  return counting::stop();
}

TEST_P(NoAllocation, StepAllocatesNothingAfterWarmUp) {
  const std::string name = GetParam();
  ThreadsGuard guard;
  const std::string first_variant = variants_for(name).front().first;
  for (const auto& [label, opts] : variants_for(name)) {
    for (auto dtype : {at::kFloat, at::kDouble, at::kBFloat16}) {
      for (std::int64_t n : {std::int64_t{100}, std::int64_t{1} << 20}) {
        // Large tensors with the default options only (the time the suite may take).
        if (n > 100 && label != first_variant) continue;
        SCOPED_TRACE(name + " " + label + " " + c10::toString(dtype) + " n=" + std::to_string(n));
        at::set_num_threads(n > 1000 ? 2 : 1);
        // Two parameters (one 2-D) and one without a gradient.
        std::vector<torch::Tensor> p = {at::linspace(-1, 1, n, dtype), at::linspace(-2, 2, 100, dtype).view({10, 10}),
                                        at::zeros({7}, dtype)};
        std::vector<torch::Tensor> g = {at::linspace(0.5, -0.3, n, dtype), at::linspace(1, -1, 100, dtype).view({10, 10}),
                                        torch::Tensor()};
        set_grads(p, g);
        auto opt = make(name, p, opts);
        const long allocations = count_steps(*opt, /*warmup=*/2, /*steps=*/4);
        EXPECT_EQ(allocations, 0) << "first allocation (see the backtrace on stderr)";
        if (allocations != 0) {
          std::fprintf(stderr, "---- %s %s %s n=%lld: %ld allocations in 4 steps; first one from:\n", name.c_str(),
                       label.c_str(), c10::toString(dtype), static_cast<long long>(n), allocations);
          counting::print_trace();
        }
        ASSERT_NE(opt->state_of(p[0]), nullptr);
        EXPECT_EQ(opt->state_of(p[0])->step, 6) << "the steps did not run";
        if (!steps_without_gradient().count(name)) {
          EXPECT_EQ(opt->state_of(p[2]), nullptr);
        }
      }
    }
  }
}

// The counter sees allocations inside step(): a non-contiguous parameter is
// updated through contiguous copies, which allocate.
TEST_F(CounterTest, SeesAStepThatAllocates) {
  auto big = at::linspace(-1, 1, 200).view({10, 20});
  auto slice = big.narrow(1, 0, 10);
  slice.mutable_grad() = at::ones({10, 10});
  auto opt = make("adam", {slice});
  EXPECT_GT(count_steps(*opt, 2, 3), 0);
}

INSTANTIATE_TEST_SUITE_P(Registry, NoAllocation, ::testing::ValuesIn(optimizer_names()), NameOfParam());

}  // namespace
