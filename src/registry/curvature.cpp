// Curvature and matrix optimizers: Muon (with its auxiliary AdamW), M-FAC,
// Sophia (G and H), AdaHessian.
#include "registry/builtin.h"

#include <descent/optim/adahessian.h>
#include <descent/optim/mfac.h>
#include <descent/optim/muon.h>
#include <descent/optim/sophia.h>

#include <set>

namespace descent {

namespace {

// Muon's option names that set an AdamW group's defaults at the top level (and
// in a group without use_muon), as kozistr/pytorch_optimizer's Muon names them.
const std::map<std::string, std::string> kAdamWDefaults = {
    {"adamw_lr", "lr"}, {"adamw_betas", "betas"}, {"adamw_eps", "eps"}, {"adamw_wd", "weight_decay"}};
const std::set<std::string> kMuonOnly = {"momentum", "nesterov", "ns_steps", "ns_dtype"};
const std::set<std::string> kAdamWOnly = {"betas", "eps"};
// Options every optimizer has (bfloat16 parameters' write mode): both rules.
const std::set<std::string> kBothRules = {"bf16_mode", "bf16_seed"};

bool flag_value(const OptionValue& v, const std::string& key) {
  if (v.kind == OptionValue::Kind::boolean) return v.boolean;
  if (v.kind == OptionValue::Kind::number && (v.number == 0 || v.number == 1)) return v.number != 0;
  throw OptionError("muon: option '" + key + "' expects true or false");
}

// Muon's factory. Groups that say use_muon are used as given (the reference's
// SingleDeviceMuonWithAuxAdam: a Muon group reads lr, momentum, weight_decay,
// nesterov, ns_steps, ns_dtype; an AdamW group lr, betas, eps, weight_decay,
// with the reference's AdamW defaults lr 3e-4, betas (0.9, 0.95), eps 1e-10,
// weight_decay 0 unless adamw_lr, adamw_betas, adamw_eps, adamw_wd say
// otherwise). A group without use_muon (a flat parameter list) is split by
// rank: its matrices and conv kernels form a Muon group with its options, its
// other tensors an AdamW group with the adamw_* options.
Factory muon_factory() {
  return [](std::vector<GroupSpec> groups, const OptionMap& defaults) -> std::unique_ptr<Optimizer> {
    MuonOptions muon_base;
    MuonOptions adamw_base = MuonOptions::adamw();
    for (const auto& [key, value] : defaults) {
      if (key == "use_muon")
        throw OptionError("muon: 'use_muon' is a param group option (it names the group's rule)");
      auto a = kAdamWDefaults.find(key);
      if (a != kAdamWDefaults.end()) {
        adamw_base.set(a->second, value, false);
      } else if (kAdamWOnly.count(key)) {
        adamw_base.set(key, value, false);
      } else if (kBothRules.count(key)) {
        muon_base.set(key, value, false);
        adamw_base.set(key, value, false);
      } else {
        muon_base.set(key, value, false);
      }
    }
    muon_base.validate();
    adamw_base.validate();
    std::vector<torch::optim::OptimizerParamGroup> out;
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      auto& g = groups[gi];
      auto rule = g.options.find("use_muon");
      if (rule != g.options.end()) {
        const bool use_muon = flag_value(rule->second, "use_muon");
        MuonOptions o = use_muon ? muon_base : adamw_base;
        for (const auto& [key, value] : g.options) {
          if (key == "use_muon") continue;
          if (kAdamWDefaults.count(key) || (use_muon ? kAdamWOnly.count(key) : kMuonOnly.count(key)) != 0)
            throw OptionError("muon: option '" + key + "' of param group " + std::to_string(gi) +
                              " does not apply to a group with use_muon = " + (use_muon ? "true" : "false"));
          o.set(key, value, false);
        }
        o.use_muon(use_muon);
        o.validate();
        out.emplace_back(std::move(g.params), std::make_unique<MuonOptions>(o));
        continue;
      }
      MuonOptions m = muon_base, a = adamw_base;
      for (const auto& [key, value] : g.options) {
        auto ad = kAdamWDefaults.find(key);
        if (ad != kAdamWDefaults.end()) {
          a.set(ad->second, value, false);
        } else if (kAdamWOnly.count(key)) {
          a.set(key, value, false);
        } else if (kBothRules.count(key)) {
          m.set(key, value, false);
          a.set(key, value, false);
        } else {
          m.set(key, value, false);
        }
      }
      m.validate();
      a.validate();
      for (auto& split : muon_param_groups(g.params, m, a)) out.push_back(std::move(split));
    }
    return std::make_unique<Muon>(std::move(out), muon_base);
  };
}

}  // namespace

