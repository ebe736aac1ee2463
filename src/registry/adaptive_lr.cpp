#include "registry/builtin.h"

namespace descent {

void register_adaptive_lr(Registry& r) {}

}  // namespace descent
