// descent/optim/quantized_state.h: 8-bit block-wise optimizer state as an
// option of any elementwise optimizer (bitsandbytes' scheme, see
// kernels/quantized.h), from tensors to kernel calls.
//
// An optimizer whose state is moment-like takes three more options,
//   state_dtype    "float32" (default: full-precision state, float64 for
//                  float64 parameters, as without the option) or "int8"
//                  (8-bit codes + a float32 absmax per block);
//   blocksize      elements per absmax block (bitsandbytes: 256 since v0.44,
//                  2048 before);
//   min_8bit_size  tensors with fewer elements keep full-precision state
//                  (bitsandbytes' default 4096);
// declares which of its state buffers are quantizable and whether each is
// signed (a first moment: the signed dynamic map) or not (a second moment:
// the unsigned map), and runs its rule, unchanged, through launch_state()
// instead of launch(). The state of each buffer is then either the usual
// tensor or uint8 codes shaped like the parameter plus a float32 buffer
// "<name>_absmax" of one value per block; the block size the codes were
// written with is the per-parameter scalar "quant_blocksize" (0 while the
// state is full-precision). Checkpoints
// carry them like any state. Changing state_dtype, blocksize or
// min_8bit_size mid-run converts the existing state at the next step
// (dequantized, requantized: the only step that allocates).
#pragma once

#include <descent/kernels/quantized.h>
#include <descent/optim/launch.h>
#include <descent/optim/optimizer.h>
#include <descent/optim/state_dtype.h>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace descent {

// bitsandbytes' create_dynamic_map(signed, max_exponent_bits=7, total_bits=8):
// 256 sorted float32 codes; the signed map has +1.0 but not −1.0. Built once,
// with ATen's float32 linspace and arithmetic as the reference builds it.
const kernels::QuantMap& dynamic_map(bool is_signed);

// What the options ask for.
struct QuantConfig {
  bool int8 = false;
  std::int64_t blocksize = 256;
  std::int64_t min_8bit_size = 4096;
  bool quantizes(const torch::Tensor& p) const { return int8 && p.numel() >= min_8bit_size; }
};

template <class O> QuantConfig quant_config(const O& o) {
  return {o.state_dtype() == "int8", o.blocksize(), o.min_8bit_size()};
}

// One quantizable state buffer of an optimizer: its index in the layout, the
// index of its absmax buffer, the index of the quant_blocksize scalar, and
// whether it takes the signed map.
struct StateSlot {
  int buffer = 0;
  int absmax = 0;
  int block_scalar = 0;
  bool is_signed = true;
};

// A state layout whose buffers can be quantized: `buffers` (all of them
// quantizable, in order), then one "<name>_absmax" per buffer; `scalars`, then
// "quant_blocksize".
struct QuantizableLayout {
  StateLayout layout;
  int nbuf = 0;
  int block_scalar = 0;
  QuantizableLayout(std::vector<std::string> buffers, std::vector<std::string> scalars = {});
  StateSlot slot(int k, bool is_signed) const { return {k, nbuf + k, block_scalar, is_signed}; }
};
inline constexpr bool kSigned = true;     // moments that change sign: the signed map
inline constexpr bool kUnsigned = false;  // non-negative moments: the unsigned map

// Creates slot s of a fresh state: a zero buffer like zeros_state(p), or, when
// cfg quantizes p, zero codes and a zero absmax (dequantizing to 0, as
// bitsandbytes' fresh state). With a nonzero `value`: full_state(p, value), or
// its quantization.
void init_slot(ParamState& st, const torch::Tensor& p, const QuantConfig& cfg, const StateSlot& s,
               double value = 0);

// Optimizer::lazy_state for a QuantizableLayout: codes or a full-precision
// buffer shaped like p, or an absmax, as the loaded quant_blocksize says.
torch::Tensor lazy_state(const QuantizableLayout& l, std::size_t buffer, const torch::Tensor& p, const ParamState& st);

// Makes the defined slots' storage match cfg, converting existing state
// (quantize, dequantize, or requantize with another block size) where the
// options changed. Allocates only then.
void sync_slots(ParamState& st, const torch::Tensor& p, const QuantConfig& cfg, const StateSlot* slots, int n);

// Block-wise (de)quantization of whole tensors (conversions, tests, users).
// quantize_blockwise returns uint8 codes shaped like `values` and a float32
// absmax of one value per block.
std::pair<torch::Tensor, torch::Tensor> quantize_blockwise(const torch::Tensor& values, const kernels::QuantMap& map,
                                                            std::int64_t blocksize);
