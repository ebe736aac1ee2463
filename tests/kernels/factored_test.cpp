// Kernels of the factored optimizers (Adafactor, CAME) and of Lookahead: the
// vector path against the scalar path, bit for bit (elementwise rules through
// descent::testing::sweep, the grid driver over many shapes and ranges); the
// grid driver's indexing and sums; and the reduced-precision emulation (float16
// rounding, torch's fused lerp) against LibTorch itself.
#include <descent/kernels/adafactor.h>
#include <descent/kernels/came.h>
#include <descent/kernels/factored.h>
#include <descent/kernels/lookahead.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>

#include "support/kernel_sweep.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

namespace k = descent::kernels;
using descent::testing::sweep;

// A grid rule seen as an elementwise rule, with a fixed preconditioner and its
// sums and row/column value folded into the parameter (so that sweep compares them too).
template <class G>
struct AsElementwise {
  static constexpr int kStates = G::kStates;
  G rule;
  double pre = 0.75;
  template <class A> void operator()(A& p, A g, A* s) const {
    A terms[G::kSums > 0 ? G::kSums : 1] = {};
    A rc = A(0);
    rule(p, g, A(pre), s, terms, rc);
    for (int i = 0; i < G::kSums; ++i) p = p + A(1e-3) * terms[i];
    p = p + A(1e-3) * rc;
  }
};

template <class G> AsElementwise<G> elementwise(const G& g) { return AsElementwise<G>{g, 0.75}; }

k::AdafactorScalars adafactor_scalars() {
  k::AdafactorScalars c;
  c.gsign = -1;
  c.eps1 = 1e-3;
  c.w2 = 0.2;
  c.bias_correction2 = 0.2;
  c.factor = 0.6;
  c.lr = 0.01;
  c.w1 = 0.1;
  c.decay = 0.999;
  c.cautious_scale = 1.7;
  return c;
}

template <bool F, bool Am>
void sweep_adafactor() {
  const auto c = adafactor_scalars();
  sweep(elementwise(k::AdafactorPrecondition<F, Am>{c}), 0.0);
  sweep(elementwise(k::AdafactorApply<F, Am, k::Momentum::none>{c}), 0.0);
  sweep(elementwise(k::AdafactorApply<F, Am, k::Momentum::lerp>{c}), 0.0);
  sweep(elementwise(k::AdafactorApply<F, Am, k::Momentum::bf16>{c}), 0.0);
  sweep(elementwise(k::AdafactorApply<F, Am, k::Momentum::f16>{c}), 0.0);
  sweep(elementwise(k::AdafactorApply<F, Am, k::Momentum::f32>{c}), 0.0);
  sweep(elementwise(k::AdafactorMomentum<F, Am, k::Momentum::lerp>{c}), 0.0);
  sweep(elementwise(k::AdafactorMomentum<F, Am, k::Momentum::bf16>{c}), 0.0);
}

TEST(FactoredVectorScalar, Adafactor) {
  sweep_adafactor<false, false>();
  sweep_adafactor<false, true>();
  sweep_adafactor<true, false>();
  sweep_adafactor<true, true>();
  sweep(elementwise(k::AdafactorSquares{1e-30}));
  sweep(elementwise(k::AdafactorCautious<k::Momentum::bf16>{adafactor_scalars()}));
}

k::CameScalars came_scalars() {
  k::CameScalars c;
  c.gsign = -1;
  c.eps1 = 1e-3;
  c.eps2 = 1e-4;
  c.beta1 = 0.8;
  c.one_minus_beta1 = 0.2;
  c.beta2 = 0.9;
  c.one_minus_beta2 = 0.1;
  c.factor = 1.5;
  c.lr = 0.01;
  c.decay = 0.999;
  return c;
}

