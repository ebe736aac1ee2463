// descent/optim/prodigy.h: Prodigy, as kozistr/pytorch_optimizer @ 7a076d2 (Prodigy).
#pragma once

#include <descent/optim/optimizer.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace descent {

struct ProdigyOptions : Options<ProdigyOptions> {
  static constexpr const char* kOptimizer = "prodigy";
  // Python's None for beta3 and eps (JSON null through the registry).
  static constexpr double kNone = -std::numeric_limits<double>::infinity();
  explicit ProdigyOptions(double lr = 1.0) { this->lr(lr); }

  DESCENT_OPTION(double, lr, 1.0)
  DESCENT_OPTION(Betas, betas, {0.9, 0.999})
  DESCENT_OPTION(double, beta3, kNone)           // None: sqrt(beta2)
  DESCENT_OPTION(double, d0, 1e-6)
  DESCENT_OPTION(double, d_coef, 1.0)
  DESCENT_OPTION(double, growth_rate, std::numeric_limits<double>::infinity())
  DESCENT_OPTION(double, weight_decay, 0.0)
  DESCENT_OPTION(bool, weight_decouple, true)
  DESCENT_OPTION(bool, fixed_decay, false)
  DESCENT_OPTION(bool, bias_correction, false)
  DESCENT_OPTION(bool, safeguard_warmup, false)
  DESCENT_OPTION(double, eps, 1e-8)              // None: the atan2 update
  DESCENT_OPTION(bool, maximize, false)

 public:
  template <class V> void fields(V&& v) {
    v("lr", lr_, at_least(0));
    v("betas", betas_, in_co(0, 1));
    v("beta3", beta3_, none_or(in_cc(0, 1)));
    v("d0", d0_, greater_than(0));
    v("d_coef", d_coef_, any_number());
    v("growth_rate", growth_rate_, number_or_inf());
    v("weight_decay", weight_decay_, at_least(0));
    v("weight_decouple", weight_decouple_, any_bool());
    v("fixed_decay", fixed_decay_, any_bool());
    v("bias_correction", bias_correction_, any_bool());
    v("safeguard_warmup", safeguard_warmup_, any_bool());
    v("eps", eps_, none_or(at_least(0)));
    v("maximize", maximize_, any_bool());
  }

  void check_consistency() const {
    auto none_or_valid = [](const char* name, double x, const Check& c) {
      if (x != kNone && !c.ok(x))
        throw OptionError(std::string(kOptimizer) + ": invalid value " + detail::format_value(x) + " for option '" +
                          name + "': must be None (JSON null; kNone in C++) or " + c.describe());
    };
    none_or_valid("beta3", beta3_, in_cc(0, 1));
    none_or_valid("eps", eps_, at_least(0));
  }

  // JSON null ("None") for beta3 or eps means None.
  void set(const std::string& name, const OptionValue& value, bool consistent = true) override {
    if ((name == "beta3" || name == "eps") && value.kind == OptionValue::Kind::string && value.string == "None") {
      OptionValue none;
      none.number = kNone;
      Options::set(name, none, consistent);
      return;
    }
    Options::set(name, value, consistent);
  }

  bool has_beta3() const { return beta3_ != kNone; }
  bool has_eps() const { return eps_ != kNone; }

 private:
  // The field-level range admits kNone; check_consistency() holds the rest.
  static Check none_or(Check c) {
    c.lo = kNone;
    c.finite = false;
    return c;
  }
  static Check number_or_inf() {
    Check c = any_number();
    c.finite = false;
    return c;
  }
};

// Prodigy is one estimate for the whole optimizer, as the reference: d, d0,
// lr, betas, beta3 and bias_correction are group 0's; d_coef, growth_rate, the
// d0 that d is compared with and d_max are the LAST group's (the reference
// reads them through its leaked loop variable); weight decay, eps and
// safeguard_warmup are each group's. maximize is the constructor's option.
// Group scalars: "d", "d_max", "d_numerator", "d_de_nom", "d_hat"; the
// GroupState step count is the reference's group['step'] − 1 (it starts at 1
// and counts twice per step()).
// State per parameter: "s", "p0", "exp_avg", "exp_avg_sq".
class Prodigy : public OptimizerImpl<ProdigyOptions> {
 public:
  using OptimizerImpl::OptimizerImpl;

 protected:
  const StateLayout& layout() const override;
  std::vector<std::string> group_scalar_names() const override {
    return {"d", "d_max", "d_numerator", "d_de_nom", "d_hat"};
  }
  std::vector<double> initial_group_scalars(const torch::optim::OptimizerOptions& o) const override {
    const double d0 = cast(o).d0();
    return {d0, d0, 0.0, 0.0, 0.0};
  }
  void init_state(ParamState& st, const torch::Tensor& p, const torch::optim::OptimizerOptions& o) const override;
  void update() override;
};

}  // namespace descent
