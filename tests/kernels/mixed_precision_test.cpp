// Mixed precision in the kernels (bfloat16 parameters): stochastic rounding on
// its own (unbiased, only ever one of the two neighbours, special values), and
// the driver's master-copy and stochastic-rounding modes (vector path equal to
// the scalar path bit for bit, results independent of how a tensor is split).
#include <descent/kernels/adam.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/stochastic_rounding.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

namespace k = descent::kernels;

float bits_to_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// The two bfloat16 neighbours of x (x's bits truncated, and the next value up in magnitude).
void neighbours(float x, float& lo, float& hi) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  lo = bits_to_float(u & 0xFFFF0000u);
  hi = bits_to_float((u & 0xFFFF0000u) + 0x10000u);
}

// E[round(x)] = x: for values across binades and signs, the mean of many
// roundings (distinct stream positions) is within 5 standard deviations of x.
TEST(StochasticRounding, IsUnbiased) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  constexpr int kDraws = 40000;
  int tested = 0;
  for (int e : {-20, -3, 0, 1, 7, 30}) {
    for (int sign : {1, -1}) {
      const float x = sign * std::ldexp(mant(rng), e);
      float lo, hi;
      neighbours(x, lo, hi);
      const double p = (static_cast<double>(x) - lo) / (static_cast<double>(hi) - lo);  // P(hi)
      double sum = 0;
      for (int i = 0; i < kDraws; ++i)
        sum += k::to_float(k::to_bf16_stochastic(x, k::random16(k::stream_seed(11, 3, 5), i)));
      const double mean = sum / kDraws;
      const double sigma = std::abs(static_cast<double>(hi) - lo) * std::sqrt(p * (1 - p) / kDraws);
      EXPECT_LE(std::abs(mean - x), 5 * sigma + 1e-12 * std::abs(x)) << "x = " << x << ", P(up) = " << p;
      ++tested;
    }
  }
  EXPECT_EQ(tested, 12);
}

// Only the two neighbours come out, each with about its probability.
TEST(StochasticRounding, GivesOneOfTheTwoNeighbours) {
  const float x = 1.0f + 0.3f * std::ldexp(1.0f, -7);  // 30% of the way from 1 to the next bfloat16
  float lo, hi;
  neighbours(x, lo, hi);
  int up = 0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const float r = k::to_float(k::to_bf16_stochastic(x, k::random16(12345, i)));
    ASSERT_TRUE(r == lo || r == hi) << r;
    up += r == hi;
  }
  const double p = (static_cast<double>(x) - lo) / (static_cast<double>(hi) - lo);
  EXPECT_NEAR(static_cast<double>(up) / kDraws, p, 5 * std::sqrt(p * (1 - p) / kDraws));
}

TEST(StochasticRounding, KeepsRepresentableAndSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  for (float x : {0.0f, -0.0f, 1.0f, -2.5f, 3.0e38f, inf, -inf}) {
    const k::bf16 exact = k::to_bf16(x);
    if (k::to_float(exact) != x) continue;  // 3e38 is not a bfloat16: skip
    for (std::uint32_t r : {0u, 1u, 0x7FFFu, 0xFFFFu})
      EXPECT_EQ(k::to_bf16_stochastic(x, r).bits, exact.bits) << x << " with random bits " << r;
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::uint32_t r : {0u, 0xFFFFu}) EXPECT_TRUE(std::isnan(k::to_float(k::to_bf16_stochastic(nan, r))));
  // The largest finite values may round up to infinity (as the exact value lies between them).
  const float big = bits_to_float(0x7F7FFFFFu);
  EXPECT_EQ(k::to_float(k::to_bf16_stochastic(big, 0xFFFFu)), inf);
  EXPECT_EQ(k::to_float(k::to_bf16_stochastic(big, 0u)), bits_to_float(0x7F7F0000u));
}

TEST(StochasticRounding, StreamsDifferByParameterAndStep) {
  EXPECT_NE(k::stream_seed(0, 0, 1), k::stream_seed(0, 0, 2));
  EXPECT_NE(k::stream_seed(0, 0, 1), k::stream_seed(0, 1, 1));
  EXPECT_NE(k::stream_seed(0, 0, 1), k::stream_seed(1, 0, 1));
  // Random bits of neighbouring elements are not correlated in their low bit.
  int same = 0;
  for (int i = 0; i < 10000; ++i) same += (k::random16(99, i) & 1u) == (k::random16(99, i + 1) & 1u);
  EXPECT_NEAR(same / 10000.0, 0.5, 0.03);
}

// The 16 bits are uniform (chi-square over 64 bins of the top 6 bits: 63
// degrees of freedom, 120 is p < 1e-5), for consecutive elements of one
// stream and across the high word of the index (elements 2^32 apart differ).
TEST(StochasticRounding, RandomBitsAreUniformAndUseTheWholeIndex) {
  for (std::uint32_t key : {k::stream_seed(0, 0, 1), k::stream_seed(7, 2, 100), 0u}) {
    std::vector<int> bins(64, 0);
    constexpr int kDraws = 1 << 16;
    for (int i = 0; i < kDraws; ++i) ++bins[k::random16(key, i) >> 10];
    double chi2 = 0;
    const double expected = kDraws / 64.0;
    for (int b : bins) chi2 += (b - expected) * (b - expected) / expected;
    EXPECT_LT(chi2, 120.0) << "key " << key;
    int same = 0;
    for (std::int64_t i = 0; i < 1000; ++i) same += k::random16(key, i) == k::random16(key, i + (std::int64_t{1} << 32));
    EXPECT_LT(same, 10) << "key " << key;
  }
}