TEST(FactoredVectorScalar, Came) {
  const auto c = came_scalars();
  sweep(elementwise(k::CameSquares{1e-30}));
  sweep(elementwise(k::CamePrecondition<false, false>{c}), 0.0);
  sweep(elementwise(k::CamePrecondition<false, true>{c}), 0.0);
  sweep(elementwise(k::CamePrecondition<true, false>{c}), 0.0);
  sweep(elementwise(k::CamePrecondition<true, true>{c}), 0.0);
  sweep(elementwise(k::CameApply<false>{c}), 0.0);
  sweep(elementwise(k::CameApply<true>{c}), 0.0);
  sweep(elementwise(k::CameResidual<false>{c}), 0.0);
  sweep(elementwise(k::CameResidual<true>{c}), 0.0);
  sweep(elementwise(k::CameStep{c}), 0.0);
}

TEST(FactoredVectorScalar, Lookahead) {
  sweep(k::LookaheadRule{0.5, 0.5});
  sweep(k::LookaheadRule{0.8, 0.19999999999999996});
}

// ---- the grid driver ------------------------------------------------------------------------

// p = pre (checks the row and column indexing); sums: p², g; row/column value: g.
struct IndexRule {
  static constexpr int kStates = 1;
  static constexpr int kSums = 2;
  static constexpr bool kPre = true;
  static constexpr bool kRowCol = true;
  static constexpr bool kStoreP = true;
  static constexpr unsigned kStoreStates = 1;
  template <class A> void operator()(A& p, A g, A pre, A* s, A* terms, A& rc) const {
    terms[0] = p * p;
    terms[1] = g;
    s[0] = s[0] + g;
    p = pre;
    rc = g;
  }
};

template <class T>
void check_grid(const k::Grid& grid, std::int64_t begin, std::int64_t end, bool row_aligned) {
  using S = k::state_t<T>;
  using A = k::compute_t<T>;
  const std::int64_t n = grid.numel(), nrow = grid.batches * grid.rows, ncol = grid.batches * grid.cols;
  std::mt19937 rng(static_cast<unsigned>(n * 7 + begin));
  std::uniform_real_distribution<double> u(-2, 2);
  std::vector<T> p(n), g(n);
  std::vector<S> s(n);
  for (std::int64_t i = 0; i < n; ++i) {
    p[i] = descent::testing::from_double<T>(u(rng));
    g[i] = descent::testing::from_double<T>(u(rng));
    s[i] = static_cast<S>(u(rng));
  }
  std::vector<double> rf(nrow), cf(ncol);
  for (auto& x : rf) x = static_cast<double>(static_cast<A>(u(rng)));
  for (auto& x : cf) x = static_cast<double>(static_cast<A>(u(rng)));
  auto p2 = p;
  auto s2 = s;
  std::vector<double> rs1(nrow, -1), rs2(nrow, -1), cs1(ncol, 0), cs2(ncol, 0);
  double sums1[2] = {}, sums2[2] = {};
  const std::int64_t b0 = row_aligned && n > 0 ? (begin / grid.cols) / grid.rows : 0;
  k::Span<T> x{p.data(), g.data(), {s.data()}};
  k::Span<T> y{p2.data(), g.data(), {s2.data()}};
  k::run_grid(IndexRule{}, x, grid, begin, end, rf.data(), cf.data(), rs1.data(), cs1.data() + 0, b0, sums1,
              k::Path::vector);
  k::run_grid(IndexRule{}, y, grid, begin, end, rf.data(), cf.data(), rs2.data(), cs2.data() + 0, b0, sums2,
              k::Path::scalar);
  ASSERT_EQ(0, std::memcmp(p.data(), p2.data(), n * sizeof(T)));
  ASSERT_EQ(0, std::memcmp(s.data(), s2.data(), n * sizeof(S)));
  ASSERT_EQ(0, std::memcmp(rs1.data(), rs2.data(), nrow * sizeof(double)));
  ASSERT_EQ(0, std::memcmp(cs1.data(), cs2.data(), ncol * sizeof(double)));
  ASSERT_EQ(sums1[0], sums2[0]);
  ASSERT_EQ(sums1[1], sums2[1]);
  // Indexing: p = rf[row]·cf[col] inside [begin, end); the sum of g, row and column sums.
  double sg = 0;
  std::vector<double> rows(nrow, 0), cols(ncol, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t row = i / grid.cols, col = i % grid.cols, b = row / grid.rows;
    if (i < begin || i >= end) continue;
    T want;  // rf·cf in the compute type, stored as T
    k::store(&want, 0, static_cast<A>(static_cast<A>(rf[row]) * static_cast<A>(cf[b * grid.cols + col])));
    ASSERT_EQ(static_cast<double>(k::load(p.data(), i)), static_cast<double>(k::load(&want, 0))) << "element " << i;
    sg += static_cast<double>(static_cast<A>(k::load(g.data(), i)));
    rows[row] += static_cast<double>(static_cast<A>(k::load(g.data(), i)));
    cols[b * grid.cols + col] += static_cast<double>(static_cast<A>(k::load(g.data(), i)));
  }
  EXPECT_NEAR(sums1[1], sg, 1e-9 * (1 + n));
  if (row_aligned) {
    for (std::int64_t r = begin / grid.cols; r < end / grid.cols; ++r) EXPECT_NEAR(rs1[r], rows[r], 1e-9 * (1 + grid.cols));
    for (std::int64_t j = b0 * grid.cols; j < ncol; ++j)  // column sums are indexed from batch b0
      EXPECT_NEAR(cs1[j - b0 * grid.cols], cols[j], 1e-9 * (1 + grid.rows));
  }
}

