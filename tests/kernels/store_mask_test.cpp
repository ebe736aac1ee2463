// kStoreStates / kStoreP (kernels/elementwise.h): what a rule only reads is
// never stored. The read-only buffers here sit in pages mapped PROT_READ, so a
// store to them, even of the unchanged value, ends the test with SIGSEGV. And
// the scalar path stops a rule that changes what it claims only to read.
#include <descent/kernels/elementwise.h>
#include <descent/kernels/madgrad.h>
#include <descent/kernels/prodigy.h>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

using descent::kernels::Path;
using descent::kernels::Span;

// n floats in their own mapping, filled from `values`, then made read-only.
class ReadOnlyFloats {
 public:
  explicit ReadOnlyFloats(const std::vector<float>& values) : bytes_(round_up(values.size() * sizeof(float))) {
    void* m = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    data_ = static_cast<float*>(m);
    std::memcpy(data_, values.data(), values.size() * sizeof(float));
    EXPECT_EQ(mprotect(m, bytes_, PROT_READ), 0);
  }
  ~ReadOnlyFloats() { munmap(data_, bytes_); }
  ReadOnlyFloats(const ReadOnlyFloats&) = delete;
  ReadOnlyFloats& operator=(const ReadOnlyFloats&) = delete;
  float* data() const { return data_; }

 private:
  static std::size_t round_up(std::size_t b) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return (b + page - 1) / page * page;
  }
  std::size_t bytes_;
  float* data_ = nullptr;
};

std::vector<float> normal(std::int64_t n, unsigned seed, float mean = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, 1);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// MADGRAD with momentum: x0 (state 2) is read, never written; both paths, and
// the same result as with x0 in writable memory.
TEST(StoreMask, MadgradNeverWritesX0) {
  const std::int64_t n = 1037;
  descent::kernels::MadgradRule<true, descent::kernels::Decay::none, false> rule;
  rule.lambda = 1e-2;
  const auto x0 = normal(n, 1), g = normal(n, 2);
  const ReadOnlyFloats ro(x0);
  for (Path path : {Path::vector, Path::scalar}) {
    auto p = normal(n, 3), gss = std::vector<float>(n, 0.5f), s = normal(n, 4);
    auto p2 = p, gss2 = gss, s2 = s, x02 = x0;
    Span<float> a{p.data(), g.data(), {gss.data(), s.data(), ro.data()}};
    Span<float> b{p2.data(), g.data(), {gss2.data(), s2.data(), x02.data()}};
    descent::kernels::run(rule, a, 0, n, path);
    descent::kernels::run(rule, b, 0, n, path);
    EXPECT_EQ(p, p2);
    EXPECT_EQ(gss, gss2);
    EXPECT_EQ(s, s2);
    EXPECT_EQ(x02, x0);
  }
}

// An update-and-sum rule (run_reduce) that writes neither p nor p0: Prodigy's
// first pass. Its moments are stored; p and p0 sit in read-only pages.
TEST(StoreMask, ProdigyMomentsWriteNeitherParameterNorInitialPoint) {
  const std::int64_t n = 533;
  descent::kernels::ProdigyMomentsRule rule;
  rule.m_coef = 0.1;
  rule.v_coef = 0.001;
  rule.beta3 = 0.99;
  rule.s_coef = 0.01;
  const auto p = normal(n, 5), p0 = normal(n, 6), g = normal(n, 7);
  const ReadOnlyFloats rp(p), rp0(p0);
  std::vector<float> ref[3];
  double ref_sums[2] = {};
  for (Path path : {Path::vector, Path::scalar}) {
    auto m = normal(n, 8), v = std::vector<float>(n, 0.25f), s = normal(n, 9);
    double sums[2] = {};
    Span<float> x{rp.data(), g.data(), {rp0.data(), m.data(), v.data(), s.data()}};
    descent::kernels::run_reduce(rule, x, 0, n, sums, path);
    if (path == Path::vector) {
      ref[0] = m, ref[1] = v, ref[2] = s;
      ref_sums[0] = sums[0], ref_sums[1] = sums[1];
      EXPECT_NE(m, normal(n, 8));  // the moments did move
    } else {
      EXPECT_EQ(m, ref[0]);
      EXPECT_EQ(v, ref[1]);
      EXPECT_EQ(s, ref[2]);
      EXPECT_EQ(sums[0], ref_sums[0]);
      EXPECT_EQ(sums[1], ref_sums[1]);
    }
  }
}

// A rule that claims to only read s[1] but changes it: the scalar path stops.
struct LyingRule {
  static constexpr int kStates = 2;
  static constexpr unsigned kStoreStates = 0b01;
  template <class A> void operator()(A& p, A g, A* s) const {
    s[0] = s[0] + g;
    s[1] = s[1] + A(1);
    p = p - s[0];
  }
};
struct LyingReduceRule {
  static constexpr int kStates = 0;
  static constexpr int kSums = 1;
  static constexpr bool kStoreP = false;
  template <class A> void operator()(A& p, A g, A*, A* terms) const {
    terms[0] = p * g;
    p = p + g;
  }
};

TEST(StoreMaskDeathTest, ScalarPathStopsARuleThatChangesWhatItOnlyReads) {
  std::vector<float> p(16, 1), g(16, 0.5f), m(16, 0), v(16, 0);
  Span<float> x{p.data(), g.data(), {m.data(), v.data()}};
  EXPECT_DEATH(descent::kernels::run(LyingRule{}, x, 0, 16, Path::scalar), "changed a state");
  double sum = 0;
  EXPECT_DEATH(descent::kernels::run_reduce(LyingReduceRule{}, x, 0, 16, &sum, Path::scalar), "changed the parameter");
}

}  // namespace
