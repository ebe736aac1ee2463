// The block-wise 8-bit state machinery (kernels/quantized.h,
// optim/quantized_state.h) on its own: the dynamic maps against bitsandbytes'
// own output, the nearest-code search against a full argmin, round-trip error
// bounds per block, sign preservation, zero and non-finite values as the
// reference treats them, the fused driver against the unfused
// dequantize → rule → quantize, and its vector path against its scalar path.
#include <descent/kernels/adam.h>
#include <descent/kernels/adam8bit.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/quantized.h>
#include <descent/kernels/sign_momentum.h>
#include <descent/kernels/zoo.h>
#include <descent/optim/quantized_state.h>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

namespace {

namespace k = descent::kernels;
using k::bf16;
using k::Path;

const k::QuantMap& signed_qmap() { return descent::dynamic_map(true); }
const k::QuantMap& unsigned_qmap() { return descent::dynamic_map(false); }
const float* signed_map() { return signed_qmap().code; }
const float* unsigned_map() { return unsigned_qmap().code; }

using k::same_bits;

// torch.argmin(torch.abs(x - code)) in float32: the first index of the minimum;
// NaN is the minimum (index 0 when every difference is NaN).
int brute_argmin(const float* code, float x) {
  int best = 0;
  float bd = std::abs(x - code[0]);
  for (int i = 1; i < 256; ++i) {
    const float d = std::abs(x - code[i]);
    if (bd != bd) break;
    if (d < bd || d != d) {
      best = i;
      bd = d;
    }
  }
  return best;
}

// ---- the dynamic maps ---------------------------------------------------------

TEST(DynamicMap, MatchesBitsandbytesBitForBit) {
  std::ifstream in(std::string(DESCENT_GOLDEN_DIR) + "/../../kernels/data/bnb_dynamic_maps.json");
  ASSERT_TRUE(in) << "tests/kernels/data/bnb_dynamic_maps.json";
  nlohmann::json j;
  in >> j;
  for (const bool is_signed : {true, false}) {
    const auto ref = j[is_signed ? "signed" : "unsigned"].get<std::vector<double>>();
    ASSERT_EQ(ref.size(), 256u);
    const float* code = descent::dynamic_map(is_signed).code;
    for (int i = 0; i < 256; ++i)
      EXPECT_TRUE(same_bits(code[i], static_cast<float>(ref[i])))
          << (is_signed ? "signed" : "unsigned") << "[" << i << "] = " << code[i] << ", bitsandbytes " << ref[i];
  }
}

TEST(DynamicMap, Shape) {
  const float* s = signed_map();
  const float* u = unsigned_map();
  for (int i = 1; i < 256; ++i) {
    EXPECT_LT(s[i - 1], s[i]);
    EXPECT_LT(u[i - 1], u[i]);
  }
  // The signed map holds +1.0 but not −1.0; 0 sits at index 127.
  EXPECT_EQ(s[255], 1.0f);
  EXPECT_GT(s[0], -1.0f);
  EXPECT_NEAR(s[0], -0.99297, 1e-5);
  EXPECT_EQ(s[127], 0.0f);
  EXPECT_EQ(u[0], 0.0f);
  EXPECT_EQ(u[255], 1.0f);
  EXPECT_NEAR(s[128], 5.5e-7, 1e-12);
}

// The nearest-code search looks at the two codes around x only; that equals a
// full argmin as long as no gap between codes is so much narrower than its
// neighbour that one rounding of |x − c| could tie across it.
TEST(DynamicMap, GapsAreComparable) {
  for (const float* c : {signed_map(), unsigned_map()}) {
    for (int i = 1; i + 1 < 256; ++i) {
      const double a = c[i] - c[i - 1], b = c[i + 1] - c[i];
      EXPECT_LT(std::max(a / b, b / a), 1e4) << i;
    }
  }
}

// ---- the nearest code -----------------------------------------------------------

TEST(Quantize, NearestEqualsFullArgmin) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<float> e(-30.0f, 0.0f);
  for (const k::QuantMap* qm : {&signed_qmap(), &unsigned_qmap()}) {
    const float* code = qm->code;
    std::vector<float> xs;
    for (int i = 0; i < 200000; ++i) xs.push_back(u(rng));
    for (int i = 0; i < 100000; ++i) xs.push_back((i % 2 ? 1 : -1) * std::pow(2.0f, e(rng)));  // tiny values
    // Every decision boundary (midpoint of adjacent codes) and a few ulps
    // around it, every code and its neighbours: where ties and off-by-one
    // searches would show.
    for (int i = 0; i < 256; ++i) {
      // (thr[i]: the lookup's own decision point, where the argmin flips to i + 1)
      for (float x : {code[i], (i < 255 ? (code[i] + code[i + 1]) / 2 : code[i]), (i < 255 ? qm->thr[i] : code[i])}) {
        float lo = x, hi = x;
        for (int k = 0; k < 6; ++k) {
          xs.push_back(lo);
          xs.push_back(hi);
          lo = std::nextafter(lo, -2.0f);
          hi = std::nextafter(hi, 2.0f);
        }
      }
    }
    for (float x : {0.0f, -0.0f, 1.0f, -1.0f, 1.5f, -1.5f, std::numeric_limits<float>::denorm_min(),
                    -std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()})
      xs.push_back(x);
    // and every float32 in [-1, 1] with a stride (all exponents, all buckets)
    for (std::uint32_t bits = 0; bits <= 0x3f800000u; bits += 997) {
      float x;
      std::memcpy(&x, &bits, sizeof x);
      xs.push_back(x);
      xs.push_back(-x);
    }
    for (float x : xs) ASSERT_EQ(k::quantize_nearest(*qm, x), brute_argmin(code, x)) << "x = " << x;
  }
}

