#include <descent/optim/options.h>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdio>

namespace descent {

namespace {
std::string num(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  // Prefer the shortest form that reads back to the same double.
  for (int prec = 1; prec <= 17; ++prec) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", prec, x);
    if (std::strtod(shorter, nullptr) == x) return shorter;
  }
  return buf;
}
}  // namespace

bool Check::ok(double x) const {
  if (std::isnan(x)) return false;
  if (finite && std::isinf(x)) return false;
  if (lo_closed ? x < lo : x <= lo) return false;
  if (hi_closed ? x > hi : x >= hi) return false;
  return true;
}

bool Check::ok(const std::string& s) const {
  if (nchoices == 0) return true;
  for (int i = 0; i < nchoices; ++i)
    if (s == choices[i]) return true;
  return false;
}

std::string Check::describe() const {
  if (nchoices > 0) {
    std::string s = "one of {";
    for (int i = 0; i < nchoices; ++i) s += (i ? ", '" : "'") + std::string(choices[i]) + "'";
    return s + "}";
  }
  const bool no_lo = std::isinf(lo), no_hi = std::isinf(hi);
  if (no_lo && no_hi) return finite ? "a finite number" : "a number";
  if (no_hi) return std::string(lo_closed ? ">= " : "> ") + num(lo);
  if (no_lo) return std::string(hi_closed ? "<= " : "< ") + num(hi);
  return std::string("in ") + (lo_closed ? "[" : "(") + num(lo) + ", " + num(hi) + (hi_closed ? "]" : ")");
}

Check any_number() { return {}; }
Check at_least(double lo) { Check c; c.lo = lo; return c; }
Check greater_than(double lo) { Check c; c.lo = lo; c.lo_closed = false; return c; }
Check in_cc(double lo, double hi) { Check c; c.lo = lo; c.hi = hi; return c; }
Check in_co(double lo, double hi) { Check c = in_cc(lo, hi); c.hi_closed = false; return c; }
Check in_oc(double lo, double hi) { Check c = in_cc(lo, hi); c.lo_closed = false; return c; }
Check in_oo(double lo, double hi) { Check c = in_co(lo, hi); c.lo_closed = false; return c; }
Check one_of(std::initializer_list<const char*> choices) {
  Check c;
  if (choices.size() > c.choices.size()) throw std::logic_error("descent: one_of takes at most 16 choices");
  for (const char* s : choices) c.choices[c.nchoices++] = s;
  return c;
}

namespace detail {

std::string format_value(double v) { return num(v); }
std::string format_value(std::int64_t v) { return std::to_string(v); }
std::string format_value(bool v) { return v ? "true" : "false"; }
std::string format_value(const std::string& v) { return "'" + v + "'"; }

void throw_invalid(const char* optimizer, const char* option, const std::string& value, const Check& check,
                   const std::string& why) {
  throw OptionError(std::string(optimizer) + ": invalid value " + value + " for option '" + option + "': " +
                    (why.empty() ? "must be " + check.describe() : why));
}

void throw_required(const char* optimizer, const char* option) {
  throw OptionError(std::string(optimizer) + ": option '" + option + "' is required (it has no default)");
}

void throw_length(const char* optimizer, const char* option, const std::string& value, const Check& c) {
  throw_invalid(optimizer, option, value, c,
                c.size >= 0 ? "must have " + std::to_string(c.size) + " elements"
                            : "must have at least " + std::to_string(c.min_size) + " elements");
}

void write_field(torch::serialize::OutputArchive& a, const std::string& key, double v) { a.write(key, c10::IValue(v)); }
void write_field(torch::serialize::OutputArchive& a, const std::string& key, std::int64_t v) { a.write(key, c10::IValue(v)); }
void write_field(torch::serialize::OutputArchive& a, const std::string& key, bool v) { a.write(key, c10::IValue(v)); }
void write_field(torch::serialize::OutputArchive& a, const std::string& key, const std::string& v) {
  a.write(key, c10::IValue(v));
}
void write_field(torch::serialize::OutputArchive& a, const std::string& key, const std::vector<double>& v) {
  a.write(key, c10::IValue(v));
}

namespace {
[[noreturn]] void wrong_type(const std::string& key, const char* want) {
  throw std::runtime_error("checkpoint: option '" + key + "' is not " + want);
}
}  // namespace

bool read_field(torch::serialize::InputArchive& a, const std::string& key, double& v) {
  c10::IValue iv;
  if (!a.try_read(key, iv)) return false;
  if (!iv.isDouble()) wrong_type(key, "a number");
  v = iv.toDouble();
  return true;
}
bool read_field(torch::serialize::InputArchive& a, const std::string& key, std::int64_t& v) {
  c10::IValue iv;
  if (!a.try_read(key, iv)) return false;
  if (!iv.isInt()) wrong_type(key, "an integer");
  v = iv.toInt();
  return true;
}
bool read_field(torch::serialize::InputArchive& a, const std::string& key, bool& v) {
  c10::IValue iv;
  if (!a.try_read(key, iv)) return false;
  if (!iv.isBool()) wrong_type(key, "a boolean");
  v = iv.toBool();
  return true;
}
bool read_field(torch::serialize::InputArchive& a, const std::string& key, std::string& v) {
  c10::IValue iv;
  if (!a.try_read(key, iv)) return false;
  if (!iv.isString()) wrong_type(key, "a string");
  v = iv.toStringRef();
  return true;
}
bool read_field(torch::serialize::InputArchive& a, const std::string& key, std::vector<double>& v) {
  c10::IValue iv;
  if (!a.try_read(key, iv)) return false;
  if (!iv.isDoubleList()) wrong_type(key, "a list of numbers");
  v = iv.toDoubleVector();
  return true;
}

}  // namespace detail
}  // namespace descent
