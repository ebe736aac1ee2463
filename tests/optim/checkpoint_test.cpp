// Checkpoints, for every registered optimizer: a run saved and loaded into a
// fresh optimizer continues bit for bit; state and options survive; truncated,
// corrupted, foreign and mismatched checkpoints are refused and leave the
// optimizer exactly as it was.
#include <support/optim_testing.h>

#include <torch/serialize.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace {

using namespace dtest;

using Shapes = std::vector<std::vector<std::int64_t>>;

// Parameters 2-D, 1-D, 0-d and 1-D; the first two in group 0, the others in
// group 1 (its own lr).
const Shapes kShapes = {{4, 5}, {7}, {}, {3}};

std::unique_ptr<Optimizer> build_two_groups(const std::string& name, const OptionMap& opts,
                                            const std::vector<torch::Tensor>& p) {
  std::vector<GroupSpec> groups(2);
  groups[0].params = {p[0], p[1]};
  groups[1].params = {p[2], p[3]};
  groups[1].options = {{"lr", num(0.02)}};
  return make_groups(name, std::move(groups), opts);
}

class Checkpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(Checkpoint, ResumedRunIsBitIdenticalAndKeepsStateAndOptions) {
  const std::string name = GetParam();
  constexpr int k = 3, m = 4;
  const std::string path = temp_path("resume");
  for (auto dtype : {at::kFloat, at::kDouble, at::kBFloat16}) {
    for (const auto& [label, opts] : variants_for(name)) {
      SCOPED_TRACE(name + " " + label + " " + c10::toString(dtype));
      auto init = random_params(kShapes, dtype, 11);
      auto grads = random_grads(init, k + m, 12);
      for (int t = 0; t <= k; ++t) grads[t][3] = torch::Tensor();  // no state for p3 at the checkpoint

      auto pa = clones(init);
      auto a = build_two_groups(name, opts, pa);
      for (int t = 0; t < k; ++t) {
        set_grads(pa, grads[t]);
        a->step();
      }
      // Options changed before saving must come back.
      a->param_groups()[0].options().set_lr(0.007);
      a->param_groups()[1].options().set_lr(0.013);
      torch::save(*a, path);

      auto pb = clones(pa);
      auto b = build_two_groups(name, opts, pb);
      auto pc = clones(pa);
      auto control = build_two_groups(name, opts, pc);  // never loads: must end up elsewhere
      torch::load(*b, path);

      EXPECT_TRUE(same(snapshot(*a), snapshot(*b)));
      EXPECT_EQ(b->param_groups()[0].options().get_lr(), 0.007);
      EXPECT_EQ(b->param_groups()[1].options().get_lr(), 0.013);
      ASSERT_NE(b->state_of(pb[0]), nullptr);
      EXPECT_EQ(b->state_of(pb[0])->step, k);
      EXPECT_EQ(b->state_of(pb[2])->step, k);
      if (!steps_without_gradient().count(name)) {
        EXPECT_EQ(b->state_of(pb[3]), nullptr);
      }
      EXPECT_EQ(b->group_state(0).step, a->group_state(0).step);

      for (int t = k; t < k + m; ++t) {
        set_grads(pa, grads[t]);
        set_grads(pb, grads[t]);
        set_grads(pc, grads[t]);
        a->step();
        b->step();
        control->step();
        for (std::size_t i = 0; i < pa.size(); ++i)
          EXPECT_TRUE(bit_equal(pa[i], pb[i])) << "parameter " << i << " after step " << t + 1;
      }
      EXPECT_TRUE(same(snapshot(*a), snapshot(*b)));
      EXPECT_FALSE(same(snapshot(*a), snapshot(*control))) << "the control run (no checkpoint) should differ";
    }
  }
  std::remove(path.c_str());
}

// ---- refusals ---------------------------------------------------------------------------

// A target optimizer with a twin that never attempts the load.
struct Target {
  std::vector<torch::Tensor> params, twin_params;
  std::unique_ptr<Optimizer> opt, twin;
};