TEST(GridDriver, VectorEqualsScalarAndIndexesRowsAndColumns) {
  const std::vector<k::Grid> grids = {{1, 1, 1}, {1, 5, 7},  {3, 4, 9},  {2, 1, 17},
                                      {1, 70, 3}, {4, 3, 1}, {2, 3, 33}, {1, 1, 100}};
  for (const auto& grid : grids) {
    SCOPED_TRACE(std::to_string(grid.batches) + "x" + std::to_string(grid.rows) + "x" + std::to_string(grid.cols));
    const std::int64_t n = grid.numel();
    check_grid<float>(grid, 0, n, true);
    check_grid<double>(grid, 0, n, true);
    check_grid<k::bf16>(grid, 0, n, true);
    // Whole rows from the second row of the second batch on.
    if (grid.batches > 1) check_grid<double>(grid, grid.rows * grid.cols, n, true);
    // Ranges that start and end inside rows (no row/column sums then).
    for (std::int64_t b : {std::int64_t{1}, n / 3})
      for (std::int64_t e : {n - 1, n / 2 + 1})
        if (b < e) {
          check_grid<float>(grid, b, e, false);
          check_grid<double>(grid, b, e, false);
        }
  }
}

// The AVX2/FMA build of the grid driver (launch_grid uses it where the CPU
// has it) against the baseline build's scalar path, for the real rules.
template <class Rule, class T>
void compare_avx2(const Rule& rule, const k::Grid& grid) {
  using S = k::state_t<T>;
  const std::int64_t n = grid.numel(), nrow = grid.batches * grid.rows, ncol = grid.batches * grid.cols;
  std::mt19937 rng(static_cast<unsigned>(n));
  std::uniform_real_distribution<double> u(-2, 2), pos(0.01, 2);
  std::vector<T> p(n), g(n);
  std::vector<std::vector<S>> st(k::kMaxStates, std::vector<S>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    p[i] = descent::testing::from_double<T>(u(rng));
    g[i] = descent::testing::from_double<T>(u(rng));
    for (auto& s : st) s[i] = static_cast<S>(pos(rng));
  }
  // Narrow state slots (e.g. a bfloat16 momentum) hold values of their own storage type.
  constexpr unsigned narrow = k::narrow_states<Rule>::mask;
  for (int j = 0; j < k::kMaxStates; ++j)
    if ((narrow >> j) & 1u)
      for (std::int64_t i = 0; i < n; ++i)
        k::narrow_store<k::narrow_states<Rule>::rounding>(st[j].data(), i, static_cast<float>(pos(rng)));
  std::vector<double> rf(nrow), cf(ncol);
  for (auto& x : rf) x = static_cast<double>(static_cast<k::compute_t<T>>(pos(rng)));
  for (auto& x : cf) x = static_cast<double>(static_cast<k::compute_t<T>>(pos(rng)));
  auto p2 = p;
  auto st2 = st;
  std::vector<double> rs1(nrow), rs2(nrow), cs1(ncol), cs2(ncol);
  double s1[4] = {}, s2[4] = {};
  k::Span<T> x{p.data(), g.data(), {}};
  k::Span<T> y{p2.data(), g.data(), {}};
  for (int i = 0; i < k::kMaxStates; ++i) {
    x.s[i] = st[i].data();
    y.s[i] = st2[i].data();
  }
  for (int step = 0; step < 2; ++step) {
    k::run_grid_avx2(rule, x, grid, 0, n, rf.data(), cf.data(), rs1.data(), cs1.data(), 0, s1);
    k::run_grid(rule, y, grid, 0, n, rf.data(), cf.data(), rs2.data(), cs2.data(), 0, s2, k::Path::scalar);
  }
  ASSERT_EQ(0, std::memcmp(p.data(), p2.data(), n * sizeof(T)));
  for (int i = 0; i < k::kMaxStates; ++i) ASSERT_EQ(0, std::memcmp(st[i].data(), st2[i].data(), n * sizeof(S)));
  ASSERT_EQ(0, std::memcmp(rs1.data(), rs2.data(), nrow * sizeof(double)));
  ASSERT_EQ(0, std::memcmp(cs1.data(), cs2.data(), ncol * sizeof(double)));
  ASSERT_EQ(0, std::memcmp(s1, s2, sizeof s1));
}

