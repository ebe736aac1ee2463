#include <descent/kernels/aggmo.h>
#include <descent/optim/aggmo.h>
#include <descent/optim/launch.h>
#include <descent/optim/state_memory.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace descent {

void AggMoOptions::check_consistency() const {
  for (std::size_t k = 0; k < 2 && k < betas_.size(); ++k)
    if (!(betas_[k] < 1))
      throw OptionError("aggmo: option 'betas' = " + detail::format_value(betas_) + " is invalid: beta" +
                        std::to_string(k + 1) + " must be in [0, 1)");
}

namespace {

// The buffer (slot) of betas[k]: the rank of betas[k]'s first occurrence among
// the distinct values, in order. Computed without allocating.
int slot_of(const std::vector<double>& betas, std::size_t k) {
  int slot = 0;
  for (std::size_t j = 0; j < k; ++j) {
    if (betas[j] == betas[k]) return slot_of(betas, j);
    bool seen = false;
    for (std::size_t i = 0; i < j; ++i) seen = seen || betas[i] == betas[j];
    if (!seen) ++slot;
  }
  return slot;
}

int distinct_count(const std::vector<double>& betas) {
  int d = 0;
  for (std::size_t j = 0; j < betas.size(); ++j) {
    bool seen = false;
    for (std::size_t i = 0; i < j; ++i) seen = seen || betas[i] == betas[j];
    if (!seen) ++d;
  }
  return d;
}

// A zero tensor [d, *p.shape] whose slices have p's strides when p is dense.
torch::Tensor stacked_zeros(const torch::Tensor& p, int d) {
  const auto dtype = state_dtype(p.scalar_type());
  std::vector<std::int64_t> sizes{d}, strides{p.numel()};
  for (auto s : p.sizes()) sizes.push_back(s);
  if (!p.is_non_overlapping_and_dense()) return zeros_state(sizes, dtype);
  for (auto s : p.strides()) strides.push_back(s);
  return zeros_state({d * p.numel()}, dtype).as_strided(sizes, strides);
}

bool slices_like(const torch::Tensor& bufs, const torch::Tensor& p) {
  return bufs.stride(0) == p.numel() && bufs.strides().slice(1).equals(p.strides());
}

// Runs `rule` over p, g and the buffer slices slots[0..N) of `bufs` (plus
// `extra` as state N when the rule writes the gradient), without creating views.
template <class Rule, class T>
void run_typed(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& bufs,
               const int* slots, int nslots, const torch::Tensor* extra) {
  using Store = typename detail::storage_of<T>::type;
  using S = kernels::state_t<Store>;
  kernels::Span<Store> x;
  x.p = reinterpret_cast<Store*>(p.data_ptr());
  x.g = reinterpret_cast<const Store*>(g.data_ptr());
  const std::int64_t n = p.numel();
  S* base = reinterpret_cast<S*>(bufs.data_ptr());
  for (int j = 0; j < nslots; ++j) x.s[j] = base + slots[j] * n;
  if (extra != nullptr && nslots < kernels::kMaxStates) x.s[nslots] = reinterpret_cast<S*>(extra->data_ptr());
  parallel_elements(n, [&](std::int64_t b, std::int64_t e) { kernels::run(rule, x, b, e); });
}

template <class Rule>
void run_slices(const Rule& rule, const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& bufs,
                const int* slots, int nslots, const torch::Tensor* extra) {
  const bool direct = p.is_non_overlapping_and_dense() && p.strides().equals(g.strides()) && slices_like(bufs, p) &&
                      (extra == nullptr || extra->strides().equals(p.strides()));
  if (!direct) {
    torch::Tensor pc = p.contiguous(), gc = g.contiguous(), bc = bufs.contiguous();
    torch::Tensor ec = extra != nullptr ? extra->contiguous() : torch::Tensor();
    run_slices(rule, pc, gc, bc, slots, nslots, extra != nullptr ? &ec : nullptr);
    if (!pc.is_same(p)) p.copy_(pc);
    if (!bc.is_same(bufs)) bufs.copy_(bc);
    if (extra != nullptr && !ec.is_same(*extra)) extra->copy_(ec);
    return;
  }
  switch (p.scalar_type()) {
    case at::kFloat: run_typed<Rule, float>(rule, p, g, bufs, slots, nslots, extra); break;
    case at::kDouble: run_typed<Rule, double>(rule, p, g, bufs, slots, nslots, extra); break;
    case at::kBFloat16: run_typed<Rule, c10::BFloat16>(rule, p, g, bufs, slots, nslots, extra); break;
    default: throw std::invalid_argument("descent: unsupported parameter dtype");
  }
}

struct Scalars {
  double gsign, decay, l2, neg_step;
  bool l2_on;
};

template <int N, bool WriteGrad>
void run_segment(const Scalars& sc, const double* betas, const torch::Tensor& p, const torch::Tensor& g,
                 const torch::Tensor& bufs, const int* slots, const torch::Tensor* extra) {
  kernels::AggmoRule<N, WriteGrad> r;
  r.gsign = sc.gsign;
  r.decay = sc.decay;
  r.l2 = sc.l2;
  r.l2_on = sc.l2_on;
  r.neg_step = sc.neg_step;
  for (int k = 0; k < N; ++k) r.beta[k] = betas[k];
  run_slices(r, p, g, bufs, slots, N, WriteGrad ? extra : nullptr);
}

template <bool WriteGrad>
void dispatch(int n, const Scalars& sc, const double* betas, const torch::Tensor& p, const torch::Tensor& g,
              const torch::Tensor& bufs, const int* slots, const torch::Tensor* extra) {
  switch (n) {
    case 1: run_segment<1, WriteGrad>(sc, betas, p, g, bufs, slots, extra); break;
    case 2: run_segment<2, WriteGrad>(sc, betas, p, g, bufs, slots, extra); break;
    case 3: run_segment<3, WriteGrad>(sc, betas, p, g, bufs, slots, extra); break;
    case 4: run_segment<4, WriteGrad>(sc, betas, p, g, bufs, slots, extra); break;
    case 5:
      if constexpr (!WriteGrad) {
        run_segment<5, false>(sc, betas, p, g, bufs, slots, extra);
        break;
      }
      [[fallthrough]];
    default: throw std::logic_error("aggmo: bad segment length");
  }
}

}  // namespace

