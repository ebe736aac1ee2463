// descent/kernels/quantized.h: block-wise 8-bit optimizer state, for any
// elementwise rule, in one fused pass per block.
//
// Reference: bitsandbytes (Dettmers et al., "8-bit Optimizers via Block-wise
// Quantization", ICLR 2022), bitsandbytes-foundation/bitsandbytes @ 95f9af30:
// bitsandbytes/functional.py (create_dynamic_map) and the repo's pure-PyTorch
// 8-bit optimizer, bitsandbytes/backends/triton/kernels_optim.py
// (optimizer_update_8bit_blockwise_pytorch, _quantize_blockwise_pytorch,
// _dequantize_blockwise_pytorch).
//
// A quantized state is a byte per element (an index into a sorted 256-entry
// code book, the "dynamic map": signed for moments that change sign, unsigned
// for second moments) and a float32 absmax per block of `block` consecutive
// elements. Its value is code[c]·absmax[block], a float32 product. One step
// over a block of one tensor:
//   1. dequantize every state of the block into a float32 buffer on the stack;
//   2. run the optimizer's own rule, unchanged, over the block (parameter,
//      gradient and the buffered states): the update uses the fresh,
//      unquantized states;
//   3. absmax ← max |s| over the block of each new state (NaN propagates, as
//      torch.max; an all-zero block gets absmax 1, as the reference);
//   4. requantize: c ← the index of the code nearest to s/absmax (float32
//      division), as torch.argmin(|s/absmax − code|): ties go to the lower
//      index, NaN gives index 0.
// Nothing is allocated; a block is read and written once.
//
// The rule sees states of its compute type A (float, or double for double
// parameters); the buffer holds float32 (the state's precision). A rule that
// declares `static constexpr bool kFloat32Math = true` runs in float32 for
// every parameter dtype, parameter and gradient rounded to float32 and the
// parameter written back from float32 (bitsandbytes' p.float() ... p.copy_()).
//
// Slots can also be "raw" float32 buffers (codes == nullptr): the same rule,
// state kept unquantized in float32 (bitsandbytes' 32-bit path for tensors
// below min_8bit_size).
//
// The vector path lets GCC vectorise the update and the absmax; the scalar
// path runs one element at a time. Both perform the same operations on every
// element, so they agree bit for bit (the kernel tests hold them to it).
#pragma once

#include <descent/kernels/bit_cast.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/scalar_types.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#ifdef DESCENT_AVX2_CLONE
#include <immintrin.h>
#endif