// The one-entry lookup holds for any code book whose thresholds fall at most
// one distinct value per bucket: equal codes (a threshold shared by several
// neighbours) included. A book too dense for the buckets is refused.
TEST(Quantize, LookupHandlesEqualCodesAndRefusesTooDenseBooks) {
  k::QuantMap m{};
  // A coarse book with runs of equal codes: -1, -0.5 (x3), 0 (x2), ... 1.
  for (int i = 0; i < 256; ++i) m.code[i] = std::round((i - 128) / 32.0f) / 4.0f;
  ASSERT_TRUE(k::build_quant_lookup(m));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.2f, 1.2f);
  std::vector<float> xs;
  for (int i = 0; i < 20000; ++i) xs.push_back(u(rng));
  for (int j = 0; j < 255; ++j) {
    if (!(std::abs(m.thr[j]) <= 1.5f)) continue;  // past the last code (+inf): the domain is |x| <= 1
    float lo = m.thr[j], hi = m.thr[j];
    for (int t = 0; t < 4; ++t) {
      xs.push_back(lo);
      xs.push_back(hi);
      lo = std::nextafter(lo, -2.0f);
      hi = std::nextafter(hi, 2.0f);
    }
  }
  for (float x : xs) ASSERT_EQ(k::quantize_nearest(m, x), brute_argmin(m.code, x)) << "x = " << x;
  // 256 codes a few ulps apart near 1: many thresholds share a bucket.
  for (int i = 0; i < 256; ++i) m.code[i] = 1.0f + static_cast<float>(i) * 0x1p-20f;
  EXPECT_FALSE(k::build_quant_lookup(m));
  // Unsorted codes are refused too.
  std::swap(m.code[3], m.code[4]);
  EXPECT_FALSE(k::build_quant_lookup(m));
}

TEST(Quantize, NaNIsCodeZero) {
  EXPECT_EQ(k::quantize_nearest(signed_qmap(), std::nanf("")), 0);
  EXPECT_EQ(k::quantize_nearest(unsigned_qmap(), -std::nanf("")), 0);
}

// ---- one block ------------------------------------------------------------------

struct Roundtrip {
  std::vector<std::uint8_t> codes;
  float absmax;
  std::vector<float> back;
};

Roundtrip roundtrip(const std::vector<float>& v, const k::QuantMap& code) {
  Roundtrip r;
  r.codes.resize(v.size());
  r.absmax = k::requantize_block(v.data(), static_cast<std::int64_t>(v.size()), code, r.codes.data());
  for (auto c : r.codes) r.back.push_back(k::dequantize(code, c, r.absmax));
  return r;
}

