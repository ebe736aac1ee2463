// descent/optim/options.h: optimizer options with PyTorch's names, validated in
// one place.
//
// Every options struct derives from Options<Derived> and lists its fields once:
//
//     template <class V> void fields(V&& v) {
//       v("lr", lr_, at_least(0));
//       v("betas", betas_, each(in_co(0, 1)));
//       ...
//     }
//
// From that list come: the chainable setters' validation (an invalid value
// throws OptionError naming the optimizer, the option, the value and the valid
// range, before anything changes), whole-struct validation, serialization into
// LibTorch archives, setting options by name (the registry and the CLI), and
// printing. Setters are declared with DESCENT_OPTION(type, name, default).
#pragma once

#include <torch/optim/optimizer.h>

#include <array>
#include <cstring>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace descent {

// An invalid option: its message names optimizer, option, value and valid range.
class OptionError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The valid values of one option. Numbers: an interval with open or closed
// ends (each element, for list options, plus an optional required length).
// Strings: a list of choices.
struct Check {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_closed = true;
  bool hi_closed = true;
  int size = -1;                                 // list options: required length, -1 any
  int min_size = 0;                              // list options: minimum length
  // String options: the valid choices (string literals; stored without
  // allocating, because options are validated at every step).
  std::array<const char*, 16> choices{};
  int nchoices = 0;
  bool finite = true;                            // reject NaN / inf
  bool required = false;                         // NaN default means "not given"

  bool ok(double x) const;
  bool ok(const std::string& s) const;
  std::string describe() const;                  // e.g. "a number in [0, 1)"
  Check& length(int n) { size = n; return *this; }
  Check& at_least_length(int n) { min_size = n; return *this; }
  Check& require() { required = true; return *this; }  // the option has no default
};

Check any_number();
Check at_least(double lo);                       // [lo, inf)
Check greater_than(double lo);                   // (lo, inf)
Check in_cc(double lo, double hi);               // [lo, hi]
Check in_co(double lo, double hi);               // [lo, hi)
Check in_oc(double lo, double hi);               // (lo, hi]
Check in_oo(double lo, double hi);               // (lo, hi)
Check one_of(std::initializer_list<const char*> choices);
inline Check any_bool() { return {}; }

namespace detail {
std::string format_value(double v);
std::string format_value(std::int64_t v);
std::string format_value(bool v);
std::string format_value(const std::string& v);
template <class It> std::string format_list(It b, It e) {
  std::string s = "[";
  for (It i = b; i != e; ++i) s += (i == b ? "" : ", ") + format_value(static_cast<double>(*i));
  return s + "]";
}
inline std::string format_value(const std::vector<double>& v) { return format_list(v.begin(), v.end()); }
template <std::size_t N> std::string format_value(const std::array<double, N>& v) {
  return format_list(v.begin(), v.end());
}

[[noreturn]] void throw_invalid(const char* optimizer, const char* option,
                                const std::string& value, const Check& check,
                                const std::string& why = "");
[[noreturn]] void throw_required(const char* optimizer, const char* option);
[[noreturn]] void throw_length(const char* optimizer, const char* option, const std::string& value, const Check& c);

// Checks one value against its Check; throws OptionError if it is invalid.
// Allocates nothing unless it throws (options are checked at every step).
template <class T>
void check_value(const char* optimizer, const char* name, const T& v, const Check& c) {
  if constexpr (std::is_same_v<T, bool>) {
    return;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!c.ok(v)) throw_invalid(optimizer, name, format_value(v), c);
  } else if constexpr (std::is_arithmetic_v<T>) {
    if (c.required && std::isnan(static_cast<double>(v))) throw_required(optimizer, name);
    if (!c.ok(static_cast<double>(v))) throw_invalid(optimizer, name, format_value(v), c);
  } else {  // std::vector<double> or std::array<double, N>
    const int n = static_cast<int>(v.size());
    if ((c.size >= 0 && n != c.size) || n < c.min_size) throw_length(optimizer, name, format_value(v), c);
    for (double x : v)
      if (!c.ok(x)) throw_invalid(optimizer, name, format_value(v), c, "each element must be " + c.describe());
  }
}