namespace descent::kernels {

// Elements per absmax block: at most this many (the block's buffer lives on
// the stack: kStates × kMaxQuantBlock floats).
inline constexpr std::int64_t kMaxQuantBlock = 4096;

// A sorted code book of 256 float32 values, with a lookup table that finds
// the nearest code with one table read and no distance comparisons. The
// argmin's choice between neighbouring codes j and j + 1 flips at one float32
// value thr[j] (precomputed: the first x at which fl(|x − code[j+1]|) <
// fl(|x − code[j]|)), so the nearest index is the number of thresholds at or
// below x. The value's sign, exponent and top kQuantSubBits mantissa bits pick
// a bucket; within a bucket those bits are fixed and only the low 16 mantissa
// bits vary, and a bucket holds at most one distinct threshold
// (build_quant_lookup checks). So one 32-bit entry per bucket answers the
// count: `first` (thresholds at or below the bucket's smallest value),
// `after` (at or below its largest) and the threshold's low 16 bits as a key
// that orders like the value (mirrored for negative values): the index is
// `after` when x's key reaches the threshold's, `first` otherwise.
inline constexpr int kQuantSubBits = 7;  // 23 − 7 = 16 low bits: the key
inline constexpr int kQuantEmin = 127 - 24;  // biased exponents below: one bucket (|x| < 2^-24)
inline constexpr int kQuantBuckets = 1 + (127 - kQuantEmin + 1) * (1 << kQuantSubBits) + 1;
static_assert(23 - kQuantSubBits == 16, "the key is the low 16 mantissa bits");

struct QuantMap {
  float code[256];
  // thr[j]: the smallest float32 x (code[j] < x <= code[j + 1]) that the
  // argmin gives to code j + 1 rather than j; +inf for j = 255.
  float thr[256];
  // entry[sign·kQuantBuckets + bucket] = first | after << 8 | key << 16.
  // 32-bit and one-dimensional, so that the vector loop can gather from it
  // (25.6 KB; the hot entries stay in L1).
  std::uint32_t entry[2 * kQuantBuckets];
};

namespace detail {
// The bucket of a float's bits (sign removed): a >> 16 is the exponent and
// the top kQuantSubBits mantissa bits side by side, so 1 + (a >> 16) −
// kQuantEmin·2^kQuantSubBits counts buckets from the first binade on, and
// clamping it to [0, kQuantBuckets − 1] sends |x| < 2^-24 to bucket 0 and
// |x| >= 2 (inf and NaN too) to the last. A shift, an add and two clamps that
// vectorise as vpmaxsd/vpminsd: the quantize step ran ~20% faster than with
// the exponent and mantissa taken apart and two compares (same buckets for
// all 2^31 magnitudes).
inline int quant_bucket(std::uint32_t a) {
  const int b = 1 + static_cast<int>(a >> (23 - kQuantSubBits)) - (kQuantEmin << kQuantSubBits);
  const int lo = b < 0 ? 0 : b;
  return lo > kQuantBuckets - 1 ? kQuantBuckets - 1 : lo;
}
// The key of a float's bits within its bucket: the low 16 bits, mirrored for
// negative values, so that within one bucket x <= y iff key(x) <= key(y).
inline std::int32_t quant_key(std::uint32_t u) {
  return static_cast<std::int32_t>((u & 0xffffu) ^ (0xffffu * (u >> 31)));
}
}  // namespace detail

namespace detail {
// Floats in value order as integers (−0 and +0 both 0), and back.
inline std::int64_t float_order(float x) {
  const auto b = bit_cast<std::int32_t>(x);
  return b >= 0 ? b : -static_cast<std::int64_t>(b & 0x7fffffff);
}
inline float order_float(std::int64_t k) {
  return bit_cast<float>(k >= 0 ? static_cast<std::int32_t>(k) : static_cast<std::int32_t>((-k) | 0x80000000LL));
}
// Whether the argmin over {lo, hi} (lo first) gives x to hi: the float32
// distances of torch.abs(x − code).
inline bool nearer_to_hi(float x, float lo, float hi) { return std::abs(x - hi) < std::abs(x - lo); }
}  // namespace detail

// Fills m.thr and m.entry from m.code (call once after setting the codes).
// Returns false if the codes are not sorted or a bucket holds two distinct
// thresholds (then one key could not answer it: use more sub-bits), or one
// in the catch-all buckets (|x| < 2^-24 or |x| >= 2).
inline bool build_quant_lookup(QuantMap& m) {
  bool ok = true;
  for (int j = 0; j < 255; ++j) ok = ok && m.code[j] <= m.code[j + 1];
  if (!ok) return false;
  // thr[j] for distinct neighbours: binary search over the floats in
  // (code[j], code[j + 1]]; the choice is monotone there (the distance to
  // code[j] grows, the one to code[j + 1] shrinks, each rounded monotonically).
  m.thr[255] = std::numeric_limits<float>::infinity();
  for (int j = 254; j >= 0; --j) {
    const float lo = m.code[j], hi = m.code[j + 1];
    if (!(lo < hi)) {
      // Equal codes: the argmin keeps the lower index, so x passes from the
      // code before this run straight to the code after it.
      m.thr[j] = m.thr[j + 1];
      continue;
    }
    std::int64_t a = detail::float_order(lo), b = detail::float_order(hi);  // P(a) false, P(b) true
    while (b - a > 1) {
      const std::int64_t mid = a + (b - a) / 2;
      if (detail::nearer_to_hi(detail::order_float(mid), lo, hi)) b = mid;
      else a = mid;
    }
    m.thr[j] = detail::order_float(b);
  }
  // Thresholds at or below x (thr[0..254] is sorted).
  auto count = [&](float x) {
    int c = 0;
    while (c < 255 && m.thr[c] <= x) ++c;
    return c;
  };
  for (std::uint32_t s = 0; s < 2; ++s) {
    for (int b = 0; b < kQuantBuckets; ++b) {
      // The bucket's magnitudes as bits: [lo_bits, hi_bits].
      std::uint32_t lo_bits, hi_bits;
      if (b == 0) {
        lo_bits = 0;
        hi_bits = (static_cast<std::uint32_t>(kQuantEmin) << 23) - 1;
      } else if (b == kQuantBuckets - 1) {
        lo_bits = 128u << 23;
        hi_bits = 0x7f7fffffu;  // the largest finite float (inf and NaN are handled apart)
      } else {
        const auto e = static_cast<std::uint32_t>(kQuantEmin + (b - 1) / (1 << kQuantSubBits));
        const auto sub = static_cast<std::uint32_t>((b - 1) % (1 << kQuantSubBits));
        lo_bits = e << 23 | sub << 16;
        hi_bits = lo_bits | 0xffffu;
      }
      const std::uint32_t sign = s << 31;
      const float smallest = bit_cast<float>(sign | (s == 0 ? lo_bits : hi_bits));
      const float largest = bit_cast<float>(sign | (s == 0 ? hi_bits : lo_bits));
      const int first = count(smallest), after = count(largest);
      std::int32_t key = 0;
      if (after > first) {
        const float t = m.thr[first];  // the bucket's thresholds: thr[first .. after)
        const bool catch_all = b == 0 || b == kQuantBuckets - 1;
        if (catch_all || m.thr[after - 1] != t) ok = false;
        key = detail::quant_key(bit_cast<std::uint32_t>(t));
      }
      m.entry[s * kQuantBuckets + static_cast<std::uint32_t>(b)] =
          static_cast<std::uint32_t>(first) | static_cast<std::uint32_t>(after) << 8 | static_cast<std::uint32_t>(key) << 16;
    }
  }
  return ok;
}

// The index of the code nearest to x, as torch.argmin(torch.abs(x − code))
// computes it in float32: the smallest |x − code[i]|, the lower index on ties,
// index 0 for NaN (argmin treats NaN as the minimum, and every difference is
// NaN) and for ±inf (every difference is inf). The code book is sorted, and
// |x − c| rounded to float32 is monotone in c on each side of x, so the
// minimum lies at one of the two codes around x, and which of the two flips at
// thr[j]: the index is the count of thresholds at or below x (the book's gaps
// are far wider than one rounding of |x − c|, so no farther code can tie with
// the nearer of the two; the kernel tests check the result against a full
// argmin).
// The domain is |x| <= 1 (the kernel quantizes v/absmax), NaN and ±inf; far
// beyond it (|x| ~ 2^17) float32 distances to many codes round equal and the
// argmin picks the first of them, which this does not reproduce.
// No branches (NaN and +inf run the lookup too, on a valid bucket, and are
// replaced at the end), so the loops calling it vectorise: one table read.
inline std::uint8_t quantize_nearest(const QuantMap& m, float x) {
  const auto u = bit_cast<std::uint32_t>(x);
  const std::uint32_t e = m.entry[static_cast<int>(u >> 31) * kQuantBuckets + detail::quant_bucket(u & 0x7fffffffu)];
  const auto first = static_cast<std::int32_t>(e & 0xffu), after = static_cast<std::int32_t>((e >> 8) & 0xffu);
  const std::int32_t nearest = detail::quant_key(u) >= static_cast<std::int32_t>(e >> 16) ? after : first;
  const bool none = x != x || x == std::numeric_limits<float>::infinity();
  return static_cast<std::uint8_t>(none ? 0 : nearest);
}

// Steps 3 and 4 for one block of `len` float32 values: returns the block's
// absmax (max |v|, NaN if any v is NaN, 1 for an all-zero block) and writes
// the nearest code of v/absmax for each value.
inline float requantize_block(const float* v, std::int64_t len, const QuantMap& code, std::uint8_t* out,
                              Path path = Path::vector) {
  // max |v| on the bits: with the sign cleared, float order is integer order
  // and every NaN is above +inf, so an unsigned max propagates NaN (a vector
  // max reduction; max is exact, so any order gives the same result).
  std::uint32_t top = 0;
  for (std::int64_t i = 0; i < len; ++i) {
    const std::uint32_t u = bit_cast<std::uint32_t>(v[i]) & 0x7fffffffu;
    top = u > top ? u : top;
  }
  float am = bit_cast<float>(top);
  if (am != am) am = std::numeric_limits<float>::quiet_NaN();  // as torch.max: NaN, canonical bits
  if (am == 0) am = 1;  // absmax[absmax == 0] = 1.0
  if (path == Path::scalar) {
    for (std::int64_t j = 0; j < len; ++j) {
      out[j] = quantize_nearest(code, v[j] / am);
      asm volatile("" ::: "memory");
    }
  } else {
    // ivdep: `out` is uint8_t (a character type, which may alias anything);
    // it does not alias v or the code book, and without this GCC will not
    // vectorise the table lookups as gathers.
#pragma GCC ivdep
    for (std::int64_t j = 0; j < len; ++j) out[j] = quantize_nearest(code, v[j] / am);
  }
  return am;
}

// The value of code c in a block with the given absmax (float32 product).
inline float dequantize(const QuantMap& m, std::uint8_t c, float absmax) { return m.code[c] * absmax; }

#ifdef DESCENT_AVX2_CLONE
namespace detail {
// dequantize() over a block, eight codes per vgatherdps. GCC's generic tuning
// writes a gather as eight scalar loads and inserts; on Zen 3 the instruction
// is 2.5x faster here (0.55 vs 1.4 ns per code, one core). The same product
// per element, so the result is bit-identical to the loop.
__attribute__((target("avx2"))) inline void dequantize_block_avx2(const QuantMap& m, const std::uint8_t* c,
                                                                  std::int64_t len, float absmax, float* out) {
  const __m256 am = _mm256_set1_ps(absmax);
  std::int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + i)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_i32gather_ps(m.code, idx, 4), am));
  }
  for (; i < len; ++i) out[i] = dequantize(m, c[i], absmax);
}
}  // namespace detail
#endif

