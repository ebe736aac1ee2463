// Memory-efficient optimizers: 8-bit Adam/AdamW (bitsandbytes), FRUGAL and
// GaLore. (The 8-bit state option of the elementwise optimizers, state_dtype
// = "int8", is registered with each of them.)
#include "registry/builtin.h"

#include <descent/optim/adam8bit.h>

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
}  // namespace

void register_memory_efficient(Registry& r) {
  r.add({"adam8bit", kBnbPaper, kBnb + " (Adam8bit)", kAdam8bitBytes, kAdam8bitBytes, kAdam8bitNote,
         {"is_paged", "args"}},
        factory_of<Adam8bit>());
  r.add({"adamw8bit", kBnbPaper, kBnb + " (AdamW8bit)", kAdam8bitBytes, kAdam8bitBytes, kAdam8bitNote,
         {"is_paged", "args"}},
        factory_of<AdamW8bit>());
}

}  // namespace descent
