// The multi-tensor scheduler (optim/launch_batch.h) on its own: every queued
// element runs exactly once whatever the cut of the virtual array, the scope
// runs what is queued on exit, and the process-wide switch turns it off.
#include <support/optim_testing.h>

#include <descent/optim/launch.h>
#include <descent/optim/launch_batch.h>

#include <ATen/Parallel.h>

namespace {

using descent::detail::BatchScope;
using descent::detail::LaunchBatch;

// Adds one to every element it visits: a second visit (or none) shows.
struct CountRule {
  static constexpr int kStates = 0;
  template <class A> void operator()(A& p, A, A*) const { p = p + A(1); }
};

struct ThreadsAndBatching {
  int threads = at::get_num_threads();
  ~ThreadsAndBatching() {
    at::set_num_threads(threads);
    descent::set_launch_batching(true);
  }
};

TEST(LaunchBatch, EveryElementRunsExactlyOnceForAnyThreadCount) {
  ThreadsAndBatching guard;
  const std::vector<std::int64_t> sizes = {0, 1, 5, 3 * descent::kParallelGrain + 7, 1000, 31, 2 * descent::kParallelGrain};
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    std::vector<torch::Tensor> ps, gs;
    LaunchBatch batch;
    for (int round = 0; round < 2; ++round) {  // the second round reuses the arena
      ps.clear();
      gs.clear();
      for (auto n : sizes) {
        ps.push_back(at::zeros({n}));
        gs.push_back(at::zeros({n}));
        descent::kernels::Span<float> x;
        x.p = ps.back().data_ptr<float>();
        x.g = gs.back().data_ptr<float>();
        batch.add(&descent::detail::run_task<CountRule, float>, CountRule{}, x, n);
      }
      std::int64_t total = 0;
      for (auto n : sizes) total += n;
      EXPECT_EQ(batch.total(), total);
      EXPECT_EQ(batch.size(), sizes.size() - 1);  // the empty tensor is not queued
      for (const auto& p : ps) EXPECT_EQ(p.sum().item<float>(), 0.f) << "nothing runs before flush()";
      batch.flush();
      EXPECT_TRUE(batch.empty());
      for (std::size_t i = 0; i < ps.size(); ++i)
        EXPECT_TRUE(at::equal(ps[i], at::ones({sizes[i]}))) << "tensor " << i << ", " << threads << " thread(s)";
    }
  }
}

TEST(LaunchBatch, LaunchQueuesInsideAScopeAndTheScopeRunsTheQueueOnExit) {
  ThreadsAndBatching guard;
  auto p = at::zeros({100});
  auto g = at::zeros({100});
  LaunchBatch batch;
  {
    BatchScope scope(&batch);
    EXPECT_EQ(descent::detail::current_batch(), &batch);
    descent::launch(CountRule{}, p, g);
    EXPECT_EQ(batch.size(), 1u);
    EXPECT_EQ(p.sum().item<float>(), 0.f);
    // A transposed tensor goes through temporary copies: never queued.
    auto q = at::zeros({4, 3}).t();
    descent::launch(CountRule{}, q, at::zeros({3, 4}));
    EXPECT_EQ(batch.size(), 1u);
    EXPECT_TRUE(at::equal(q, at::ones({3, 4})));
  }
  EXPECT_EQ(descent::detail::current_batch(), nullptr);
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(at::equal(p, at::ones({100})));

  descent::set_launch_batching(false);
  {
    BatchScope scope(&batch);
    EXPECT_EQ(descent::detail::current_batch(), nullptr);
    descent::launch(CountRule{}, p, g);  // runs at once
    EXPECT_TRUE(at::equal(p, at::full({100}, 2.f)));
  }
}

}  // namespace