// Field visitors (defined in options.cpp for the archive types).
void write_field(torch::serialize::OutputArchive& a, const std::string& key, double v);
void write_field(torch::serialize::OutputArchive& a, const std::string& key, std::int64_t v);
void write_field(torch::serialize::OutputArchive& a, const std::string& key, bool v);
void write_field(torch::serialize::OutputArchive& a, const std::string& key, const std::string& v);
void write_field(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<double>& v);
template <std::size_t N>
void write_field(torch::serialize::OutputArchive& a, const std::string& key, const std::array<double, N>& v) {
  write_field(a, key, std::vector<double>(v.begin(), v.end()));
}
// Readers return false when the key is missing; throw on a wrong type.
bool read_field(torch::serialize::InputArchive& a, const std::string& key, double& v);
bool read_field(torch::serialize::InputArchive& a, const std::string& key, std::int64_t& v);
bool read_field(torch::serialize::InputArchive& a, const std::string& key, bool& v);
bool read_field(torch::serialize::InputArchive& a, const std::string& key, std::string& v);
bool read_field(torch::serialize::InputArchive& a, const std::string& key, std::vector<double>& v);
template <std::size_t N>
bool read_field(torch::serialize::InputArchive& a, const std::string& key, std::array<double, N>& v) {
  std::vector<double> tmp;
  if (!read_field(a, key, tmp)) return false;
  if (tmp.size() != N) throw std::runtime_error("checkpoint: option '" + key + "' has the wrong length");
  for (std::size_t i = 0; i < N; ++i) v[i] = tmp[i];
  return true;
}
}  // namespace detail

// The value of an option, type-erased, as the registry and the CLI set them.
struct OptionValue {
  enum class Kind { number, boolean, string, list } kind = Kind::number;
  double number = 0;
  bool boolean = false;
  std::string string;
  std::vector<double> list;
};

// The options of any descent optimizer, type-erased: what the registry, the
// CLI and wrappers (Lookahead) need without knowing the optimizer's type.
class OptionsBase : public torch::optim::OptimizerOptions {
 public:
  virtual const char* optimizer() const = 0;
  // Checks every field; throws OptionError on the first invalid one.
  virtual void validate() const = 0;
  // The option names, in declaration order.
  virtual std::vector<std::string> names() const = 0;
  // Sets an option by name, validated; nothing changes on error.
  virtual void set(const std::string& name, const OptionValue& value, bool consistent = true) = 0;
  // "lr=0.001, betas=[0.9, 0.999], ..."
  virtual std::string describe() const = 0;
  // Copies every field from options of the same type (throws OptionError for
  // another type); allocates nothing for fixed-size fields.
  virtual void copy_from(const torch::optim::OptimizerOptions& other) = 0;
  // The options every optimizer has (Options<Derived>::bf16_mode, bf16_seed).
  virtual const std::string& bf16_write_mode() const = 0;
  virtual std::int64_t bf16_write_seed() const = 0;
};

// Base of every descent options struct (CRTP).
template <class Derived>
class Options : public OptionsBase {
 public:
  using Self = Derived;  // the setters' return type (DESCENT_OPTION)
  std::unique_ptr<torch::optim::OptimizerOptions> clone() const override {
    return std::make_unique<Derived>(derived());
  }
  double get_lr() const override { return derived().lr(); }
  void set_lr(const double lr) override { derived().lr(lr); }
  const char* optimizer() const override { return Derived::kOptimizer; }

  void copy_from(const torch::optim::OptimizerOptions& other) override {
    const auto* typed = dynamic_cast<const Derived*>(&other);
    if (typed == nullptr)
      throw OptionError(std::string(Derived::kOptimizer) + ": cannot copy options of another optimizer");
    derived() = *typed;
  }

  // Checks every field; throws OptionError on the first invalid one.
  void validate() const override {
    const_cast<Options&>(*this).visit([&](const char* name, const auto& member, const Check& c) {
      detail::check_value(Derived::kOptimizer, name, member, c);
    });
    derived().check_consistency();
  }

  // Cross-field rules (e.g. nesterov needs momentum > 0); override to add some.
  void check_consistency() const {}

