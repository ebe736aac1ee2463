// descent/kernels/mfac.h: M-FAC's dense m × m algebra and its passes over the
// gradient window, on raw memory.
//
// Reference: IST-DASLab/M-FAC @ 8116367 : optim.py (MFAC, HInvFastUpMulti).
// M-FAC keeps the last m gradients, rows of G (m × d, all parameters flattened
// in order), and applies the inverse of the damped empirical Fisher
//   F = λ⁻¹·I + (1/m)·Gᵀ·G        (λ⁻¹ = damp; rows never filled count as zero)
// to the newest gradient g exactly, by Woodbury:
//   F⁻¹·g = λ·g − Gᵀ·y,   y = λ²·K⁻¹·(G·g),   K = λ·G·Gᵀ + m·I   (m × m).
// The reference builds this from an unpivoted LU of K (its `giHig`, `denom`
// and the lower-triangular `coef` = λ·L⁻¹) in the window's dtype. K is
// symmetric positive definite, so its unpivoted LU is L·(D·Lᵀ): descent keeps
// the same factors as K = L·D·Lᵀ, in double for any window dtype, and solves
// with them. When one gradient replaces row r of the window, only row and
// column r of K change, and rows < r of L and D stay as they are (they depend
// on the leading r × r block of K only): the factorisation is redone from row
// r on, as the reference recomputes `coef` from row `last` on.
#pragma once

#include <cstdint>