// ---- the driver's modes ---------------------------------------------------------------------

struct Buffers {
  std::vector<k::bf16> p, g;
  std::vector<float> m, v, master;
};

Buffers make_buffers(std::int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1), pos(0, 1);
  Buffers b;
  b.p.resize(n);
  b.g.resize(n);
  b.m.resize(n);
  b.v.resize(n);
  b.master.resize(n);
  for (std::int64_t i = 0; i < n; ++i) {
    b.master[i] = u(rng);
    b.p[i] = k::to_bf16(b.master[i]);
    b.g[i] = k::to_bf16(u(rng) * 0.1f);
    b.m[i] = u(rng) * 0.01f;
    b.v[i] = pos(rng) * 0.01f;
  }
  return b;
}

k::Span<k::bf16> span_of(Buffers& b, std::int64_t offset, bool master, bool stochastic) {
  k::Span<k::bf16> x;
  x.p = b.p.data() + offset;
  x.g = b.g.data() + offset;
  x.s[0] = b.m.data() + offset;
  x.s[1] = b.v.data() + offset;
  x.master = master ? b.master.data() + offset : nullptr;
  x.stochastic = stochastic;
  x.seed = 4242;
  return x;
}

bool same_bits(const Buffers& a, const Buffers& b) {
  auto eq = [](const auto& x, const auto& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(x[0])) == 0;
  };
  return eq(a.p, b.p) && eq(a.m, b.m) && eq(a.v, b.v) && eq(a.master, b.master);
}

k::AdamRule<false> adam_rule() {
  k::AdamRule<false> r;
  r.decay = 0.999;
  r.neg_step_size = -0.003;
  r.bc2_sqrt = 0.2;
  return r;
}

TEST(MixedPrecisionDriver, VectorPathEqualsScalarPath) {
  const auto rule = adam_rule();
  for (int mode = 0; mode < 3; ++mode) {
    const bool master = mode == 1, stochastic = mode == 2;
    std::vector<std::int64_t> lengths;
    for (std::int64_t n = 0; n <= 70; ++n) lengths.push_back(n);
    lengths.push_back(100003);
    for (std::int64_t n : lengths) {
      for (std::int64_t offset : {0, 1, 3}) {
        Buffers a = make_buffers(n + offset, static_cast<unsigned>(n));
        Buffers b = a;
        k::run(rule, span_of(a, offset, master, stochastic), 0, n, k::Path::vector);
        k::run(rule, span_of(b, offset, master, stochastic), 0, n, k::Path::scalar);
        ASSERT_TRUE(same_bits(a, b)) << "mode " << mode << ", length " << n << ", offset " << offset;
      }
    }
  }
}

// Threads split a tensor into ranges: the rounding of an element must not
// depend on the split (its random bits come from its index).
TEST(MixedPrecisionDriver, SplitDoesNotChangeTheResult) {
  const auto rule = adam_rule();
  const std::int64_t n = 5000;
  for (int mode = 0; mode < 3; ++mode) {
    Buffers a = make_buffers(n, 5);
    Buffers b = a;
    k::run(rule, span_of(a, 0, mode == 1, mode == 2), 0, n);
    for (std::int64_t s = 0; s < n; s += 777) k::run(rule, span_of(b, 0, mode == 1, mode == 2), s, std::min(n, s + 777));
    EXPECT_TRUE(same_bits(a, b)) << "mode " << mode;
  }
}

// master: the rule runs on the float32 copy, exactly as on float32 data, and
// p is the copy rounded to nearest.
TEST(MixedPrecisionDriver, MasterCopyIsUpdatedAsFloat32AndRoundedIntoTheParameter) {
  const auto rule = adam_rule();
  const std::int64_t n = 1000;
  Buffers a = make_buffers(n, 9);
  std::vector<float> p32 = a.master, g32(n), m32 = a.m, v32 = a.v;
  for (std::int64_t i = 0; i < n; ++i) g32[i] = k::to_float(a.g[i]);
  k::run(rule, span_of(a, 0, true, false), 0, n);
  k::Span<float> f;
  f.p = p32.data();
  f.g = g32.data();
  f.s[0] = m32.data();
  f.s[1] = v32.data();
  k::run(rule, f, 0, n);
  ASSERT_EQ(0, std::memcmp(p32.data(), a.master.data(), n * sizeof(float)));
  ASSERT_EQ(0, std::memcmp(m32.data(), a.m.data(), n * sizeof(float)));
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(a.p[i].bits, k::to_bf16(a.master[i]).bits) << i;
}

}  // namespace
