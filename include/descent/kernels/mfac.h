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

// Σ a[k]·b[k] over k < n, in four lanes (vectorisable, fixed order).
inline double dot(const double* a, const double* b, std::int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

// K = λ·dots + m·I = L·D·Lᵀ (L unit lower triangular, row-major m × m; only
// its strict lower part is written), rows r0..m−1; rows < r0 of L and D must
// hold the factors of the unchanged leading block. `w` is m doubles of scratch.
inline void ldl_rows(const double* dots, std::int64_t m, double lambda, double* L, double* D, double* w,
                     std::int64_t r0) {
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

// Per tensor: partial[j] += Σ_k G[j][k]·g[k] over columns [begin, end) of a
// window of m rows with row stride `ld`, accumulated in double (4 lanes per
// row, fixed order: the result depends on the column range only).
template <class T>
void window_dots(const T* G, std::int64_t ld, std::int64_t m, const T* g, std::int64_t begin, std::int64_t end,
                 double* partial) {
  for (std::int64_t j = 0; j < m; ++j) {
    const T* row = G + j * ld;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::int64_t k = begin;
    for (; k + 4 <= end; k += 4) {
      s0 += static_cast<double>(row[k]) * static_cast<double>(g[k]);
      s1 += static_cast<double>(row[k + 1]) * static_cast<double>(g[k + 1]);
      s2 += static_cast<double>(row[k + 2]) * static_cast<double>(g[k + 2]);
      s3 += static_cast<double>(row[k + 3]) * static_cast<double>(g[k + 3]);
    }
    for (; k < end; ++k) s0 += static_cast<double>(row[k]) * static_cast<double>(g[k]);
    partial[j] += (s0 + s1) + (s2 + s3);
  }
}

// out[k − begin] = λ·g[k] − Σ_j y[j]·G[j][k] for k in [begin, end), in double.
template <class T>
void woodbury_apply(const T* G, std::int64_t ld, std::int64_t m, const T* g, const double* y, double lambda,
                    std::int64_t begin, std::int64_t end, double* out) {
  const std::int64_t n = end - begin;
  for (std::int64_t k = 0; k < n; ++k) out[k] = lambda * static_cast<double>(g[begin + k]);
  for (std::int64_t j = 0; j < m; ++j) {
    const double yj = y[j];
    if (yj == 0) continue;
    const T* row = G + j * ld + begin;
#pragma GCC ivdep
    for (std::int64_t k = 0; k < n; ++k) out[k] -= yj * static_cast<double>(row[k]);
  }
}

}  // namespace descent::kernels::mfac