Target make_target(const std::string& name, const OptionMap& opts, const Shapes& shapes, int groups = 1) {
  Target t;
  auto init = random_params(shapes, at::kFloat, 21);
  t.params = clones(init);
  t.twin_params = clones(init);
  auto build = [&](const std::vector<torch::Tensor>& p) {
    if (groups == 1) return make(name, p, opts);
    std::vector<GroupSpec> g(2);
    g[0].params = {p[0]};
    g[1].params.assign(p.begin() + 1, p.end());
    return make_groups(name, std::move(g), opts);
  };
  t.opt = build(t.params);
  t.twin = build(t.twin_params);
  auto grads = random_grads(init, 2, 22);
  for (const auto& g : grads) {
    set_grads(t.params, g);
    set_grads(t.twin_params, g);
    t.opt->step();
    t.twin->step();
  }
  // Options that differ from any checkpoint written below.
  t.opt->param_groups()[0].options().set_lr(0.0031);
  t.twin->param_groups()[0].options().set_lr(0.0031);
  return t;
}

// Writes a checkpoint of `name` after 3 steps; returns its path.
std::string write_checkpoint(const std::string& name, const OptionMap& opts, const Shapes& shapes,
                             const std::string& stem) {
  auto p = random_params(shapes, at::kFloat, 31);
  auto opt = make(name, p, opts);
  for (const auto& g : random_grads(p, 3, 32)) {
    set_grads(p, g);
    opt->step();
  }
  const std::string path = temp_path(stem);
  torch::save(*opt, path);
  return path;
}

// Loading `path` into the target throws (a message containing every part)
// and changes nothing: state, steps, options; the next step equals the twin's.
void expect_refused(Target& t, const std::string& path, const std::vector<std::string>& parts) {
  const Snapshot before = snapshot(*t.opt);
  const std::string msg = message_of<std::exception>([&] { torch::load(*t.opt, path); });
  EXPECT_FALSE(msg.empty());
  for (const auto& part : parts) EXPECT_TRUE(contains(msg, part)) << "message: " << msg << "\nexpected: " << part;
  EXPECT_TRUE(same(before, snapshot(*t.opt))) << "a refused load changed the optimizer";
  EXPECT_TRUE(same(snapshot(*t.twin), snapshot(*t.opt)));
  auto g = random_grads(t.params, 1, 41)[0];
  set_grads(t.params, g);
  set_grads(t.twin_params, g);
  t.opt->step();
  t.twin->step();
  for (std::size_t i = 0; i < t.params.size(); ++i)
    EXPECT_TRUE(bit_equal(t.params[i], t.twin_params[i])) << "parameter " << i << " after the refused load";
  EXPECT_TRUE(same(snapshot(*t.twin), snapshot(*t.opt)));
}

const Shapes kRefShapes = {{4, 5}, {7}, {}};

TEST_P(Checkpoint, RefusesTruncatedFile) {
  const std::string name = GetParam();
  const auto [label, opts] = stateful_variant(name);
  const std::string src = write_checkpoint(name, opts, kRefShapes, "src");
  const std::string bytes = read_bytes(src);
  const std::string cut = temp_path("cut");
  for (std::size_t len : {std::size_t{0}, bytes.size() / 2, bytes.size() - 1}) {
    SCOPED_TRACE("truncated to " + std::to_string(len) + " of " + std::to_string(bytes.size()) + " bytes");
    write_bytes(cut, bytes.substr(0, len));
    Target t = make_target(name, opts, kRefShapes);
    expect_refused(t, cut, {});
  }
  std::remove(src.c_str());
  std::remove(cut.c_str());
}

