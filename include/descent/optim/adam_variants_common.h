// descent/optim/adam_variants_common.h: per-step scalars the adam_variants
// family shares.
#pragma once

namespace descent {

// kozistr/pytorch_optimizer's BaseOptimizer.apply_weight_decay (7a076d2):
//   weight_decouple:      p *= 1 − wd·(1 if fixed_decay else lr)     (applied even when wd = 0)
//   else, when wd > 0:    g += wd·p                                 (L2, into the gradient)
// as the fields of a rule: p = p·decay, then g = g + l2·p where l2_on.
struct ZooWeightDecay {
  double decay = 1;
  bool l2_on = false;
  double l2 = 0;
};

inline ZooWeightDecay zoo_weight_decay(double lr, double weight_decay, bool weight_decouple, bool fixed_decay) {
  ZooWeightDecay w;
  if (weight_decouple) {
    w.decay = 1.0 - weight_decay * (fixed_decay ? 1.0 : lr) * 1.0;
  } else if (weight_decay > 0.0) {
    w.l2_on = true;
    w.l2 = weight_decay;
  }
  return w;
}

template <class Rule>
void apply_zoo_weight_decay(Rule& r, const ZooWeightDecay& w) {
  r.decay = w.decay;
  r.l2_on = w.l2_on;
  r.l2 = w.l2;
}

}  // namespace descent
