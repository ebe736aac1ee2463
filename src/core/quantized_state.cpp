#include <descent/optim/quantized_state.h>
#include <descent/optim/state_memory.h>

#include <ATen/ATen.h>
#include <c10/util/strides.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace descent {

namespace {

// create_dynamic_map(signed, max_exponent_bits=7, total_bits=8), step for
// step: for exponent i = 0..6, the midpoints of linspace(0.1, 1, k) in float32
// (k = 2^i + 1 signed, 2^(i+1) + 1 unsigned), scaled by 10^(i−6) (a float32
// multiply by the Python float, as `scalar * tensor`), with their negatives
// for the signed map; then 0 and 1.0, sorted.
kernels::QuantMap build_dynamic_map(bool is_signed) {
  std::vector<double> data;
  for (int i = 0; i < 7; ++i) {
    const std::int64_t items = is_signed ? (std::int64_t{1} << i) + 1 : (std::int64_t{1} << (i + 1)) + 1;
    const at::Tensor b = at::linspace(0.1, 1, items, at::TensorOptions().dtype(at::kFloat));
    const at::Tensor means = (b.slice(0, 0, items - 1) + b.slice(0, 1, items)) / 2.0;
    const double scale = std::pow(10.0, i - 6);  // Python: 10 ** (-(7 - 1) + i)
    const at::Tensor pos = (means * scale).contiguous();
    for (std::int64_t k = 0; k < pos.numel(); ++k) data.push_back(pos.data_ptr<float>()[k]);
    if (is_signed) {
      const at::Tensor neg = (means * (-scale)).contiguous();
      for (std::int64_t k = 0; k < neg.numel(); ++k) data.push_back(neg.data_ptr<float>()[k]);
    }
  }
  data.push_back(0);
  data.push_back(1.0);
  if (data.size() != 256) throw std::logic_error("descent: the dynamic map does not have 256 entries");
  std::sort(data.begin(), data.end());
  kernels::QuantMap m{};
  for (int k = 0; k < 256; ++k) m.code[k] = static_cast<float>(data[k]);
  if (!kernels::build_quant_lookup(m)) throw std::logic_error("descent: the dynamic map's lookup needs more sub-bits");
  return m;
}

}  // namespace

const kernels::QuantMap& dynamic_map(bool is_signed) {
  static const kernels::QuantMap s = build_dynamic_map(true);
  static const kernels::QuantMap u = build_dynamic_map(false);
  return is_signed ? s : u;
}

QuantizableLayout::QuantizableLayout(std::vector<std::string> buffers, std::vector<std::string> scalars) {
  nbuf = static_cast<int>(buffers.size());
  layout.buffers = buffers;
  for (const auto& b : buffers) layout.buffers.push_back(b + "_absmax");
  layout.scalars = std::move(scalars);
  block_scalar = static_cast<int>(layout.scalars.size());
  layout.scalars.push_back("quant_blocksize");
}

std::pair<torch::Tensor, torch::Tensor> quantize_blockwise(const torch::Tensor& values, const kernels::QuantMap& map,
                                                            std::int64_t blocksize) {
  if (blocksize < 1) throw std::invalid_argument("quantize_blockwise: blocksize must be positive");
  const at::Tensor v = values.detach().to(at::kFloat).contiguous();
  const std::int64_t n = v.numel();
  const std::int64_t blocks = kernels::quant_blocks(n, blocksize);
  at::Tensor codes = empty_state(values.sizes(), c10::contiguous_strides(values.sizes()), at::kByte);
  at::Tensor absmax = at::empty({blocks}, values.options().dtype(at::kFloat));
  const float* src = v.data_ptr<float>();
  std::uint8_t* c = codes.data_ptr<std::uint8_t>();
  float* am = absmax.data_ptr<float>();
  at::parallel_for(0, blocks, 16, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t e0 = b * blocksize;
      am[b] = kernels::requantize_block(src + e0, std::min(n, e0 + blocksize) - e0, map, c + e0);
    }
  });
  return {codes, absmax};
}

torch::Tensor dequantize_blockwise(const torch::Tensor& codes, const torch::Tensor& absmax,
                                   const kernels::QuantMap& map, std::int64_t blocksize) {
  if (codes.scalar_type() != at::kByte || absmax.scalar_type() != at::kFloat)
    throw std::invalid_argument("dequantize_blockwise: expects uint8 codes and a float32 absmax");
  const std::int64_t n = codes.numel();
  if (blocksize < 1 || absmax.numel() != kernels::quant_blocks(n, blocksize))
    throw std::invalid_argument("dequantize_blockwise: absmax has " + std::to_string(absmax.numel()) +
                                " values; " + std::to_string(kernels::quant_blocks(n, blocksize)) +
                                " blocks of " + std::to_string(blocksize) + " expected");
  const at::Tensor c = codes.contiguous();
  const at::Tensor a = absmax.contiguous();
  at::Tensor out = at::empty(codes.sizes(), codes.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous));
  const std::uint8_t* cp = c.data_ptr<std::uint8_t>();
  const float* ap = a.data_ptr<float>();
  float* o = out.data_ptr<float>();
  for (std::int64_t i = 0; i < n; ++i) o[i] = kernels::dequantize(map, cp[i], ap[i / blocksize]);
  return out;
}