// |dequantize(quantize(x)) − x| is at most half the gap between the two codes
// around x/absmax, times absmax (plus the float32 roundings of the division
// and the product); the block's largest magnitude is exact.
TEST(Quantize, RoundTripErrorBoundPerBlock) {
  std::mt19937 rng(11);
  for (const bool is_signed : {true, false}) {
    const k::QuantMap& qm = is_signed ? signed_qmap() : unsigned_qmap();
    const float* code = qm.code;
    for (int trial = 0; trial < 200; ++trial) {
      const int n = 1 + static_cast<int>(rng() % 2048);
      const double scale = std::pow(10.0, static_cast<int>(rng() % 12) - 8);
      std::normal_distribution<double> nd(0.0, 1.0);
      std::vector<float> v(n);
      for (auto& x : v) x = static_cast<float>(is_signed ? nd(rng) * scale : std::abs(nd(rng) * nd(rng) * nd(rng)) * scale);
      const auto r = roundtrip(v, qm);
      float amax = 0;
      for (float x : v) amax = std::max(amax, std::abs(x));
      ASSERT_EQ(r.absmax, amax == 0 ? 1.0f : amax);
      for (int i = 0; i < n; ++i) {
        const float x = v[i] / r.absmax;
        int j = 0;
        while (j < 255 && code[j + 1] <= x) ++j;
        const double gap = j < 255 ? code[j + 1] - code[j] : 0.0;
        const double bound = (gap / 2 + 2e-7) * r.absmax + 1e-7 * std::abs(v[i]);
        ASSERT_LE(std::abs(static_cast<double>(r.back[i]) - v[i]), bound) << "trial " << trial << " i " << i;
        // The block's largest magnitude is exact, except −absmax in the signed
        // map (−1 is not a code): it lands on the lowest code.
        if (std::abs(v[i]) == amax && amax > 0 && v[i] > 0) {
          ASSERT_EQ(r.back[i], v[i]);
        }
        if (std::abs(v[i]) == amax && amax > 0 && v[i] < 0) {
          ASSERT_EQ(r.codes[i], 0);
        }
      }
    }
  }
}

// Nearest rounding never flips a sign: a value maps to a code of its own sign
// or to 0; the unsigned map takes negative values to 0.
TEST(Quantize, SignPreservation) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<float> e(-40.0f, 0.0f);
  std::vector<float> v(4096);
  for (int trial = 0; trial < 50; ++trial) {
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = u(rng) * std::pow(2.0f, e(rng));
    const auto s = roundtrip(v, signed_qmap());
    const auto q = roundtrip(v, unsigned_qmap());
    for (std::size_t i = 0; i < v.size(); ++i) {
      ASSERT_GE(s.back[i] * v[i], 0.0f) << v[i] << " -> " << s.back[i];
      if (std::abs(v[i]) >= s.absmax * 1e-6f) {  // above the smallest code
        ASSERT_NE(s.back[i], 0.0f) << v[i];
      }
      if (v[i] <= 0) {
        ASSERT_EQ(q.back[i], 0.0f);
      }
      if (v[i] > 0) {
        ASSERT_GE(q.back[i], 0.0f);
      }
    }
  }
}

// An all-zero block (a zero gradient on fresh state): absmax 1 (the
// reference's absmax[absmax == 0] = 1), every code the map's zero, values 0.
TEST(Quantize, ZeroBlock) {
  const std::vector<float> z(256, 0.0f);
  const auto s = roundtrip(z, signed_qmap());
  EXPECT_EQ(s.absmax, 1.0f);
  for (std::size_t i = 0; i < z.size(); ++i) {
    EXPECT_EQ(s.codes[i], 127);
    EXPECT_EQ(s.back[i], 0.0f);
  }
  const auto u = roundtrip(z, unsigned_qmap());
  EXPECT_EQ(u.absmax, 1.0f);
  for (auto c : u.codes) EXPECT_EQ(c, 0);
}

// Non-finite values as the reference (torch ops) treats them: a NaN makes the
// block's absmax NaN (torch.max propagates it) and every code 0 (argmin over
// NaN differences), so the whole block dequantizes to NaN; an inf makes the
// absmax inf, that element inf/inf = NaN (code 0), the others 0.
TEST(Quantize, NonFiniteAsTheReference) {
  std::vector<float> v(300);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i));
  auto nan_block = v;
  nan_block[17] = std::nanf("");
  const auto a = roundtrip(nan_block, signed_qmap());
  EXPECT_TRUE(std::isnan(a.absmax));
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(a.codes[i], 0);
    EXPECT_TRUE(std::isnan(a.back[i]));
  }
  auto inf_block = v;
  inf_block[3] = -std::numeric_limits<float>::infinity();
  const auto b = roundtrip(inf_block, signed_qmap());
  EXPECT_TRUE(std::isinf(b.absmax));
  EXPECT_EQ(b.codes[3], 0);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (i != 3) {
      EXPECT_EQ(b.codes[i], 127) << i;  // finite/inf = ±0 → the zero code
    }
}

// ---- the fused driver ---------------------------------------------------------------

template <class T> T from_double(double x) { return static_cast<T>(x); }
template <> bf16 from_double<bf16>(double x) { return k::to_bf16(static_cast<float>(x)); }

