// descent/kernels/adam8bit.h: bitsandbytes' 8-bit Adam / AdamW, the update of
// one element (the 8-bit state around it is kernels/quantized.h).
//
// Reference: bitsandbytes-foundation/bitsandbytes @ 95f9af30 (Dettmers et al.,
// "8-bit Optimizers via Block-wise Quantization", ICLR 2022):
// bitsandbytes/optim/adam.py (Adam8bit), adamw.py (AdamW8bit): both are the
// optimizer "adam" of Optimizer2State, with decoupled weight decay.
//
// 8-bit path (tensors with at least min_8bit_size elements), as the repo's
// pure-PyTorch reference optimizer_update_8bit_blockwise_pytorch
// (backends/triton/kernels_optim.py), everything in float32:
//   m = β1·m + (1 − β1)·g,  v = β2·v + (1 − β2)·g·g   (m, v dequantized)
//   d = sqrt(v)/sqrt(bc2) + eps
//   p = p·(1 − lr·wd)                               (only if wd > 0; BEFORE the update)
//   p = p + (−lr/bc1)·m/d                           (addcdiv: (value·m)/d)
// then m and v are requantized with their new absmax (quantized.h).
// (The CUDA kernel applies the weight decay after the update, folds the bias
// corrections as below and preserves signs when requantizing; descent follows
// the pure-PyTorch reference, which the golden cases were recorded from.)
//
// 32-bit path (smaller tensors), as backends/cpu/ops.py _optimizer_update_32bit_cpu,
// float32 state and arithmetic:
//   m, v as above
//   p = p·(1 − lr·wd)                               (only if wd > 0)
//   p = p + step·(m/(sqrt(v) + eps·sqrt(bc2)))      step = −lr·sqrt(bc2)/bc1
// with bc_i = 1 − β_i^t in double, as Python computes them.
#pragma once

#include <descent/kernels/elementwise.h>
#include <descent/kernels/moments.h>

#include <cmath>

namespace descent::kernels {

template <bool Blockwise>
struct Adam8bitRule {
  static constexpr int kStates = 2;  // state1 (m), state2 (v)
  static constexpr bool kFloat32Math = true;
  double beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001;
  bool decay_on = false;
  double decay = 1;          // 1 − lr·wd
  double bc2_sqrt = 1;       // 8-bit path: divides sqrt(v)
  double eps = 1e-8;         // 8-bit path: eps; 32-bit path: eps·sqrt(bc2)
  double step = 0;           // 8-bit path: −lr/bc1; 32-bit path: −lr·sqrt(bc2)/bc1

  template <class A> void operator()(A& p, A g, A* s) const {
    s[0] = ema(s[0], g, beta1, one_minus_beta1);
    s[1] = ema_product(s[1], g, g, beta2, one_minus_beta2);
    if constexpr (Blockwise) {
      const A d = adam_denominator(s[1], bc2_sqrt, eps);
      if (decay_on) p = p * A(decay);
      p = p + A(step) * s[0] / d;
    } else {
      if (decay_on) p = p * A(decay);
      const A u = s[0] / (std::sqrt(s[1]) + A(eps));
      p = p + A(step) * u;
    }
  }
};

}  // namespace descent::kernels