namespace descent::kernels::mfac {

// Σ a[k]·b[k] over k < n, in eight lanes (vectorisable, fixed order).
__attribute__((always_inline)) inline double dot(const double* a, const double* b, std::int64_t n) {
  double acc[8] = {};
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[k + l] * b[k + l];
  for (int l = 0; k < n; ++k, ++l) acc[l] += a[k] * b[k];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// K = λ·dots + m·I = L·D·Lᵀ (L unit lower triangular, row-major m × m; only
// its strict lower part is written), rows r0..m−1; rows < r0 of L and D must
// hold the factors of the unchanged leading block. `w` is m doubles of scratch.
__attribute__((always_inline)) inline void ldl_rows_impl(const double* dots, std::int64_t m, double lambda, double* L,
                                                       double* D, double* w, std::int64_t r0) {
  const double md = static_cast<double>(m);
  for (std::int64_t i = r0; i < m; ++i) {
    const double* ki = dots + i * m;
    double* li = L + i * m;
    // w[j] = (L·D)[i][j] = K[i][j] − Σ_{k<j} (L·D)[i][k]·L[j][k]
    for (std::int64_t j = 0; j < i; ++j) {
      const double t = lambda * ki[j] - dot(w, L + j * m, j);
      w[j] = t;
      li[j] = t / D[j];
    }
    D[i] = (lambda * ki[i] + md) - dot(w, li, i);
  }
}

inline void ldl_rows(const double* dots, std::int64_t m, double lambda, double* L, double* D, double* w,
                     std::int64_t r0) {
  ldl_rows_impl(dots, m, lambda, L, D, w, r0);
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// ldl_rows compiled for AVX2 (the same results: explicit lanes, no contraction).
__attribute__((target("avx2"))) inline void ldl_rows_avx2(const double* dots, std::int64_t m, double lambda,
                                                           double* L, double* D, double* w, std::int64_t r0) {
  ldl_rows_impl(dots, m, lambda, L, D, w, r0);
}
#endif

// y = λ²·K⁻¹·q from the factors: z = L⁻¹·(λ·q), z ← D⁻¹·z, y = λ·L⁻ᵀ·z.
// `y` may alias nothing else; q is not changed.
inline void solve(const double* L, const double* D, std::int64_t m, double lambda, const double* q, double* y) {
  for (std::int64_t i = 0; i < m; ++i) y[i] = lambda * q[i] - dot(L + i * m, y, i);
  for (std::int64_t i = 0; i < m; ++i) y[i] /= D[i];
  for (std::int64_t k = m - 1; k >= 0; --k) {
    const double yk = y[k];
    const double* lk = L + k * m;
    for (std::int64_t i = 0; i < k; ++i) y[i] -= lk[i] * yk;
  }
  for (std::int64_t i = 0; i < m; ++i) y[i] *= lambda;
}

// The two passes over the window (m rows of row stride `ld`), on columns
// [begin, end) of one tensor, accumulated in double:
//   window_dots:    partial[j] += Σ_k G[j][k]·g[k]      (8 lanes per row, fixed order)
//   woodbury_apply: out[k − begin] = λ·g[k] − Σ_j y[j]·G[j][k]
// Results depend on the column range only (not on the vector width): the
// lanes are explicit, every operation is an IEEE basic operation and
// contraction is off, so the AVX2 builds below give the same bits.
inline constexpr int kDotLanes = 8;

namespace detail {
template <class T>
__attribute__((always_inline)) inline void window_dots_impl(const T* G, std::int64_t ld, std::int64_t m, const T* g, std::int64_t begin,
                             std::int64_t end, double* partial) {
  for (std::int64_t j = 0; j < m; ++j) {
    const T* row = G + j * ld;
    double acc[kDotLanes] = {};
    std::int64_t k = begin;
    for (; k + kDotLanes <= end; k += kDotLanes)
      for (int l = 0; l < kDotLanes; ++l) acc[l] += static_cast<double>(row[k + l]) * static_cast<double>(g[k + l]);
    for (int l = 0; k < end; ++k, ++l) acc[l] += static_cast<double>(row[k]) * static_cast<double>(g[k]);
    partial[j] += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
}

template <class T>
__attribute__((always_inline)) inline void woodbury_apply_impl(const T* G, std::int64_t ld, std::int64_t m, const T* g, const double* y,
                                double lambda, std::int64_t begin, std::int64_t end, double* out) {
  const std::int64_t n = end - begin;
  for (std::int64_t k = 0; k < n; ++k) out[k] = lambda * static_cast<double>(g[begin + k]);
  for (std::int64_t j = 0; j < m; ++j) {
    const double yj = y[j];
    const T* row = G + j * ld + begin;
#pragma GCC ivdep
    for (std::int64_t k = 0; k < n; ++k) out[k] -= yj * static_cast<double>(row[k]);
  }
}
}  // namespace detail

template <class T>
void window_dots(const T* G, std::int64_t ld, std::int64_t m, const T* g, std::int64_t begin, std::int64_t end,
                 double* partial) {
  detail::window_dots_impl(G, ld, m, g, begin, end, partial);
}

template <class T>
void woodbury_apply(const T* G, std::int64_t ld, std::int64_t m, const T* g, const double* y, double lambda,
                    std::int64_t begin, std::int64_t end, double* out) {
  detail::woodbury_apply_impl(G, ld, m, g, y, lambda, begin, end, out);
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DESCENT_MFAC_AVX2 1
// The same passes compiled for AVX2 (same results); call them only where avx2_available().
template <class T>
__attribute__((target("avx2"))) void window_dots_avx2(const T* G, std::int64_t ld, std::int64_t m, const T* g,
                                                      std::int64_t begin, std::int64_t end, double* partial) {
  detail::window_dots_impl(G, ld, m, g, begin, end, partial);
}
template <class T>
__attribute__((target("avx2"))) void woodbury_apply_avx2(const T* G, std::int64_t ld, std::int64_t m, const T* g,
                                                         const double* y, double lambda, std::int64_t begin,
                                                         std::int64_t end, double* out) {
  detail::woodbury_apply_impl(G, ld, m, g, y, lambda, begin, end, out);
}
inline bool avx2_available() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}
#else
inline bool avx2_available() { return false; }
#endif

}  // namespace descent::kernels::mfac
