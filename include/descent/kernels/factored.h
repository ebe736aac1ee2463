// descent/kernels/factored.h: the driver and building blocks of the factored
// optimizers (Adafactor, CAME).
//
// Factored second moments: a tensor of shape [..., R, C] is seen as a grid of
// `batches` (the product of the leading dims) × R rows × C columns, row-major.
// Its statistics are one number per row ([..., R]) and one per column
// ([..., C]); the preconditioner of element (b, r, c) is the product of a row
// factor and a column factor,
//
//     pre = rf[b, r] · cf[b, c],   rf = rsqrt(row / mean_r(row)),  cf = rsqrt(col)
//
// (Shazeer & Stern 2018, Section 3; the reference code's approximate_sq_grad).
// Tensors with fewer than two dims are not factored: a grid of one row.
//
// A grid rule is a struct with
//
//     static constexpr int  kStates;   // element-aligned state buffers, s[0..kStates)
//     static constexpr int  kSums;     // per-tensor sums (0: none)
//     static constexpr bool kPre;      // reads pre = A(rf[row]) · A(cf[col])
//     static constexpr bool kRowCol;   // writes a value rc summed per row and per column
//     static constexpr bool kStoreP;   // changes p (otherwise p is not written back)
//     static constexpr unsigned kStoreStates;  // bit k: s[k] is written back
//     template <class A> void operator()(A& p, A g, A pre, A* s, A* terms, A& rc) const;
//
// run_grid() applies it to the elements [begin, end) of one tensor in one pass,
// a tile of kTile elements at a time. Per-tensor sums and row sums are
// accumulated in kLanes double lanes (the lane of an element is its position
// modulo kLanes within its row segment), column sums in row order; the vector
// and the scalar path run the same operations in the same order and give
// identical bits.
#pragma once

#include <descent/kernels/bit_cast.h>
#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace descent::kernels {

struct Grid {
  std::int64_t batches = 1, rows = 1, cols = 1;
  std::int64_t numel() const { return batches * rows * cols; }
};

// ---- building blocks with PyTorch's semantics ----------------------------------------

// torch.rsqrt on the CPU: 1 / sqrt(x), each correctly rounded.
template <class A> inline A rsqrt(A x) { return A(1) / std::sqrt(x); }

// The preconditioner of one element, shared by Adafactor and CAME: from the
// grid driver (factored tensors) or rsqrt(v) (unfactored); with ams_bound,
// rsqrt(v̂ / divisor) (Adafactor: bias_correction2, CAME: beta2).
// States: [v] (unfactored), then [v̂] (ams_bound).
template <bool Factored, bool Ams, class A>
inline A factored_pre(A pre, const A* s, double divisor) {
  if constexpr (Ams) {
    return rsqrt(static_cast<A>(s[Factored ? 0 : 1] / A(divisor)));
  } else if constexpr (!Factored) {
    return rsqrt(s[0]);
  } else {
    return pre;
  }
}

// torch.maximum / torch.max(a, b): NaN if either is NaN.
template <class A> inline A maximum(A a, A b) {
  return (a > b || a != a) ? a : b;
}

// float32 → IEEE binary16, round to nearest even (as c10::Half); NaN → 0x7E00.
inline std::uint16_t to_half_bits(float f) {
  const std::uint32_t u = bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const float a = std::fabs(f);
  if (a != a) return static_cast<std::uint16_t>(sign | 0x7E00u);
  if (a >= 65520.0f) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to infinity
  if (a < 6.103515625e-05f) {                                             // below 2^-14: subnormal
    // a·2^24 is exact; rounding it to an integer (ties to even) gives the
    // subnormal's mantissa, and 1024 is the smallest normal's encoding.
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(a * 16777216.0f)));
  }
  const std::uint32_t ua = bit_cast<std::uint32_t>(a);
  const std::uint32_t exponent = ((ua >> 23) & 0xFFu) - 127u + 15u;  // 1..30
  const std::uint32_t mant = ua & 0x7FFFFFu;
  std::uint32_t h = (exponent << 10) | (mant >> 13);
  const std::uint32_t rest = mant & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent as it should
  return static_cast<std::uint16_t>(sign | h);
}

inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t mant = h & 0x3FFu;
  if (exponent == 0) {
    const float out = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -out : out;
  }
  std::uint32_t u;
  if (exponent == 31)
    u = sign | 0x7F800000u | (mant << 13);
  else
    u = sign | ((exponent - 15u + 127u) << 23) | (mant << 13);
  return bit_cast<float>(u);
}

// The reduced precisions a momentum may be kept in (the reference's
// momentum_dtype), as a rounding of float32 values.
enum class Rounding : int { f32 = 0, bf16 = 1, f16 = 2 };

template <Rounding R> inline float round_to(float x) {
  if constexpr (R == Rounding::bf16) return to_float(to_bf16(x));
  else if constexpr (R == Rounding::f16) return half_bits_to_float(to_half_bits(x));
  else return x;
}

inline float round_to(float x, Rounding r) {
  switch (r) {
    case Rounding::bf16: return round_to<Rounding::bf16>(x);
    case Rounding::f16: return round_to<Rounding::f16>(x);
    default: return x;
  }
}

// A grid rule may keep some state slots in a narrower storage than the state
// type (Adafactor's momentum in the reference's momentum_dtype, bfloat16 by
// default: 2 bytes instead of 4): bit k of Rule::kNarrowStates marks slot k,
// stored as Rule::kNarrow (bfloat16 or float16 bits, or float32 for float64
// parameters). The rule rounds the values it writes there to that precision,
// so storing them is exact. Rules without kNarrowStates keep every slot in the
// state type.
template <class Rule, class = void>
struct narrow_states {
  static constexpr unsigned mask = 0;
  static constexpr Rounding rounding = Rounding::f32;
};
template <class Rule>
struct narrow_states<Rule, std::void_t<decltype(Rule::kNarrowStates)>> {
  static constexpr unsigned mask = Rule::kNarrowStates;
  static constexpr Rounding rounding = Rule::kNarrow;
};

template <Rounding R> inline float narrow_load(const void* s, std::int64_t i) {
  if constexpr (R == Rounding::bf16) return to_float(static_cast<const bf16*>(s)[i]);
  else if constexpr (R == Rounding::f16) return half_bits_to_float(static_cast<const std::uint16_t*>(s)[i]);
  else return static_cast<const float*>(s)[i];
}
template <Rounding R> inline void narrow_store(void* s, std::int64_t i, float v) {
  if constexpr (R == Rounding::bf16) static_cast<bf16*>(s)[i] = to_bf16(v);
  else if constexpr (R == Rounding::f16) static_cast<std::uint16_t*>(s)[i] = to_half_bits(v);
  else static_cast<float*>(s)[i] = v;
}

// torch.lerp on the CPU (PyTorch 1.13, every floating dtype, vectorised and
// tail alike): a fused multiply-add in the op-math type, float for float32,
// bfloat16 and float16:
//   |w| < 0.5:  fma(w, e − s, s)        else  fma(w − 1, e − s, e)
// (moments.h's lerp is the same without the fusion; it differs in the last bit.)
// std::fma is correctly rounded everywhere: an instruction in run_grid's
// AVX2/FMA build (below), a libm call (hardware or software) otherwise.
inline float lerp_fma(float s, float e, float w) {
  const float d = e - s;
  return std::abs(w) < 0.5f ? std::fma(w, d, s) : std::fma(w - 1.0f, d, e);
}

// ---- the grid driver ------------------------------------------------------------------

namespace detail {
template <class Rule, class T>
inline void grid_element(const Rule& rule, T* __restrict p, const T* __restrict g, state_t<T>* const* s,
                         std::int64_t i, compute_t<T> pre, compute_t<T>* terms, compute_t<T>& rc) {
  using A = compute_t<T>;
  using S = state_t<T>;
  constexpr int n = Rule::kStates;
  A x = load(p, i);
  A st[n > 0 ? n : 1];
  constexpr unsigned narrow = narrow_states<Rule>::mask;
  constexpr Rounding R = narrow_states<Rule>::rounding;
  for (int k = 0; k < n; ++k)
    st[k] = ((narrow >> k) & 1u) ? static_cast<A>(narrow_load<R>(s[k], i)) : static_cast<A>(s[k][i]);
  rule(x, load(g, i), pre, st, terms, rc);
  if constexpr (Rule::kStoreP) store(p, i, x);
  for (int k = 0; k < n; ++k) {
    if (!((Rule::kStoreStates >> k) & 1u)) continue;
    if ((narrow >> k) & 1u)
      narrow_store<R>(s[k], i, static_cast<float>(st[k]));
    else
      s[k][i] = static_cast<S>(st[k]);
  }
}
}  // namespace detail