template <class Rule>
void compare_avx2_all(const Rule& rule) {
  for (const k::Grid& grid : {k::Grid{1, 1, 1}, k::Grid{1, 1, 1000}, k::Grid{3, 17, 70}, k::Grid{2, 64, 129}}) {
    compare_avx2<Rule, float>(rule, grid);
    compare_avx2<Rule, double>(rule, grid);
    compare_avx2<Rule, k::bf16>(rule, grid);
  }
}

TEST(GridDriver, Avx2BuildGivesTheSameBits) {
#ifdef DESCENT_GRID_AVX2
  if (!k::grid_avx2_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const auto a = adafactor_scalars();
  compare_avx2_all(k::AdafactorSquares{1e-30});
  compare_avx2_all(k::AdafactorPrecondition<false, true>{a});
  compare_avx2_all(k::AdafactorPrecondition<true, false>{a});
  compare_avx2_all(k::AdafactorApply<true, false, k::Momentum::bf16>{a});
  compare_avx2_all(k::AdafactorApply<false, true, k::Momentum::f16>{a});
  compare_avx2_all(k::AdafactorApply<true, true, k::Momentum::f32>{a});
  compare_avx2_all(k::AdafactorApply<false, false, k::Momentum::lerp>{a});
  compare_avx2_all(k::AdafactorMomentum<true, false, k::Momentum::bf16>{a});
  compare_avx2_all(k::AdafactorCautious<k::Momentum::bf16>{a});
  const auto c = came_scalars();
  compare_avx2_all(k::CamePrecondition<false, true>{c});
  compare_avx2_all(k::CameApply<true>{c});
  compare_avx2_all(k::CameResidual<false>{c});
  compare_avx2_all(k::CameResidual<true>{c});
  compare_avx2_all(k::CameStep{c});
#else
  GTEST_SKIP() << "no AVX2 build of the grid driver with this compiler";
#endif
}

// ---- reduced-precision emulation against LibTorch -------------------------------------------

TEST(ReducedPrecision, HalfRoundingMatchesC10) {
  std::vector<float> xs = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e10f,
                           std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           6.103515625e-05f, 6.1e-05f, 5.96e-08f, 2.98e-08f, 2.9802322e-08f, 1e-9f, 1e-45f,
                           1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 0.1f, 0.2f, 1.0f / 3};
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t u = bits(rng);
    float f;
    std::memcpy(&f, &u, sizeof f);
    if (!std::isnan(f)) xs.push_back(f);
    std::uniform_real_distribution<float> small(-7e-5f, 7e-5f);
    xs.push_back(small(rng));
  }
  for (float f : xs) {
    const c10::Half h(f);
    ASSERT_EQ(k::to_half_bits(f), h.x) << f;
    ASSERT_EQ(k::half_bits_to_float(h.x), static_cast<float>(h)) << f;
  }
  EXPECT_EQ(k::to_half_bits(std::nanf("")) & 0x7FFF, 0x7E00);
}

