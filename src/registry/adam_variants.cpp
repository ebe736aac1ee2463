// Adam variants from papers: diffGrad, AdaBelief, AdamP/SGDP, EXAdam (authors'
// code), and Yogi, AdaBound, AdaMod, QHAdam (kozistr/pytorch_optimizer).
#include "registry/builtin.h"

#include <descent/optim/adabelief.h>
#include <descent/optim/adabound.h>
#include <descent/optim/adamod.h>
#include <descent/optim/adamp.h>
#include <descent/optim/diffgrad.h>
#include <descent/optim/exadam.h>
#include <descent/optim/qhadam.h>
#include <descent/optim/sgdp.h>
#include <descent/optim/yogi.h>

namespace descent {

namespace {
const std::string kZoo = "kozistr/pytorch_optimizer @ 7a076d2 : pytorch_optimizer/optimizer/";
const std::string kAdamP = "clovaai/AdamP @ 7f6f038 : adamp/";
}  // namespace

void register_adam_variants(Registry& r) {
  r.add({"diffgrad", "Dubey et al., diffGrad: An Optimization Method for Convolutional Neural Networks, "
         "IEEE TNNLS 2019 (arXiv:1909.11015)",
         "shivram1987/diffGrad @ 73233ba : diffGrad_v2.py (diffgrad)", 12, 12,
         "exp_avg, exp_avg_sq, previous_grad", {}},
        factory_of<DiffGrad>());
  r.add({"adabelief", "Zhuang et al., AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed "
         "Gradients, NeurIPS 2020",
         "juntang-zhuang/Adabelief-Optimizer @ 2855178 : pypi_packages/adabelief_pytorch0.2.1/adabelief_pytorch/"
         "AdaBelief.py (AdaBelief)",
         8, 8, "+4 with amsgrad", {"print_change_log"}},
        factory_of<AdaBelief>());
  r.add({"adamp", "Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant "
         "Weights, ICLR 2021",
         kAdamP + "adamp.py (AdamP)", 8, 8,
         "reference: plus a fresh update tensor per step; descent: 5 doubles of scratch per row of the largest "
         "projected tensor",
         {}},
        factory_of<AdamP>());
  r.add({"sgdp", "Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant "
         "Weights, ICLR 2021",
         kAdamP + "sgdp.py (SGDP)", 4, 4,
         "descent: 5 doubles of scratch per row of the largest projected tensor", {}},
        factory_of<SGDP>());
  r.add({"exadam", "Adly, EXAdam: The Power of Adaptive Cross-Moments, arXiv:2412.20302, 2024",
         "AhmedMostafa16/EXAdam @ 48d6ef5 : exadam.py (EXAdam)", 8, 8, "", {}},
        factory_of<EXAdam>());
  r.add({"yogi", "Zaheer et al., Adaptive Methods for Nonconvex Optimization, NeurIPS 2018",
         kZoo + "yogi.py (Yogi)", 8, 8, "", kZooFlags},
        factory_of<Yogi>());
  r.add({"adabound", "Luo et al., Adaptive Gradient Methods with Dynamic Bound of Learning Rate, ICLR 2019",
         kZoo + "adabound.py (AdaBound)", 8, 8, "+4 with ams_bound", kZooFlags},
        factory_of<AdaBound>());
  r.add({"adamod", "Ding, Ren, Luo & Sun, An Adaptive and Momental Bound Method for Stochastic Learning, "
         "arXiv:1910.12249, 2019",
         kZoo + "adamod.py (AdaMod)", 12, 12, "", kZooFlags},
        factory_of<AdaMod>());
  r.add({"qhadam", "Ma & Yarats, Quasi-hyperbolic Momentum and Adam for Deep Learning, ICLR 2019",
         kZoo + "qhadam.py (QHAdam)", 8, 8,
         "plus two float32 scalars (beta1_weight, beta2_weight) per tensor, as the reference's shape-[1] tensors",
         kZooFlags},
        factory_of<QHAdam>());
}

}  // namespace descent