// Elements per tile: the element loop runs over a tile (vectorised), writing
// each element's sums and row/column value to small arrays; they are then
// added to the lanes.
inline constexpr int kTile = 64;
static_assert(kTile % kLanes == 0, "tiles hold whole lane groups");

// Applies `rule` to elements [begin, end) of a tensor laid out as `grid`.
//  * rf, cf (when Rule::kPre): row factors [batches·rows] and column factors
//    [batches·cols], values of the compute type stored as double;
//  * row_sum, col_sum (when Rule::kRowCol): row_sum[row] is set to the row's
//    total (begin and end must then be row boundaries); col_sum[(b − col_batch0)·cols + c]
//    is added to;
//  * sums[0..kSums) is added to.
namespace detail {
template <class Rule, class T>
__attribute__((always_inline)) inline void run_grid_impl(const Rule& rule, Span<T> x, const Grid& grid,
                                                         std::int64_t begin, std::int64_t end, const double* rf,
                                                         const double* cf, double* row_sum, double* col_sum,
                                                         std::int64_t col_batch0, double* sums, Path path) {
  using A = compute_t<T>;
  constexpr int K = Rule::kSums > 0 ? Rule::kSums : 1;
  static_assert(Rule::kStates <= kMaxStates, "raise kMaxStates");
  const Rule r = rule;
  T* const p = x.p;
  const T* const g = x.g;
  state_t<T>* s[kMaxStates];
  for (int k = 0; k < kMaxStates; ++k) s[k] = x.s[k];
  const std::int64_t cols = grid.cols, rows = grid.rows;
  const bool scalar = path == Path::scalar;
  double acc[K][kLanes] = {};
  A tt[K][kTile];  // this tile's sums terms
  A rct[kTile];    // and row/column values
  std::int64_t i = begin;
  while (i < end) {
    const std::int64_t row = i / cols;
    const std::int64_t c0 = i - row * cols;
    const std::int64_t c1 = (end - i < cols - c0) ? c0 + (end - i) : cols;
    const std::int64_t b = row / rows;
    const A rfa = Rule::kPre ? static_cast<A>(rf[row]) : A(0);
    const double* cfb = Rule::kPre ? cf + b * cols : nullptr;
    double* csb = Rule::kRowCol ? col_sum + (b - col_batch0) * cols : nullptr;
    double racc[kLanes] = {};
    const std::int64_t base = row * cols;
    for (std::int64_t t0 = c0; t0 < c1; t0 += kTile) {
      const int len = static_cast<int>(c1 - t0 < kTile ? c1 - t0 : kTile);
      auto element = [&](int j) {
        A terms[K];
        A rc = A(0);
        const A pre = Rule::kPre ? rfa * static_cast<A>(cfb[t0 + j]) : A(0);
        detail::grid_element(r, p, g, s, base + t0 + j, pre, terms, rc);
        if constexpr (Rule::kSums > 0)
          for (int k = 0; k < K; ++k) tt[k][j] = terms[k];
        if constexpr (Rule::kRowCol) rct[j] = rc;
      };
      if (scalar) {
        for (int j = 0; j < len; ++j) {
          element(j);
          asm volatile("" ::: "memory");  // keeps this loop scalar
        }
      } else {
#pragma GCC ivdep
        for (int j = 0; j < len; ++j) element(j);
      }
      // Lanes: element j of the tile goes to lane j mod kLanes (tiles start at
      // multiples of kLanes from the segment's start).
      if constexpr (Rule::kSums > 0) {
        for (int k = 0; k < K; ++k) {
          int j = 0;
          for (; j + kLanes <= len; j += kLanes)
            for (int l = 0; l < kLanes; ++l) acc[k][l] += static_cast<double>(tt[k][j + l]);
          for (int l = 0; j < len; ++j, ++l) acc[k][l] += static_cast<double>(tt[k][j]);
        }
      }
      if constexpr (Rule::kRowCol) {
        int j = 0;
        for (; j + kLanes <= len; j += kLanes)
          for (int l = 0; l < kLanes; ++l) racc[l] += static_cast<double>(rct[j + l]);
        for (int l = 0; j < len; ++j, ++l) racc[l] += static_cast<double>(rct[j]);
        for (int jj = 0; jj < len; ++jj) csb[t0 + jj] += static_cast<double>(rct[jj]);
      }
    }
    if constexpr (Rule::kRowCol) {
      double total = 0;
      for (int l = 0; l < kLanes; ++l) total += racc[l];
      row_sum[row] = total;
    }
    i = base + c1;
  }
  if constexpr (Rule::kSums > 0) {
    for (int k = 0; k < Rule::kSums; ++k) {
      double total = 0;
      for (int l = 0; l < kLanes; ++l) total += acc[k][l];
      sums[k] += total;
    }
  }
}
}  // namespace detail