// torch.lerp on bfloat16 and float32 tensors (LibTorch 1.13, CPU) equals the
// fused emulation: float op-math with a fused multiply-add, rounded to the dtype.
TEST(ReducedPrecision, LerpEmulationMatchesTorch) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  for (double w : {0.1, 0.3, 0.49, 0.5, 0.7, 0.95}) {
    SCOPED_TRACE(w);
    auto s = (at::randn({10007}, gen) * 0.01).to(at::kBFloat16);
    auto e = (at::randn({10007}, gen) * 0.01).to(at::kBFloat16);
    auto r = s.clone().lerp_(e, w);
    auto sf = s.to(at::kFloat), ef = e.to(at::kFloat), rf = r.to(at::kFloat);
    for (std::int64_t i = 0; i < 10007; ++i) {
      const float want = k::round_to(k::lerp_fma(sf[i].item<float>(), ef[i].item<float>(), static_cast<float>(w)),
                                     k::Rounding::bf16);
      ASSERT_EQ(want, rf[i].item<float>()) << i;
    }
    auto s32 = at::randn({3001}, gen), e32 = at::randn({3001}, gen);
    auto r32 = s32.clone().lerp_(e32, w);
    for (std::int64_t i = 0; i < 3001; ++i)
      ASSERT_EQ(k::lerp_fma(s32[i].item<float>(), e32[i].item<float>(), static_cast<float>(w)), r32[i].item<float>())
          << i;
  }
}

// The bfloat16 conversion of a double goes through float32, as c10's.
TEST(ReducedPrecision, DoubleToBfloat16GoesThroughFloat) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto x = at::randn({20000}, gen, at::TensorOptions().dtype(at::kDouble)) * 0.01;
  auto b = x.to(at::kBFloat16).to(at::kFloat);
  for (std::int64_t i = 0; i < x.numel(); ++i)
    ASSERT_EQ(k::round_to(static_cast<float>(x[i].item<double>()), k::Rounding::bf16), b[i].item<float>());
}

// The pullback of a momentum buffer: the first sync with a zero slow momentum,
// later ones with the buffer itself (the reference's aliasing).
TEST(LookaheadKernels, PullBackMomentum) {
  std::vector<double> b = {1.0, -2.0, 0.5};
  k::pull_back_momentum(b.data(), 3, 0.6, 0.4, false);
  EXPECT_EQ(b[0], 1.0 * 0.6 + 0.4 * 0.0);
  EXPECT_EQ(b[1], -2.0 * 0.6);
  std::vector<double> c = {1.0, -2.0, 0.5};
  k::pull_back_momentum(c.data(), 3, 0.6, 0.4, true);
  const double x = 1.0 * 0.6;
  EXPECT_EQ(c[0], x + 0.4 * x);
}

}  // namespace
