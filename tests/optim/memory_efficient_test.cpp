// The memory-efficient optimizers beyond the registry-wide sweeps and the
// golden cases: 8-bit state (adam8bit and state_dtype = "int8" across the
// zoo: bytes per parameter, closeness to full-precision state, conversions,
// threads), FRUGAL's modes and GaLore's projections (structure of the state,
// limits where they reduce to a known method, checkpoints).
#include <support/optim_testing.h>

#include <descent/optim/frugal.h>
#include <descent/optim/galore.h>
#include <descent/optim/quantized_state.h>

#include <ATen/Parallel.h>

#include <cmath>

namespace {

using namespace dtest;

OptionMap opts(std::vector<std::pair<std::string, OptionValue>> kv) {
  OptionMap m;
  for (auto& [k, v] : kv) m[k] = v;
  return m;
}

std::vector<torch::Tensor> to_dtype(const std::vector<torch::Tensor>& ts, at::ScalarType t) {
  std::vector<torch::Tensor> out;
  for (const auto& x : ts) out.push_back(x.to(t));
  return out;
}

double state_bytes(const Optimizer& opt, const torch::Tensor& p) {
  return descent::state_bytes_per_element(*opt.state_of(p), p.numel());
}

// Loss ½‖A x − b‖² on a fixed random problem, gradients exact.
struct Quadratic {
  torch::Tensor a, b;
  explicit Quadratic(std::int64_t n, std::uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    a = at::randn({n, n}, gen, at::TensorOptions().dtype(at::kFloat)) / std::sqrt(static_cast<double>(n));
    b = at::randn({n}, gen, at::TensorOptions().dtype(at::kFloat));
  }
  torch::Tensor grad(const torch::Tensor& x) const { return at::matmul(a.t(), at::matmul(a, x) - b); }
  double loss(const torch::Tensor& x) const { return 0.5 * (at::matmul(a, x) - b).pow(2).sum().item<double>(); }
};

double train(const std::string& name, const OptionMap& o, int steps, torch::Tensor* out = nullptr) {
  Quadratic q(256, 5);
  std::vector<torch::Tensor> x = {at::zeros({256}, at::kFloat)};
  auto opt = make(name, x, o);
  for (int t = 0; t < steps; ++t) {
    x[0].mutable_grad() = q.grad(x[0]);
    opt->step();
  }
  if (out) *out = x[0];
  return q.loss(x[0]);
}

// ---- 8-bit Adam -----------------------------------------------------------------------

TEST(Adam8bit, StateBytesPerParameter) {
  for (const auto& [block, expect] : std::vector<std::pair<double, double>>{{256, 2.03125}, {2048, 2.00390625}}) {
    std::vector<torch::Tensor> p = {at::randn({512, 512}, at::kFloat)};
    auto opt = make("adam8bit", p, opts({{"lr", num(1e-3)}, {"blocksize", num(block)}}));
    p[0].mutable_grad() = at::randn({512, 512}, at::kFloat);
    opt->step();
    EXPECT_DOUBLE_EQ(state_bytes(*opt, p[0]), expect);
    EXPECT_LE(state_bytes(*opt, p[0]), 2.1);
    const auto& st = *opt->state_of(p[0]);
    EXPECT_EQ(st.buffer("state1").scalar_type(), at::kByte);
    EXPECT_EQ(st.buffer("state2").scalar_type(), at::kByte);
    EXPECT_EQ(st.buffer("state1_absmax").numel(), (512 * 512 + static_cast<std::int64_t>(block) - 1) / static_cast<std::int64_t>(block));
  }
  // Below min_8bit_size: float32 m and v, for a float64 parameter too.
  std::vector<torch::Tensor> small = {at::randn({100}, at::kDouble)};
  auto opt = make("adam8bit", small, lr_only(1e-3));
  small[0].mutable_grad() = at::randn({100}, at::kDouble);
  opt->step();
  EXPECT_EQ(opt->state_of(small[0])->buffer("state1").scalar_type(), at::kFloat);
  EXPECT_DOUBLE_EQ(state_bytes(*opt, small[0]), 8.0);
}

// 8-bit Adam reaches nearly the loss of 32-bit Adam (same problem, same steps).
TEST(Adam8bit, TracksFullPrecisionAdam) {
  const double l32 = train("adam", opts({{"lr", num(0.01)}}), 300);
  const double l8 = train("adam8bit", opts({{"lr", num(0.01)}, {"min_8bit_size", num(0)}}), 300);
  const double l0 = Quadratic(256, 5).loss(at::zeros({256}, at::kFloat));
  EXPECT_LT(l32, 0.5 * l0);
  EXPECT_LT(std::abs(l8 - l32), 0.03 * (l0 - l32)) << "32-bit " << l32 << ", 8-bit " << l8 << ", start " << l0;
}

TEST(Adam8bit, RejectsWhatTheReferenceRejects) {
  std::vector<torch::Tensor> p = {at::zeros({4})};
  EXPECT_THROW(make("adam8bit", p, opts({{"amsgrad", flag(true)}})), descent::OptionError);
  EXPECT_THROW(make("adam8bit", p, opts({{"optim_bits", num(8)}})), descent::OptionError);
  EXPECT_THROW(make("adamw8bit", p, opts({{"blocksize", num(8192)}})), descent::OptionError);
  EXPECT_NO_THROW(make("adamw8bit", p, opts({{"is_paged", flag(true)}})));  // accepted, no numerical effect
}

// ---- state_dtype = "int8" across the zoo --------------------------------------------------

// Every registered optimizer whose own state becomes 8-bit with
// state_dtype = "int8" (wrappers such as lookahead pass the option to their
// inner optimizer).
std::vector<std::string> quantizable() {
  std::vector<std::string> out;
  for (const auto& name : optimizer_names()) {
    std::vector<torch::Tensor> p = {at::zeros({4, 4})};
    std::unique_ptr<Optimizer> opt;
    try {
      opt = make(name, p, opts({{"lr", num(0.01)}, {"state_dtype", text("int8")}, {"min_8bit_size", num(0)},
                                {"momentum", num(0.9)}}));
    } catch (const descent::OptionError&) {
      try {
        opt = make(name, p, opts({{"lr", num(0.01)}, {"state_dtype", text("int8")}, {"min_8bit_size", num(0)}}));
      } catch (const descent::OptionError&) {
        continue;
      }
    }
    p[0].mutable_grad() = at::ones({4, 4});
    opt->step();
    bool any = false;
    for (const auto& b : opt->state_of(p[0])->buffers) any = any || (b.defined() && b.scalar_type() == at::kByte);
    if (any) out.push_back(name);
  }
  return out;
}

TEST(Int8State, CoversTheRequiredOptimizers) {
  const auto q = quantizable();
  for (const char* name : {"lion", "sgd", "adabelief", "ademamix", "adan", "adam", "adamw"})
    EXPECT_NE(std::find(q.begin(), q.end(), name), q.end()) << name;
}

OptionMap int8_opts(const std::string& name, bool int8) {
  OptionMap m = opts({{"lr", num(name == "sgd" ? 0.05 : 0.003)}});
  if (name == "sgd") m["momentum"] = num(0.9);
  if (int8) {
    m["state_dtype"] = text("int8");
    m["min_8bit_size"] = num(0);
  }
  return m;
}

// Codes shaped like the parameter, a float32 absmax per block, about one
// byte (plus 4/blocksize) per state per parameter element; the trajectory
// stays close to the one with full-precision state.
TEST(Int8State, StateLayoutBytesAndTrajectory) {
  for (const auto& name : quantizable()) {
    SCOPED_TRACE(name);
    torch::Tensor x32, x8;
    const double l32 = train(name, int8_opts(name, false), 100, &x32);
    const double l8 = train(name, int8_opts(name, true), 100, &x8);
    const double l0 = Quadratic(256, 5).loss(at::zeros({256}, at::kFloat));
    EXPECT_LT(l8, l0) << "int8 state still descends";
    EXPECT_LT(std::abs(l8 - l32), 0.1 * (l0 - l32) + 1e-3) << "full " << l32 << " int8 " << l8;

    std::vector<torch::Tensor> p = {at::randn({64, 64}, at::kFloat)};
    auto opt = make(name, p, int8_opts(name, true));
    p[0].mutable_grad() = at::randn({64, 64}, at::kFloat);
    opt->step();
    const auto& st = *opt->state_of(p[0]);
    int states = 0;
    for (std::size_t k = 0; k < st.buffers.size(); ++k) {
      const auto& b = st.buffers[k];
      if (!b.defined()) continue;
      if (b.scalar_type() == at::kByte) {
        ++states;
        EXPECT_EQ(b.sizes(), p[0].sizes());
        EXPECT_EQ(st.buffer(st.layout->buffers[k] + "_absmax").numel(), 64 * 64 / 256);
      } else {
        EXPECT_EQ(b.scalar_type(), at::kFloat);
        EXPECT_EQ(b.dim(), 1) << "only absmax buffers stay float32";
      }
    }
    EXPECT_GT(states, 0);
    EXPECT_DOUBLE_EQ(state_bytes(*opt, p[0]), states * (1.0 + 4.0 / 256));
  }
}

// Switching state_dtype mid-run converts the state (quantizes, dequantizes)
// and the run goes on; tensors below min_8bit_size keep full precision.
TEST(Int8State, SwitchingConvertsTheState) {
  for (const auto& name : quantizable()) {
    SCOPED_TRACE(name);
    std::vector<torch::Tensor> p = {at::randn({40, 30}, at::kDouble), at::randn({5}, at::kDouble)};
    OptionMap o = int8_opts(name, false);
    o["min_8bit_size"] = num(100);
    auto opt = make(name, p, o);
    auto grads = random_grads(p, 6, 3);
    auto step = [&](int t) {
      set_grads(p, grads[t]);
      opt->step();
    };
    step(0);
    step(1);
    const auto* st = opt->state_of(p[0]);
    std::size_t k = 0;
    while (!st->buffers[k].defined()) ++k;
    const torch::Tensor before = st->buffers[k].clone();
    ASSERT_EQ(before.scalar_type(), at::kDouble);
    auto& options = opt->param_groups()[0].options();
    dynamic_cast<descent::OptionsBase&>(options).set("state_dtype", text("int8"));
    step(2);
    EXPECT_EQ(opt->state_of(p[0])->buffers[k].scalar_type(), at::kByte);
    EXPECT_EQ(opt->state_of(p[1])->buffers[k].scalar_type(), at::kDouble) << "5 elements < min_8bit_size";
    dynamic_cast<descent::OptionsBase&>(options).set("blocksize", num(64));
    step(3);
    EXPECT_EQ(opt->state_of(p[0])->scalar("quant_blocksize"), 64);
    dynamic_cast<descent::OptionsBase&>(options).set("state_dtype", text("float32"));
    step(4);
    EXPECT_EQ(opt->state_of(p[0])->buffers[k].scalar_type(), at::kDouble);
    EXPECT_TRUE(at::isfinite(p[0]).all().item<bool>());
  }
}

// The quantized driver splits a tensor over threads by blocks: one thread
// and several give the same bits.
TEST(Int8State, ThreadCountDoesNotChangeTheBits) {
  const int saved = at::get_num_threads();
  for (const auto& name : quantizable()) {
    SCOPED_TRACE(name);
    std::vector<torch::Tensor> results;
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      auto p = random_params({{300, 700}}, at::kFloat, 7);
      auto opt = make(name, p, int8_opts(name, true));
      for (const auto& g : random_grads(p, 3, 8)) {
        set_grads(p, g);
        opt->step();
      }
      results.push_back(p[0]);
    }
    EXPECT_TRUE(bit_equal(results[0], results[1]));
  }
  at::set_num_threads(saved);
}

