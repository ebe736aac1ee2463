// Optimizers that adapt or replace the learning-rate schedule: Schedule-Free
// AdamW / SGD (facebookresearch/schedule_free), and from kozistr/pytorch_optimizer
// LAMB, NovoGrad, MADGRAD, Prodigy, ADOPT and AdEMAMix.
#include "registry/builtin.h"

#include <descent/optim/ademamix.h>
#include <descent/optim/adopt.h>
#include <descent/optim/lamb.h>
#include <descent/optim/madgrad.h>
#include <descent/optim/novograd.h>
#include <descent/optim/prodigy.h>
#include <descent/optim/schedule_free.h>

namespace descent {

namespace {

const std::string kScheduleFree = "facebookresearch/schedule_free @ 70785b5 : schedulefree/";
const std::string kZoo = "kozistr/pytorch_optimizer @ 7a076d2 : pytorch_optimizer/optimizer/";

// The reference's schedule-free optimizers start in eval mode and refuse to
// step until optimizer.train() is called; the golden cases call it once right
// after construction. Built through the registry, they are switched to train
// mode the same way (the class itself starts in eval mode, as the reference).
template <class Opt>
Factory in_train_mode() {
  Factory make = factory_of<Opt>();
  return [make](std::vector<GroupSpec> groups, const OptionMap& defaults) -> std::unique_ptr<Optimizer> {
    auto opt = make(std::move(groups), defaults);
    static_cast<Opt&>(*opt).train();
    return opt;
  };
}

}  // namespace

void register_adaptive_lr(Registry& r) {
  const std::vector<std::string> sf_flags = {"foreach"};
  r.add({"schedule_free_adamw", "Defazio et al., The Road Less Scheduled, NeurIPS 2024",
         kScheduleFree + "adamw_schedulefree.py (AdamWScheduleFree)", 8, 8,
         "+4 with inner_momentum > 0; the parameters hold y in train mode, x in eval mode; built through the "
         "registry the optimizer starts in train mode (train() called once, as the golden cases were driven)",
         sf_flags},
        in_train_mode<ScheduleFreeAdamW>());
  r.add({"schedule_free_sgd", "Defazio et al., The Road Less Scheduled, NeurIPS 2024",
         kScheduleFree + "sgd_schedulefree.py (SGDScheduleFree)", 4, 4,
         "the parameters hold y in train mode, x in eval mode; built through the registry the optimizer starts "
         "in train mode (train() called once, as the golden cases were driven)",
         sf_flags},
        in_train_mode<ScheduleFreeSGD>());
  r.add({"lamb", "You et al., Large Batch Optimization for Deep Learning: Training BERT in 76 minutes, ICLR 2020",
         kZoo + "lamb.py (Lamb)", 8, 8,
         "plus three scalars (weight_norm, adam_norm, trust_ratio) per tensor, as the reference's 0-d tensors; "
         "the reference adds a 1-element exp_grad_adanorm per tensor with adanorm",
         kZooFlags},
        factory_of<Lamb>());
  r.add({"novograd", "Ginsburg et al., Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of "
         "Deep Networks, arXiv:1905.11286, 2019",
         kZoo + "novograd.py (NovoGrad)", 4, 4, "plus one scalar (grads_ema) per tensor, a 0-d tensor in the reference",
         kZooFlags},
        factory_of<NovoGrad>());
  r.add({"madgrad", "Defazio & Jelassi, Adaptivity without Compromise: A Momentumized, Adaptive, Dual Averaged "
         "Gradient Method for Stochastic Optimization, JMLR 2022",
         kZoo + "madgrad.py (MADGRAD)", 12, 12, "-4 with momentum = 0 (no x0)", kZooFlags},
        factory_of<MADGRAD>());
  r.add({"prodigy", "Mishchenko & Defazio, Prodigy: An Expeditiously Adaptive Parameter-Free Learner, ICML 2024",
         kZoo + "prodigy.py (Prodigy)", 16, 16, "plus the group scalars d, d_max, d_numerator, d_de_nom, d_hat",
         kZooFlags},
        factory_of<Prodigy>());
  r.add({"adopt", "Taniguchi et al., ADOPT: Modified Adam Can Converge with Any beta2 with the Optimal Rate, "
         "NeurIPS 2024",
         kZoo + "adopt.py (ADOPT)", 8, 8, "", kZooFlags},
        factory_of<ADOPT>());
  r.add({"ademamix", "Pagliardini, Ablin & Grangier, The AdEMAMix Optimizer: Better, Faster, Older, "
         "arXiv:2409.03137, 2024",
         kZoo + "ademamix.py (AdEMAMix)", 12, 12, "", kZooFlags},
        factory_of<AdEMAMix>());
}

}  // namespace descent
