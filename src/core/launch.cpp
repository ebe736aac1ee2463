#include <descent/optim/launch.h>

#include <ATen/ATen.h>

#include <string>

namespace descent {

torch::Tensor zeros_state(const torch::Tensor& param) {
  return at::zeros_like(param, param.options().dtype(state_dtype(param.scalar_type())), at::MemoryFormat::Preserve);
}

torch::Tensor full_state(const torch::Tensor& param, double value) {
  return at::full_like(param, value, param.options().dtype(state_dtype(param.scalar_type())),
                       at::MemoryFormat::Preserve);
}

namespace detail {
void bad_state_dtype(at::ScalarType param, at::ScalarType state) {
  throw std::logic_error(std::string("descent: state of dtype ") + c10::toString(state) + " for a parameter of dtype " +
                         c10::toString(param) + " (expected " + c10::toString(state_dtype(param)) + ")");
}
}  // namespace detail

}  // namespace descent
