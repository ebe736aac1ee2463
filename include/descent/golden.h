// descent/golden.h: replaying reference trajectories (../shared/golden/FORMAT.md).
//
// A case gives an optimizer, its options under the reference's names, a dtype,
// starting parameters and, step by step, the gradients fed to the reference and
// the parameters it produced. replay() feeds the same gradients to descent's
// optimizer (built through the registry) and records the parameters after each
// step; compare() holds them to the case's tolerance at every step.
#pragma once

#include <descent/registry.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace descent::golden {

struct ParamSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<double> init;
};

// A tensor read from nested JSON lists: values row-major, and the shape.
struct NestedTensor {
  std::vector<double> values;
  std::vector<std::int64_t> shape;
};

// One step's batch of a case driven by an objective.
struct Batch {
  NestedTensor x;
  NestedTensor y;  // class ids (cross_entropy) or targets (mse)
};

struct Step {
  // One flat list per parameter; an empty optional means "no gradient this step".
  std::vector<std::optional<std::vector<double>>> grads;
  std::vector<std::vector<double>> expected;
  std::vector<std::vector<double>> hessian;  // optional per-step Hessian-diagonal input
  std::optional<double> lr;                   // lr in force for this step
  // Cases driven by an objective, and random draws handed in:
  std::optional<Batch> batch;                 // the step's batch (objective cases)
  std::vector<std::vector<double>> probes;    // optional: one flat list per parameter
  std::optional<double> loss;                 // the reference's loss at the start of the step
};

// The model and loss of a case driven by an objective (FORMAT.md).
struct Layer {
  std::string type;            // linear, conv2d, tanh, relu, sigmoid, flatten
  std::string weight, bias;    // parameter names (bias empty: none)
  std::int64_t stride = 1, padding = 0;
};

struct Objective {
  std::vector<Layer> model;
  std::string loss;            // cross_entropy or mse (means over the batch)
};

struct Group {
  std::vector<std::string> params;
  OptionMap options;
};

// A recorded random block choice (FRUGAL): at the re-selection made at the
// start of `step`, these parameters were activated.
struct BlockSelection {
  std::int64_t step = 0;
  std::vector<std::string> active;
  std::vector<std::int64_t> active_indices;
};

// A recorded projector factor (GaLore, FRUGAL): built at `step` for `param`,
// "left" (U[:, :r]) or "right" (Vh[:r, :]), row-major.
struct Projection {
  std::int64_t step = 0;
  std::string param;
  std::string type;
  std::vector<std::int64_t> shape;
  std::vector<double> matrix;
};

struct Case {
  std::string path;
  std::string optimizer;
  std::string variant;
  std::string dtype = "float64";
  OptionMap options;
  std::vector<ParamSpec> params;
  std::vector<Step> steps;
  std::vector<Group> groups;  // empty: all parameters form one group
  std::string hessian_applied;
  std::optional<Objective> objective;  // cases driven by an objective instead of gradients
  double rtol = 0, atol = 0;
  std::vector<std::string> unsupported;  // inputs in the case that replay cannot feed yet
  std::vector<BlockSelection> block_selection;  // replaces the optimizer's random block picks
  std::vector<Projection> projections;          // replaces the optimizer's projector factors
};

// Reads a case; throws std::runtime_error naming the file and the problem.
Case load_case(const std::string& path);
Case parse_case(const std::string& json_text, const std::string& path = "<string>");

struct Trajectory {
  std::string optimizer;
  std::vector<std::vector<std::vector<double>>> steps;  // [step][param][element]
};

// Replays a case through the registry; throws UnknownOptimizer / OptionError /
// std::runtime_error with a clear message.
Trajectory replay(const Case& c);

// {"format": "descent-replay/1", "optimizer": ..., "steps": [{"params": [[...], ...]}, ...]}
std::string to_json(const Trajectory& t);

struct Comparison {
  bool passed = true;
  double max_abs_err = 0;    // worst |got - expected|
  double max_rel_err = 0;    // worst |got - expected| / |expected| (over nonzero expected)
  std::int64_t first_failing_step = -1;  // 1-based
  std::string detail;        // where the first failure is
};

Comparison compare(const Case& c, const Trajectory& t);

}  // namespace descent::golden
