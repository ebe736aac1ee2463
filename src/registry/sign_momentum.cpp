#include "registry/builtin.h"

namespace descent {

void register_sign_momentum(Registry& r) {}

}  // namespace descent