void register_curvature_optimizers(Registry& r) {
  {
    OptimizerInfo i{"muon",
                    "Jordan et al., Muon: An optimizer for hidden layers in neural networks, 2024 "
                    "(kellerjordan.github.io/posts/muon)",
                    "KellerJordan/Muon @ 857d1ad : muon.py (SingleDeviceMuon, SingleDeviceMuonWithAuxAdam)",
                    4,
                    4,
                    "matrices (Muon): the momentum; other tensors (AdamW): 8; plus Newton-Schulz workspaces per "
                    "matrix shape, not kept between steps",
                    {}};
    r.add(i, muon_factory());
  }
  {
    OptimizerInfo i{"mfac",
                    "Frantar, Kurtic & Alistarh, M-FAC: Efficient Matrix-Free Approximations of Second-Order "
                    "Information, NeurIPS 2021",
                    "IST-DASLab/M-FAC @ 8116367 : optim.py (MFAC)",
                    4096,
                    4096,
                    "4·ngrads (the gradient window, default ngrads 1024; 8·ngrads in float64) +4 with momentum "
                    "(+4 with sparse: the mask); plus 8·ngrads² bytes in all for the Gram matrix (the reference: "
                    "4·(3·ngrads² + ngrads))",
                    {"moddev", "optdev", "gpus"}};
    r.add(i, factory_of<MFAC>());
  }
  {
    OptimizerInfo i{"sophia_g",
                    "Liu, Li, Hall, Liang & Ma, Sophia: A Scalable Stochastic Second-order Optimizer for Language "
                    "Model Pre-training, ICLR 2024",
                    "Liuhong99/Sophia @ a7e1572 : sophia.py (SophiaG)",
                    8,
                    8,
                    "exp_avg and hessian (the reference also keeps a 0-d step tensor per parameter)",
                    {"capturable"}};
    i.hessian_estimator = "gnb";
    r.add(i, factory_of<SophiaG>());
  }
  {
    OptimizerInfo i{"sophia_h",
                    "Liu, Li, Hall, Liang & Ma, Sophia: A Scalable Stochastic Second-order Optimizer for Language "
                    "Model Pre-training, ICLR 2024 (Hutchinson variant)",
                    "Liuhong99/Sophia @ 01af183 : sophia.py (SophiaH)",
                    8,
                    8,
                    "exp_avg and hessian (the reference also keeps a 0-d step tensor per parameter)",
                    {"capturable"}};
    i.hessian_estimator = "hutchinson";
    r.add(i, factory_of<SophiaH>());
  }
  {
    OptimizerInfo i{"adahessian",
                    "Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, ADAHESSIAN: An Adaptive Second Order Optimizer "
                    "for Machine Learning, AAAI 2021",
                    "amirgholami/adahessian @ 85ebc00 : image_classification/optim_adahessian.py (Adahessian)",
                    8,
                    8,
                    "exp_avg and exp_hessian_diag_sq; plus a per-parameter buffer for the step's Hessian term "
                    "(not kept) and, in use, the create_graph backward graph",
                    {"single_gpu"}};
    i.needs_graph = true;
    r.add(i, factory_of<AdaHessian>());
  }
}

}  // namespace descent