// The middle of the stored state: 16 bytes flipped in the middle of the
// largest state tensor's record. (LibTorch 1.13 does not check the zip
// records' CRC-32, so only the optimizer's own checks can notice.)
TEST_P(Checkpoint, RefusesFileWithBytesFlippedInTheMiddle) {
  const std::string name = GetParam();
  const auto [label, opts] = stateful_variant(name);
  const std::string src = write_checkpoint(name, opts, kRefShapes, "src");
  const std::string bytes = read_bytes(src);
  const auto records = zip_records(bytes);
  ASSERT_FALSE(records.empty()) << "not a zip file?";
  const ZipRecord* largest = nullptr;
  for (const auto& r : records)
    if (r.name.rfind("data/", 0) == 0 && (largest == nullptr || r.size > largest->size)) largest = &r;
  if (largest == nullptr || largest->size < 32) {
    std::remove(src.c_str());
    GTEST_SKIP() << name << " (" << label << ") saves no tensor of 8 elements or more";
  }
  SCOPED_TRACE("flipping 16 bytes in the middle of " + largest->name);
  std::string flipped = bytes;
  const std::size_t mid = largest->data + largest->size / 2 - 8;
  for (std::size_t i = mid; i < mid + 16; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  const std::string bad = temp_path("flipped");
  write_bytes(bad, flipped);
  Target t = make_target(name, opts, kRefShapes);
  expect_refused(t, bad, {name});
  std::remove(src.c_str());
  std::remove(bad.c_str());
}

// Every record the optimizer's state is read from: one byte flipped in the
// middle of each state tensor, and at spread-out places in the pickled
// archive (keys, options, step counts, scalars). Each load is refused, or
// (bytes that carry nothing) gives exactly the uncorrupted result; silently
// loading other numbers is never acceptable.
//
// (The TorchScript code records of a LibTorch archive are left out: LibTorch
// 1.13 parses them before the optimizer sees anything, and some flips there
// crash its parser; nothing descent's load() does can change that.)
TEST_P(Checkpoint, CorruptedStateRecordsAreRefusedOrHarmless) {
  const std::string name = GetParam();
  const auto [label, opts] = stateful_variant(name);
  const std::string src = write_checkpoint(name, opts, kRefShapes, "src");
  const std::string bytes = read_bytes(src);
  const auto records = zip_records(bytes);
  auto ref_params = random_params(kRefShapes, at::kFloat, 21);
  auto ref = make(name, ref_params, opts);
  torch::load(*ref, src);
  const Snapshot good = snapshot(*ref);

  std::vector<std::size_t> positions;
  int tensors = 0;
  for (const auto& r : records) {
    if (r.size == 0) continue;
    if (r.name.rfind("data/", 0) == 0 && tensors++ < 3) positions.push_back(r.data + r.size / 2);
    // Flips inside data.pkl (the pickled keys, options, steps and scalars) are
    // not tested here: LibTorch 1.13's unpickler intermittently corrupts the
    // heap on some of them ("corrupted double-linked list", seen in CI) before
    // descent's load() runs. The digest still covers those values.
  }
  if (positions.empty()) {
    std::remove(src.c_str());
    GTEST_SKIP() << name << " (" << label << ") saves no state tensor";
  }
  const std::string bad = temp_path("flipped");
  std::string silent;
  int refused = 0, harmless = 0;
  for (std::size_t pos : positions) {
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x10);
    write_bytes(bad, flipped);
    auto p = random_params(kRefShapes, at::kFloat, 21);
    auto opt = make(name, p, opts);
    try {
      torch::load(*opt, bad);
    } catch (const std::exception&) {
      ++refused;
      continue;
    }
    if (same(good, snapshot(*opt)))
      ++harmless;
    else
      silent += "\n  " + record_at(records, pos) + " at byte " + std::to_string(pos);
  }
  EXPECT_TRUE(silent.empty()) << "corrupted checkpoints loaded silently with other contents (" << refused
                              << " refused, " << harmless << " harmless); flipped bytes:" << silent;
  std::remove(src.c_str());
  std::remove(bad.c_str());
}

// Checkpoints of other optimizers: the next three in the registry (cyclically),
// so that every optimizer is tested as source and as target.
TEST_P(Checkpoint, RefusesCheckpointOfAnotherOptimizer) {
  const std::string name = GetParam();
  const auto names = optimizer_names();
  const std::size_t self = static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  for (std::size_t k = 1; k <= 3 && k < names.size(); ++k) {
    const std::string& other = names[(self + k) % names.size()];
    SCOPED_TRACE(other + " -> " + name);
    const std::string src = write_checkpoint(other, stateful_variant(other).second, kRefShapes, "other");
    for (const auto& v : {variants_for(name).front(), stateful_variant(name)}) {
      SCOPED_TRACE(v.first);
      Target t = make_target(name, v.second, kRefShapes);
      expect_refused(t, src, {name, "'" + other + "'"});
    }
    std::remove(src.c_str());
  }
}

