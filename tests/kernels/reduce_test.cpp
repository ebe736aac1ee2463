// run_reduce: the update-and-sum driver. Vector and scalar paths agree bit for
// bit (same lanes), sums match a plain double sum, every length and offset.
#include <descent/kernels/elementwise.h>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

using descent::kernels::Path;
using descent::kernels::Span;

// m = 0.9 m + g; sums: ||p||², ||m||² (after the update), Σ g.
struct TestRule {
  static constexpr int kStates = 1;
  static constexpr int kSums = 3;
  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    s[0] = A(0.9) * s[0] + g;
    p = p - A(0.01) * s[0];
    terms[0] = p * p;
    terms[1] = s[0] * s[0];
    terms[2] = g;
  }
};

template <class T>
void check(std::int64_t n, std::int64_t offset) {
  std::mt19937 rng(static_cast<unsigned>(n + 7 * offset));
  std::normal_distribution<double> d;
  std::vector<T> p(n + offset), g(n + offset), m(n + offset);
  for (auto* v : {&p, &g, &m})
    for (auto& x : *v) x = static_cast<T>(d(rng));
  auto p2 = p, m2 = m;
  double a[3] = {}, b[3] = {};
  Span<T> x{p.data() + offset, g.data() + offset, {m.data() + offset}};
  Span<T> y{p2.data() + offset, g.data() + offset, {m2.data() + offset}};
  descent::kernels::run_reduce(TestRule{}, x, 0, n, a, Path::vector);
  descent::kernels::run_reduce(TestRule{}, y, 0, n, b, Path::scalar);
  double naive[3] = {};
  for (std::int64_t i = offset; i < n + offset; ++i) {
    naive[0] += static_cast<double>(p[i]) * p[i];
    naive[1] += static_cast<double>(m[i]) * m[i];
    naive[2] += g[i];
  }
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(a[k], b[k]) << "sum " << k << " n=" << n;
    const double tol = (sizeof(T) == 4 ? 1e-5 : 1e-12) * (1 + std::abs(naive[k]) + n);
    EXPECT_NEAR(a[k], naive[k], tol) << "sum " << k << " n=" << n;
  }
  EXPECT_EQ(p, p2);
  EXPECT_EQ(m, m2);
}

TEST(RunReduce, VectorEqualsScalarAndPlainSum) {
  for (std::int64_t offset : {0, 1, 5})
    for (std::int64_t n = 0; n <= 70; ++n) {
      check<float>(n, offset);
      check<double>(n, offset);
    }
  check<float>(100003, 3);
  check<double>(100003, 3);
}

}  // namespace
