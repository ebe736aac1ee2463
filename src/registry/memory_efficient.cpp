// Memory-efficient optimizers: 8-bit Adam/AdamW (bitsandbytes), FRUGAL and
// GaLore. (The 8-bit state option of the elementwise optimizers, state_dtype
// = "int8", is registered with each of them.)
#include "registry/builtin.h"

#include <descent/optim/adam8bit.h>
#include <descent/optim/frugal.h>
#include <descent/optim/galore.h>

#include <set>

namespace descent {

namespace {
const std::string kBnb =
    "bitsandbytes-foundation/bitsandbytes @ 95f9af30 : bitsandbytes/optim/adam.py, adamw.py; 8-bit step: "
    "bitsandbytes/backends/triton/kernels_optim.py (optimizer_update_8bit_blockwise_pytorch), 32-bit step: "
    "bitsandbytes/backends/cpu/ops.py (_optimizer_update_32bit_cpu)";
const std::string kBnbPaper = "Dettmers, Lewis, Shleifer & Zettlemoyer, 8-bit Optimizers via Block-wise "
                              "Quantization, ICLR 2022";
// Two bytes of codes plus two float32 absmax per block of 256.
constexpr double kAdam8bitBytes = 2.0 + 8.0 / 256.0;
const std::string kAdam8bitNote =
    "uint8 m and v + float32 absmax per block: 2 + 8/blocksize (2.0039 at blocksize 2048); tensors below "
    "min_8bit_size (4096 elements) keep float32 m and v: 8";
const std::string kFrugal = "hungquangbui02022003/FRUGAL @ c7ebe4c (the authors' upload) : frugal/adamw.py, "
                            "frugal/proj_optimizer_templates.py, frugal/galore_projector.py, "
                            "frugal/coordinate_projector.py";

// The reference has one class per way of choosing the subspace (BlockAdamW,
// GaloreAdamW, CoordAdamW), each with its own keyword arguments; descent has
// one optimizer with a `mode` option, inferred from those arguments when it is
// not given.
Factory frugal_factory() {
  return [](std::vector<GroupSpec> groups, const OptionMap& defaults) -> std::unique_ptr<Optimizer> {
    std::set<std::string> keys;
    for (const auto& [k, v] : defaults) keys.insert(k);
    for (const auto& g : groups)
      for (const auto& [k, v] : g.options) keys.insert(k);
    const bool galore = keys.count("proj_side") || keys.count("proj_type");
    const bool coord = keys.count("coord_choice");
    const bool block = keys.count("block_order");
    if (galore + coord + block > 1)
      throw OptionError("frugal: options of more than one mode given (block: block_order; galore: proj_side, "
                        "proj_type; coord: coord_choice); the reference's BlockAdamW, GaloreAdamW and CoordAdamW "
                        "each take only their own");
    OptionMap d = defaults;
    if (!keys.count("mode") && (galore || coord)) {
      OptionValue v;
      v.kind = OptionValue::Kind::string;
      v.string = galore ? "galore" : "coord";
      d["mode"] = v;
    }
    return factory_of<Frugal>()(std::move(groups), d);
  };
}
}  // namespace

void register_memory_efficient(Registry& r) {
  r.add({"adam8bit", kBnbPaper, kBnb + " (Adam8bit)", kAdam8bitBytes, kAdam8bitBytes, kAdam8bitNote,
         {"is_paged", "args"}},
        factory_of<Adam8bit>());
  r.add({"adamw8bit", kBnbPaper, kBnb + " (AdamW8bit)", kAdam8bitBytes, kAdam8bitBytes, kAdam8bitNote,
         {"is_paged", "args"}},
        factory_of<AdamW8bit>());
  r.add({"frugal", "Zmushko, Beznosikov, Takáč & Horváth, FRUGAL: Memory-Efficient Optimization by Reducing State "
         "Overhead for Scalable Training, ICML 2025 (arXiv:2411.07837)",
         kFrugal + " (BlockAdamW; GaloreAdamW, CoordAdamW with mode = galore / coord)", 8, 8,
         "regular groups: AdamW, 8; is_proj_params groups: 8·density on average in block mode (active tensors "
         "only), 8·r/dim + 4·r·dim/(rows·cols) with a rank-r projector in galore mode (2 + ortho at density 0.25), "
         "≈ 8·density + index set in coord mode",
         {"no_deprecation_warning"}},
        frugal_factory());
  r.add({"galore_adamw", "Zhao, Zhang, Chen, Wang, Anandkumar & Tian, GaLore: Memory-Efficient LLM Training by "
         "Gradient Low-Rank Projection, ICML 2024",
         "jiaweizzhao/GaLore @ 2cc66f8 : galore_torch/adamw.py (AdamW, exported as GaLoreAdamW), "
         "galore_torch/galore_projector.py (GaLoreProjector)",
         8, 8,
         "groups without rank: AdamW, 8; GaLore groups (rank r) on an m x n matrix (m >= n): 8·r/n (moments) + "
         "4·r/m (projector)",
         {"no_deprecation_warning"}},
        factory_of<GaLoreAdamW>());
}

}  // namespace descent