// bf16_mode with 8-bit state: the quantized driver honours the master copy
// (the master run equals the float32 run bit for bit: same data, same
// float32 arithmetic and codes) and stochastic rounding (reproducible).
TEST(Int8State, Bf16ModesWithQuantizedState) {
  auto names = quantizable();
  names.push_back("adam8bit");
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    auto init = to_dtype(to_dtype(random_params({{70, 40}}, at::kFloat, 61), at::kBFloat16), at::kFloat);
    auto grads = random_grads(to_dtype(init, at::kBFloat16), 4, 62);
    OptionMap o = int8_opts(name, name != "adam8bit");
    if (name == "adam8bit") o["min_8bit_size"] = num(0);
    auto p32 = clones(init);
    auto a = make(name, p32, o);
    o["bf16_mode"] = text("master_weights");
    auto p16 = to_dtype(init, at::kBFloat16);
    auto b = make(name, p16, o);
    o["bf16_mode"] = text("stochastic_rounding");
    auto r1 = to_dtype(init, at::kBFloat16), r2 = to_dtype(init, at::kBFloat16);
    auto c1 = make(name, r1, o), c2 = make(name, r2, o);
    for (const auto& g : grads) {
      set_grads(p32, to_dtype(g, at::kFloat));
      set_grads(p16, g);
      set_grads(r1, g);
      set_grads(r2, g);
      a->step();
      b->step();
      c1->step();
      c2->step();
    }
    const auto* st = b->state_of(p16[0]);
    ASSERT_TRUE(st->master.defined());
    EXPECT_TRUE(bit_equal(st->master, p32[0])) << "max diff " << max_abs_diff(st->master, p32[0]);
    EXPECT_TRUE(bit_equal(p16[0], st->master.to(at::kBFloat16)));
    EXPECT_TRUE(bit_equal(r1[0], r2[0]));
    EXPECT_FALSE(bit_equal(r1[0], p16[0])) << "stochastic rounding differs from rounding to nearest";
  }
}