void init_slot(ParamState& st, const torch::Tensor& p, const QuantConfig& cfg, const StateSlot& s, double value) {
  if (!cfg.quantizes(p)) {
    st.buffer(s.buffer) = value == 0 ? zeros_state(p) : full_state(p, value);
    st.buffer(s.absmax) = torch::Tensor();
    st.scalars[s.block_scalar] = 0;
    return;
  }
  if (value != 0) {
    auto [codes, absmax] = quantize_blockwise(full_state(p, value), dynamic_map(s.is_signed), cfg.blocksize);
    st.buffer(s.buffer) = codes;
    st.buffer(s.absmax) = absmax;
  } else {
    st.buffer(s.buffer) = zeros_state(p.sizes(), at::kByte);
    st.buffer(s.absmax) = at::zeros({kernels::quant_blocks(p.numel(), cfg.blocksize)}, p.options().dtype(at::kFloat));
  }
  st.scalars[s.block_scalar] = static_cast<double>(cfg.blocksize);
}

void sync_slots(ParamState& st, const torch::Tensor& p, const QuantConfig& cfg, const StateSlot* slots, int n) {
  const bool want = cfg.quantizes(p);
  for (int k = 0; k < n; ++k) {
    const StateSlot& s = slots[k];
    torch::Tensor& buf = st.buffer(s.buffer);
    if (!buf.defined()) continue;
    const bool have = buf.scalar_type() == at::kByte;
    const std::int64_t have_block = static_cast<std::int64_t>(st.scalars[s.block_scalar]);
    if (have == want && (!have || have_block == cfg.blocksize)) continue;
    // The options changed since this state was written: convert it.
    const auto& map = dynamic_map(s.is_signed);
    at::Tensor values = have ? dequantize_blockwise(buf, st.buffer(s.absmax), map, have_block) : buf;
    if (want) {
      auto [codes, absmax] = quantize_blockwise(values, map, cfg.blocksize);
      buf = codes;
      st.buffer(s.absmax) = absmax;
    } else {
      buf = zeros_state(p);
      buf.copy_(values.view(p.sizes()));
      st.buffer(s.absmax) = torch::Tensor();
    }
  }
  if (n > 0) st.scalars[slots[0].block_scalar] = want ? static_cast<double>(cfg.blocksize) : 0.0;
}

torch::Tensor lazy_state(const QuantizableLayout& l, std::size_t buffer, const torch::Tensor& p, const ParamState& st) {
  const auto block = static_cast<std::int64_t>(st.scalars.at(static_cast<std::size_t>(l.block_scalar)));
  const auto b = static_cast<int>(buffer);
  if (block <= 0) return zeros_state(p);
  if (b < l.nbuf) return zeros_state(p.sizes(), at::kByte);
  return at::zeros({kernels::quant_blocks(p.numel(), block)}, p.options().dtype(at::kFloat));
}

double state_bytes_per_element(const ParamState& st, std::int64_t numel) {
  double bytes = 0;
  for (const auto& b : st.buffers)
    if (b.defined()) bytes += static_cast<double>(b.numel() * b.element_size());
  return numel > 0 ? bytes / static_cast<double>(numel) : 0.0;
}

namespace detail {

void bad_quant_state(const char* why) { throw std::logic_error(std::string("descent: quantized state: ") + why); }

void check_quant_states(const torch::Tensor& p, const QuantState* s, int n, std::int64_t block) {
  if (block < 1 || block > kernels::kMaxQuantBlock) bad_quant_state("block size out of range");
  const std::int64_t numel = p.numel();
  for (int k = 0; k < n; ++k) {
    const torch::Tensor& v = *s[k].values;
    if (v.numel() != numel || !v.is_contiguous()) bad_quant_state("state is not a contiguous tensor like the parameter");
    if (s[k].absmax == nullptr) {
      if (v.scalar_type() != at::kFloat) bad_quant_state("a raw state must be float32");
      continue;
    }
    if (v.scalar_type() != at::kByte) bad_quant_state("codes must be uint8");
    const torch::Tensor& a = *s[k].absmax;
    if (a.scalar_type() != at::kFloat || !a.is_contiguous() || a.numel() != kernels::quant_blocks(numel, block))
      bad_quant_state("absmax must be float32 with one value per block");
    if (s[k].map == nullptr) bad_quant_state("no code book");
  }
}

}  // namespace detail

}  // namespace descent
