// The benchmark's character-level language model (King James Bible, a small
// GPT-style transformer: tools/bench, descent::bench_models), trained with
// AdamW and with the memory-efficient optimizers, reporting validation loss
// against optimizer-state memory.
//
//   build/examples/memory_efficient_charlm/memory_efficient_charlm [--steps N] [--seed S] [--only NAME]
//
// Runs, from one initialisation and one batch sequence:
//   adamw            torch.optim.AdamW: two float32 moments (8 B/param)
//   adamw8bit        bitsandbytes' 8-bit AdamW (2.03 B/param on tensors >= 4096 elements)
//   adamw_int8       descent's AdamW with state_dtype = "int8" (the same 8-bit state scheme)
//   lion_int8        Lion with 8-bit momentum (1.02 B/param)
//   frugal           FRUGAL, block mode: a quarter of the block weights hold AdamW state, the rest signSGD
//   galore_adamw     GaLore: Adam on rank-32 projections of the block weights
// FRUGAL and GaLore act on the 2-D weights of the transformer blocks (qkv,
// proj, ff1, ff2: the reference's "attn"/"mlp" modules); embeddings, norms
// and the head keep plain AdamW, as the references' recipes.
//
// Data: Debian package bible-kjv-text (/usr/lib/bible.data or $DESCENT_KJV_PATH).
//
// One run (300 steps, batch 32, context 64, d_model 128, 2 blocks, 0.42 M
// parameters, seed 0, one thread, a loaded 2-core machine):
//   run            val loss   val acc  state B/param
//   adamw            1.7369    0.4994      8.000
//   adamw8bit        1.7346    0.4995      2.083
//   adamw_int8       1.7346    0.4992      2.083
//   lion_int8        1.9048    0.4552      1.041
//   frugal           1.7720    0.4935      2.710
//   galore_adamw     1.7706    0.4904      2.710
// (8-bit states cover the tensors with >= 4096 elements; embeddings, norms and
// the head keep AdamW's 8 bytes under FRUGAL and GaLore.)
#include <descent/bench/data.h>
#include <descent/bench/models.h>
#include <descent/registry.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Run {
  std::string label, optimizer, defaults, projected;  // projected: options of the block weights' group ("" = one group)
};

bool is_block_weight(const std::string& name, const torch::Tensor& p) {
  return p.dim() == 2 && name.rfind("blocks.", 0) == 0 && name.find("ln") == std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 300;
  std::uint64_t seed = 0;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--steps") steps = std::stoi(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--only") only = next();
    else {
      std::fprintf(stderr, "usage: %s [--steps N] [--seed S] [--only NAME]\n", argv[0]);
      return 2;
    }
  }
  torch::set_num_threads(1);

  descent::bench::KjvText kjv;
  try {
    kjv = descent::bench::load_kjv();
  } catch (const descent::bench::MissingData& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  const descent::bench::CharCorpus corpus(kjv.text());
  const auto splits = descent::bench::split_tokens(corpus.tokens());
  descent::bench::CharTransformerConfig cfg;
  cfg.vocab = corpus.vocab_size();
  cfg.context = 64;
  cfg.d_model = 128;
  cfg.heads = 4;
  cfg.layers = 2;
  cfg.d_ff = 512;
  const int batch = 32;

  const std::vector<Run> runs = {
      {"adamw", "adamw", R"({"lr": 2e-3, "weight_decay": 0.01})", ""},
      {"adamw8bit", "adamw8bit", R"({"lr": 2e-3, "weight_decay": 0.01})", ""},
      {"adamw_int8", "adamw", R"({"lr": 2e-3, "weight_decay": 0.01, "state_dtype": "int8"})", ""},
      {"lion_int8", "lion", R"({"lr": 7e-4, "weight_decay": 0.1, "state_dtype": "int8"})", ""},
      {"frugal", "frugal", R"({"lr": 2e-3, "weight_decay": 0.01, "density": 0.25, "update_gap": 100})",
       R"({"is_proj_params": true})"},
      {"galore_adamw", "galore_adamw", R"({"lr": 1e-2, "weight_decay": 0.01})",
       R"({"rank": 32, "update_proj_gap": 100, "scale": 0.25})"},
  };

  std::printf("%-13s %9s %9s %10s %12s %9s\n", "run", "val loss", "val acc", "state MB", "state B/par", "ms/step");
  for (const auto& run : runs) {
    if (!only.empty() && only != run.label) continue;
    torch::manual_seed(seed);
    descent::bench::CharTransformer model(cfg);
    std::vector<descent::GroupSpec> groups(1);
    if (run.projected.empty()) {
      groups[0].params = model->parameters();
    } else {
      groups.resize(2);
      groups[1].options = descent::parse_options(run.projected);
      for (const auto& item : model->named_parameters())
        (is_block_weight(item.key(), item.value()) ? groups[1] : groups[0]).params.push_back(item.value());
    }
    std::int64_t numel = 0;
    for (const auto& p : model->parameters()) numel += p.numel();
    auto opt = descent::Registry::instance().make(run.optimizer, groups, descent::parse_options(run.defaults));

    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
    const std::int64_t T = cfg.context, n = splits.train.numel();
    const auto t0 = std::chrono::steady_clock::now();
    for (int step = 0; step < steps; ++step) {
      auto offsets = at::randint(0, n - T - 1, {batch}, gen, at::kLong);
      auto w = splits.train.index({offsets.unsqueeze(1) + at::arange(T + 1, at::kLong).unsqueeze(0)});
      opt->zero_grad();
      auto logits = model->forward(w.slice(1, 0, T));
      auto loss = at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), w.slice(1, 1, T + 1).reshape({-1}));
      loss.backward();
      opt->step();
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;

    torch::NoGradGuard ng;
    const std::int64_t windows = std::min<std::int64_t>(512, (splits.val.numel() - 1) / (T + 1));
    auto vw = splits.val.slice(0, 0, windows * (T + 1)).view({windows, T + 1});
    double total = 0;
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < windows; i += 64) {
      auto wb = vw.slice(0, i, std::min(windows, i + 64));
      auto flat = model->forward(wb.slice(1, 0, T)).reshape({-1, cfg.vocab});
      auto target = wb.slice(1, 1, T + 1).reshape({-1});
      total += at::cross_entropy_loss(flat, target, {}, at::Reduction::Sum).item<double>();
      correct += flat.argmax(-1).eq(target).sum().item<std::int64_t>();
    }
    const double bytes = static_cast<double>(opt->state_bytes());
    std::printf("%-13s %9.4f %9.4f %10.3f %12.3f %9.1f\n", run.label.c_str(), total / (windows * T),
                static_cast<double>(correct) / (windows * T), bytes / 1e6, bytes / numel, ms);
    std::fflush(stdout);
  }
  return 0;
}
