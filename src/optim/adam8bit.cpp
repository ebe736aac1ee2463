#include <descent/kernels/adam8bit.h>
#include <descent/optim/adam8bit.h>
#include <descent/optim/quantized_state.h>
#include <descent/optim/state_memory.h>

#include <ATen/ATen.h>

#include <cmath>

namespace descent {

template <class Derived>
void Adam8bitFamilyOptions<Derived>::check_consistency() const {
  const char* name = Derived::kOptimizer;
  if (amsgrad_)
    throw OptionError(std::string(name) + ": amsgrad = true is not supported (bitsandbytes' 8-bit Adam has no "
                      "AMSGrad); valid: false");
  if (optim_bits_ != 32)
    throw OptionError(std::string(name) + ": optim_bits = " + detail::format_value(optim_bits_) +
                      " is not supported; valid: 32 (bitsandbytes' compatibility default; the state is 8-bit "
                      "for tensors of at least min_8bit_size elements regardless)");
}

template struct Adam8bitFamilyOptions<Adam8bitOptions>;
template struct Adam8bitFamilyOptions<AdamW8bitOptions>;

namespace detail {

namespace {
const QuantizableLayout& adam8bit_layout() {
  static const QuantizableLayout l({"state1", "state2"});
  return l;
}
// Raw float32 states are processed in chunks of this many elements.
constexpr std::int64_t kRawChunk = 2048;
}  // namespace

template <class Opts>
const StateLayout& Adam8bitImpl<Opts>::layout() const {
  return adam8bit_layout().layout;
}

template <class Opts>
void Adam8bitImpl<Opts>::init_state(ParamState& st, const torch::Tensor& p,
                                    const torch::optim::OptimizerOptions& options) const {
  const auto& o = this->cast(options);
  const auto& l = adam8bit_layout();
  if (p.numel() >= o.min_8bit_size()) {
    QuantConfig cfg{true, o.blocksize(), o.min_8bit_size()};
    init_slot(st, p, cfg, l.slot(0, kSigned));
    init_slot(st, p, cfg, l.slot(1, kUnsigned));
  } else {
    // 32-bit path: float32 state whatever the parameter's dtype.
    st.buffer(0) = zeros_state(p.sizes(), at::kFloat);
    st.buffer(1) = zeros_state(p.sizes(), at::kFloat);
  }
}

template <class Opts>
void Adam8bitImpl<Opts>::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                                      const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = this->cast(options);
  const auto& l = adam8bit_layout();
  const double b1 = o.betas()[0], b2 = o.betas()[1], lr = o.lr(), wd = o.weight_decay();
  const double t = static_cast<double>(st.step);
  const double bc1 = 1.0 - std::pow(b1, t);
  const double bc2 = 1.0 - std::pow(b2, t);
  auto fill = [&](auto& r) {
    r.beta1 = b1;
    r.one_minus_beta1 = 1.0 - b1;
    r.beta2 = b2;
    r.one_minus_beta2 = 1.0 - b2;
    r.decay_on = wd > 0.0;
    r.decay = 1.0 - lr * wd;
  };
  const torch::Tensor& m = st.buffer(0);
  const torch::Tensor& v = st.buffer(1);
  if (m.scalar_type() == at::kByte) {
    kernels::Adam8bitRule<true> r;
    fill(r);
    r.bc2_sqrt = std::sqrt(bc2);
    r.eps = o.eps();
    r.step = -lr / bc1;
    const std::array<QuantState, 2> q{QuantState{&m, &st.buffer(l.slot(0, kSigned).absmax), &dynamic_map(true)},
                                      QuantState{&v, &st.buffer(l.slot(1, kUnsigned).absmax), &dynamic_map(false)}};
    launch_quantized(r, p, g, q, static_cast<std::int64_t>(st.scalars[l.block_scalar]));
  } else {
    kernels::Adam8bitRule<false> r;
    fill(r);
    const double c2 = std::sqrt(bc2);
    r.eps = o.eps() * c2;
    r.step = -lr * c2 / bc1;
    const std::array<QuantState, 2> q{QuantState{&m}, QuantState{&v}};
    launch_quantized(r, p, g, q, kRawChunk);
  }
}

template class Adam8bitImpl<Adam8bitOptions>;
template class Adam8bitImpl<AdamW8bitOptions>;

}  // namespace detail
}  // namespace descent