// One tensor's quantized state, held in vectors.
template <class T, int N>
struct Buffers {
  std::vector<T> p, g;
  std::vector<std::uint8_t> codes[N];
  std::vector<float> absmax[N];
  const k::QuantMap* map[N];
  std::int64_t n, block;

  Buffers(std::int64_t n_, std::int64_t block_, unsigned seed, const bool* is_signed) : n(n_), block(block_) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (std::int64_t i = 0; i < n; ++i) {
      p.push_back(from_double<T>(u(rng)));
      g.push_back(from_double<T>(u(rng) * 0.1));
    }
    const std::int64_t nb = k::quant_blocks(n, block);
    for (int s = 0; s < N; ++s) {
      map[s] = &descent::dynamic_map(is_signed[s]);
      for (std::int64_t i = 0; i < n; ++i) codes[s].push_back(static_cast<std::uint8_t>(rng() & 255));
      if (!is_signed[s])
        for (auto& c : codes[s]) c = static_cast<std::uint8_t>(c / 2);  // small second moments
      for (std::int64_t b = 0; b < nb; ++b) absmax[s].push_back(static_cast<float>(std::abs(u(rng)) * 0.01));
    }
  }
  k::QuantSpan<T> span() {
    k::QuantSpan<T> x;
    x.p = p.data();
    x.g = g.data();
    x.n = n;
    x.block = block;
    for (int s = 0; s < N; ++s) {
      x.codes[s] = codes[s].data();
      x.absmax[s] = absmax[s].data();
      x.map[s] = map[s];
    }
    return x;
  }
};

template <class Rule, class T>
void vector_equals_scalar(const Rule& rule, const bool* is_signed) {
  constexpr int N = Rule::kStates;
  for (std::int64_t block : {1, 7, 64, 256, 2048}) {
    for (std::int64_t n : {0, 1, 5, 63, 64, 65, 255, 256, 257, 1000, 2048, 4099, 9000}) {
      Buffers<T, N> a(n, block, static_cast<unsigned>(n * 7 + block), is_signed);
      auto b = a;
      const std::int64_t nb = k::quant_blocks(n, block);
      for (int step = 0; step < 3; ++step) {
        k::run_quantized(rule, a.span(), 0, nb, Path::vector);
        k::run_quantized(rule, b.span(), 0, nb, Path::scalar);
      }
      for (std::int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_bits(a.p[i], b.p[i])) << "param " << i << " n=" << n << " block=" << block;
        for (int s = 0; s < N; ++s) ASSERT_EQ(a.codes[s][i], b.codes[s][i]) << "state " << s << " at " << i;
      }
      for (int s = 0; s < N; ++s)
        for (std::int64_t j = 0; j < nb; ++j) ASSERT_TRUE(same_bits(a.absmax[s][j], b.absmax[s][j]));
    }
  }
}

template <class Rule>
void vector_equals_scalar_all(const Rule& rule, const bool* is_signed) {
  vector_equals_scalar<Rule, float>(rule, is_signed);
  vector_equals_scalar<Rule, double>(rule, is_signed);
  vector_equals_scalar<Rule, bf16>(rule, is_signed);
}

const bool kMV[] = {true, false};

TEST(QuantizedDriver, VectorEqualsScalarAdam) {
  k::AdamRule<false> r;
  r.neg_step_size = -0.01;
  r.bc2_sqrt = 0.3;
  r.l2 = 0.01;
  vector_equals_scalar_all(r, kMV);
  const bool amsgrad[] = {true, false, false};
  k::AdamRule<true> a;
  a.neg_step_size = -0.02;
  a.decay = 0.999;
  vector_equals_scalar_all(a, amsgrad);
}

TEST(QuantizedDriver, VectorEqualsScalarAdam8bit) {
  k::Adam8bitRule<true> r;
  r.step = -0.01;
  r.bc2_sqrt = 0.2;
  r.decay_on = true;
  r.decay = 0.999;
  vector_equals_scalar_all(r, kMV);
}

TEST(QuantizedDriver, VectorEqualsScalarLion) {
  k::SignMomentumRule<true> r;
  r.neg_lr = -0.001;
  r.decay = 0.99;
  const bool m[] = {true};
  vector_equals_scalar_all(r, m);
}

// Update-and-sum rules: the sums agree too.
struct SumsRule {
  static constexpr int kStates = 2;
  static constexpr int kSums = 2;
  template <class A> void operator()(A& p, A g, A* s, A* terms) const {
    s[0] = s[0] * A(0.9) + A(0.1) * g;
    s[1] = s[1] * A(0.99) + A(0.01) * g * g;
    p = p - A(0.01) * s[0];
    terms[0] = s[0] * s[0];
    terms[1] = g * s[0] > A(0) ? A(1) : A(0);
  }
};