// ---- FRUGAL ----------------------------------------------------------------------------

std::unique_ptr<Optimizer> frugal(const std::vector<torch::Tensor>& regular, const std::vector<torch::Tensor>& proj,
                                  OptionMap o) {
  std::vector<GroupSpec> g(2);
  g[0].params = regular;
  g[0].options = opts({{"is_proj_params", flag(false)}});
  g[1].params = proj;
  g[1].options = opts({{"is_proj_params", flag(true)}});
  return make_groups("frugal", std::move(g), o);
}

// Block mode: round(n·density) tensors of the projectable group hold AdamW
// state, the others none; every update_gap steps the choice is redrawn and
// the moments restart.
TEST(Frugal, BlockModeKeepsStateForActiveBlocksOnly) {
  auto p = random_params({{8}, {6, 5}, {6, 5}, {6, 5}, {6, 5}}, at::kFloat, 3);
  auto opt = frugal({p[0]}, {p[1], p[2], p[3], p[4]},
                    opts({{"lr", num(0.01)}, {"density", num(0.5)}, {"update_gap", num(3)}}));
  auto grads = random_grads(p, 7, 4);
  for (int t = 0; t < 7; ++t) {
    set_grads(p, grads[t]);
    opt->step();
    int active = 0;
    for (int i = 1; i <= 4; ++i) {
      const auto* st = opt->state_of(p[i]);
      ASSERT_NE(st, nullptr);
      const bool a = st->scalar("active") != 0;
      active += a;
      EXPECT_EQ(st->buffer("exp_avg").defined(), a);
      EXPECT_EQ(st->step, t % 3 + 1) << "the step restarts at each re-selection";
    }
    EXPECT_EQ(active, 2);
    EXPECT_TRUE(opt->state_of(p[0])->buffer("exp_avg").defined());
  }
}

// The state-free remainder: inactive tensors move by exactly
// −lr·scale·sign(g) after the decoupled decay.
TEST(Frugal, InactiveBlocksTakeASignStep) {
  auto p = random_params({{5, 4}, {5, 4}}, at::kDouble, 5);
  auto before = clones(p);
  auto opt = frugal({}, p,
                    opts({{"lr", num(0.1)}, {"density", num(0)}, {"weight_decay", num(0.5)},
                          {"inactive_lr_scale", num(0.3)}}));
  auto grads = random_grads(p, 1, 6);
  set_grads(p, grads[0]);
  opt->step();
  for (int i = 0; i < 2; ++i) {
    const auto expect = before[i] * (1 - 0.1 * 0.5) + grads[0][i].sign() * -(0.1 * 1.0 * 0.3);
    EXPECT_TRUE(bit_equal(p[i], expect)) << i;
  }
}

TEST(Frugal, BlockOrdersVisitTensorsAsTheReference) {
  // ascending: windows of k = 2 starting at 0, advancing by k (mod n);
  // descending: from n − 1 down; mirror: pairs (i, n − 1 − i).
  const std::map<std::string, std::vector<std::vector<int>>> expect = {
      {"ascending", {{0, 1}, {2, 3}, {0, 4}, {1, 2}}},
      {"descending", {{3, 4}, {1, 2}, {0, 4}, {2, 3}}},
      {"mirror", {{0, 4}, {1, 3}, {0, 4}, {1, 3}}},
  };
  for (const auto& [order, picks] : expect) {
    SCOPED_TRACE(order);
    auto p = random_params({{3}, {3}, {3}, {3}, {3}}, at::kFloat, 9);
    auto opt = frugal({}, p, opts({{"density", num(0.4)}, {"update_gap", num(1)}, {"block_order", text(order)}}));
    for (const auto& want : picks) {
      set_grads(p, random_grads(p, 1, 1)[0]);
      opt->step();
      std::vector<int> got;
      for (int i = 0; i < 5; ++i)
        if (opt->state_of(p[i])->scalar("active") != 0) got.push_back(i);
      EXPECT_EQ(got, want);
    }
  }
}