TEST_P(Checkpoint, RefusesDifferentNumberOfParameters) {
  const std::string name = GetParam();
  const auto [label, opts] = stateful_variant(name);
  const std::string src = write_checkpoint(name, opts, kRefShapes, "src");
  {
    Target fewer = make_target(name, opts, {{4, 5}, {7}});
    expect_refused(fewer, src, {name, "parameters"});
  }
  {
    Target more = make_target(name, opts, {{4, 5}, {7}, {}, {2}});
    expect_refused(more, src, {name, "parameters"});
  }
  std::remove(src.c_str());
}

TEST_P(Checkpoint, RefusesDifferentNumberOfGroups) {
  const std::string name = GetParam();
  if (regrouped_params().count(name))
    GTEST_SKIP() << name << " regroups its parameters, so the one- and two-group set-ups here give the same groups: "
                 << regrouped_params().at(name);
  const auto [label, opts] = stateful_variant(name);
  const std::string src = write_checkpoint(name, opts, kRefShapes, "src");
  Target t = make_target(name, opts, kRefShapes, /*groups=*/2);
  expect_refused(t, src, {name, "groups"});
  std::remove(src.c_str());
}

// Same counts, but the last parameter has another shape: its state does not fit.
TEST_P(Checkpoint, RefusesStateOfTheWrongShape) {
  const std::string name = GetParam();
  const auto [label, opts] = stateful_variant(name);
  const Shapes src_shapes = {{4, 5}, {7}, {3}};
  const Shapes dst_shapes = {{4, 5}, {7}, {4}};
  const std::string src = write_checkpoint(name, opts, src_shapes, "src");
  // Only meaningful when the optimizer keeps tensors shaped like the parameter.
  auto probe_p = random_params(src_shapes, at::kFloat, 31);
  auto probe = make(name, probe_p, opts);
  torch::load(*probe, src);
  const descent::ParamState* st = probe->state_of(probe_p[2]);
  bool has_buffer = false;
  if (st != nullptr)
    for (const auto& b : st->buffers) has_buffer = has_buffer || (b.defined() && b.numel() == 3);
  if (!has_buffer) {
    std::remove(src.c_str());
    GTEST_SKIP() << name << " (" << label << ") keeps no parameter-shaped state";
  }
  Target t = make_target(name, opts, dst_shapes);
  expect_refused(t, src, {name, "[3]", "[4]"});
  std::remove(src.c_str());
}

TEST_P(Checkpoint, RefusesFileThatIsNotAnOptimizerCheckpoint) {
  const std::string name = GetParam();
  const std::string path = temp_path("tensor");
  torch::save(at::ones({3}), path);
  Target t = make_target(name, stateful_variant(name).second, kRefShapes);
  expect_refused(t, path, {name, "not a descent optimizer checkpoint"});
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Registry, Checkpoint, ::testing::ValuesIn(optimizer_names()), NameOfParam());

// The named cases of the brief, with their messages.
TEST(CheckpointNamed, AdamIntoSgdWithMomentumAndIntoAdamW) {
  const std::string src = write_checkpoint("adam", lr_only(), kRefShapes, "adam");
  {
    OptionMap sgd_opts = lr_only();
    sgd_opts["momentum"] = num(0.9);
    Target t = make_target("sgd", sgd_opts, kRefShapes);
    ASSERT_NE(t.opt->state_of(t.params[0]), nullptr);
    ASSERT_TRUE(t.opt->state_of(t.params[0])->buffers[0].defined());
    expect_refused(t, src, {"sgd: checkpoint refused", "saved from optimizer 'adam'"});
  }
  {
    Target t = make_target("adamw", lr_only(), kRefShapes);
    expect_refused(t, src, {"adamw: checkpoint refused", "saved from optimizer 'adam'"});
  }
  std::remove(src.c_str());
}

}  // namespace
