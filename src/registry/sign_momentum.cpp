// Sign-based and momentum optimizers: Adan, Lion, SGD-SaI (authors' code),
// Tiger, signSGD, QHM, AggMo, LARS (kozistr/pytorch_optimizer), and Lion-κ
// (descent's own, from the paper; Lion when kappa = "l1").
#include "registry/builtin.h"

#include <descent/optim/adan.h>
#include <descent/optim/aggmo.h>
#include <descent/optim/lars.h>
#include <descent/optim/lion.h>
#include <descent/optim/lion_kappa.h>
#include <descent/optim/qhm.h>
#include <descent/optim/sgd_sai.h>
#include <descent/optim/signsgd.h>
#include <descent/optim/tiger.h>

namespace descent {

namespace {
const std::string kZoo = "kozistr/pytorch_optimizer @ 7a076d2 : pytorch_optimizer/optimizer/";
}  // namespace

void register_sign_momentum(Registry& r) {
  r.add({"adan", "Xie, Zhou, Li, Lin & Yan, Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing "
         "Deep Models, IEEE TPAMI 2024 (arXiv:2208.06677)",
         "sail-sg/Adan @ 2c65bea : adan.py (Adan)", 16, 16,
         "exp_avg, exp_avg_sq, exp_avg_diff, neg_pre_grad; the step count is per group",
         {"foreach", "fused"}},
        factory_of<Adan>());
  r.add({"lion", "Chen et al., Symbolic Discovery of Optimization Algorithms, NeurIPS 2023",
         "google/automl @ 6a54c87 : lion/lion_pytorch.py (Lion)", 4, 4, "exp_avg", {}},
        factory_of<Lion>());
  r.add({"lion_kappa", "Chen, Liu, Liang & Liu, Lion Secretly Solves Constrained Optimization, As Lyapunov "
         "Predicts, ICLR 2024 (arXiv:2310.05898)",
         "none (descent's implementation of the paper's Lion-K); kappa = l1 is google/automl @ 6a54c87 : "
         "lion/lion_pytorch.py (Lion)",
         4, 4, "exp_avg (reference bytes: Lion's)", {}},
        factory_of<LionKappa>());
  r.add({"sgd_sai", "Xu et al., No More Adam: Learning Rate Scaling at Initialization is All You Need, "
         "arXiv:2412.11768, 2024",
         "AnonymousAlethiometer/SGD_SaI @ e213080 : sgd_sai/sgd_sai.py (SGD_sai)", 4, 4,
         "momentum_buffer plus one scalar (gsnr) per tensor; 0 with momentum = 0 (the reference crashes)", {}},
        factory_of<SGDSaI>());
  r.add({"tiger", "Su, Tiger: A Tight-fisted Optimizer, 2023 (github.com/bojone/tiger)",
         kZoo + "tiger.py (Tiger)", 4, 4, "exp_avg", kZooFlags},
        factory_of<Tiger>());
  r.add({"signsgd", "Bernstein, Wang, Azizzadenesheli & Anandkumar, signSGD: Compressed Optimisation for "
         "Non-Convex Problems, ICML 2018",
         kZoo + "sgd.py (SignSGD)", 0, 4,
         "the reference keeps a momentum_buffer (momentum > 0) that it re-zeroes every step; descent keeps none",
         kZooFlags},
        factory_of<SignSGD>());
  r.add({"qhm", "Ma & Yarats, Quasi-hyperbolic momentum and Adam for deep learning, ICLR 2019",
         kZoo + "qhm.py (QHM)", 4, 4, "momentum_buffer", kZooFlags},
        factory_of<QHM>());
  r.add({"aggmo", "Lucas, Sun, Zemel & Grosse, Aggregated Momentum: Stability Through Passive Damping, ICLR 2019",
         kZoo + "aggmo.py (AggMo)", 12, 12, "4 per distinct beta (default 3 betas)", kZooFlags},
        factory_of<AggMo>());
  r.add({"lars", "You, Gitman & Ginsburg, Large Batch Training of Convolutional Networks, arXiv:1708.03888, 2017",
         kZoo + "lars.py (LARS)", 4, 4, "momentum_buffer; 0 with momentum = 0", kZooFlags},
        factory_of<LARS>());
}

}  // namespace descent
