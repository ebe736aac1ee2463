// descent/kernels/schedule_free.h: Schedule-Free AdamW and SGD (the
// memory-efficient forms that keep only y in the parameter and z, v in state),
// one fused pass each.
//
// Reference: facebookresearch/schedule_free @ 70785b5,
// schedulefree/adamw_schedulefree.py (AdamWScheduleFree) and
// schedulefree/sgd_schedulefree.py (SGDScheduleFree), the per-tensor path
// (foreach=False; the foreach path does the same operations on lists).
// Defazio et al., "The Road Less Scheduled", NeurIPS 2024.
//
// Per group and step (k from 0, computed in double by the optimizer):
//   lr_t   = lr·min(1, (k+1)/warmup_steps)
//   lr_max = max(lr_max, lr_t);  weight = (k+1)^r · lr_max^weight_lr_power
//   weight_sum += weight;        c = weight/weight_sum  (0 when weight_sum = 0)
// Per element, with the parameter holding y (train mode):
//   AdamW:  v  = β2·v + (1−β2)·g·g                      (mul_, addcmul_)
//           d  = sqrt(v / bc2) + eps                      (bc2 = 1 − β2^(k+1); div, sqrt_, add_)
//           u  = g / d                                    (g.div_(denom): the reference overwrites p.grad)
//           inner momentum μ > 0:  m = μ·m + (1−μ)·g;  u = (m / bc1) / d   (bc1 = 1 − μ^(k+1))
//   SGD:    u  = g
//   both:   u  = u + wd·y                                 (only when wd ≠ 0: weight decay at y)
//           y  = lerp(y, z, c)                            (ATen lerp: two formulas split at |c| = 0.5)
//           y  = y + lr_t·(β1·(1−c) − 1)·u                (add_(u, alpha))
//           z  = z + (−lr_t)·u                            (z.sub_(u, alpha=lr_t))
// (β1 is AdamW's betas[0] or SGD's momentum.) The scalars enter as the
// element type, as ATen casts a Scalar alpha / weight to float for float32
// tensors.
// States: s[0] = z, s[1] = exp_avg_sq (AdamW), s[2] = exp_avg (AdamW with inner momentum).
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

// The step's scalars shared by both rules.
struct ScheduleFreeStep {
  double ckp1 = 0;       // c = weight / weight_sum
  double y_coef = 0;     // lr_t·(β1·(1 − c) − 1)
  double neg_lr = 0;     // −lr_t
  double weight_decay = 0;
};

template <bool Decay, bool InnerMomentum>
struct ScheduleFreeAdamWRule {
  static constexpr int kStates = InnerMomentum ? 3 : 2;  // z, exp_avg_sq[, exp_avg]
  ScheduleFreeStep sf;
  double beta2 = 0.999, one_minus_beta2 = 0.001, bc2 = 1, eps = 1e-8;
  double mu = 0, one_minus_mu = 1, bc1 = 1;  // inner momentum

  template <class A> void operator()(A& y, A g, A* s) const {
    A& z = s[0];
    A& v = s[1];
    v = ema_product(v, g, g, beta2, one_minus_beta2);
    const A denom = std::sqrt(v / A(bc2)) + A(eps);
    A u;
    if constexpr (InnerMomentum) {
      A& m = s[2];
      m = ema(m, g, mu, one_minus_mu);
      u = m / A(bc1) / denom;
    } else {
      u = g / denom;
    }
    if constexpr (Decay) u = u + A(sf.weight_decay) * y;
    y = lerp(y, z, A(sf.ckp1));
    y = y + A(sf.y_coef) * u;
    z = z + A(sf.neg_lr) * u;
  }
};

template <bool Decay>
struct ScheduleFreeSgdRule {
  static constexpr int kStates = 1;  // z
  ScheduleFreeStep sf;

  template <class A> void operator()(A& y, A g, A* s) const {
    A& z = s[0];
    A u = g;
    if constexpr (Decay) u = u + A(sf.weight_decay) * y;
    y = lerp(y, z, A(sf.ckp1));
    y = y + A(sf.y_coef) * u;
    z = z + A(sf.neg_lr) * u;
  }
};

}  // namespace descent::kernels