torch::Tensor dequantize_blockwise(const torch::Tensor& codes, const torch::Tensor& absmax,
                                   const kernels::QuantMap& map, std::int64_t blocksize);

// One state slot of one tensor for launch_quantized: uint8 codes + float32
// absmax + code book, or (absmax == nullptr) a raw float32 buffer.
struct QuantState {
  const torch::Tensor* values = nullptr;
  const torch::Tensor* absmax = nullptr;
  const kernels::QuantMap* map = nullptr;
};

namespace detail {
[[noreturn]] void bad_quant_state(const char* why);
void check_quant_states(const torch::Tensor& p, const QuantState* s, int n, std::int64_t block);

template <class Rule, class T, std::size_t N>
kernels::QuantSpan<typename storage_of<T>::type> quant_span(const ParamWrite& w, const torch::Tensor& p,
                                                           const torch::Tensor& g,
                                                           const std::array<QuantState, N>& s, std::int64_t block) {
  using Store = typename storage_of<T>::type;
  kernels::QuantSpan<Store> x;
  if constexpr (std::is_same_v<Store, kernels::bf16>) {
    x.master = w.master != nullptr ? static_cast<float*>(w.master->data_ptr()) : nullptr;
    x.stochastic = w.stochastic;
    x.seed = w.seed;
  }
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  x.n = p.numel();
  x.block = block;
  for (std::size_t k = 0; k < N; ++k) {
    if (s[k].absmax == nullptr) {
      x.raw[k] = static_cast<float*>(s[k].values->data_ptr());
    } else {
      x.codes[k] = static_cast<std::uint8_t*>(s[k].values->data_ptr());
      x.absmax[k] = static_cast<float*>(s[k].absmax->data_ptr());
      x.map[k] = s[k].map;
    }
  }
  return x;
}

template <class Rule, class T, std::size_t N>
void launch_quantized_typed(const Rule& rule, const ParamWrite& w, const torch::Tensor& p, const torch::Tensor& g,
                            const std::array<QuantState, N>& s, std::int64_t block) {
  const auto x = quant_span<Rule, T>(w, p, g, s, block);
  const std::int64_t blocks = kernels::quant_blocks(x.n, block);
  if (x.n < 2 * kParallelGrain || at::get_num_threads() == 1 || at::in_parallel_region()) {
    kernels::run_quantized(rule, x, 0, blocks);
  } else {
    const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / block);
    at::parallel_for(0, blocks, grain, [&](std::int64_t b, std::int64_t e) { kernels::run_quantized(rule, x, b, e); });
  }
}

template <class Rule, class T, std::size_t N>
std::array<double, Rule::kSums> launch_quantized_reduce_typed(const Rule& rule, const ParamWrite& w,
                                                              const torch::Tensor& p, const torch::Tensor& g,
                                                              const std::array<QuantState, N>& s, std::int64_t block) {
  const auto x = quant_span<Rule, T>(w, p, g, s, block);
  const std::int64_t blocks = kernels::quant_blocks(x.n, block);
  std::array<double, Rule::kSums> out{};
  // Chunks of whole blocks whose boundaries depend on the tensor's size only,
  // added in chunk order: the sums do not depend on the thread count.
  const std::int64_t chunks = std::max<std::int64_t>(
      1, std::min<std::int64_t>({kMaxReduceChunks, blocks, (x.n + kParallelGrain - 1) / kParallelGrain}));
  if (chunks == 1) {
    kernels::run_quantized(rule, x, 0, blocks, kernels::Path::vector, out.data());
    return out;
  }
  double partial[kMaxReduceChunks][Rule::kSums] = {};
  const std::int64_t per = (blocks + chunks - 1) / chunks;
  const auto body = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t c = b; c < e; ++c)
      kernels::run_quantized(rule, x, std::min(blocks, c * per), std::min(blocks, (c + 1) * per),
                             kernels::Path::vector, partial[c]);
  };
  if (at::in_parallel_region()) body(0, chunks);
  else at::parallel_for(0, chunks, 1, body);
  for (std::int64_t c = 0; c < chunks; ++c)
    for (int j = 0; j < Rule::kSums; ++j) out[j] += partial[c][j];
  return out;
}

template <class F>
decltype(auto) dispatch_param_dtype(const torch::Tensor& p, F&& f) {
  switch (p.scalar_type()) {
    case at::kFloat: return f(static_cast<float*>(nullptr));
    case at::kDouble: return f(static_cast<double*>(nullptr));
    case at::kBFloat16: return f(static_cast<c10::BFloat16*>(nullptr));
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}
}  // namespace detail