// Galore and coord modes at density 0 keep no subspace: the whole gradient
// is the state-free part (sgd: p·(1 − lr·wd) − lr·g).
TEST(Frugal, ProjectionsAtDensityZeroAreTheStateFreeRule) {
  for (const char* mode : {"galore", "coord"}) {
    SCOPED_TRACE(mode);
    auto p = random_params({{6, 4}}, at::kDouble, 1);
    auto before = clones(p);
    auto opt = frugal({}, p,
                      opts({{"lr", num(0.1)}, {"mode", text(mode)}, {"density", num(0)},
                            {"inactive_update_rule", text("sgd")}, {"weight_decay", num(0.2)}}));
    auto g = random_grads(p, 1, 2)[0];
    set_grads(p, g);
    opt->step();
    EXPECT_LT(max_abs_diff(p[0], before[0] * (1 - 0.1 * 0.2) + g[0] * -0.1), 1e-15);
  }
}

// GaLore mode keeps moments of the projected shape and the rank-r factor.
TEST(Frugal, GaloreModeStateShapes) {
  auto p = random_params({{12, 8}, {8, 12}}, at::kFloat, 2);
  auto opt = frugal({}, p, opts({{"mode", text("galore")}, {"density", num(0.25)}}));
  set_grads(p, random_grads(p, 1, 3)[0]);
  opt->step();
  // rows >= cols: right factor of rank round(8·0.25) = 2; else left.
  EXPECT_EQ(opt->state_of(p[0])->buffer("exp_avg").sizes(), at::IntArrayRef({12, 2}));
  EXPECT_EQ(opt->state_of(p[0])->buffer("ortho").sizes(), at::IntArrayRef({2, 8}));
  EXPECT_EQ(opt->state_of(p[1])->buffer("exp_avg").sizes(), at::IntArrayRef({2, 12}));
  EXPECT_EQ(opt->state_of(p[1])->buffer("ortho").sizes(), at::IntArrayRef({8, 2}));
  // The factor is orthonormal.
  const auto o = opt->state_of(p[0])->buffer("ortho");
  EXPECT_LT(max_abs_diff(at::matmul(o, o.t()), at::eye(2)), 1e-5);
}

TEST(Frugal, RefusesWhatItCannotProject) {
  auto p = random_params({{6, 4}, {7}}, at::kFloat, 1);
  auto opt = frugal({}, p, opts({{"mode", text("galore")}}));
  set_grads(p, random_grads(p, 1, 2)[0]);
  const auto before = clones(p);
  EXPECT_THROW(opt->step(), std::invalid_argument);
  EXPECT_TRUE(bit_equal(p[0], before[0])) << "nothing changes before the error";
  EXPECT_THROW(make("frugal", p, opts({{"proj_type", text("svd")}, {"block_order", text("random")}})),
               descent::OptionError);
}

// Checkpoints carry every mode's state (moments of any shape, factors,
// indices, the active flags): a resumed run continues bit for bit.
TEST(Frugal, CheckpointResumesEveryMode) {
  const std::string path = temp_path("frugal");
  for (const char* mode : {"block", "galore", "coord"}) {
    SCOPED_TRACE(mode);
    auto init = random_params({{5}, {6, 4}, {4, 6}, {5, 5}}, at::kFloat, 4);
    auto grads = random_grads(init, 8, 5);
    const OptionMap o = opts({{"mode", text(mode)}, {"density", num(0.5)}, {"update_gap", num(3)},
                              {"reset_statistics", flag(false)}});
    auto pa = clones(init);
    auto a = frugal({pa[0]}, {pa[1], pa[2], pa[3]}, o);
    for (int t = 0; t < 4; ++t) {
      set_grads(pa, grads[t]);
      a->step();
    }
    torch::save(*a, path);
    auto pb = clones(pa);
    auto b = frugal({pb[0]}, {pb[1], pb[2], pb[3]}, o);
    torch::load(*b, path);
    // Block mode draws from the global generator at re-selections: same seed.
    for (int t = 4; t < 8; ++t) {
      set_grads(pa, grads[t]);
      set_grads(pb, grads[t]);
      at::manual_seed(100 + t);
      a->step();
      at::manual_seed(100 + t);
      b->step();
    }
    for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(bit_equal(pa[i], pb[i])) << i;
  }
  std::remove(path.c_str());
}