// One tensor: parameter, gradient and, per state slot, either codes + absmax
// + code book (quantized) or a float32 buffer (raw).
template <class T>
struct QuantSpan {
  T* p = nullptr;
  const T* g = nullptr;
  std::int64_t n = 0;      // elements
  std::int64_t block = 256;  // elements per absmax block
  std::uint8_t* codes[kMaxStates] = {};
  float* absmax[kMaxStates] = {};
  const QuantMap* map[kMaxStates] = {};
  float* raw[kMaxStates] = {};  // raw slots (codes[k] == nullptr)
  // Mixed precision for bfloat16 parameters (bf16_mode), as Span's: a float32
  // master copy the rule reads and updates, or stochastic rounding.
  state_t<T>* master = nullptr;
  bool stochastic = false;
  std::uint32_t seed = 0;
};

namespace detail {
template <class Rule, class = void> struct float32_math : std::false_type {};
template <class Rule> struct float32_math<Rule, std::void_t<decltype(Rule::kFloat32Math)>>
    : std::bool_constant<Rule::kFloat32Math> {};
template <class Rule, class = void> struct sums_of : std::integral_constant<int, 0> {};
template <class Rule> struct sums_of<Rule, std::void_t<decltype(Rule::kSums)>>
    : std::integral_constant<int, Rule::kSums> {};

// The parameter, read and written as the span's bf16_mode says (element i of
// the tensor).
template <ParamIO M, class A, class T> inline A load_as(const QuantSpan<T>& x, std::int64_t i) {
  return static_cast<A>(read_param<M>(x.p, x.master, i));
}
template <ParamIO M, class T, class A> inline void store_from(const QuantSpan<T>& x, std::int64_t i, A v) {
  write_param<M>(x.p, x.master, x.seed, i, static_cast<compute_t<T>>(v));
}
template <class A, class T> inline A grad_as(const T* g, std::int64_t i) { return static_cast<A>(load(g, i)); }
}  // namespace detail

