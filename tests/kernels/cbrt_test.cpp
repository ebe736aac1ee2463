// kernels::pow_one_third against the C library's pow with the exponent 1/3
// rounded to the element type (what torch.pow(x, 1/3) computes), over every
// exponent of float and double, subnormals included, and the special values.
// The vectorised loop gives the same bits as this scalar call (no FMA, no
// fast-math); the MADGRAD kernel sweep checks that (adaptive_lr_test.cpp).
#include <descent/kernels/cbrt.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

namespace {

using descent::kernels::pow_one_third;

template <class I, class F> I bits_of(F f) {
  I i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// Distance in units in the last place between two finite non-negative values.
template <class F> std::int64_t ulps(F a, F b) {
  using I = std::conditional_t<sizeof(F) == 4, std::int32_t, std::int64_t>;
  const I d = bits_of<I>(a) - bits_of<I>(b);
  return d < 0 ? -static_cast<std::int64_t>(d) : static_cast<std::int64_t>(d);
}

TEST(PowOneThird, FloatWithinThreeUlpOfPowfOverEveryExponent) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint32_t> positive_bits(1, 0x7F7FFFFFu);  // every positive finite float
  std::int64_t histogram[4] = {0, 0, 0, 0};
  const int n = 1 << 21;
  for (int i = 0; i < n; ++i) {
    float x;
    const std::uint32_t b = positive_bits(rng);
    std::memcpy(&x, &b, sizeof x);
    const float want = std::pow(x, 1.0f / 3.0f);
    const std::int64_t d = ulps(pow_one_third(x), want);
    ASSERT_LE(d, 3) << "x = " << std::hexfloat << x << " want " << want << " got " << pow_one_third(x);
    ++histogram[d];
  }
  // Most results are the correctly rounded ones; a systematic bias would show here first.
  EXPECT_GT(histogram[0], n * 6 / 10) << histogram[1] << " one ulp, " << histogram[2] << " two";
  EXPECT_LT(histogram[2] + histogram[3], n / 100);
}

TEST(PowOneThird, DoubleWithinFourUlpOfPowOverEveryExponent) {
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<std::uint64_t> positive_bits(1, 0x7FEFFFFFFFFFFFFFull);
  std::int64_t worst = 0;
  for (int i = 0; i < (1 << 20); ++i) {
    double x;
    const std::uint64_t b = positive_bits(rng);
    std::memcpy(&x, &b, sizeof x);
    const double want = std::pow(x, 1.0 / 3.0);
    const std::int64_t d = ulps(pow_one_third(x), want);
    ASSERT_LE(d, 4) << "x = " << std::hexfloat << x << " want " << want << " got " << pow_one_third(x);
    worst = std::max(worst, d);
  }
  RecordProperty("worst_ulps", static_cast<int>(worst));
}

template <class F> void check_special_values() {
  constexpr F inf = std::numeric_limits<F>::infinity();
  const F zero = pow_one_third(F(0));
  EXPECT_TRUE(zero == F(0) && !std::signbit(zero));
  const F minus_zero = pow_one_third(-F(0));
  EXPECT_TRUE(minus_zero == F(0) && !std::signbit(minus_zero));
  EXPECT_EQ(pow_one_third(inf), inf);
  EXPECT_TRUE(std::isnan(pow_one_third(std::numeric_limits<F>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(pow_one_third(F(-1))));
  EXPECT_TRUE(std::isnan(pow_one_third(-inf)));
  // Exact cubes and the extremes of the range.
  for (F x : {F(1), F(8), F(27), F(0.125), std::numeric_limits<F>::max(), std::numeric_limits<F>::min(),
              std::numeric_limits<F>::denorm_min()})
    EXPECT_LE(ulps(pow_one_third(x), std::pow(x, F(1) / F(3))), 3) << x;
}

TEST(PowOneThird, SpecialValuesAsPow) {
  check_special_values<float>();
  check_special_values<double>();
}

}  // namespace