// Runs `rule` over p, g and its quantized (or raw float32) states, block by
// block, threaded over blocks; a bfloat16 parameter is written as its
// bf16_mode says. p and g may have any layout (non-contiguous ones are
// updated through contiguous copies, which allocates); the states are
// contiguous, in p's logical element order.
template <class Rule, std::size_t N>
void launch_quantized(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                      const std::array<QuantState, N>& s, std::int64_t block) {
  static_assert(N == Rule::kStates, "one QuantState per rule state");
  detail::check_quant_states(p, s.data(), static_cast<int>(N), block);
  const detail::ParamWrite w = detail::param_write(p);
  const auto run = [&](const detail::ParamWrite& pw, const torch::Tensor& pp, const torch::Tensor& gg) {
    detail::dispatch_param_dtype(pp, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      detail::launch_quantized_typed<Rule, T>(rule, pw, pp, gg, s, block);
    });
  };
  if (p.is_contiguous() && g.is_contiguous() && (w.master == nullptr || w.master->is_contiguous())) {
    run(w, p, g);
    return;
  }
  torch::Tensor pc = p.contiguous();
  const detail::MasterCopy mc(w);
  run(mc.write, pc, g.contiguous());
  if (!pc.is_same(p)) p.copy_(pc);
  mc.write_back(w);
}

template <class Rule, std::size_t N>
std::array<double, Rule::kSums> launch_quantized_reduce(const Rule& rule, const torch::Tensor& p,
                                                        const torch::Tensor& g, const std::array<QuantState, N>& s,
                                                        std::int64_t block) {
  static_assert(N == Rule::kStates, "one QuantState per rule state");
  detail::check_quant_states(p, s.data(), static_cast<int>(N), block);
  const detail::ParamWrite w = detail::param_write(p);
  const auto run = [&](const detail::ParamWrite& pw, const torch::Tensor& pp, const torch::Tensor& gg) {
    return detail::dispatch_param_dtype(pp, [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      return detail::launch_quantized_reduce_typed<Rule, T>(rule, pw, pp, gg, s, block);
    });
  };
  if (p.is_contiguous() && g.is_contiguous() && (w.master == nullptr || w.master->is_contiguous())) return run(w, p, g);
  torch::Tensor pc = p.contiguous();
  const detail::MasterCopy mc(w);
  auto out = run(mc.write, pc, g.contiguous());
  if (!pc.is_same(p)) p.copy_(pc);
  mc.write_back(w);
  return out;
}

// The quantized-state counterpart of launch(): `rule` over p, g and the
// slots' state of st (one slot per rule state, in the rule's order). With
// full-precision state this is launch(rule, p, g, buffers...), unchanged.
template <class Rule, class... Slot>
void launch_state(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                  const QuantConfig& cfg, const Slot&... slots) {
  static_assert(sizeof...(Slot) == Rule::kStates, "one slot per rule state");
  const StateSlot all[] = {slots...};
  sync_slots(st, p, cfg, all, static_cast<int>(sizeof...(Slot)));
  if (st.buffer(all[0].buffer).scalar_type() != at::kByte) {
    launch(rule, p, g, st.buffer(slots.buffer)...);
    return;
  }
  const std::array<QuantState, sizeof...(Slot)> q{
      QuantState{&st.buffer(slots.buffer), &st.buffer(slots.absmax), &dynamic_map(slots.is_signed)}...};
  launch_quantized(rule, p, g, q, static_cast<std::int64_t>(st.scalars[all[0].block_scalar]));
}

template <class Rule, class... Slot>
std::array<double, Rule::kSums> launch_state_reduce(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g,
                                                    ParamState& st, const QuantConfig& cfg, const Slot&... slots) {
  static_assert(sizeof...(Slot) == Rule::kStates, "one slot per rule state");
  const StateSlot all[] = {slots...};
  sync_slots(st, p, cfg, all, static_cast<int>(sizeof...(Slot)));
  if (st.buffer(all[0].buffer).scalar_type() != at::kByte) return launch_reduce(rule, p, g, st.buffer(slots.buffer)...);
  const std::array<QuantState, sizeof...(Slot)> q{
      QuantState{&st.buffer(slots.buffer), &st.buffer(slots.absmax), &dynamic_map(slots.is_signed)}...};
  return launch_quantized_reduce(rule, p, g, q, static_cast<std::int64_t>(st.scalars[all[0].block_scalar]));
}

// Persistent state bytes of one parameter's state (every defined buffer) per
// element of the parameter: what `descent list` and step-bench report.
double state_bytes_per_element(const ParamState& st, std::int64_t numel);

}  // namespace descent