// The compute type of `Rule` for parameters of storage type T.
template <class Rule, class T>
using quant_compute_t = std::conditional_t<detail::float32_math<Rule>::value, float, compute_t<T>>;

// Runs `rule` over blocks [b0, b1) of one tensor (elements [b0·block,
// min(n, b1·block))). For a rule with kSums, adds its per-element terms to
// sums[0..kSums) (lanes per block, combined in a fixed order in double, so the
// sums do not depend on the path).
namespace detail {
// Gather: dequantize with dequantize_block_avx2 (only in the AVX2 clone).
// Vector = false: the scalar loops only (kBaselineVectorFor, elementwise.h).
template <ParamIO M, bool Gather = false, bool Vector = true, class Rule, class T>
void run_quantized_io(const Rule& rule, const QuantSpan<T>& x, std::int64_t b0, std::int64_t b1, Path path,
                      double* sums) {
  using A = quant_compute_t<Rule, T>;
  constexpr int n = Rule::kStates;
  constexpr int K = detail::sums_of<Rule>::value;
  static_assert(n > 0 && n <= kMaxStates, "a quantized rule has 1..kMaxStates states");
  const Rule r = rule;
  const bool scalar = !Vector || path == Path::scalar;
  const T* const g = x.g;
  alignas(64) float buf[n][kMaxQuantBlock];
  for (std::int64_t b = b0; b < b1; ++b) {
    const std::int64_t e0 = b * x.block;
    const std::int64_t len = std::min(x.n, e0 + x.block) - e0;
    if (len <= 0) break;
    // 1. dequantize (raw slots are read in place)
    float* s[n];
    for (int k = 0; k < n; ++k) {
      if (x.codes[k] == nullptr) {
        s[k] = x.raw[k] + e0;
        continue;
      }
      s[k] = buf[k];
      const float am = x.absmax[k][b];
      const QuantMap& code = *x.map[k];
      const std::uint8_t* c = x.codes[k] + e0;
      float* out = buf[k];
#ifdef DESCENT_AVX2_CLONE
      if constexpr (Gather) {
        dequantize_block_avx2(code, c, len, am, out);
        continue;
      }
#endif
      for (std::int64_t i = 0; i < len; ++i) {
        out[i] = dequantize(code, c[i], am);
        if (scalar) asm volatile("" ::: "memory");
      }
    }
    // 2. the rule; what it only reads (kStoreStates, kStoreP) is not stored
    const T* const gb = g + e0;
    // Element i of the block: load p and the states, call(xp, st) (the rule),
    // store back what the rule stores.
    auto apply = [&](std::int64_t i, auto&& call) {
      A xp = load_as<M, A>(x, e0 + i);
      A st[n];
      for (int k = 0; k < n; ++k) st[k] = static_cast<A>(s[k][i]);
      call(xp, st);
      if constexpr (StoreP<Rule>::value) store_from<M>(x, e0 + i, xp);
      for (int k = 0; k < n; ++k)
        if (stores_state<Rule>(k)) s[k][i] = static_cast<float>(st[k]);
    };
    if constexpr (K == 0) {
      auto one = [&](std::int64_t i) { apply(i, [&](A& xp, A* st) { r(xp, grad_as<A>(gb, i), st); }); };
      if (scalar) {
        for (std::int64_t i = 0; i < len; ++i) {
          one(i);
          asm volatile("" ::: "memory");
        }
      } else {
#pragma GCC ivdep
        for (std::int64_t i = 0; i < len; ++i) one(i);
      }
    } else {
      A acc[K > 0 ? K : 1][kLanes] = {};
      // Element i's terms into lane l.
      auto one = [&](std::int64_t i, int l) {
        A terms[K];
        apply(i, [&](A& xp, A* st) { r(xp, grad_as<A>(gb, i), st, terms); });
        for (int k = 0; k < K; ++k) acc[k][l] += terms[k];
      };
      std::int64_t i = 0;
      for (; i + kLanes <= len; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
          one(i + l, l);
          if (scalar) asm volatile("" ::: "memory");
        }
      }
      for (int l = 0; i < len; ++i, ++l) one(i, l);
      if (sums != nullptr) {
        for (int k = 0; k < K; ++k) {
          double total = 0;
          for (int l = 0; l < kLanes; ++l) total += static_cast<double>(acc[k][l]);
          sums[k] += total;
        }
      }
    }
    // 3. and 4. the new absmax, then the codes (of the states the rule changed)
    for (int k = 0; k < n; ++k)
      if (x.codes[k] != nullptr && stores_state<Rule>(k))
        x.absmax[k][b] = requantize_block(buf[k], len, *x.map[k], x.codes[k] + e0, scalar ? Path::scalar : path);
  }
}
}  // namespace detail

