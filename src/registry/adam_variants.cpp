#include "registry/builtin.h"

namespace descent {

void register_adam_variants(Registry& r) {}

}  // namespace descent