  // ---- options every optimizer has ----
  // Mixed precision, for bfloat16 parameters (docs/mixed_precision.md): how an
  // updated value (computed in float32) is written back.
  //  "nearest"             round to nearest even (default; PyTorch's behaviour);
  //  "master_weights"      a float32 master copy kept in the state is updated,
  //                        and the parameter is its rounding (4 more bytes per parameter);
  //  "stochastic_rounding" no copy: the parameter is rounded stochastically
  //                        (unbiased, so updates below half a bfloat16 ulp still count).
  // float32 and float64 parameters ignore it.
  const std::string& bf16_mode() const noexcept { return bf16_mode_; }
  Derived& bf16_mode(const std::string& mode) { return assign("bf16_mode", bf16_mode_, mode); }
  // The seed of the stochastic rounding streams (one per parameter and step).
  std::int64_t bf16_seed() const noexcept { return bf16_seed_; }
  Derived& bf16_seed(std::int64_t seed) { return assign("bf16_seed", bf16_seed_, seed); }
  const std::string& bf16_write_mode() const override { return bf16_mode_; }
  std::int64_t bf16_write_seed() const override { return bf16_seed_; }

  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    const_cast<Options&>(*this).visit([&](const char* name, const auto&, const Check&) { out.push_back(name); });
    return out;
  }

  // Sets an option by its name, validated; throws OptionError for an unknown
  // name, a value of the wrong type or an invalid value. Nothing changes on error.
  // With consistent = false the cross-field rules are left to a later
  // validate() (for setting several options at once, in any order).
  void set(const std::string& name, const OptionValue& value, bool consistent = true) override {
    bool found = false;
    visit([&](const char* n, auto& member, const Check& c) {
      if (found || name != n) return;
      found = true;
      using T = std::decay_t<decltype(member)>;
      T v = convert<T>(n, value);
      detail::check_value(Derived::kOptimizer, n, v, c);
      T old = member;
      member = v;
      if (!consistent) return;
      try {
        derived().check_consistency();
      } catch (...) {
        member = old;
        throw;
      }
    });
    if (!found) {
      std::string valid;
      for (const auto& s : names()) valid += (valid.empty() ? "" : ", ") + s;
      throw OptionError(std::string(Derived::kOptimizer) + ": unknown option '" + name +
                        "'; valid options: " + valid);
    }
  }

  std::string describe() const override {
    std::string out;
    const_cast<Options&>(*this).visit([&](const char* n, const auto& member, const Check&) {
      out += (out.empty() ? "" : ", ") + std::string(n) + "=" + detail::format_value(member);
    });
    return out;
  }

  void serialize(torch::serialize::OutputArchive& archive) const override {
    const_cast<Options&>(*this).visit([&](const char* n, const auto& member, const Check&) {
      detail::write_field(archive, n, member);
    });
  }
  // Reads every field (missing keys keep their value), then validates; on any
  // error the options are left as they were.
  void serialize(torch::serialize::InputArchive& archive) override {
    Derived tmp = derived();
    tmp.visit([&](const char* n, auto& member, const Check&) { detail::read_field(archive, n, member); });
    tmp.validate();
    derived() = tmp;
  }

 protected:
  // Used by DESCENT_OPTION's setters: validate, then assign.
  template <class T>
  Derived& assign(const char* name, T& member, const T& value) {
    bool checked = false;
    visit([&](const char* n, auto& m, const Check& c) {
      if (static_cast<const void*>(&m) != static_cast<const void*>(&member)) return;
      checked = true;
      detail::check_value(Derived::kOptimizer, n, value, c);
    });
    (void)checked;
    T old = member;
    member = value;
    try {
      derived().check_consistency();
    } catch (...) {
      member = old;
      throw;
    }
    return derived();
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  // The optimizer's own fields (Derived::fields), then those every optimizer has.
  template <class F> void visit(F&& f) {
    derived().fields(f);
    f("bf16_mode", bf16_mode_, one_of({"nearest", "master_weights", "stochastic_rounding"}));
    f("bf16_seed", bf16_seed_, in_cc(0, 9007199254740992.0));
  }

  std::string bf16_mode_ = "nearest";
  std::int64_t bf16_seed_ = 0;

  template <class T>
  static T convert(const char* name, const OptionValue& v) {
    auto wrong = [&](const char* want) {
      return OptionError(std::string(Derived::kOptimizer) + ": option '" + name + "' expects " + want);
    };
    if constexpr (std::is_same_v<T, bool>) {
      if (v.kind == OptionValue::Kind::boolean) return v.boolean;
      // References sometimes pass 0/1 for flags.
      if (v.kind == OptionValue::Kind::number && (v.number == 0 || v.number == 1)) return v.number != 0;
      throw wrong("true or false");
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (v.kind != OptionValue::Kind::string) throw wrong("a string");
      return v.string;
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      if (v.kind != OptionValue::Kind::number || v.number != std::floor(v.number) || std::abs(v.number) > 9.0e15)
        throw wrong("an integer");
      return static_cast<std::int64_t>(v.number);
    } else if constexpr (std::is_same_v<T, double>) {
      if (v.kind != OptionValue::Kind::number) throw wrong("a number");
      return v.number;
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
      if (v.kind != OptionValue::Kind::list) throw wrong("a list of numbers");
      return v.list;
    } else {  // std::array<double, N>
      if (v.kind != OptionValue::Kind::list || v.list.size() != std::tuple_size_v<T>)
        throw wrong(("a list of " + std::to_string(std::tuple_size_v<T>) + " numbers").c_str());
      T out{};
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = v.list[i];
      return out;
    }
  }
};

using Betas = std::array<double, 2>;
using Betas3 = std::array<double, 3>;

}  // namespace descent

// Declares an option: a validating chainable setter, a getter and the member.
// (A class template deriving from Options<Derived> must say `using Self = Derived;`.)
#define DESCENT_OPTION(T, name, ...)                                             \
 public:                                                                         \
  Self& name(const T& value) { return this->assign(#name, name##_, value); }     \
  const T& name() const noexcept { return name##_; }                             \
                                                                                 \
 private:                                                                        \
  T name##_ = __VA_ARGS__;                                                       \
                                                                                 \
 public:
