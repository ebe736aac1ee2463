// descent/kernels/prodigy.h: Prodigy, two passes per tensor (the distance
// estimate d needs sums over every parameter before any parameter moves).
//
// Reference: kozistr/pytorch_optimizer @ 7a076d2, pytorch_optimizer/optimizer/prodigy.py
// (Prodigy). Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive
// Parameter-Free Learner", ICML 2024.
//
// Pass 1 (ProdigyMomentsRule), for every parameter of every group, with the
// step's d, d0, d_lr = d·lr/bias_correction of group 0:
//   g  = −g                                        (maximize)
//   sums: Σ g·(p0 − p)                             (torch.dot(g, p0 − p))
//   m  = β1·m + (d·(1 − β1))·g                     (add_(g, alpha))
//   v  = β2·v + (d·d·(1 − β2))·g·g                 (addcmul_(g, g, value))
//   s  = β3·s + ((d/d0)·(d or d_lr))·g             (d with safeguard_warmup)
// (the three multiply-adds fused for float32, see fused() below)
//   sums: Σ|s|
// Then (optim/prodigy.cpp) d_numerator and d_de_nom, float32 tensors in the
// reference whatever the parameters' dtype, give d_hat, the new d and d_max.
// Pass 2 (ProdigyApplyRule):
//   p  = p·(1 − wd·d_lr)                           (weight_decouple; 1 − wd with fixed_decay)
//   p  = p + (−d_lr)·m / (sqrt(v) + d_new·eps)     (addcdiv)
//   p  = p + (−d_lr)·atan2(m, sqrt(v))             (eps = None)
// (L2 weight decay, weight_decouple = False, is added to the gradient after the
// moments were updated: it changes nothing, as in the reference.)
// States: pass 1 s[0] = p0, s[1] = exp_avg, s[2] = exp_avg_sq, s[3] = s;
//         pass 2 s[0] = exp_avg, s[1] = exp_avg_sq.
//
// float32 parameters: d follows d_numerator/d_de_nom, and a float32 run with a
// growing d amplifies a one-ulp difference in either sum into visible ones
// within a few steps. For float32 the optimizer therefore takes the two sums
// as the reference's PyTorch computed them (reference_sdot, reference_sum
// below: OpenBLAS's sdot and ATen 1.13's cascade sum, the libraries the golden
// cases ran on) instead of from the fused pass.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace descent::kernels {

// a·b + c as the reference's float32 kernels compute m·β + α·g (add_ with
// alpha) and v·β + (α·g)·g (addcmul_): PyTorch's AVX2 kernels fuse these
// multiply-adds (vec::fmadd, and GCC contracting the scalar tails). For float
// the product is exact in double and the sum rounds once in double, then to
// float: fmaf's result except in rare double-rounding ties, and it
// vectorises. For double descent keeps two roundings (a last-bit difference).
template <class A> inline A fused(A a, A b, A c) {
  if constexpr (std::is_same_v<A, float>) {
    return static_cast<float>(static_cast<double>(a) * static_cast<double>(b) + static_cast<double>(c));
  } else {
    return a * b + c;
  }
}

struct ProdigyMomentsRule {
  static constexpr int kStates = 4;  // p0, exp_avg, exp_avg_sq, s
  static constexpr int kSums = 2;    // Σ g·(p0 − p), Σ|s|
  static constexpr unsigned kStoreStates = 0b1110;  // p0 is only read
  static constexpr bool kStoreP = false;
  double gsign = 1, beta1 = 0.9, m_coef = 0, beta2 = 0.999, v_coef = 0, beta3 = 0, s_coef = 0;

  template <class A> void operator()(A& p, A g, A* st, A* terms) const {
    g = g * A(gsign);
    const A p0 = st[0];
    A& m = st[1];
    A& v = st[2];
    A& s = st[3];
    terms[0] = g * (p0 - p);
    m = fused(g, A(m_coef), m * A(beta1));
    v = fused(A(v_coef) * g, g, v * A(beta2));
    s = fused(g, A(s_coef), s * A(beta3));
    terms[1] = std::abs(s);
  }
  // The same update without the sums (float32 parameters, see above).
  template <class A> void operator()(A& p, A g, A* st) const {
    A terms[kSums];
    (*this)(p, g, st, terms);
  }
};