const StateLayout& AggMo::layout() const {
  static const StateLayout l{{"momentum_buffer"}, {}};
  return l;
}

void AggMo::init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& options) const {
  st.buffer(0) = stacked_zeros(p, distinct_count(cast(options).betas()));
}

void AggMo::update_param(const torch::Tensor& p, const torch::Tensor& g, ParamState& st,
                         const torch::optim::OptimizerOptions& options, GroupState&) {
  const auto& o = cast(options);
  const std::vector<double>& betas = o.betas();
  const int K = static_cast<int>(betas.size());
  torch::Tensor& bufs = st.buffer(0);
  const int D = distinct_count(betas);
  if (bufs.size(0) != D) bufs = stacked_zeros(p, D);  // betas changed mid-run: fresh buffers

  Scalars first;
  first.gsign = o.maximize() ? -1.0 : 1.0;
  first.decay = 1.0;
  first.l2 = 0.0;
  first.l2_on = false;
  if (o.weight_decouple()) {
    first.decay = 1 - o.weight_decay() * (o.fixed_decay() ? 1.0 : o.lr());
  } else {
    first.l2_on = o.weight_decay() > 0;
    first.l2 = o.weight_decay();
  }
  first.neg_step = -o.lr() / K;

  // Split the betas into runs of distinct buffers, at most five states per pass
  // (so one buffer fewer in the first run when later runs must read the
  // L2-decayed gradient it stores). p moves after every buffer, so running the
  // list in several passes gives the same numbers as one.
  constexpr int kMax = kernels::kAggmoMaxStates;
  auto segment_end = [&](int begin, int cap) {
    int end = begin;
    while (end < K && end - begin < cap) {
      bool dup = false;
      for (int j = begin; j < end; ++j) dup = dup || betas[j] == betas[end];
      if (dup) break;
      ++end;
    }
    return end;
  };
  int end = segment_end(0, first.l2_on ? kMax - 1 : kMax);
  const bool scratch_needed = first.l2_on && end < K;
  torch::Tensor scratch;
  if (scratch_needed) scratch = zeros_state(p);  // only for L2 with many or repeated betas
  int slots[kMax];
  double seg_betas[kMax];
  int begin = 0;
  bool first_run = true;
  while (begin < K) {
    if (!first_run) end = segment_end(begin, kMax);
    const int n = end - begin;
    for (int j = 0; j < n; ++j) {
      slots[j] = slot_of(betas, static_cast<std::size_t>(begin + j));
      seg_betas[j] = betas[begin + j];
    }
    if (first_run) {
      if (scratch_needed) dispatch<true>(n, first, seg_betas, p, g, bufs, slots, &scratch);
      else dispatch<false>(n, first, seg_betas, p, g, bufs, slots, nullptr);
    } else {
      // Later runs: the same gradient, no decay again.
      Scalars later = first;
      later.decay = 1.0;
      later.l2_on = false;
      if (scratch_needed) {
        later.gsign = 1.0;
        dispatch<false>(n, later, seg_betas, p, scratch, bufs, slots, nullptr);
      } else {
        dispatch<false>(n, later, seg_betas, p, g, bufs, slots, nullptr);
      }
    }
    first_run = false;
    begin = end;
  }
}

}  // namespace descent
