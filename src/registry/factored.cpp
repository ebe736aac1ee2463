// Factored second-moment optimizers (Adafactor, CAME) and wrappers (Lookahead).
#include "registry/builtin.h"

#include <descent/optim/adafactor.h>
#include <descent/optim/came.h>
#include <descent/optim/lookahead.h>

#include <cmath>
#include <functional>

namespace descent {

namespace {

const std::string kZoo = "kozistr/pytorch_optimizer @ 7a076d2 : pytorch_optimizer/optimizer/";

// factory_of<Opt>, with the option maps rewritten first (reference spellings
// that descent's typed options cannot hold directly, such as Python's None).
template <class Opt>
Factory factory_with(std::function<void(OptionMap&)> rewrite) {
  Factory inner = factory_of<Opt>();
  return [inner, rewrite](std::vector<GroupSpec> groups, const OptionMap& defaults) {
    OptionMap d = defaults;
    rewrite(d);
    for (auto& g : groups) rewrite(g.options);
    return inner(std::move(groups), d);
  };
}

bool is_none(const OptionValue& v) { return v.kind == OptionValue::Kind::string && v.string == "None"; }

OptionValue boolean(bool b) {
  OptionValue v;
  v.kind = OptionValue::Kind::boolean;
  v.boolean = b;
  return v;
}

// AdaFactor: betas = (None, β2) means no first moment (descent's no_momentum);
// lr = None is accepted with relative steps, where lr is not used.
void rewrite_adafactor(OptionMap& m) {
  auto b = m.find("betas");
  if (b != m.end() && b->second.kind == OptionValue::Kind::list && b->second.list.size() == 2 &&
      std::isnan(b->second.list[0])) {
    b->second.list[0] = 0.9;  // unused
    m["no_momentum"] = boolean(true);
  }
  auto lr = m.find("lr");
  if (lr != m.end() && is_none(lr->second)) {
    auto rs = m.find("relative_step");
    const bool relative = rs == m.end() || (rs->second.kind == OptionValue::Kind::boolean && rs->second.boolean) ||
                          (rs->second.kind == OptionValue::Kind::number && rs->second.number != 0);
    if (!relative) throw OptionError("adafactor: lr = None needs relative_step = true");
    m.erase(lr);
  }
}

// Lookahead: "optimizer" names the inner optimizer (default adamw), "k", "alpha"
// and "pullback_momentum" are Lookahead's; every other option, and every
// group's options, go to the inner optimizer, built through the registry.
Factory lookahead_factory() {
  return [](std::vector<GroupSpec> groups, const OptionMap& defaults) -> std::unique_ptr<Optimizer> {
    LookaheadOptions options;
    std::string inner_name = "adamw";
    OptionMap inner_defaults;
    for (const auto& [key, value] : defaults) {
      if (key == "optimizer") {
        if (value.kind != OptionValue::Kind::string)
          throw OptionError("lookahead: option 'optimizer' expects the registry name of the optimizer to wrap");
        inner_name = value.string;
      } else if (LookaheadOptions::is_option(key)) {
        options.set(key, value);
      } else {
        inner_defaults.emplace(key, value);
      }
    }
    for (const auto& g : groups)
      for (const auto& [key, value] : g.options)
        if (key == "optimizer" || LookaheadOptions::is_option(key))
          throw OptionError("lookahead: option '" + key +
                            "' applies to every group alike: give it with the optimizer's options, not a group's");
    if (inner_name == "lookahead") throw OptionError("lookahead: option 'optimizer': cannot wrap lookahead itself");
    std::unique_ptr<Optimizer> inner;
    try {
      inner = Registry::instance().make(inner_name, std::move(groups), inner_defaults);
    } catch (const UnknownOptimizer& e) {
      throw OptionError(std::string("lookahead: option 'optimizer': ") + e.what());
    } catch (const OptionError& e) {
      throw OptionError(std::string("lookahead: ") + e.what());
    }
    return std::make_unique<Lookahead>(std::move(inner), options);
  };
}

}  // namespace

void register_factored_and_wrappers(Registry& r) {
  r.add({"adafactor",
         "Shazeer & Stern, Adafactor: Adaptive Learning Rates with Sublinear Memory Cost, ICML 2018; "
         "BigVision variant: Zhai et al., Scaling Vision Transformers, CVPR 2022",
         kZoo + "adafactor.py (AdaFactor)", 2, 2,
         "the first moment in momentum_dtype (bfloat16 by default: 2 bytes; float16 2, float32 4, float64 as "
         "the parameter's state); matrices (ndim >= 2): one row and one column statistic per matrix instead of "
         "v; vectors: +4 (v); +4 with ams_bound; -2 without a first moment (betas = (None, b2))",
         kZooFlags},
        factory_with<Adafactor>(rewrite_adafactor));
  r.add({"came",
         "Luo et al., CAME: Confidence-guided Adaptive Memory Efficient Optimization, ACL 2023",
         kZoo + "came.py (CAME)", 4, 4,
         "matrices (ndim >= 2): two row and two column statistics per matrix; vectors: +4 (v); +4 with "
         "ams_bound; the reference also keeps a 0-d RMS(p) per tensor, which its update never reads (descent "
         "does not)",
         kZooFlags},
        factory_of<CAME>());
  r.add({"lookahead",
         "Zhang, Lucas, Hinton & Ba, Lookahead Optimizer: k steps forward, 1 step back, NeurIPS 2019",
         kZoo + "lookahead.py (Lookahead)", 12, 16,
         "the slow weights (+4) plus the inner optimizer's state (default adamw: 8); the reference also inserts "
         "a zero momentum_buffer into the inner state of optimizers without one (+4) and keeps slow_momentum "
         "(+4) with pullback_momentum = 'pullback', descent neither",
         {}},
        lookahead_factory());
}

}  // namespace descent