TEST(QuantizedDriver, VectorEqualsScalarWithSums) {
  for (std::int64_t block : {5, 256}) {
    for (std::int64_t n : {0, 3, 256, 1001}) {
      Buffers<float, 2> a(n, block, 3, kMV);
      auto b = a;
      double sa[2] = {}, sb[2] = {};
      k::run_quantized(SumsRule{}, a.span(), 0, k::quant_blocks(n, block), Path::vector, sa);
      k::run_quantized(SumsRule{}, b.span(), 0, k::quant_blocks(n, block), Path::scalar, sb);
      for (int s = 0; s < 2; ++s) ASSERT_TRUE(same_bits(sa[s], sb[s])) << "sum " << s;
      for (std::int64_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(a.p[i], b.p[i]));
    }
  }
}

// The fused pass equals the three steps done one after the other on whole
// tensors: dequantize, the rule with float32 state (kernels::run), quantize.
TEST(QuantizedDriver, FusedEqualsUnfused) {
  k::AdamRule<false> r;
  r.neg_step_size = -0.01;
  r.bc2_sqrt = 0.3;
  for (std::int64_t block : {3, 256, 2048}) {
    const std::int64_t n = 5000;
    Buffers<float, 2> a(n, block, 99, kMV);
    auto b = a;
    k::run_quantized(r, a.span(), 0, k::quant_blocks(n, block));
    // unfused
    std::vector<float> s[2];
    for (int q = 0; q < 2; ++q) {
      for (std::int64_t i = 0; i < n; ++i) s[q].push_back(k::dequantize(*b.map[q], b.codes[q][i], b.absmax[q][i / block]));
    }
    k::Span<float> x;
    x.p = b.p.data();
    x.g = b.g.data();
    x.s[0] = s[0].data();
    x.s[1] = s[1].data();
    k::run(r, x, 0, n);
    for (int q = 0; q < 2; ++q)
      for (std::int64_t bl = 0; bl < k::quant_blocks(n, block); ++bl) {
        const std::int64_t e0 = bl * block, len = std::min(n, e0 + block) - e0;
        b.absmax[q][bl] = k::requantize_block(s[q].data() + e0, len, *b.map[q], b.codes[q].data() + e0);
      }
    for (std::int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(same_bits(a.p[i], b.p[i])) << i;
      for (int q = 0; q < 2; ++q) ASSERT_EQ(a.codes[q][i], b.codes[q][i]);
    }
    for (int q = 0; q < 2; ++q) ASSERT_EQ(a.absmax[q], b.absmax[q]);
  }
}

// Whole-tensor helpers: quantize_blockwise / dequantize_blockwise round trip,
// and the fresh state (codes 0, absmax 0) dequantizes to zero.
TEST(QuantizedTensors, RoundTripAndFreshState) {
  const auto v = at::randn({37, 29}, at::kFloat) * 0.01;
  for (std::int64_t block : {1, 64, 256, 2048}) {
    for (const bool is_signed : {true, false}) {
      const auto& map = descent::dynamic_map(is_signed);
      const auto x = is_signed ? v : v.abs();
      auto [codes, absmax] = descent::quantize_blockwise(x, map, block);
      EXPECT_EQ(codes.sizes(), x.sizes());
      EXPECT_EQ(absmax.numel(), k::quant_blocks(x.numel(), block));
      const auto back = descent::dequantize_blockwise(codes, absmax, map, block);
      // per block, the error is below half the widest gap near the top (1/64 of the range) times absmax
      const auto err = (back - x).abs().reshape({-1});
      const auto am = absmax.repeat_interleave(block).slice(0, 0, x.numel());
      EXPECT_TRUE((err <= am * (0.5 / 64 + 1e-6)).all().item<bool>()) << block;
      if (!is_signed) {
        // Each block's largest value is exact (code 1.0), so requantizing
        // what was dequantized gives the same codes.
        auto [c2, a2] = descent::quantize_blockwise(back, map, block);
        EXPECT_TRUE(at::equal(c2, codes)) << block;
        EXPECT_TRUE(at::equal(a2, absmax)) << block;
      }
    }
  }
  const auto fresh = descent::dequantize_blockwise(at::zeros({300}, at::kByte), at::zeros({2}, at::kFloat),
                                                   descent::dynamic_map(true), 256);
  EXPECT_TRUE((fresh == 0).all().item<bool>());
}

}  // namespace
