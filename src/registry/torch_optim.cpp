// PyTorch's own optimizers (torch.optim, v1.13), reproduced exactly.
#include "registry/builtin.h"

#include <descent/optim/adadelta.h>
#include <descent/optim/adagrad.h>
#include <descent/optim/adam.h>
#include <descent/optim/adamax.h>
#include <descent/optim/asgd.h>
#include <descent/optim/nadam.h>
#include <descent/optim/radam.h>
#include <descent/optim/rmsprop.h>
#include <descent/optim/rprop.h>
#include <descent/optim/sgd.h>

namespace descent {

namespace {
const std::string kTorch = "pytorch/pytorch v1.13 : torch/optim/";
}  // namespace

void register_torch_optimizers(Registry& r) {
  r.add({"sgd", "Robbins & Monro 1951; momentum: Polyak 1964; Nesterov: Sutskever et al., ICML 2013",
         kTorch + "sgd.py (SGD)", 0, 0, "+4 with momentum", kTorchFlags},
        factory_of<SGD>());
  r.add({"adam", "Kingma & Ba, Adam: A Method for Stochastic Optimization, ICLR 2015; AMSGrad: Reddi et al., ICLR 2018",
         kTorch + "adam.py (Adam)", 8, 8, "+4 with amsgrad", kTorchFlags},
        factory_of<Adam>());
  r.add({"adamw", "Loshchilov & Hutter, Decoupled Weight Decay Regularization, ICLR 2019",
         kTorch + "adamw.py (AdamW)", 8, 8, "+4 with amsgrad", kTorchFlags},
        factory_of<AdamW>());
  r.add({"adagrad", "Duchi, Hazan & Singer, Adaptive Subgradient Methods for Online Learning and Stochastic "
         "Optimization, JMLR 2011",
         kTorch + "adagrad.py (Adagrad)", 4, 4, "", kTorchFlags},
        factory_of<Adagrad>());
  r.add({"rmsprop", "Hinton, Srivastava & Swersky, Neural Networks for Machine Learning, Lecture 6e, 2012; "
         "centered: Graves, Generating Sequences With Recurrent Neural Networks, arXiv:1308.0850, 2013",
         kTorch + "rmsprop.py (RMSprop)", 4, 4, "+4 with momentum > 0, +4 with centered", kTorchFlags},
        factory_of<RMSprop>());
  r.add({"adadelta", "Zeiler, ADADELTA: An Adaptive Learning Rate Method, arXiv:1212.5701, 2012",
         kTorch + "adadelta.py (Adadelta)", 8, 8, "", kTorchFlags},
        factory_of<Adadelta>());
  r.add({"adamax", "Kingma & Ba, Adam: A Method for Stochastic Optimization, ICLR 2015 (Section 7.1, AdaMax)",
         kTorch + "adamax.py (Adamax)", 8, 8, "", kTorchFlags},
        factory_of<Adamax>());
  r.add({"nadam", "Dozat, Incorporating Nesterov Momentum into Adam, ICLR 2016 Workshop",
         kTorch + "nadam.py (NAdam)", 8, 8, "plus one float32 scalar (mu_product) per tensor", kTorchFlags},
        factory_of<NAdam>());
  r.add({"radam", "Liu et al., On the Variance of the Adaptive Learning Rate and Beyond, ICLR 2020",
         kTorch + "radam.py (RAdam)", 8, 8, "", kTorchFlags},
        factory_of<RAdam>());
  r.add({"rprop", "Riedmiller & Braun, A Direct Adaptive Method for Faster Backpropagation Learning: "
         "The RPROP Algorithm, IEEE ICNN 1993",
         kTorch + "rprop.py (Rprop)", 8, 8, "", kTorchFlags},
        factory_of<Rprop>());
  r.add({"asgd", "Polyak & Juditsky, Acceleration of Stochastic Approximation by Averaging, "
         "SIAM J. Control Optim. 1992",
         kTorch + "asgd.py (ASGD)", 4, 4, "plus two float32 scalars (eta, mu) per tensor", kTorchFlags},
        factory_of<ASGD>());
}

}  // namespace descent