// ---- GaLore -------------------------------------------------------------------------------

std::unique_ptr<Optimizer> galore(const std::vector<torch::Tensor>& plain, const std::vector<torch::Tensor>& low,
                                  OptionMap group) {
  std::vector<GroupSpec> g(2);
  g[0].params = plain;
  g[1].params = low;
  g[1].options = std::move(group);
  return make_groups("galore_adamw", std::move(g), lr_only(0.01));
}

// The moments live in the projected space and survive projector changes;
// the projector is rebuilt every update_proj_gap steps.
TEST(GaLore, ProjectorRebuildsAndMomentsPersist) {
  auto p = random_params({{4}, {10, 6}}, at::kFloat, 2);
  auto opt = galore({p[0]}, {p[1]}, opts({{"rank", num(2)}, {"update_proj_gap", num(2)}, {"scale", num(0.5)}}));
  torch::Tensor last;
  for (int t = 0; t < 5; ++t) {
    set_grads(p, random_grads(p, 1, 10 + t)[0]);
    opt->step();
    const auto* st = opt->state_of(p[1]);
    EXPECT_EQ(st->buffer("exp_avg").sizes(), at::IntArrayRef({10, 2}));
    const auto o = st->buffer("ortho").clone();
    if (t > 0) {
      EXPECT_EQ(bit_equal(o, last), t % 2 == 1) << "rebuilt at steps 1, 3, 5";
    }
    last = o;
    EXPECT_EQ(opt->state_of(p[0])->buffer("exp_avg").sizes(), p[0].sizes());
  }
}

// scale = 0: GaLore parameters only decay (after the step, by lr·wd).
TEST(GaLore, ScaleZeroLeavesOnlyTheDecay) {
  auto p = random_params({{4}, {6, 6}}, at::kDouble, 3);
  auto before = clones(p);
  auto opt = galore({p[0]}, {p[1]}, opts({{"rank", num(3)}, {"scale", num(0)}, {"weight_decay", num(0.1)}}));
  set_grads(p, random_grads(p, 1, 4)[0]);
  opt->step();
  EXPECT_LT(max_abs_diff(p[1], before[1] + before[1] * (-0.01 * 0.1)), 1e-16);
}

TEST(GaLore, RefusesWhatTheReferenceCannotDo) {
  auto p = random_params({{4}, {3, 8}}, at::kFloat, 3);
  {
    auto opt = galore({}, {p[0]}, opts({{"rank", num(2)}}));
    set_grads(p, random_grads(p, 1, 4)[0]);
    EXPECT_THROW(opt->step(), std::invalid_argument) << "1-D tensor in a GaLore group";
  }
  {
    auto opt = galore({}, {p[1]}, opts({{"rank", num(3)}, {"proj_type", text("reverse_std")}}));
    set_grads(p, random_grads(p, 1, 4)[0]);
    EXPECT_THROW(opt->step(), std::invalid_argument) << "reverse_std, rank >= rows of a wide matrix";
  }
  EXPECT_THROW(galore({}, {p[1]}, opts({{"rank", num(2)}, {"dim", num(3)}})), descent::OptionError);
}

TEST(GaLore, CheckpointResumes) {
  const std::string path = temp_path("galore");
  for (const char* type : {"std", "reverse_std", "left", "right", "full"}) {
    SCOPED_TRACE(type);
    auto init = random_params({{5}, {8, 5}, {5, 8}}, at::kFloat, 4);
    auto grads = random_grads(init, 7, 5);
    const OptionMap o = opts({{"rank", num(2)}, {"update_proj_gap", num(3)}, {"proj_type", text(type)}});
    auto pa = clones(init);
    auto a = galore({pa[0]}, {pa[1], pa[2]}, o);
    for (int t = 0; t < 4; ++t) {
      set_grads(pa, grads[t]);
      a->step();
    }
    torch::save(*a, path);
    auto pb = clones(pa);
    auto b = galore({pb[0]}, {pb[1], pb[2]}, o);
    torch::load(*b, path);
    for (int t = 4; t < 7; ++t) {
      set_grads(pa, grads[t]);
      set_grads(pb, grads[t]);
      a->step();
      b->step();
    }
    for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(bit_equal(pa[i], pb[i])) << i;
  }
  std::remove(path.c_str());
}

}  // namespace