template <class Rule, class T>
void run_grid(const Rule& rule, Span<T> x, const Grid& grid, std::int64_t begin, std::int64_t end,
              const double* rf, const double* cf, double* row_sum, double* col_sum, std::int64_t col_batch0,
              double* sums, Path path = Path::vector) {
  detail::run_grid_impl(rule, x, grid, begin, end, rf, cf, row_sum, col_sum, col_batch0, sums, path);
}

// The same, compiled for AVX2 and FMA (x86-64 with GCC): wider vectors, and
// the fused multiply-adds of lerp_fma as instructions, so the reduced-precision
// momentum vectorises. Every operation is an IEEE basic operation, a conversion
// or an explicit correctly rounded fma, and contraction stays off, so the
// results are bit-identical to run_grid's. Call it only where
// grid_avx2_available() (launch_grid does).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DESCENT_GRID_AVX2 1
template <class Rule, class T>
__attribute__((target("avx2,fma"))) void run_grid_avx2(const Rule& rule, Span<T> x, const Grid& grid,
                                                       std::int64_t begin, std::int64_t end, const double* rf,
                                                       const double* cf, double* row_sum, double* col_sum,
                                                       std::int64_t col_batch0, double* sums,
                                                       Path path = Path::vector) {
  detail::run_grid_impl(rule, x, grid, begin, end, rf, cf, row_sum, col_sum, col_batch0, sums, path);
}

inline bool grid_avx2_available() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
#else
inline bool grid_avx2_available() { return false; }
#endif

// ---- row and column statistics --------------------------------------------------------

// mean(x) over n values as PyTorch's CPU mean: the sum rounded to the tensor's
// type, then divided by n in that type.
template <class A> inline A mean_of_sum(double sum, std::int64_t n) {
  return static_cast<A>(sum) / static_cast<A>(n);
}

// Row and column factors from factored statistics (approximate_sq_grad):
//   rf[b, r] = rsqrt(row[b, r] / mean_r row[b, :]),   cf[b, c] = rsqrt(col[b, c])
// computed in A and stored as double.
template <class A, class S>
void factors(const Grid& grid, const S* row, const S* col, double* rf, double* cf) {
  for (std::int64_t b = 0; b < grid.batches; ++b) {
    const S* rb = row + b * grid.rows;
    double sum = 0;
    for (std::int64_t r = 0; r < grid.rows; ++r) sum += static_cast<double>(static_cast<A>(rb[r]));
    const A mean = mean_of_sum<A>(sum, grid.rows);
    for (std::int64_t r = 0; r < grid.rows; ++r)
      rf[b * grid.rows + r] = static_cast<double>(rsqrt(static_cast<A>(static_cast<A>(rb[r]) / mean)));
  }
  const std::int64_t ncol = grid.batches * grid.cols;
  for (std::int64_t j = 0; j < ncol; ++j) cf[j] = static_cast<double>(rsqrt(static_cast<A>(col[j])));
}

}  // namespace descent::kernels
