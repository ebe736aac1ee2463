// descent/optim/adam8bit.h: 8-bit Adam and AdamW with block-wise quantized
// state, as bitsandbytes' bnb.optim.Adam8bit / bnb.optim.AdamW8bit.
#pragma once

#include <descent/optim/optimizer.h>

#include <cstdint>

namespace descent {

// The options Adam8bit and AdamW8bit share (bitsandbytes' constructor
// arguments; AdamW8bit only changes the weight_decay default). blocksize is
// not a constructor argument of bitsandbytes (it is 256 since v0.44, 2048 in
// v0.43 and earlier and in the paper); descent takes it as an option.
template <class Derived>
struct Adam8bitFamilyOptions : Options<Derived> {
  using Self = Derived;
  DESCENT_OPTION(double, lr, 1e-3)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, eps, 1e-8)
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, amsgrad, false)
  DESCENT_OPTION(std::int64_t, optim_bits, 32)
  DESCENT_OPTION(std::int64_t, min_8bit_size, 4096)
  DESCENT_OPTION(std::int64_t, blocksize, 256)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("eps", eps_, at_least(0));
    v("weight_decay", weight_decay_, at_least(0));
    v("amsgrad", amsgrad_, any_bool());
    v("optim_bits", optim_bits_, any_number());
    v("min_8bit_size", min_8bit_size_, at_least(0));
    v("blocksize", blocksize_, in_cc(1, 4096));
  }
  // bitsandbytes raises for amsgrad = True and for optim_bits other than its
  // compatibility default 32 (the state is 8-bit regardless).
  void check_consistency() const;
};

struct Adam8bitOptions : Adam8bitFamilyOptions<Adam8bitOptions> {
  static constexpr const char* kOptimizer = "adam8bit";
  explicit Adam8bitOptions(double lr = 1e-3) { this->lr(lr); }
};

struct AdamW8bitOptions : Adam8bitFamilyOptions<AdamW8bitOptions> {
  static constexpr const char* kOptimizer = "adamw8bit";
  explicit AdamW8bitOptions(double lr = 1e-3) {
    this->lr(lr);
    this->weight_decay(1e-2);  // bitsandbytes' AdamW8bit default
  }
};

namespace detail {
template <class Opts>
class Adam8bitImpl : public OptimizerImpl<Opts> {
 public:
  using OptimizerImpl<Opts>::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                    const torch::optim::OptimizerOptions& o, GroupState&) override;
};
}  // namespace detail

// State per parameter: "state1" (m) and "state2" (v), uint8 codes into the
// signed and the unsigned dynamic map, with "state1_absmax"/"state2_absmax"
// (float32, one per block of `blocksize` elements) — or, for tensors with
// fewer than min_8bit_size elements, float32 m and v (for every parameter
// dtype, as bitsandbytes). Arithmetic is float32 throughout, parameters are
// rounded to float32 and back, as the reference's p.float() ... p.copy_().
// The state format and block size are fixed when a parameter's state is
// created, as in bitsandbytes.
class Adam8bit : public detail::Adam8bitImpl<Adam8bitOptions> {
 public:
  using Adam8bitImpl::Adam8bitImpl;
};

class AdamW8bit : public detail::Adam8bitImpl<AdamW8bitOptions> {
 public:
  using Adam8bitImpl::Adam8bitImpl;
};

}  // namespace descent
