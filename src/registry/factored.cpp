#include "registry/builtin.h"

namespace descent {

void register_factored_and_wrappers(Registry& r) {}

}  // namespace descent