#ifdef DESCENT_AVX2_CLONE
namespace detail {
// The AVX2 clone (see elementwise.h). GCC's generic tuning emits the code-book
// lookups as scalar loads and inserts, not gathers; the dequantize step uses
// vgatherdps explicitly (dequantize_block_avx2). The quantize step's lookup
// stays compiled: an explicit vpgatherdd was only ~15% faster there.
template <ParamIO M, class Rule, class T>
__attribute__((target("avx2,fma"), flatten)) void run_quantized_io_avx2(const Rule& rule, const QuantSpan<T>& x,
                                                                    std::int64_t b0, std::int64_t b1, double* sums) {
  run_quantized_io<M, true>(rule, x, b0, b1, Path::vector, sums);
}
}  // namespace detail
#endif

template <class Rule, class T>
void run_quantized(const Rule& rule, const QuantSpan<T>& x, std::int64_t b0, std::int64_t b1,
                   Path path = Path::vector, double* sums = nullptr) {
  auto go = [&](auto io) {
    constexpr ParamIO M = decltype(io)::value;
#ifdef DESCENT_AVX2_CLONE
    if constexpr (kAvx2CloneFor<T>)
      if (path == Path::vector && detail::use_avx2()) return detail::run_quantized_io_avx2<M>(rule, x, b0, b1, sums);
#endif
    detail::run_quantized_io<M, false, kBaselineVectorFor<T>>(rule, x, b0, b1, path, sums);
  };
  if constexpr (std::is_same_v<T, bf16>) {
    if (x.master != nullptr) return go(std::integral_constant<ParamIO, ParamIO::master>{});
    if (x.stochastic) return go(std::integral_constant<ParamIO, ParamIO::stochastic>{});
  }
  go(std::integral_constant<ParamIO, ParamIO::direct>{});
}

// Blocks of a tensor of n elements.
inline std::int64_t quant_blocks(std::int64_t n, std::int64_t block) { return (n + block - 1) / block; }

}  // namespace descent::kernels
