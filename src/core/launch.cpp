#include <descent/optim/launch.h>
#include <descent/optim/launch_batch.h>
#include <descent/optim/state_memory.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <string>

namespace descent {

// State memory: optim/state_memory.h (large buffers in huge pages).
torch::Tensor zeros_state(const torch::Tensor& param) {
  return zeros_state_like(param, state_dtype(param.scalar_type()));
}

torch::Tensor full_state(const torch::Tensor& param, double value) {
  return empty_state_like(param, state_dtype(param.scalar_type())).fill_(value);
}

namespace {
std::atomic<bool> g_batching{true};
thread_local detail::LaunchBatch* t_batch = nullptr;
}  // namespace

void set_launch_batching(bool on) { g_batching.store(on, std::memory_order_relaxed); }
bool launch_batching() { return g_batching.load(std::memory_order_relaxed); }

namespace detail {

LaunchBatch* current_batch() { return t_batch; }

void flush_current_batch() {
  if (t_batch != nullptr) t_batch->flush();
}

BatchScope::BatchScope(LaunchBatch* b) : batch_(b), saved_(t_batch) {
  t_batch = launch_batching() ? b : nullptr;
}
// A step that threw part-way still applies the updates queued before the
// throw, as unbatched launches would have.
BatchScope::~BatchScope() {
  t_batch = saved_;
  if (batch_ == nullptr) return;
  try {
    batch_->flush();
  } catch (...) {
    batch_->clear();
  }
}

// Elements [b, e) of the virtual array: the task holding b, then on.
void LaunchBatch::run_range(std::int64_t b, std::int64_t e) const {
  auto it = std::upper_bound(tasks_.begin(), tasks_.end(), b,
                             [](std::int64_t x, const Task& t) { return x < t.start; });
  std::size_t k = static_cast<std::size_t>(it - tasks_.begin()) - 1;
  while (b < e) {
    const Task& t = tasks_[k++];
    const std::int64_t end = std::min(e, t.start + t.n);
    t.run(&arena_[t.rule], &arena_[t.span], b - t.start, end - t.start);
    b = end;
  }
}

void LaunchBatch::flush() {
  if (total_ > 0) parallel_elements(total_, [this](std::int64_t b, std::int64_t e) { run_range(b, e); });
  clear();
}

void bad_state_dtype(at::ScalarType param, at::ScalarType state) {
  throw std::logic_error(std::string("descent: state of dtype ") + c10::toString(state) + " for a parameter of dtype " +
                         c10::toString(param) + " (expected " + c10::toString(state_dtype(param)) + ")");
}
}  // namespace detail

}  // namespace descent
