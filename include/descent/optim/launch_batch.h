// descent/optim/launch_batch.h: the multi-tensor scheduler.
//
// A model has many tensors and most are small: biases, norms, embeddings of
// a few thousand elements. Launched one by one, each runs on the calling
// thread (splitting it would cost more than it saves), so a step over many
// small tensors uses one core and pays a dispatch per tensor. LaunchBatch
// collects the elementwise launches of one step instead (launch() adds a
// task: the rule's scalars and the tensor's raw pointers, copied by value)
// and runs them all in ONE parallel region, cut by element count: the tasks
// are laid end to end as one virtual array of `total()` elements and each
// thread takes an equal slice of it, whatever the tensor boundaries. An
// elementwise rule has no dependency between elements, so the result is the
// same, bit for bit, for any cut and any thread count.
//
// Which optimizers batch: those whose update_param() ends in launch() and
// reads nothing it wrote in the same step (Optimizer::batches_launches()).
// Reductions (launch_reduce), 8-bit blocks and grid kernels run at once, as
// before. The arena and task list keep their capacity between steps, so after
// the first step nothing is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace descent::detail {

class LaunchBatch {
 public:
  // Runs elements [b, e) of a task (offsets within its tensor).
  using RunFn = void (*)(const void* rule, const void* span, std::int64_t b, std::int64_t e);

  // Queues `n` elements of work: `run(&rule, &span, b, e)` does elements [b, e).
  template <class Rule, class Span>
  void add(RunFn run, const Rule& rule, const Span& span, std::int64_t n) {
    static_assert(std::is_trivially_copyable_v<Rule> && std::is_trivially_copyable_v<Span>,
                  "batched launches copy the rule and span bytewise");
    static_assert(alignof(Rule) <= alignof(std::max_align_t) && alignof(Span) <= alignof(std::max_align_t),
                  "over-aligned rule or span");
    if (n <= 0) return;
    Task t;
    t.run = run;
    t.rule = put(&rule, sizeof(Rule));
    t.span = put(&span, sizeof(Span));
    t.start = total_;
    t.n = n;
    tasks_.push_back(t);
    total_ += n;
  }

  // Runs every queued task (in parallel when there is enough work) and empties
  // the batch.
  void flush();
  // Drops the queued tasks without running them.
  void clear() {
    tasks_.clear();
    used_ = 0;
    total_ = 0;
  }
  bool empty() const { return tasks_.empty(); }
  std::int64_t total() const { return total_; }
  std::size_t size() const { return tasks_.size(); }

 private:
  struct Task {
    RunFn run;
    std::size_t rule, span;  // slot indices into the arena
    std::int64_t start, n;   // place in the virtual array, elements
  };
  using Slot = std::max_align_t;

  std::size_t put(const void* bytes, std::size_t size) {
    const std::size_t slots = (size + sizeof(Slot) - 1) / sizeof(Slot);
    if (used_ + slots > arena_.size()) arena_.resize(std::max(2 * arena_.size(), used_ + slots + 64));
    std::memcpy(&arena_[used_], bytes, size);
    const std::size_t at = used_;
    used_ += slots;
    return at;
  }
  void run_range(std::int64_t b, std::int64_t e) const;

  std::vector<Slot> arena_;
  std::vector<Task> tasks_;
  std::size_t used_ = 0;
  std::int64_t total_ = 0;
};

// The batch of the optimizer stepping on this thread, if it batches; else null.
LaunchBatch* current_batch();
// Runs the launches queued so far in this step, now: for an optimizer that
// reads or writes, within update(), what those launches touch (Sophia's
// Hessian estimator, after the step). Nothing to do when not batching.
void flush_current_batch();

// RAII: makes `b` the current batch for a step (when batching is on); on
// scope exit runs what is still queued and restores the previous batch.
class BatchScope {
 public:
  explicit BatchScope(LaunchBatch* b);
  ~BatchScope();
  BatchScope(const BatchScope&) = delete;
  BatchScope& operator=(const BatchScope&) = delete;

 private:
  LaunchBatch* batch_;
  LaunchBatch* saved_;
};

}  // namespace descent::detail

namespace descent {
// Process-wide switch for the multi-tensor scheduler (on by default). Results
// are the same either way; off launches each tensor on its own, for
// comparisons (step-bench --no-batch) and debugging.
void set_launch_batching(bool on);
bool launch_batching();
}  // namespace descent