// torch.dot(x, y) of float32 vectors as OpenBLAS (0.3.x, x86-64 Haswell/Zen
// kernel, kernel/x86_64/sdot.c) computes it: the leading multiple of 32
// elements in four 8-lane float accumulators with fused multiply-adds (fused()), folded
// (high + low halves, (a0 + a1) + (a2 + a3), two horizontal adds); the rest as
// float products added to a double, then that float sum, rounded to float.
// x(i), y(i) give the elements.
template <class X, class Y>
float reference_sdot(X x, Y y, std::int64_t n) {
  const std::int64_t n1 = n & ~std::int64_t{31};
  float kernel = 0.0f;
  if (n1 > 0) {
    float acc[4][8] = {};
    for (std::int64_t i = 0; i < n1; i += 32)
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 8; ++l) acc[j][l] = fused(x(i + 8 * j + l), y(i + 8 * j + l), acc[j][l]);
    float a[4][4];
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 4; ++l) a[j][l] = acc[j][l] + acc[j][l + 4];
    float e[4];
    for (int l = 0; l < 4; ++l) e[l] = (a[0][l] + a[1][l]) + (a[2][l] + a[3][l]);
    kernel = (e[0] + e[1]) + (e[2] + e[3]);
  }
  double dot = 0.0;
  for (std::int64_t i = n1; i < n; ++i) dot += static_cast<double>(y(i) * x(i));
  dot += static_cast<double>(kernel);
  return static_cast<float>(dot);
}

namespace detail {
// ATen 1.13's row_sum (aten/src/ATen/native/cpu/SumKernel.cpp) for W-lane
// float elements: four interleaved accumulators with a four-level cascade
// (16 rows per level for fewer than 2^16 rows), the rest into the first, then
// the four added in order.
template <int W, class Load>
void row_sum(Load load, std::int64_t size, float* out) {
  const std::int64_t rows = size / 4;
  int ceil_log2 = 1;
  if (rows > 2) {
    ceil_log2 = 0;
    for (std::uint64_t v = static_cast<std::uint64_t>(rows - 1); v != 0; v >>= 1) ++ceil_log2;
  }
  const int level_power = std::max(4, ceil_log2 / 4);
  const std::int64_t level_step = std::int64_t{1} << level_power;
  const std::int64_t level_mask = level_step - 1;
  float acc[4][4][W] = {};
  float e[W];
  auto add = [&](float* into, std::int64_t i) {
    load(i, e);
    for (int l = 0; l < W; ++l) into[l] += e[l];
  };
  std::int64_t i = 0;
  while (i + level_step <= rows) {
    for (std::int64_t j = 0; j < level_step; ++j, ++i)
      for (int k = 0; k < 4; ++k) add(acc[0][k], 4 * i + k);
    for (int j = 1; j < 4; ++j) {
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < W; ++l) {
          acc[j][k][l] += acc[j - 1][k][l];
          acc[j - 1][k][l] = 0.0f;
        }
      if ((i & (level_mask << (j * level_power))) != 0) break;
    }
  }
  for (; i < rows; ++i)
    for (int k = 0; k < 4; ++k) add(acc[0][k], 4 * i + k);
  for (int j = 1; j < 4; ++j)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < W; ++l) acc[0][k][l] += acc[j][k][l];
  for (std::int64_t r = rows * 4; r < size; ++r) add(acc[0][0], r);
  for (int k = 1; k < 4; ++k)
    for (int l = 0; l < W; ++l) acc[0][0][l] += acc[0][k][l];
  for (int l = 0; l < W; ++l) out[l] = acc[0][0][l];
}
}  // namespace detail

// Tensor.sum() of a contiguous float32 tensor as ATen 1.13 computes it on an
// AVX2 machine: from 8 elements on, row_sum over 8-float vectors, the
// remainder summed first and the 8 lanes added to it in order; below 8, the
// scalar row_sum. x(i) gives the elements.
template <class X>
float reference_sum(X x, std::int64_t n) {
  if (n >= 8) {
    const std::int64_t vectors = n / 8;
    float lanes[8];
    detail::row_sum<8>([&](std::int64_t v, float* e) { for (int l = 0; l < 8; ++l) e[l] = x(8 * v + l); },
                       vectors, lanes);
    float acc = 0.0f;
    for (std::int64_t i = vectors * 8; i < n; ++i) acc += x(i);
    for (int l = 0; l < 8; ++l) acc += lanes[l];
    return acc;
  }
  float out[1];
  detail::row_sum<1>([&](std::int64_t i, float* e) { e[0] = x(i); }, n, out);
  return out[0];
}

template <bool Decoupled, bool Atan2>
struct ProdigyApplyRule {
  static constexpr int kStates = 2;  // exp_avg, exp_avg_sq (read only)
  static constexpr unsigned kStoreStates = 0;
  double decay = 1, neg_d_lr = 0, d_eps = 0;

  template <class A> void operator()(A& p, A, A* st) const {
    const A m = st[0];
    const A v = st[1];
    if constexpr (Decoupled) p = p * A(decay);
    const A denom = std::sqrt(v);
    if constexpr (Atan2) {
      p = p + A(neg_d_lr) * std::atan2(m, denom);
    } else {
      p = p + A(neg_d_lr) * m / (denom + A(d_eps));
    }
  }
};

}  // namespace descent::kernels
